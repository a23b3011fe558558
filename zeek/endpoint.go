package zeek

// EndpointState is one side of a connection as Zeek's TCP analyzer tracks
// it (TCP_Endpoint.h); conn_state is derived from the two sides' states.
type EndpointState uint8

const (
	Inactive    EndpointState = iota // nothing seen from this side yet
	SynSent                          // SYN seen, not yet answered
	SynAckSent                       // SYN-ACK seen without a SYN before it
	Partial                          // data or ACKs seen, but no SYN
	Established                      // handshake done (implicitly, for SYN-ACK senders)
	Closed                           // FIN seen
	Reset                            // RST seen
)

var endpointStateNames = [...]string{"TCP_INACTIVE", "TCP_SYN_SENT", "TCP_SYN_ACK_SENT", "TCP_PARTIAL",
	"TCP_ESTABLISHED", "TCP_CLOSED", "TCP_RESET"}

// String gives the name Zeek's scripts use (TCP_ESTABLISHED, ...).
func (s EndpointState) String() string {
	if int(s) < len(endpointStateNames) {
		return endpointStateNames[s]
	}
	return "TCP_STATE(?)"
}

// handshaking reports states during which the shorter inactivity timeout
// applies (TCP_Endpoint.cc is_handshake).
func (s EndpointState) handshaking() bool { return s <= SynAckSent }

// tooLargeSeqDelta bounds sequence jumps Zeek trusts on SYNs, RSTs and
// zero acks (TOO_LARGE_SEQ_DELTA).
const tooLargeSeqDelta = 1 << 20

// seqDelta is the signed distance from b to a in 32-bit sequence space.
func seqDelta(a, b uint32) int32 { return int32(a - b) }

// scaled counts an event whose history letter is written at the 1st, 10th,
// 100th ... occurrence (Session::ScaledHistoryEntry, base 10).
type scaled struct{ n, threshold uint32 }

// hit counts one occurrence and reports whether the letter is due.
func (s *scaled) hit() bool {
	if s.threshold == 0 {
		s.threshold = 1
	}
	s.n++
	if s.n != s.threshold {
		return false
	}
	if next := s.threshold * 10; next <= s.threshold {
		s.n = 0 // wrapped: start counting again, same threshold
	} else {
		s.threshold = next
	}
	return true
}

// endpoint is one side of a connection: its TCP state, sequence space
// (start, highest sent, highest acknowledged by the peer, each with a
// 32-bit wrap count), what the history has recorded of it, and the
// connection-size counters (packets and IP bytes it sent).
type endpoint struct {
	state, prevState EndpointState
	isOrig           bool
	didClose         bool // its close (FIN or RST) has been reported
	peer             *endpoint

	startSeq int64  // initial sequence number (the SYN's, or one before the first byte seen)
	lastSeq  uint32 // one past the highest sequence number it sent
	ackSeq   uint32 // highest of its sequence numbers the peer acknowledged
	seqWraps uint32
	ackWraps uint32
	finCount uint32
	rstCount uint32
	finSeq   uint64 // relative sequence number just past its FIN
	lastSYN  uint64 // relative sequence numbers of the last SYN, FIN, RST in the history
	lastFIN  uint64
	lastRST  uint64

	checksums, rexmits, zeroWins, gaps scaled

	reasm reassembler

	pkts, ipBytes uint64 // connection-size analyzer: packets and IP bytes sent
}

func (e *endpoint) init(isOrig bool, peer *endpoint) {
	*e = endpoint{isOrig: isOrig, peer: peer}
	e.reasm.init()
}

// startSeq32 is the initial sequence number as a 32-bit value.
func (e *endpoint) startSeq32() uint32 { return uint32(e.startSeq) }

// fullSeq is seq extended to 64 bits by its wrap count.
func fullSeq(seq, wraps uint32) uint64 { return uint64(wraps)<<32 + uint64(seq) }

// relative is seq (with wraps) relative to the initial sequence number.
func (e *endpoint) relative(seq, wraps uint32) uint64 {
	return fullSeq(seq, wraps) - uint64(e.startSeq)
}

func (e *endpoint) initSeqs(start int64, ack, last uint32) {
	e.startSeq, e.ackSeq, e.lastSeq = start, ack, last
}

func (e *endpoint) updateLastSeq(seq uint32) {
	if seq < e.lastSeq {
		e.seqWraps++
	}
	e.lastSeq = seq
}

func (e *endpoint) updateAckSeq(seq uint32) {
	if seq < e.ackSeq {
		e.ackWraps++
	}
	e.ackSeq = seq
}

// noDataAcked: the peer has acknowledged nothing beyond the SYN.
func (e *endpoint) noDataAcked() bool {
	ack := fullSeq(e.ackSeq, e.ackWraps)
	start := uint64(e.startSeq)
	return ack == start || ack == start+1
}

// size is the payload the endpoint sent, from sequence numbers: the higher
// of what it sent and what was acknowledged, less the SYN and FIN octets
// (TCP_Endpoint::Size). A SYN answered by nothing but the sender's own RST
// counts 0: its sequence numbers say nothing about data.
func (e *endpoint) size() uint64 {
	if e.prevState == SynSent && e.state == Reset && e.peer.state == Inactive && !e.noDataAcked() {
		return 0
	}
	last := fullSeq(e.lastSeq, e.seqWraps)
	ack := fullSeq(e.ackSeq, e.ackWraps)
	var n uint64
	if last > ack {
		n = last - uint64(e.startSeq)
	} else {
		n = ack - uint64(e.startSeq)
	}
	if n != 0 {
		n-- // the SYN
	}
	if e.finCount > 0 && n != 0 {
		n-- // the FIN
	}
	return n
}

// clean: established, or closed after being established; only then are
// content gaps trusted (TCP_Reassembler.cc is_clean).
func (e *endpoint) clean() bool {
	return e.state == Established || (e.state == Closed && e.prevState == Established)
}
