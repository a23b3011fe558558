package fsm

// Summary is a connection seen the way Zeek's conn.log describes it, plus
// per-direction health counters. It is fed every segment of a flow,
// including the ones conntrack rejects (Zeek sees those too), and derives
// Zeek's conn_state, history, payload sizes from sequence numbers and
// content gaps by running the endpoint model of Zeek's TCP analyzer
// (TCPSessionAdapter, TCP_Endpoint, TCP_Reassembler) on headers alone.
//
// Differences from Zeek, by design: checksums are not verified (as zeek -C),
// so 'c' never appears; roles never flip (the originator is whoever sent the
// flow's first packet, as for conntrack), so '^' never appears; payload cut
// by the snapshot length counts as seen; a close is never deferred for
// undelivered data.
//
// It is a plain value with no pointers, so a flow table can keep a slab of
// them; the zero value is ready for the first Observe.
//
// Fields every packet touches come first, here and in zEndpoint: a table
// holds many of these and each packet's cache misses are its cost.
type Summary struct {
	Start int64 // capture time of the first segment (Unix ns)
	Last  int64 // capture time of the last segment

	zLast    int64 // Zeek's last_time: not moved by packets after both sides closed
	histSeen uint32
	histLen  uint8
	partial  bool  // Zeek's is_partial
	zFirst   uint8 // Zeek's first_packet_seen: bit per direction
	started  bool
	hs       hsTimes

	// Dirs holds the counters of each direction: Dirs[Original] for the
	// segments the originator sent.
	Dirs [2]DirStats

	ep   [2]zEndpoint
	hist [histCap]byte
}

// DirStats counts what one direction sent.
type DirStats struct {
	Packets      uint64 // segments seen, whatever conntrack made of them
	IPBytes      uint64 // their IP datagram lengths
	PayloadBytes uint64 // TCP payload carried, repeats included
	Retransmits  uint64 // segments repeating payload already seen
	RetransBytes uint64 // payload bytes that were repeats
	OutOfOrder   uint64 // segments filling a hole below the highest sequence seen
	ZeroWindows  uint64 // zero-window advertisements (Zeek's rule: not with or after a RST, nor after the peer's FIN)
	DupAcks      uint64 // pure ACKs repeating the last ACK and window while the peer has data outstanding
	Gaps         uint64 // content gaps: acknowledged ranges never seen
	MissedBytes  uint64 // their bytes (Zeek's missed_bytes, this direction's share)
	Invalid      uint64 // segments conntrack found invalid
	RTT          int64  // handshake round trip between the capture point and this side (ns), valid when HasRTT
	HasRTT       bool
}

// histCap bounds the history string; Zeek's is unbounded, but only the
// repeatable letters (S H F R with new sequence numbers, and the
// logarithmic T G W) can grow it.
const histCap = 32

// tooLargeSeqDelta is Zeek's bound on believable sequence jumps for SYNs
// and RSTs (and on a zero ACK being real).
const tooLargeSeqDelta = 1 << 20

// Zeek's defaults (init-bare.zeek) for giving up on reassembly when
// nothing is acknowledged.
const (
	maxInitialWindow       = 16384 // tcp_max_initial_window
	maxAboveHoleWithoutAck = 16384 // tcp_max_above_hole_without_any_acks
)

// zState is a Zeek TCP endpoint state (TCP_ENDPOINT_*); the order is Zeek's.
type zState uint8

const (
	zInactive zState = iota
	zSynSent
	zSynAckSent
	zPartial
	zEstablished
	zClosed
	zReset
)

// History mask bits, per endpoint; the responder's are shifted by 16.
const (
	histSYN     = 0x1
	histFIN     = 0x2
	histRST     = 0x4
	histFINRST  = 0x8
	histData    = 0x10
	histACK     = 0x20
	histMulti   = 0x40
	respHistBit = 16
)

// span is a range [lo, hi) of relative sequence numbers.
type span struct{ lo, hi uint64 }

// maxHeld bounds the out-of-order ranges kept per direction; beyond it the
// two closest are merged (the hole between them then counts as seen).
const maxHeld = 4

// zEndpoint is one side in Zeek's model: its sequence bookkeeping, state and
// the reassembler's coverage of what it sent.
type zEndpoint struct {
	startSeq           int64 // Zeek keeps it signed to spot wraps below the start
	lastSeq, ackSeq    uint32
	seqWraps, ackWraps uint32

	// Reassembly coverage: everything below reassem is delivered (or given
	// up on as a gap); held are ranges seen above it; nothing below trim is
	// taken in any more (acknowledged).
	reassem, trim uint64
	hiEnd         uint64 // highest relative end of payload seen
	finSeq        uint64 // relative, just past the FIN
	finCnt        uint32
	lastAck       uint32 // last ACK number this side sent (duplicate ACKs)
	lastWin       uint16
	state, prev   zState
	didClose      bool
	ackSeen       bool
	skip          bool // reassembly abandoned (Zeek's skip_deliveries)
	nHeld         uint8

	rxmt, win0, gap  scaled
	lastSYN, lastFIN uint64 // relative sequence of the last such packet (history repeats)
	lastRST          uint64
	held             [maxHeld]span
}

// scaled is a logarithmic history counter: the letter is added at the 1st,
// 10th, 100th... event.
type scaled struct{ n, next uint32 }

// hsTimes remembers the SYN and SYN-ACK for the RTT measurement.
type hsTimes struct {
	synTS, synAckTS   int64
	synSeq, synAckSeq uint32
	phase             uint8 // 0 nothing, 1 SYN seen, 2 SYN-ACK matched it, 3 done
}

func (e *zEndpoint) init() {
	e.rxmt.next, e.win0.next, e.gap.next = 1, 1, 1
	e.reassem, e.trim = 1, 1
}

func (e *zEndpoint) startSeq32() uint32 { return uint32(e.startSeq) }

func fullSeq(seq, wraps uint32) uint64 { return uint64(wraps)<<32 | uint64(seq) }

func (e *zEndpoint) relative(seq, wraps uint32) uint64 {
	return fullSeq(seq, wraps) - uint64(e.startSeq)
}

func (e *zEndpoint) initSeqs(start int64, last uint32) {
	e.startSeq = start
	e.ackSeq = uint32(start)
	e.lastSeq = last
}

func (e *zEndpoint) updateLast(seq uint32) {
	if seq < e.lastSeq {
		e.seqWraps++
	}
	e.lastSeq = seq
}

func (e *zEndpoint) updateAck(seq uint32) {
	if seq < e.ackSeq {
		e.ackWraps++
	}
	e.ackSeq = seq
}

func (e *zEndpoint) setState(s zState) {
	if s != e.state {
		e.prev, e.state = e.state, s
	}
}

// noDataAcked allows one octet acknowledged: the SYN.
func (e *zEndpoint) noDataAcked() bool {
	ack := fullSeq(e.ackSeq, e.ackWraps)
	start := uint64(e.startSeq)
	return ack == start || ack == start+1
}

// clean is Zeek's test for trusting gaps: established, or closed from
// established.
func (e *zEndpoint) clean() bool {
	return e.state == zEstablished || (e.state == zClosed && e.prev == zEstablished)
}

func seqDelta(a, b uint32) int32 { return int32(a - b) }

// Observe takes one segment that travelled in direction dir, its IP
// datagram length, capture time and what conntrack made of it. It
// allocates nothing and never panics.
func (s *Summary) Observe(dir Dir, seg *Segment, ipLen uint32, ts int64, v Verdict) {
	dir &= 1
	if !s.started {
		s.started = true
		s.Start, s.zLast = ts, ts
		s.ep[0].init()
		s.ep[1].init()
	}
	s.Last = ts
	st := &s.Dirs[dir]
	st.Packets++
	st.IPBytes += uint64(ipLen)
	st.PayloadBytes += uint64(seg.PayloadLen)
	if v == Invalid {
		st.Invalid++
	}
	s.handshakeRTT(dir, seg, ts)
	s.zeek(dir, seg, ts)
}

// handshakeRTT times SYN → SYN-ACK (the responder's side of the capture
// point) and SYN-ACK → ACK (the originator's side). The latest SYN before
// the answer counts: an earlier one was presumably lost past the capture.
func (s *Summary) handshakeRTT(dir Dir, seg *Segment, ts int64) {
	h := &s.hs
	f := seg.Flags & (SYN | ACK | RST | FIN)
	switch {
	case h.phase == 3:
	case dir == Original && f == SYN && h.phase <= 1:
		h.synTS, h.synSeq, h.phase = ts, seg.Seq, 1
	case dir == Reply && f == SYN|ACK && h.phase == 1 && seg.Ack == h.synSeq+1:
		h.synAckTS, h.synAckSeq, h.phase = ts, seg.Seq, 2
		s.Dirs[Reply].RTT, s.Dirs[Reply].HasRTT = ts-h.synTS, true
	case dir == Original && f&(SYN|RST|ACK) == ACK && h.phase == 2 && seg.Ack == h.synAckSeq+1:
		h.phase = 3
		s.Dirs[Original].RTT, s.Dirs[Original].HasRTT = ts-h.synAckTS, true
	}
}

// zeek is TCPSessionAdapter::Process without events, weirds and timers.
func (s *Summary) zeek(dir Dir, seg *Segment, ts int64) {
	isOrig := dir == Original
	ep, peer := &s.ep[dir], &s.ep[dir^1]
	f := seg.Flags
	syn, fin, rst, ack := f&SYN != 0, f&FIN != 0, f&RST != 0, f&ACK != 0
	length := seg.PayloadLen

	s.setPartial(isOrig, syn, ack)

	// Sequence space used: a RST's payload is not part of the stream.
	segLen := length
	if syn {
		segLen++
	}
	if fin {
		segLen++
	}
	if rst {
		segLen -= length
	}
	end := seg.Seq + segLen
	s.initEndpoint(ep, syn, seg.Seq, end)

	relSeq, underflow := relativeSeq(ep, seg.Seq, ep.lastSeq, ep.seqWraps)
	s.history(dir, f, ep, relSeq, length)

	if seg.Window == 0 && !rst && peer.state != zClosed && ep.state != zReset {
		s.Dirs[dir].ZeroWindows++
		s.scaledEntry(dir, 'W', &ep.win0)
	}
	if !s.ep[0].didClose || !s.ep[1].didClose {
		s.zLast = ts
	}
	if fin {
		ep.finCnt++
		ep.finSeq = relSeq + uint64(segLen)
	}

	var relAck uint64
	if ack {
		if peer.state == zInactive {
			relAck = 1
			// Number the peer as though its SYN had been seen.
			peer.initSeqs(int64(seg.Ack-1), seg.Ack-1)
		} else {
			var under bool
			relAck, under = relativeSeq(peer, seg.Ack, peer.ackSeq, peer.ackWraps)
			if under {
				relAck = 0
			} else if !rst {
				d := seqDelta(seg.Ack, peer.ackSeq)
				if !(seg.Ack == 0 && d > tooLargeSeqDelta) && d > 0 {
					peer.updateAck(seg.Ack)
				}
			}
		}
	}

	// Data classification needs the coverage before this segment lands.
	dataSeq := relSeq
	if syn {
		dataSeq++
	}
	if length > 0 && !rst && !underflow {
		s.classifyData(dir, ep, dataSeq, uint64(length))
	}

	s.updateLastSeq(dir, ep, end, syn, fin, rst, length)
	doClose := s.stateMachine(dir, ep, peer, seg)

	if ack {
		s.ackReceived(dir^1, relAck)
		s.dupAck(dir, ep, peer, seg)
	}
	if length > 0 && !rst && !underflow {
		s.dataSent(dir, ep, dataSeq, uint64(length))
	}
	if doClose {
		ep.didClose = true
	}
}

// setPartial is Zeek's SetPartialStatus: a connection is partial unless the
// originator opened with a bare SYN and the responder answered with a SYN.
// Zeek re-evaluates it on every packet of a side until that side's first
// packet is marked seen, which only its handshake-recovery path does.
func (s *Summary) setPartial(isOrig, syn, ack bool) {
	if isOrig {
		if s.zFirst&(1<<Original) == 0 {
			s.partial = !syn || ack
		}
	} else if s.zFirst&(1<<Reply) == 0 && !s.partial {
		s.partial = !syn
	}
}

func (s *Summary) initEndpoint(ep *zEndpoint, syn bool, seq, end uint32) {
	switch ep.state {
	case zInactive:
		if syn {
			ep.initSeqs(int64(seq), end)
		} else {
			// Mid-stream: number as though a SYN preceded this packet,
			// and do not take this first packet for a repeat.
			ep.initSeqs(int64(seq-1), seq)
		}
	case zSynSent, zSynAckSent:
		if syn && seq != ep.startSeq32() {
			ep.initSeqs(int64(seq), end)
		}
	case zEstablished, zPartial:
		if syn {
			// A SYN inside the connection: guess it is the one that
			// really sets it up.
			ep.initSeqs(int64(seq), end)
		}
	case zReset:
		if syn && ep.prev == zInactive {
			// The numbers came from a RST, possibly forged; a SYN is
			// a better start.
			ep.initSeqs(int64(seq), end)
		}
	}
}

// relativeSeq is Zeek's get_relative_seq: seq relative to the endpoint's
// start, tracking 32-bit wraps against last; underflow reports a number
// before the start.
func relativeSeq(ep *zEndpoint, seq, last, wraps uint32) (uint64, bool) {
	d := seqDelta(seq, last)
	switch {
	case d < 0:
		if wraps > 0 && seq > last {
			wraps--
		}
	case d > 0:
		if seq < last {
			wraps++
		}
	}
	if wraps == 0 {
		d = seqDelta(seq, ep.startSeq32())
		return uint64(int64(d)), d < 0
	}
	return ep.relative(seq, wraps), false
}

// history is Zeek's update_history.
func (s *Summary) history(dir Dir, f Flags, ep *zEndpoint, relSeq uint64, length uint32) {
	syn, fin, rst := f&SYN != 0, f&FIN != 0, f&RST != 0
	n := 0
	for _, b := range [...]bool{syn, fin, rst} {
		if b {
			n++
		}
	}
	switch {
	case n > 1:
		if fin && rst {
			s.checkHistory(dir, histFINRST, 'I')
		} else {
			s.checkHistory(dir, histMulti, 'Q')
		}
	case syn:
		code := byte('S')
		if f&ACK != 0 {
			code = 'H'
		}
		if s.checkHistory(dir, histSYN, code) && relSeq != ep.lastSYN {
			s.addHistory(dir, code)
		}
		ep.lastSYN = relSeq
	case fin:
		// A FIN's sequence number is the one after its data.
		at := relSeq + uint64(length)
		if s.checkHistory(dir, histFIN, 'F') && at != ep.lastFIN {
			s.addHistory(dir, 'F')
		}
		ep.lastFIN = at
	case rst:
		if s.checkHistory(dir, histRST, 'R') && relSeq != ep.lastRST {
			s.addHistory(dir, 'R')
		}
		ep.lastRST = relSeq
	case length > 0:
		s.checkHistory(dir, histData, 'D')
	case f&ACK != 0:
		s.checkHistory(dir, histACK, 'A')
	}
}

// checkHistory adds code the first time mask is seen from dir and reports
// whether it had been seen before.
func (s *Summary) checkHistory(dir Dir, mask uint32, code byte) bool {
	if dir == Reply {
		mask <<= respHistBit
	}
	if s.histSeen&mask != 0 {
		return true
	}
	s.histSeen |= mask
	s.addHistory(dir, code)
	return false
}

// addHistory appends code, lower case for the responder.
func (s *Summary) addHistory(dir Dir, code byte) {
	if dir == Reply && code >= 'A' && code <= 'Z' {
		code += 'a' - 'A'
	}
	if int(s.histLen) < len(s.hist) {
		s.hist[s.histLen] = code
		s.histLen++
	}
}

// scaledEntry counts one event and adds code at the 1st, 10th, 100th...
func (s *Summary) scaledEntry(dir Dir, code byte, c *scaled) {
	if c.next == 0 {
		c.next = 1
	}
	c.n++
	if c.n != c.next {
		return
	}
	s.addHistory(dir, code)
	if nt := c.next * 10; nt > c.next {
		c.next = nt
	} else {
		c.n = 0 // threshold would wrap: keep it, count again
	}
}

// updateLastSeq is Zeek's update_last_seq: it advances the endpoint's
// highest sequence and flags a retransmission ('T') when data does not.
func (s *Summary) updateLastSeq(dir Dir, ep *zEndpoint, end uint32, syn, fin, rst bool, length uint32) {
	d := seqDelta(end, ep.lastSeq)
	switch {
	case (syn || rst) && (d > tooLargeSeqDelta || d < -tooLargeSeqDelta):
		// Not believable.
	case fin && ep.lastSeq == ep.startSeq32()+1:
		// Only SYN and FIN seen: take the FIN whatever the jump
		// (connections over 2 GiB).
		ep.updateLast(end)
	case ep.state == zReset:
		// After a RST sequence numbers are not trusted.
	case d > 0:
		ep.updateLast(end)
	case length > 0:
		s.scaledEntry(dir, 'T', &ep.rxmt)
	}
}

// stateMachine is Zeek's UpdateStateMachine; it reports whether this
// packet closes the sender's side (do_close).
func (s *Summary) stateMachine(dir Dir, ep, peer *zEndpoint, seg *Segment) bool {
	f := seg.Flags
	syn, fin, rst, ack := f&SYN != 0, f&FIN != 0, f&RST != 0, f&ACK != 0
	isOrig := dir == Original
	doClose := false
	switch ep.state {
	case zInactive:
		if syn {
			switch {
			case isOrig && ack:
				ep.setState(zSynAckSent)
			case isOrig:
				ep.setState(zSynSent)
			default:
				// A SYN from the responder establishes both sides
				// when the originator's SYN was seen. (Zeek's role
				// flip for a SYN answering a lone SYN-ACK cannot
				// arise: an originator never starts with a SYN-ACK
				// here.)
				if peer.state == zSynSent {
					peer.setState(zEstablished)
				}
				ep.setState(zEstablished)
			}
		}
		if fin {
			ep.setState(zClosed)
			doClose = true
		}
		if rst {
			ep.setState(zReset)
			doClose = true
		}
		if ep.state == zInactive {
			switch {
			case !isOrig && seg.PayloadLen == 0 && s.ep[Original].state == zSynSent:
				// Some stacks ACK a SYN before answering it: not
				// yet a partial connection.
			case ack && peer.state == zEstablished:
				// SYN-ACK seen, SYN missed: this ACK completes it.
				ep.setState(zEstablished)
				s.partial = false
				s.zFirst |= 1 << dir
			default:
				ep.setState(zPartial)
			}
		}
	case zSynSent, zSynAckSent:
		if fin {
			ep.setState(zClosed)
			doClose = true
		}
		if rst {
			ep.setState(zReset)
			doClose = true
		}
	case zEstablished, zPartial:
		if syn && ep.state == zPartial && peer.state == zInactive && !ack {
			ep.setState(zSynSent)
		}
		if fin && !rst {
			ep.setState(zClosed)
			if peer.state == zReset && peer.prev == zClosed {
				// FIN then RST from the peer was a normal close.
				peer.setState(zClosed)
			}
			doClose = true
		}
		if rst {
			ep.setState(zReset)
			doClose = true
		}
	case zClosed:
		if rst && peer.state != zClosed {
			ep.setState(zReset)
			if !ep.didClose {
				doClose = true
			}
		}
	case zReset:
		// Nothing changes after a RST.
	}
	return doClose
}

// covered counts the bytes of [lo, hi) the reassembler already holds or
// has passed.
func (e *zEndpoint) covered(lo, hi uint64) uint64 {
	if e.skip {
		// Coverage unknown: whatever lies below the highest end was seen.
		if hi > e.hiEnd {
			hi = e.hiEnd
		}
		if hi > lo {
			return hi - lo
		}
		return 0
	}
	var n uint64
	if lo < e.reassem {
		n += min(hi, e.reassem) - lo
		lo = min(hi, e.reassem)
	}
	for i := 0; i < int(e.nHeld) && lo < hi; i++ {
		b := e.held[i]
		a, z := max(lo, b.lo), min(hi, b.hi)
		if z > a {
			n += z - a
		}
	}
	return n
}

// classifyData counts repeats and out-of-order arrivals of payload
// [seq, seq+n) from ep, before it is added to the coverage.
func (s *Summary) classifyData(dir Dir, ep *zEndpoint, seq, n uint64) {
	st := &s.Dirs[dir]
	end := seq + n
	if seq < ep.hiEnd {
		if rep := ep.covered(seq, min(end, ep.hiEnd)); rep > 0 {
			st.Retransmits++
			st.RetransBytes += rep
		} else {
			st.OutOfOrder++
		}
	}
	if end > ep.hiEnd {
		ep.hiEnd = end
	}
}

// dataSent is TCP_Reassembler::DataSent without the payload: add
// [seq, seq+n) to what ep is known to have sent.
func (s *Summary) dataSent(dir Dir, ep *zEndpoint, seq, n uint64) {
	if ep.skip {
		return
	}
	ack := ep.relative(ep.ackSeq, ep.ackWraps)
	upper := seq + n
	if seq < ack {
		if upper <= ack {
			return // already acknowledged
		}
		seq = ack
	}
	if upper <= ep.trim {
		return
	}
	seq = max(seq, ep.trim)
	front := seq <= ep.reassem && upper > ep.reassem
	ep.hold(span{seq, upper})
	ep.deliver()
	if ep.noDataAcked() {
		if front && s.size(dir) > maxInitialWindow {
			// Much sent, nothing acknowledged: Zeek assumes it
			// misses the ACKs and stops holding delivered data.
			ep.trimTo(ep.reassem)
		}
		if ep.nHeld > 0 && ep.held[ep.nHeld-1].hi-ep.reassem > maxAboveHoleWithoutAck {
			// Data piling up above a hole, never acknowledged:
			// Zeek stops reassembling this side.
			ep.nHeld = 0
			ep.skip = true
		}
	}
}

// hold inserts r into the sorted, disjoint held ranges, merging what
// touches it; when full, the two closest ranges are merged.
func (e *zEndpoint) hold(r span) {
	var out [maxHeld + 1]span
	n := 0
	placed := false
	for i := 0; i < int(e.nHeld); i++ {
		b := e.held[i]
		switch {
		case b.hi < r.lo:
			out[n] = b
			n++
		case r.hi < b.lo:
			if !placed {
				out[n] = r
				n++
				placed = true
			}
			out[n] = b
			n++
		default:
			r.lo, r.hi = min(r.lo, b.lo), max(r.hi, b.hi)
		}
	}
	if !placed {
		out[n] = r
		n++
	}
	if n > maxHeld {
		best := 0
		for i := 1; i < n-1; i++ {
			if out[i+1].lo-out[i].hi < out[best+1].lo-out[best].hi {
				best = i
			}
		}
		out[best].hi = out[best+1].hi
		copy(out[best+1:], out[best+2:n])
		n--
	}
	copy(e.held[:], out[:n])
	e.nHeld = uint8(n)
}

// deliver moves reassem over held ranges that now touch it.
func (e *zEndpoint) deliver() {
	for e.nHeld > 0 && e.held[0].lo <= e.reassem {
		e.reassem = max(e.reassem, e.held[0].hi)
		e.drop(0)
	}
}

func (e *zEndpoint) drop(i int) {
	copy(e.held[i:], e.held[i+1:e.nHeld])
	e.nHeld--
}

// trimTo forgets everything below seq without reporting gaps.
func (e *zEndpoint) trimTo(seq uint64) {
	for e.nHeld > 0 && e.held[0].hi <= seq {
		e.drop(0)
	}
	if e.nHeld > 0 && e.held[0].lo < seq {
		e.held[0].lo = seq
	}
	if seq > e.trim {
		e.trim = seq
	}
}

// ackReceived is TCP_Reassembler::AckReceived for the side whose data was
// acknowledged up to relative seq: what the ACK covers but was never seen
// is a content gap.
func (s *Summary) ackReceived(dir Dir, seq uint64) {
	ep, peer := &s.ep[dir], &s.ep[dir^1]
	if ep.finCnt > 0 && seq >= ep.finSeq {
		seq = ep.finSeq - 1 // the FIN is not content
	}
	if seq <= ep.trim {
		return
	}
	if seq > ep.reassem && !ep.skip {
		s.undelivered(dir, ep, peer, seq)
	}
	ep.trimTo(seq)
}

// undelivered is TCP_Reassembler::Undelivered: report the holes below
// upTo, then consider everything below it delivered.
func (s *Summary) undelivered(dir Dir, ep, peer *zEndpoint, upTo uint64) {
	if upTo <= 2 && s.partial {
		// Numbering of a partial connection was guessed; a complaint
		// about its first octet or two is noise.
		return
	}
	for ep.nHeld > 0 && ep.held[0].lo < upTo {
		if b := ep.held[0]; b.lo > ep.reassem {
			s.gap(dir, ep, peer, b.lo-ep.reassem)
		}
		ep.reassem = max(ep.reassem, ep.held[0].hi)
		ep.drop(0)
		ep.deliver()
	}
	if upTo > ep.reassem {
		s.gap(dir, ep, peer, upTo-ep.reassem)
		ep.reassem = upTo
	}
	ep.deliver()
}

// gap records a content gap when both sides are in a state where Zeek
// trusts it.
func (s *Summary) gap(dir Dir, ep, peer *zEndpoint, n uint64) {
	if !ep.clean() || !peer.clean() {
		return
	}
	st := &s.Dirs[dir]
	st.Gaps++
	st.MissedBytes += n
	s.scaledEntry(dir, 'G', &ep.gap)
}

// dupAck counts a pure ACK that repeats this side's last ACK number and
// window while the peer has unacknowledged data in flight.
func (s *Summary) dupAck(dir Dir, ep, peer *zEndpoint, seg *Segment) {
	pure := seg.PayloadLen == 0 && seg.Flags&(SYN|FIN|RST) == 0
	outstanding := peer.state != zInactive && after(peer.lastSeq, seg.Ack)
	if pure && ep.ackSeen && seg.Ack == ep.lastAck && seg.Window == ep.lastWin && outstanding {
		s.Dirs[dir].DupAcks++
	}
	ep.lastAck, ep.lastWin, ep.ackSeen = seg.Ack, seg.Window, true
}

// size is Zeek's TCP_Endpoint::Size: payload bytes from sequence numbers.
func (s *Summary) size(dir Dir) uint64 {
	ep, peer := &s.ep[dir], &s.ep[dir^1]
	if ep.prev == zSynSent && ep.state == zReset && peer.state == zInactive && !ep.noDataAcked() {
		// A half-open connection found and aborted: its numbers say
		// nothing about data.
		return 0
	}
	last := fullSeq(ep.lastSeq, ep.seqWraps)
	ack := fullSeq(ep.ackSeq, ep.ackWraps)
	var n uint64
	if last > ack {
		n = last - uint64(ep.startSeq)
	} else {
		n = ack - uint64(ep.startSeq)
	}
	if n != 0 {
		n-- // the SYN (real or assumed)
	}
	if ep.finCnt > 0 && n != 0 {
		n-- // the FIN
	}
	return n
}

// PayloadBytes is what dir sent according to sequence numbers (Zeek's
// orig_bytes/resp_bytes): the highest sequence sent or acknowledged, less
// SYN and FIN. Repeats are not counted; gaps are.
func (s *Summary) PayloadBytes(dir Dir) uint64 { return s.size(dir & 1) }

// MissedBytes is Zeek's missed_bytes: both directions' content gaps.
func (s *Summary) MissedBytes() uint64 {
	return s.Dirs[Original].MissedBytes + s.Dirs[Reply].MissedBytes
}

// Duration is Zeek's duration: first packet to the last one before both
// sides had closed (trailing ACKs do not count), in nanoseconds.
func (s *Summary) Duration() int64 { return s.zLast - s.Start }

// AppendHistory appends Zeek's history string (upper case: originator).
func (s *Summary) AppendHistory(dst []byte) []byte {
	return append(dst, s.hist[:s.histLen]...)
}

// History is AppendHistory as a string.
func (s *Summary) History() string { return string(s.hist[:s.histLen]) }

// ZeekState is a conn.log conn_state value.
type ZeekState uint8

const (
	ZeekOTH    ZeekState = iota // no SYN seen, just midstream traffic
	ZeekS0                      // connection attempt seen, no reply
	ZeekS1                      // established, not terminated
	ZeekSF                      // normal establishment and termination
	ZeekREJ                     // connection attempt rejected
	ZeekS2                      // established, close attempt by originator seen (no reply from responder)
	ZeekS3                      // established, close attempt by responder seen (no reply from originator)
	ZeekRSTO                    // established, originator aborted (sent a RST)
	ZeekRSTR                    // responder sent a RST
	ZeekRSTOS0                  // originator sent a SYN followed by a RST, no SYN-ACK seen
	ZeekRSTRH                   // responder sent a SYN-ACK followed by a RST, no SYN seen from the originator
	ZeekSH                      // originator sent a SYN followed by a FIN, no SYN-ACK seen
	ZeekSHR                     // responder sent a SYN-ACK followed by a FIN, no SYN seen from the originator
	numZeekStates
)

var zeekStateNames = [...]string{"OTH", "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR"}

func (z ZeekState) String() string {
	if z < numZeekStates {
		return zeekStateNames[z]
	}
	return "?"
}

// ConnState is conn.log's conn_state, from the two endpoint states as
// Zeek's base/protocols/conn script derives it.
func (s *Summary) ConnState() ZeekState {
	os, rs := s.ep[Original].state, s.ep[Reply].state
	oInactive := os == zInactive || os == zPartial
	rInactive := rs == zInactive || rs == zPartial
	switch {
	case rs == zReset:
		switch {
		case os == zSynSent || os == zSynAckSent || (os == zReset && s.size(Original) == 0 && s.size(Reply) == 0):
			return ZeekREJ
		case oInactive:
			return ZeekRSTRH
		}
		return ZeekRSTR
	case os == zReset:
		if rInactive {
			if s.synThenRST() {
				return ZeekRSTOS0
			}
			return ZeekOTH
		}
		return ZeekRSTO
	case rs == zClosed && os == zClosed:
		return ZeekSF
	case os == zClosed:
		if rInactive {
			return ZeekSH
		}
		return ZeekS2
	case rs == zClosed:
		if oInactive {
			return ZeekSHR
		}
		return ZeekS3
	case os == zSynSent && rs == zInactive:
		return ZeekS0
	case os == zEstablished && rs == zEstablished:
		return ZeekS1
	}
	return ZeekOTH
}

// synThenRST matches the history against Zeek's /^?S[^HAFGIQ]*R.*/: the
// originator's SYN, then its RST with none of H A F G I Q between.
func (s *Summary) synThenRST() bool {
	h := s.hist[:s.histLen]
	if len(h) > 0 && h[0] == '^' {
		h = h[1:]
	}
	if len(h) == 0 || h[0] != 'S' {
		return false
	}
	for _, c := range h[1:] {
		switch c {
		case 'R':
			return true
		case 'H', 'A', 'F', 'G', 'I', 'Q':
			return false
		}
	}
	return false
}
