package fsm

// Zeek's TCP_Endpoint: each side's sequence numbering (relative to its
// start, with 32-bit wraps), its state, and its size from sequence numbers.

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
