package fsm

import "time"

// One endpoint's socket as its own kernel holds it (Linux: tcp_input.c,
// tcp_minisocks.c, tcp_timer.c), inferred from what it sent and what was
// sent to it. Unlike conntrack's one state per flow, each host only moves
// on a segment it would itself accept: a RST must sit exactly at the next
// expected byte (RFC 5961; or at the right edge of its highest SACK block),
// a FIN only counts once the bytes before it arrived, an ACK only when it
// acknowledges what was sent. Its own timers take it away: TIME_WAIT after
// 60 s, an orphaned FIN_WAIT2 after tcp_fin_timeout, SYN_SENT and SYN_RECV
// after their retries.
//
// What the capture cannot decide is kept open rather than guessed:
//   - may is a set of states. A connection picked up mid-stream starts with
//     every synchronized state possible; segments narrow it (a host that
//     sends new data has not closed; a host whose peer still sends has not
//     taken a FIN). The state shows once one is left, "-" until then.
//   - a change that rests on a segment the capture saw but nothing has shown
//     to have reached its host is pending: shown, marked unconfirmed, and
//     undone if the host then behaves as if it never got it (it acks less,
//     retransmits, or speaks after a RST). Its ACK of that segment, or its
//     silence past the time it would have retransmitted, confirms it.

// hostFlags record what the wire showed about one host.
type hostFlags uint16

const (
	hSent     hostFlags = 1 << iota // it sent something (sndNxt valid)
	hISS                            // its SYN or SYN-ACK was seen: iss valid
	hFIN                            // it sent a FIN: finSeq, finAck valid
	hRcv                            // rcvNxt and rcvWup valid
	hWnd                            // rcvWnd valid (its window scale is known)
	hSack                           // sackEdge: right edge of the SACK blocks of its latest ACK
	hGotFIN                         // it took in the peer's FIN
	hOrphanNo                       // it still reads after its FIN: not orphaned (no FIN_WAIT2 timer)
	hRequest                        // its SYN_RECV is a request of a listener (passive open)
	hSynAgain                       // the peer's SYN came again in SYN_RECV: the next SYN-ACK answers it, not the timer
	hWSOffer                        // its SYN carried the window-scale option (wsOffer)
	hSynAck                         // it sent a SYN-ACK in this incarnation
	hTS                             // tsMax: the highest timestamp it sent
)

// host is one side's socket. The zero value knows nothing.
type host struct {
	may      sockSet // states it may be in; 0: nothing known yet
	flags    hostFlags
	retrans  uint8 // timer-driven SYN or SYN-ACK retransmissions (icsk_retransmits, num_timeout)
	rtx      uint8 // every SYN-ACK retransmission (num_retrans: what ss shows)
	backoff  uint8 // its retransmissions since the peer last acknowledged new data
	wsOffer  uint8
	wscale   uint8   // shift of its window field, once both SYNs were seen
	goneFrom sockSet // what it was before a GONE inferred from timers or silence: a host that speaks again comes back

	iss      uint32 // its initial sequence number
	sndNxt   uint32 // just past the highest sequence it sent
	finSeq   uint32 // sequence number of its FIN
	finAck   uint32 // the ACK its FIN carried: what it had taken in when it closed
	rcvNxt   uint32 // next sequence it expects from the peer
	rcvWup   uint32 // highest ACK it sent
	rcvWnd   uint32 // its latest window, scaled
	sackEdge uint32
	tsMax    uint32 // the latest timestamp value it sent (hTS): an older one marks a segment sent earlier

	lastTx  int64 // when it last sent (in SYN_SENT, its last SYN)
	timerAt int64 // SYN_RECV: when its SYN-ACK timer fires
	twEnd   int64 // when its TIME_WAIT runs out
	fw2End  int64 // when its FIN_WAIT2 runs out, if orphaned
	// finAckBy: in LAST_ACK, the peer's ACK of its FIN was seen, but it
	// spoke after that ACK would have reached it: delayed on the way, or
	// lost. Lost, its FIN comes again by then; if it does not, the ACK
	// arrived late and the socket is gone (0: none).
	finAckBy int64

	// Changes that rest on segments not yet shown to have reached it,
	// oldest first (a third merges into the second).
	pend  [2]change
	npend uint8
}

// change is one pending change: what the host was before it, and what
// would confirm it.
type change struct {
	at      int64 // when the segment it rests on was seen
	quiet   int64 // its silence until then confirms it (0: silence proves nothing)
	tw, fw2 int64 // timers before it
	end     uint32
	tsval   uint32 // the segment's timestamp (hasTS): an echo of it shows the host got it
	ownTS   uint32 // the host's own latest timestamp then (hasOwn): it sent anything stamped no later before
	seq     bool   // its ACK at or past end confirms it
	hasTS   bool
	hasOwn  bool
	from    sockSet
	flags   hostFlags
}

func (h *host) state() (SockState, bool) { return h.may.single() }

func (h *host) is(st SockState) bool { s, ok := h.may.single(); return ok && s == st }

func (h *host) gone() bool { return h.is(SockGone) }

func (h *host) pending() bool { return h.npend > 0 }

// before is what the host was before its oldest pending change.
func (h *host) before() sockSet {
	if h.npend == 0 {
		return h.may
	}
	return h.pend[0].from
}

func (h *host) confirm() { h.npend = 0 }

// confirmUpTo confirms pending changes 0..i: a later one standing implies
// the earlier did (ACKs are cumulative).
func (h *host) confirmUpTo(i int) {
	n := int(h.npend)
	copy(h.pend[:], h.pend[i+1:n])
	h.npend = uint8(n - i - 1)
}

// rollbackTo undoes pending changes i.. : the host showed it never got the
// segment change i rested on.
func (h *host) rollbackTo(i int) {
	if i >= int(h.npend) {
		return
	}
	c := &h.pend[i]
	const learned = hSent | hISS | hFIN | hRcv | hWnd | hSack | hOrphanNo | hWSOffer
	h.may = c.from
	h.flags = c.flags&^learned | h.flags&learned
	h.twEnd, h.fw2End = c.tw, c.fw2
	h.npend = uint8(i)
}

func (h *host) rollback() { h.rollbackTo(0) }

// begin records that the host's state now rests on a segment seen at now
// that it has not yet shown it got: seq, its ACK must reach end; quiet,
// when not 0, its silence until then confirms it.
func (h *host) begin(from sockSet, flags hostFlags, tw, fw2, now int64, seq bool, end uint32, quiet int64) {
	c := change{at: now, quiet: quiet, tw: tw, fw2: fw2, end: end, seq: seq, from: from, flags: flags,
		ownTS: h.tsMax, hasOwn: h.flags&hTS != 0}
	if seq {
		c.quiet = 0
	}
	if int(h.npend) < len(h.pend) {
		h.pend[h.npend] = c
		h.npend++
		return
	}
	h.pend[len(h.pend)-1].hasTS = false // merged: no single timestamp stands for it
	h.pend[len(h.pend)-1].ownTS, h.pend[len(h.pend)-1].hasOwn = c.ownTS, c.hasOwn
	// Merge into the newest: undoing it goes back to before both.
	top := &h.pend[len(h.pend)-1]
	if seq && (!top.seq || after(end, top.end)) {
		top.end, top.seq = end, true
	}
	top.quiet = max(top.quiet, c.quiet)
	if top.seq {
		top.quiet = 0
	}
}

// stamp notes the timestamp of the segment the newest change rests on.
func (h *host) stamp(s *Segment) {
	if h.npend > 0 && s.HasTS && h.pend[h.npend-1].at != 0 {
		c := &h.pend[h.npend-1]
		if !c.hasTS {
			c.tsval, c.hasTS = s.TSVal, true
		}
	}
}

// sentAfter reports whether a segment s the host sends at now was sent
// after the segment change c rests on reached it: its timestamp echo says
// so exactly when both carry timestamps; otherwise enough time has passed.
func (c *change) sentAfter(s *Segment, now, late int64) bool {
	if c.hasTS && s.HasTS && before(s.TSEcr, c.tsval) {
		return false // it echoes an older timestamp: sent before that segment arrived
	}
	if c.hasOwn && s.HasTS && !after(s.TSVal, c.ownTS) {
		return false // stamped no later than what it had sent before: an old segment, late on the way
	}
	return now-c.at > late
}

// quietSettled confirms pending changes whose host stayed silent long
// enough.
func (h *host) quietSettled(now int64) {
	for i := int(h.npend) - 1; i >= 0; i-- {
		if c := &h.pend[i]; !c.seq && c.quiet != 0 && now >= c.quiet {
			h.confirmUpTo(i)
			return
		}
	}
}

// unquiet: a segment r that acknowledges all the host sent leaves it
// nothing to retransmit if what its newest pending change rests on never
// reached it, so its silence no longer confirms that change, unless r alone
// would take it to the same state (a second copy of the ACK that ended
// LAST_ACK). A RST, then an ACK sent just before it and delayed on the way,
// is the case: the host that never got the RST keeps quiet too.
func (h *host) unquiet(cfg *HostConfig, r *rx) {
	c := &h.pend[h.npend-1]
	if c.seq || c.quiet == 0 {
		return
	}
	var alt sockSet
	c.from.members(func(st SockState) {
		n, _ := h.recvOne(cfg, st, r)
		alt |= setOf(n)
	})
	if alt != h.may {
		c.quiet = 0
	}
}

// goneAt takes the host away by its own timer at when. It is pending until
// quiet (the timer wheel may fire late; 0: nothing can confirm it).
func (h *host) goneAt(when, quiet int64) {
	from, flags, tw, fw2 := h.may, h.flags, h.twEnd, h.fw2End
	h.may = setOf(SockGone)
	if from.has(SockTimeWait) {
		h.may = setOf(sockGoneFIN)
	}
	h.goneFrom = from
	h.begin(from, flags, tw, fw2, when, false, 0, quiet)
}

// advance runs the host's own timers up to now.
func (h *host) advance(cfg *HostConfig, rto time.Duration, now int64) {
	h.quietSettled(now)
	h.runTimers(cfg, now)
	h.quietSettled(now)
}

func (h *host) runTimers(cfg *HostConfig, now int64) {
	if h.finAckBy != 0 && !h.may.has(SockLastAck) {
		h.finAckBy = 0 // it left LAST_ACK on what came next
	}
	st, one := h.state()
	if !one {
		// A picked-up host whose TIME_WAIT or FIN_WAIT2 would have
		// run out cannot be in that state any more.
		if h.may.has(SockTimeWait) && h.twEnd != 0 && now >= h.twEnd+int64(cfg.wheelSlack(cfg.TimeWait)) {
			h.may = h.may&^setOf(SockTimeWait) | setOf(sockGoneFIN)
		}
		if h.may.has(SockFinWait2) && h.flags&hOrphanNo == 0 && h.fw2End != 0 && now >= h.fw2End+int64(cfg.wheelSlack(cfg.FinTimeout)) {
			h.may = h.may&^setOf(SockFinWait2) | setOf(SockGone)
		}
		return
	}
	// A timer that ran out leaves the socket listed until the kernel's
	// timer wheel gets to it (Socket shows it with 0 left, unconfirmed);
	// after that it is surely gone.
	switch st {
	case SockSynSent:
		rto := cfg.synRTO(int(h.retrans))
		next := h.lastTx + int64(rto)
		if int(h.retrans) < cfg.synMax() {
			// The next SYN is due; if it never shows, the application
			// gave up (close() in SYN_SENT sends nothing) or it was lost
			// before the capture point: gone, unconfirmed.
			if now >= next+int64(missMargin(cfg, rto)) {
				h.goneAt(next, 0)
			}
		} else if end := next + int64(cfg.wheelSlack(rto)); now >= end {
			h.goneAt(end, end)
		}
	case SockSynRecv:
		if h.timerAt == 0 {
			return
		}
		d := cfg.synackRTO(int(h.retrans))
		if int(h.retrans) < cfg.SynackRetries {
			if now >= h.timerAt+int64(missMargin(cfg, d)) {
				h.goneAt(h.timerAt, 0)
			}
		} else if end := h.timerAt + int64(cfg.wheelSlack(d)); now >= end {
			h.goneAt(end, end)
		}
	case SockLastAck:
		if h.finAckBy != 0 && now >= h.finAckBy {
			at := h.finAckBy
			h.finAckBy = 0
			h.goneAt(at, at)
			h.may = setOf(sockGoneFIN)
		}
	case SockTimeWait:
		if end := h.twEnd + int64(cfg.wheelSlack(cfg.TimeWait)); h.twEnd != 0 && now >= end {
			h.goneAt(end, end)
		}
	case SockFinWait2:
		if end := h.fw2End + int64(cfg.wheelSlack(cfg.FinTimeout)); h.flags&hOrphanNo == 0 && h.fw2End != 0 && now >= end {
			// Only if it was orphaned, which the wire has not shown:
			// unconfirmed.
			h.goneAt(end, 0)
		}
	}
}

// timerDue is when the socket's own timer runs out, if it has one that
// ends it (0: none).
func (h *host) timerDue(cfg *HostConfig) int64 {
	st, one := h.state()
	if !one {
		return 0
	}
	switch st {
	case SockSynSent:
		if int(h.retrans) >= cfg.synMax() {
			return h.lastTx + int64(cfg.synRTO(int(h.retrans)))
		}
	case SockSynRecv:
		if int(h.retrans) >= cfg.SynackRetries {
			return h.timerAt
		}
	case SockTimeWait:
		return h.twEnd
	case SockFinWait2:
		if h.flags&hOrphanNo == 0 {
			return h.fw2End
		}
	}
	return 0
}

// missMargin is how long after a due retransmission its absence is taken
// to mean the host no longer sends it: the timer wheel's slack, and time
// for the packet to reach the capture point.
func missMargin(cfg *HostConfig, d time.Duration) time.Duration {
	return cfg.wheelSlack(d) + 100*time.Millisecond
}

// rx is what a segment means to the host receiving it, worked out once.
type rx struct {
	ack, rst, syn, fin bool
	seq, end           uint32
	rcv                uint32 // what it expects next (the segment's own sequence if it never said)
	plen               uint32
	seqOK              bool // tcp_sequence: neither wholly old nor beyond the window
	inWin              bool // tcp_in_window, for requests and orphaned FIN_WAIT2
	exactRST           bool // at rcv_nxt, or at the right edge of its latest SACK
	rst1               bool // at rcv_nxt - 1 (Linux takes it after a FIN)
	ackOK              bool // acknowledges nothing it did not send
	ackFIN             bool // acknowledges its FIN (or, not knowing where it is, all it sent)
	ackISS             bool // acknowledges exactly its SYN (a request's test)
	ackSyn             bool // acknowledges its SYN and no more than it sent (SYN_SENT's test)
	inOrder            bool // starts at or before rcv_nxt and brings something new
	newData            bool // payload beyond rcv_nxt
	finNew             bool // an in-order FIN it has not taken yet
}

func (h *host) facts(s *Segment) rx {
	f := s.Flags
	r := rx{ack: f&ACK != 0, rst: f&RST != 0, syn: f&SYN != 0, fin: f&FIN != 0,
		seq: s.Seq, end: s.End(), plen: s.PayloadLen}
	rcv := h.rcvNxt
	if h.flags&hRcv == 0 {
		rcv = s.Seq // never seen what it expects: take the segment as in order
	}
	r.rcv = rcv
	wnd := uint32(1 << 30) // scale unknown: do not judge the window
	if h.flags&hWnd != 0 {
		wnd = h.rcvWnd
	}
	wup := h.rcvWup
	if h.flags&hRcv == 0 {
		wup = rcv
	}
	r.seqOK = !before(r.end, wup) && !after(r.seq, rcv+wnd)
	r.inWin = r.seq == rcv || (after(r.end, rcv) && before(r.seq, rcv+wnd)) || (r.seq == rcv+wnd && r.seq == r.end)
	r.exactRST = r.seq == rcv || (h.flags&hSack != 0 && r.seq == h.sackEdge)
	r.rst1 = r.seq == rcv-1
	r.ackOK = r.ack && (h.flags&hSent == 0 || !after(s.Ack, h.sndNxt))
	if r.ackOK {
		switch {
		case h.flags&hFIN != 0:
			r.ackFIN = !before(s.Ack, h.finSeq+1)
		case h.flags&hSent != 0:
			r.ackFIN = !before(s.Ack, h.sndNxt)
		}
	}
	r.ackISS = r.ack && h.flags&hISS != 0 && s.Ack == h.iss+1
	r.ackSyn = r.ack && h.flags&hISS != 0 && after(s.Ack, h.iss) && !after(s.Ack, h.sndNxt)
	r.inOrder = !after(r.seq, rcv) && after(r.end, rcv)
	dataEnd := r.end
	if r.fin {
		dataEnd--
	}
	r.newData = r.plen > 0 && after(dataEnd, rcv)
	r.finNew = r.fin && r.inOrder && h.flags&hGotFIN == 0
	return r
}

// Effects of one segment on a host, applied once whatever state it is in.
type rxEffect uint8

const (
	eTake     rxEffect = 1 << iota // takes in the segment: rcv_nxt moves to its end
	eGotFIN                        // takes in the peer's FIN
	eTWStart                       // enters TIME_WAIT: its 60 s start
	eTWReset                       // TIME_WAIT restarts its 60 s
	eFW2Start                      // enters FIN_WAIT2: tcp_fin_timeout starts, if orphaned
	eSynAgain                      // SYN_RECV saw the peer's SYN again
)

// recvOne is where one state goes on a segment the host receives.
func (h *host) recvOne(cfg *HostConfig, st SockState, r *rx) (SockState, rxEffect) {
	switch st {
	case SockSynSent: // tcp_rcv_synsent_state_process
		if r.ack {
			if !r.ackSyn {
				return st, 0 // unacceptable ACK: it answers with a RST, stays
			}
			switch {
			case r.rst:
				return SockGone, 0 // connection refused
			case r.syn:
				return SockEstablished, eTake
			}
			return st, 0
		}
		if r.syn && !r.rst {
			return SockSynRecv, 0 // crossing SYNs: it answers with SYN-ACK
		}
		return st, 0
	case SockSynRecv: // tcp_check_req
		if r.syn && !r.ack && !r.rst && h.flags&hRcv != 0 && r.seq == h.rcvNxt-1 {
			return st, eSynAgain // the SYN again: SYN-ACK again, timer restarted
		}
		if h.flags&hRequest == 0 && r.syn && r.ack && r.ackSyn && r.seq+1 == r.rcv {
			return SockEstablished, 0 // crossing SYN-ACK of a simultaneous open
		}
		if r.ack && !r.ackISS {
			return st, 0 // the listener answers with a RST
		}
		if !r.inWin {
			return st, 0
		}
		syn := r.syn && !(h.flags&hRcv != 0 && r.seq == h.rcvNxt-1)
		if r.rst || syn {
			return SockGone, 0
		}
		if !r.ack {
			return st, 0
		}
		if r.finNew {
			return SockCloseWait, eTake | eGotFIN
		}
		return SockEstablished, eTake
	case SockFinWait2:
		if h.flags&hOrphanNo == 0 {
			return h.recvOrphanFW2(r)
		}
		return h.recvSynchronized(cfg, st, r)
	case SockEstablished, SockFinWait1, SockClosing, SockCloseWait, SockLastAck:
		return h.recvSynchronized(cfg, st, r)
	case SockTimeWait: // tcp_timewait_state_process
		if r.seq == r.rcv && (r.end == r.seq || r.rst) {
			if r.rst {
				if cfg.RFC1337 {
					return st, 0
				}
				return SockGone, 0 // TIME_WAIT assassination
			}
			return st, eTWReset
		}
		if r.syn && !r.rst && !r.ack && after(r.seq, r.rcv) {
			return st, 0 // may open anew: its SYN-ACK will tell
		}
		if !r.rst && r.ack {
			return st, eTWReset // answered with an ACK, 60 s again
		}
		return st, 0
	}
	return st, 0 // gone (the host answers with RST) or nothing known
}

// recvSynchronized is tcp_validate_incoming and tcp_rcv_state_process for
// a full socket past the handshake.
func (h *host) recvSynchronized(cfg *HostConfig, st SockState, r *rx) (SockState, rxEffect) {
	closing := st == SockCloseWait || st == SockLastAck || st == SockClosing
	if !r.ack && !r.rst && !r.syn {
		return st, 0
	}
	if !r.seqOK {
		if r.rst && r.rst1 && closing {
			return SockGone, 0
		}
		return st, 0 // out of window: a duplicate ACK, or nothing for a RST
	}
	if r.rst {
		if r.exactRST || (r.rst1 && closing) {
			return SockGone, 0
		}
		return st, 0 // in window but not exact: challenge ACK (RFC 5961 3.2)
	}
	if r.syn {
		return st, 0 // challenge ACK (RFC 5961 4.2)
	}
	if !r.ackOK {
		return st, 0 // acknowledges data never sent: dropped
	}
	var eff rxEffect
	orphan := h.flags&hOrphanNo == 0
	if r.ackFIN {
		switch st {
		case SockFinWait1:
			st, eff = SockFinWait2, eFW2Start
		case SockClosing:
			st, eff = SockTimeWait, eTWStart
		case SockLastAck:
			return sockGoneFIN, 0
		}
	}
	if (st == SockFinWait1 || st == SockFinWait2) && orphan && r.newData {
		// Closed by its application, new data gets a reset; only shut
		// down for writing, it takes it. The wire does not say which
		// until it answers: its RST or its ACK will tell.
		return st, eff
	}
	if r.inOrder && (st == SockEstablished || st == SockFinWait1 || st == SockFinWait2) {
		eff |= eTake
	}
	if r.finNew {
		eff |= eGotFIN | eTake
		switch st {
		case SockEstablished:
			st = SockCloseWait
		case SockFinWait1:
			st = SockClosing
		case SockFinWait2:
			st, eff = SockTimeWait, eff|eTWStart
		}
	}
	return st, eff
}

// recvOrphanFW2 is tcp_timewait_state_process for its FIN_WAIT2 substate:
// a socket the application closed keeps only this much.
func (h *host) recvOrphanFW2(r *rx) (SockState, rxEffect) {
	if !r.inWin {
		return SockFinWait2, 0
	}
	if r.rst {
		return SockGone, 0
	}
	if r.syn && !before(r.seq, r.rcv) {
		return SockGone, 0
	}
	if !r.ack || !after(r.end, r.rcv) || r.end == r.seq {
		return SockFinWait2, 0
	}
	if !r.fin || r.end != r.rcv+1 {
		// New data after close() gets a reset, if it was closed and not
		// only shut down: its answer will tell.
		return SockFinWait2, 0
	}
	return SockTimeWait, eTWStart | eGotFIN | eTake
}
