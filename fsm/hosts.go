package fsm

import "time"

// Hosts is the two endpoint sockets of one 4-tuple, each as its own host
// holds it (see host.go). Side 0 is whichever end sent the first segment
// seen, whatever conntrack makes of it. Its life is the sockets', not
// conntrack's: a FIN that creates no conntrack entry still tells the hosts
// something, and a socket outlives an expired entry (an idle ESTABLISHED
// one) or dies long before it (TIME_WAIT: 60 s on the host, 120 s in
// conntrack). It is a plain value with no pointers; the zero value is
// ready for the first segment.
type Hosts struct {
	h   [2]host
	rtt [2]int32 // µs from the capture point to that side and back (from the handshake; 0: not seen)
}

// TimerKind is the socket timer ss -o shows.
type TimerKind uint8

const (
	TimerNone     TimerKind = iota
	TimerOn                 // retransmission: SYN_SENT's SYN, SYN_RECV's SYN-ACK ("on")
	TimerTimeWait           // TIME_WAIT, and an orphaned FIN_WAIT2 ("timewait")
)

var timerNames = [...]string{"", "on", "timewait"}

// String is the name ss -o prints in timer:(NAME,...).
func (k TimerKind) String() string {
	if int(k) < len(timerNames) {
		return timerNames[k]
	}
	return "?"
}

// Socket is one endpoint's socket at an instant.
type Socket struct {
	State SockState
	// Confirmed: the wire shows it. False when the state rests on a
	// segment the capture saw but nothing has shown reached the host (no
	// acknowledgement, no reaction yet), on the host having orphaned its
	// FIN_WAIT2 (close() and shutdown() look the same on the wire), or on
	// a timer that ran out but that the kernel's timer wheel may not have
	// fired yet. Always false for SockUnknown.
	Confirmed bool
	Timer     TimerKind
	Left      time.Duration // time left on the timer (0 once it ran out)
	Retrans   int           // retransmissions so far, as ss prints them
	// SendQ is the sequence space (data, SYN, FIN) it sent that the wire
	// has not shown acknowledged: a lower bound of netstat's Send-Q (data
	// still queued unsent is invisible).
	SendQ uint32
}

// Update applies one segment travelling from side dir, seen at now (Unix
// ns, capture time, never decreasing). It allocates nothing.
func (p *Hosts) Update(cfg *HostConfig, dir Dir, s *Segment, now int64) {
	dir &= 1
	if !validFlags(s.Flags) {
		// A combination no stack sends (SYN+FIN, a bare FIN, no flags):
		// crafted, and every host drops it.
		return
	}
	p.h[0].advance(cfg, p.rto(cfg, 0), now)
	p.h[1].advance(cfg, p.rto(cfg, 1), now)
	x := &p.h[dir]
	ackBefore, ackKnown := x.rcvWup, x.flags&hRcv != 0
	// A timestamp older than one its sender already sent marks a copy of
	// an earlier segment, late on the way (a retransmission carries a new
	// one): it says nothing new about its sender. Its receiver still gets
	// it.
	if !(s.HasTS && x.flags&hTS != 0 && before(s.TSVal, x.tsMax)) {
		p.send(cfg, dir, s, now)
	}
	p.recv(cfg, dir^1, s, now, ackBefore, ackKnown)
}

// Socket is side d's socket at now (not before the last Update).
func (p *Hosts) Socket(cfg *HostConfig, d Dir, now int64) Socket {
	d &= 1
	h := p.h[d]
	h.advance(cfg, p.rto(cfg, d), now)
	st, one := h.state()
	if !one {
		return Socket{State: SockUnknown}
	}
	so := Socket{State: st, Confirmed: !h.pending()}
	if st == SockLastAck && h.finAckBy != 0 {
		so.Confirmed = false // the ACK of its FIN, seen, may still arrive
	}
	if due := h.timerDue(cfg); due != 0 && now >= due {
		so.Confirmed = false // ran out; listed until the timer wheel fires
	}
	left := func(at int64) time.Duration { return time.Duration(max(at-now, 0)) }
	switch st {
	case SockSynSent:
		so.Timer, so.Left, so.Retrans = TimerOn, left(h.lastTx+int64(cfg.synRTO(int(h.retrans)))), int(h.retrans)
	case SockSynRecv:
		so.Timer, so.Left, so.Retrans = TimerOn, left(h.timerAt), int(h.rtx)
	case SockTimeWait:
		so.Timer, so.Left = TimerTimeWait, left(h.twEnd)
	case SockFinWait2:
		if h.flags&hOrphanNo == 0 {
			// The timer of a socket its application closed; one that was
			// only shut down for writing has none and stays. The wire
			// does not tell which: unconfirmed.
			so.Timer, so.Left, so.Confirmed = TimerTimeWait, left(h.fw2End), false
		}
	}
	switch st {
	case SockSynSent, SockEstablished, SockFinWait1, SockClosing, SockCloseWait, SockLastAck:
		if h.flags&hSent != 0 {
			peer := &p.h[d^1]
			acked := h.iss
			if peer.flags&hRcv != 0 {
				acked = peer.rcvWup
			} else if h.flags&hISS == 0 {
				acked = h.sndNxt
			}
			if after(h.sndNxt, acked) {
				so.SendQ = h.sndNxt - acked
			}
		}
	case SockSynRecv:
		if h.flags&hRequest == 0 {
			so.SendQ = 1
		}
	}
	return so
}

// Spoke reports whether side d sent anything seen.
func (p *Hosts) Spoke(d Dir) bool { return p.h[d&1].flags&hSent != 0 }

// Done reports whether neither side may hold a socket any more at now:
// each is GONE (confirmed) or never spoke and is not known to exist.
func (p *Hosts) Done(cfg *HostConfig, now int64) bool {
	for d := Original; d <= Reply; d++ {
		so := p.Socket(cfg, d, now)
		switch {
		case so.State == SockGone && so.Confirmed:
		case so.State == SockUnknown && !p.Spoke(d):
		default:
			return false
		}
	}
	return true
}

// NextChange is the latest instant at which either side's own timers may
// still change something, if nothing more is seen (0: none pending).
func (p *Hosts) NextChange(cfg *HostConfig) int64 {
	var t int64
	for d := range p.h {
		h := &p.h[d]
		for _, v := range []int64{h.twEnd, h.fw2End, h.timerAt, h.finAckBy} {
			t = max(t, v)
		}
		for i := 0; i < int(h.npend); i++ {
			t = max(t, h.pend[i].quiet)
		}
		if h.is(SockSynSent) {
			t = max(t, h.lastTx+int64(cfg.synRTO(int(h.retrans))))
		}
	}
	if t == 0 {
		return 0
	}
	return t + int64(cfg.wheelSlack(tcpRTOMax)) + int64(time.Second)
}

// rto estimates side d's retransmission timeout: Linux's first estimate,
// srtt + max(2 srtt, rto_min), from the round trip seen at the handshake.
func (p *Hosts) rto(cfg *HostConfig, d Dir) time.Duration {
	rtt := time.Duration(p.rtt[d]) * time.Microsecond
	return rtt + max(2*rtt, cfg.RTOMin)
}

// lateAfter is how long after a segment was seen a segment of side d is
// surely sent after that one reached it.
func (p *Hosts) lateAfter(d Dir) int64 {
	return int64(time.Duration(p.rtt[d])*time.Microsecond + 100*time.Millisecond)
}

// quietDeadline is when side d's silence confirms that a segment without
// sequence space (an ACK, a RST) reached it: when it would otherwise have
// retransmitted. 0 when it had nothing to retransmit: silence proves nothing.
func (p *Hosts) quietDeadline(cfg *HostConfig, d Dir, before sockSet, now int64, peerAck uint32, peerAckKnown bool) int64 {
	h := &p.h[d]
	if st, ok := before.single(); ok {
		switch st {
		case SockSynSent:
			rto := cfg.synRTO(int(h.retrans))
			return h.lastTx + int64(rto+missMargin(cfg, rto))
		case SockSynRecv:
			if h.timerAt != 0 {
				return h.timerAt + int64(missMargin(cfg, cfg.synackRTO(int(h.retrans))))
			}
		}
	}
	if h.flags&hSent == 0 || (peerAckKnown && !after(h.sndNxt, peerAck)) {
		return 0
	}
	return now + int64(backoff(p.rto(cfg, d), int(h.backoff))+100*time.Millisecond)
}

// send is what side d's own segment shows about it.
func (p *Hosts) send(cfg *HostConfig, d Dir, s *Segment, now int64) {
	x, y := &p.h[d], &p.h[d^1]
	f := s.Flags
	switch {
	case f&RST != 0:
		p.sendRST(d, s, now)
		return
	case f&SYN != 0 && f&ACK == 0:
		p.sendSYN(cfg, d, s, now)
		return
	case f&SYN != 0:
		p.sendSYNACK(cfg, d, s, now)
		return
	}
	if x.gone() && !x.pending() {
		if x.goneFrom == 0 {
			return // its own RST ended it: a late or reordered segment
		}
		x.may = x.goneFrom // it speaks: the timer or silence GONE rested on was wrong
		x.goneFrom = 0
	}
	hadSent, prevSnd := x.flags&hSent != 0, x.sndNxt
	end := s.End()
	dataEnd := end
	if f&FIN != 0 {
		dataEnd--
	}
	again := hadSent && ((s.PayloadLen > 0 && before(s.Seq, prevSnd)) ||
		(f&FIN != 0 && x.flags&hFIN != 0 && dataEnd == x.finSeq))
	if f&FIN != 0 {
		x.finAckBy = 0 // its FIN again: the ACK it waited for was lost
	}

	// What it says about changes that rest on segments sent to it.
	refin := false
	if x.pending() && x.gone() {
		// Anything but a RST from a host whose socket is gone proves it is
		// not, if it left after what ended it reached it (at the earliest
		// a round trip later: a challenge ACK comes that fast).
		top := &x.pend[x.npend-1]
		if !top.sentAfter(s, now, int64(p.rtt[d])*1000/2) {
			return // sent before what ended it arrived
		}
		if top.from.has(SockFinWait2) {
			x.flags |= hOrphanNo // it outlived tcp_fin_timeout: not orphaned
		}
		x.rollbackTo(int(x.npend) - 1) // it speaks: what ended it had not reached it
		if f&FIN == 0 && x.is(SockLastAck) && x.flags&hFIN != 0 && y.flags&hRcv != 0 && !before(y.rcvWup, x.finSeq+1) {
			// The peer's ACK of its FIN is on the wire: lost, or still on
			// its way. Its FIN will tell (finAckBy).
			x.finAckBy = now + int64(backoff(p.rto(cfg, d), int(x.backoff))+100*time.Millisecond)
		}
	}
	if x.pending() && x.pend[0].from == setOf(SockSynRecv) {
		x.confirmUpTo(0) // a request sends nothing but SYN-ACKs: it is established
	}
	for i := int(x.npend) - 1; i >= 0 && f&ACK != 0; i-- {
		if c := &x.pend[i]; c.seq && !before(s.Ack, c.end) {
			x.confirmUpTo(i) // it acknowledges what that change rests on
			break
		}
	}
	for i := 0; i < int(x.npend); i++ {
		c := &x.pend[i]
		late := c.sentAfter(s, now, p.lateAfter(d))
		switch {
		case c.seq && f&ACK != 0 && (late || (s.HasSack && !before(s.SackRight, c.end))):
			// It acknowledges less: the segment's data never reached it
			// in order. Its ACK field may have (later segments carry it
			// again): what the peer acknowledged stands, unconfirmed.
			x.rollbackTo(i)
			p.reack(cfg, d, now)
		case c.seq && f&FIN != 0 && !again:
			// Its FIN was sent before that segment reached it (they
			// crossed): take its FIN first, then the peer's FIN again
			// on top (a simultaneous close). Anything else sent before
			// the segment arrived says nothing about it.
			refin = x.flags&hGotFIN != 0 && c.flags&hGotFIN == 0
			x.rollbackTo(i)
		case !c.seq && late && again:
			x.rollbackTo(i) // it retransmits what that ACK had acknowledged
		default:
			continue
		}
		break
	}

	if !hadSent || after(end, x.sndNxt) {
		x.sndNxt = end
	}
	x.flags |= hSent
	x.lastTx = now
	if s.HasTS && (x.flags&hTS == 0 || after(s.TSVal, x.tsMax)) {
		x.tsMax = s.TSVal
		x.flags |= hTS
	}
	switch {
	case again:
		if x.backoff < 16 {
			x.backoff++
		}
	case s.PayloadLen > 0 || f&FIN != 0:
		x.backoff = 0
	}
	if f&ACK != 0 {
		if x.flags&hRcv == 0 || after(s.Ack, x.rcvWup) {
			x.rcvWup = s.Ack
		}
		if x.flags&hRcv == 0 || after(s.Ack, x.rcvNxt) {
			x.rcvNxt = s.Ack
		}
		x.flags |= hRcv
		if x.flags&hWnd != 0 {
			x.rcvWnd = uint32(s.Window) << x.wscale
		}
		if s.HasSack && after(s.SackRight, s.Ack) {
			x.sackEdge = s.SackRight
			x.flags |= hSack
		} else {
			x.flags &^= hSack
		}
		if p.rtt[d] == 0 && y.flags&hISS != 0 && s.Ack == y.iss+1 && y.is(SockSynRecv) {
			p.rtt[d] = int32(min((now-y.lastTx)/1000, 1<<30))
		}
	}
	if x.may == 0 {
		x.may = setSynchronized // first seen mid-stream
	}
	if x.may&setGone != 0 && x.may&^setGone != 0 {
		x.may &^= setGone // it speaks: it has a socket
	}

	// Its ACK covers the peer's FIN: it took it before sending this, even
	// if the capture could not tell when (the FIN came after a hole).
	if f&ACK != 0 && y.flags&hFIN != 0 && !before(s.Ack, y.finSeq+1) && x.flags&hGotFIN == 0 {
		x.takeFIN(cfg, now)
	}

	// A segment without data starting beyond all it was seen to send: what
	// it sent in between never reached the capture point, and its last
	// byte may have been a FIN (a host that closed sends its ACKs one past
	// it). Until that FIN shows again, it may or may not have closed.
	if hadSent && f&FIN == 0 && s.PayloadLen == 0 && after(s.Seq, prevSnd) {
		var more sockSet
		x.may.members(func(st SockState) {
			switch st {
			case SockEstablished:
				more |= setOf(SockFinWait1)
			case SockCloseWait:
				more |= setOf(SockLastAck)
			}
		})
		x.may |= more
	}

	// New data: it has not closed, and so its peer has not had its FIN.
	opened := s.PayloadLen > 0 && (!hadSent || after(dataEnd, prevSnd))
	if opened {
		x.may = narrow(x.may, setCanSend|setOf(SockSynRecv))
	}
	if f&FIN != 0 && !(x.flags&hFIN != 0 && x.finSeq == dataEnd) {
		fresh := hadSent && !after(prevSnd, dataEnd)
		var next sockSet
		if fresh || !hadSent {
			x.may.members(func(st SockState) {
				switch st {
				case SockEstablished, SockSynRecv:
					next |= setOf(SockFinWait1)
				case SockCloseWait:
					next |= setOf(SockLastAck)
				}
			})
		}
		if !fresh {
			// First seen with its FIN, or already past it: it may have
			// closed before the capture began and be sending it again.
			next |= x.may & setOf(SockFinWait1, SockClosing, SockLastAck)
		}
		if next == 0 {
			next = setOf(SockFinWait1, SockLastAck)
		}
		x.may = next
		x.finSeq, x.finAck = dataEnd, s.Ack
		x.flags |= hFIN
		opened = opened || fresh
	}
	if opened && y.may != 0 && y.flags&hGotFIN == 0 {
		y.may = narrow(y.may, setNoPeerFIN)
	}

	if refin && y.flags&hFIN != 0 {
		before, bf, tw, fw2 := x.may, x.flags, x.twEnd, x.fw2End
		x.takeFIN(cfg, now)
		x.begin(before, bf, tw, fw2, now, true, y.finSeq+1, 0)
	}
	if f&ACK != 0 {
		// Data taken in after its own FIN: still reading, not orphaned.
		if x.flags&hFIN != 0 {
			data := s.Ack
			if y.flags&hFIN != 0 && !before(s.Ack, y.finSeq+1) {
				data = y.finSeq
			}
			if after(data, x.finAck) {
				x.flags |= hOrphanNo
			}
		}
	}
}

// reack applies, pending, what the peer's latest ACK says about side d's
// FIN.
func (p *Hosts) reack(cfg *HostConfig, d Dir, now int64) {
	x, y := &p.h[d], &p.h[d^1]
	if x.flags&hFIN == 0 || y.flags&hRcv == 0 || before(y.rcvWup, x.finSeq+1) {
		return
	}
	before, bf, tw, fw2 := x.may, x.flags, x.twEnd, x.fw2End
	var next sockSet
	x.may.members(func(st SockState) {
		switch st {
		case SockFinWait1:
			next |= setOf(SockFinWait2)
			x.fw2End = now + int64(cfg.finTime(p.rto(cfg, d)))
		case SockClosing:
			next |= setOf(SockTimeWait)
			x.twEnd = now + int64(cfg.TimeWait)
		case SockLastAck:
			next |= setOf(sockGoneFIN)
		default:
			next |= setOf(st)
		}
	})
	if next != before {
		x.may = next
		x.begin(before, bf, tw, fw2, now, false, 0, now+int64(backoff(p.rto(cfg, d), int(x.backoff))+100*time.Millisecond))
	}
}

// takeFIN moves a host that took in its peer's FIN.
func (x *host) takeFIN(cfg *HostConfig, now int64) {
	var next sockSet
	x.may.members(func(st SockState) {
		switch st {
		case SockEstablished, SockSynRecv:
			next |= setOf(SockCloseWait)
		case SockFinWait1:
			next |= setOf(SockClosing)
		case SockFinWait2:
			next |= setOf(SockTimeWait)
			x.twEnd = now + int64(cfg.TimeWait)
		default:
			next |= setOf(st)
		}
	})
	x.may = next
	x.flags |= hGotFIN
}

// narrow keeps the states of s in set; if none is left the earlier belief
// was wrong, and only the new knowledge stands.
func narrow(set, s sockSet) sockSet {
	if set&s != 0 {
		return set & s
	}
	return s
}

func (p *Hosts) sendRST(d Dir, s *Segment, now int64) {
	x := &p.h[d]
	if st, ok := x.state(); ok && x.flags&hISS != 0 && s.Seq != x.sndNxt &&
		(st == SockSynSent || (st == SockSynRecv && x.flags&hRequest != 0)) {
		// Its answer to a segment it would not take (an unacceptable
		// ACK); the socket stays.
		x.lastTx = now
		return
	}
	// Its socket is gone; what it had sent and acknowledged stays known
	// (the peer's Send-Q is measured against it).
	x.may, x.npend, x.goneFrom = setOf(SockGone), 0, 0
	x.flags |= hSent
	x.lastTx = now
}

func (p *Hosts) sendSYN(cfg *HostConfig, d Dir, s *Segment, now int64) {
	x, y := &p.h[d], &p.h[d^1]
	if x.flags&hISS != 0 && s.Seq == x.iss && (x.is(SockSynSent) || (x.pending() && x.pend[0].from == setOf(SockSynSent))) {
		if !x.is(SockSynSent) && now-x.pend[0].at > p.lateAfter(d) {
			x.rollback() // its SYN again: the answer never reached it, or it did not give up
		}
		// Retransmissions due in between were lost before the capture point.
		for i := 0; i < 64 && x.retrans < 255; i++ {
			rto := cfg.synRTO(int(x.retrans))
			if now <= x.lastTx+int64(rto+cfg.synRTO(int(x.retrans)+1)/2) {
				break
			}
			x.lastTx += int64(rto)
			x.retrans++
		}
		if x.retrans < 255 {
			x.retrans++
		}
		x.lastTx = now
		return
	}
	*x = host{may: setOf(SockSynSent), flags: hSent | hISS, iss: s.Seq, sndNxt: s.End(), lastTx: now}
	if s.HasWScale {
		x.wsOffer, x.flags = min(s.WScale, maxWScale), x.flags|hWSOffer
	}
	if y.is(SockSynSent) && y.flags&hISS != 0 {
		// Crossing SYNs: the peer's, seen first, reaches it now that it
		// is in SYN_SENT; it answers with a SYN-ACK (simultaneous open).
		x.may = setOf(SockSynRecv)
		x.rcvNxt, x.rcvWup = y.iss+1, y.iss+1
		x.flags |= hRcv
		x.begin(setOf(SockSynSent), hSent|hISS|x.flags&hWSOffer, 0, 0, now, true, y.iss+1, 0)
	}
}

func (p *Hosts) sendSYNACK(cfg *HostConfig, d Dir, s *Segment, now int64) {
	x, y := &p.h[d], &p.h[d^1]
	own := x.flags&hISS != 0 && s.Seq == x.iss
	if own && x.pending() && x.gone() {
		x.rollbackTo(int(x.npend) - 1) // it speaks: what ended it never reached it
	}
	if own && x.flags&hSynAck != 0 && !x.is(SockSynRecv) && x.before() != setOf(SockSynRecv) {
		x.lastTx = now // a copy of its SYN-ACK from before it moved on, late on the way
		return
	}
	again := own && x.flags&hSynAck != 0 && x.flags&hRcv != 0 && s.Ack == x.rcvNxt
	if again && x.pending() && x.pend[0].from == setOf(SockSynRecv) && now-x.pend[0].at > p.lateAfter(d) {
		x.rollback() // its SYN-ACK again: the ACK or RST it rests on never reached it
	}
	switch {
	case again && x.is(SockSynRecv):
		if x.rtx < 255 {
			x.rtx++
		}
		if x.flags&hSynAgain != 0 {
			x.flags &^= hSynAgain // answers the peer's repeated SYN; the timer was restarted then
		} else {
			for i := 0; i < 64 && x.timerAt != 0 && x.retrans < 255; i++ {
				if now <= x.timerAt+int64(cfg.synackRTO(int(x.retrans)+1)/2) {
					break
				}
				x.retrans++ // one lost before the capture point
				x.timerAt += int64(cfg.synackRTO(int(x.retrans)))
			}
			if x.retrans < 255 {
				x.retrans++
			}
			x.timerAt = now + int64(cfg.synackRTO(int(x.retrans)))
		}
		x.lastTx = now
		return
	case again:
		x.lastTx = now // sent before what moved it on reached it
		return
	case own && x.flags&hSynAck == 0 && (x.is(SockSynSent) || x.before() == setOf(SockSynSent)):
		// Crossing SYNs: its first SYN-ACK answers the peer's SYN
		// (simultaneous open), which therefore reached it.
		if x.pending() {
			x.confirmUpTo(0)
		}
		if x.is(SockSynSent) {
			x.may = setOf(SockSynRecv)
		}
		x.rcvNxt, x.rcvWup = s.Ack, s.Ack
		x.flags |= hRcv | hSent | hSynAck
		x.timerAt = now + int64(tcpTimeoutInit)
		x.lastTx = now
	default:
		// A listener took the peer's SYN (a TIME_WAIT it had on this
		// tuple, if any, is gone): a new request.
		*x = host{may: setOf(SockSynRecv), flags: hSent | hISS | hRcv | hRequest | hSynAck,
			iss: s.Seq, sndNxt: s.End(), rcvNxt: s.Ack, rcvWup: s.Ack, lastTx: now,
			timerAt: now + int64(cfg.synackRTO(0))}
		if y.is(SockSynSent) && y.flags&hISS != 0 && s.Ack == y.iss+1 {
			p.rtt[d] = int32(min((now-y.lastTx)/1000, 1<<30))
		}
	}
	if s.HasWScale {
		x.wsOffer, x.flags = min(s.WScale, maxWScale), x.flags|hWSOffer
	} else {
		x.flags &^= hWSOffer
	}
	// Window scaling is settled by the SYN-ACK: on only if both offered.
	x.wscale, y.wscale = 0, 0
	if x.flags&hWSOffer != 0 && y.flags&hWSOffer != 0 {
		x.wscale, y.wscale = x.wsOffer, y.wsOffer
	}
	x.rcvWnd = uint32(s.Window) // never scaled in a SYN
	x.flags |= hWnd
	if y.flags&hISS != 0 {
		y.flags |= hWnd
		y.rcvWnd = 65535 << y.wscale // until its first ACK says
	}
}

// recv is what a segment from the other side does to side d, if it took it.
func (p *Hosts) recv(cfg *HostConfig, d Dir, s *Segment, now int64, peerAck uint32, peerAckKnown bool) {
	y := &p.h[d]
	f := s.Flags
	if y.may == 0 {
		if f&ACK == 0 || f&(SYN|RST) != 0 {
			return // a SYN it may or may not answer, a stray RST: nothing known yet
		}
		y.may = setSynchronized // picked up mid-stream: past its handshake
	}
	if y.gone() && !y.pending() {
		return
	}
	r := y.facts(s)
	if y.pending() && f&ACK != 0 && f&RST == 0 && y.flags&hSent != 0 && !after(y.sndNxt, s.Ack) {
		y.unquiet(cfg, &r)
	}
	before, bf, tw, fw2 := y.may, y.flags, y.twEnd, y.fw2End
	var next sockSet
	var eff rxEffect
	before.members(func(st SockState) {
		n, e := y.recvOne(cfg, st, &r)
		next |= setOf(n)
		eff |= e
	})
	y.may = next
	if y.gone() && before&setGone == 0 {
		y.goneFrom = before // what it comes back to if it speaks again
	}
	if eff&eTake != 0 && r.inOrder {
		y.rcvNxt = r.end
		if y.flags&hRcv == 0 {
			y.rcvWup = r.seq
		}
		y.flags |= hRcv
	}
	if eff&eGotFIN != 0 {
		y.flags |= hGotFIN
	}
	x := &p.h[d^1]
	if eff&eTake != 0 && y.flags&hGotFIN == 0 && x.flags&hFIN != 0 && y.flags&hRcv != 0 && y.rcvNxt == x.finSeq && x.finSeq != r.end-1 {
		// This fills the hole before the peer's FIN, seen earlier and
		// held out of order: the FIN goes in now.
		y.takeFIN(cfg, now)
		eff |= eGotFIN
		next = y.may
	}
	if eff&(eTWStart|eTWReset) != 0 {
		y.twEnd = now + int64(cfg.TimeWait)
	}
	if eff&eFW2Start != 0 {
		y.fw2End = now + int64(cfg.finTime(p.rto(cfg, d)))
	}
	if eff&eSynAgain != 0 {
		y.flags |= hSynAgain
		y.timerAt = now + int64(cfg.synackRTO(int(y.retrans)))
	}
	if next != before || eff&eGotFIN != 0 {
		consumes := r.plen > 0 || r.syn || r.fin
		var quiet int64
		if !consumes {
			quiet = p.quietDeadline(cfg, d, before, now, peerAck, peerAckKnown)
		}
		y.begin(before, bf, tw, fw2, now, consumes, r.end, quiet)
		y.stamp(s)
	}
}

// Shift moves every instant the pair holds by d nanoseconds, as if its
// segments had been seen that much later (to show a recorded pair at
// another time).
func (p *Hosts) Shift(d int64) {
	for i := range p.h {
		h := &p.h[i]
		for _, t := range []*int64{&h.lastTx, &h.timerAt, &h.twEnd, &h.fw2End, &h.finAckBy} {
			if *t != 0 {
				*t += d
			}
		}
		for j := 0; j < int(h.npend); j++ {
			c := &h.pend[j]
			for _, t := range []*int64{&c.at, &c.quiet, &c.tw, &c.fw2} {
				if *t != 0 {
					*t += d
				}
			}
		}
	}
}
