// Package fsm tracks one TCP connection the way Linux's nf_conntrack does
// (nf_conntrack_proto_tcp.c), and infers each endpoint's own socket state
// (RFC 9293, Linux names). It knows nothing of capture files or addresses:
// its input is a decoded TCP header and the direction it travelled.
package fsm

// Flags is the TCP flags byte (RFC 9293 §3.1, plus ECE/CWR from RFC 3168).
type Flags uint8

const (
	FIN Flags = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
)

// Has reports whether every bit of m is set in f.
func (f Flags) Has(m Flags) bool { return f&m == m }

// String gives the flags as tcpdump prints them ("S.", "F.", "R", ...).
func (f Flags) String() string {
	var b [8]byte
	n := 0
	for _, x := range [...]struct {
		f Flags
		c byte
	}{{SYN, 'S'}, {FIN, 'F'}, {PSH, 'P'}, {RST, 'R'}, {URG, 'U'}, {ECE, 'E'}, {CWR, 'W'}, {ACK, '.'}} {
		if f&x.f != 0 {
			b[n] = x.c
			n++
		}
	}
	if n == 0 {
		return "none"
	}
	return string(b[:n])
}

// Dir is the direction a segment travelled relative to the connection's
// original tuple (the tuple of the first packet seen), as in conntrack.
type Dir uint8

const (
	Original Dir = 0
	Reply    Dir = 1
)

var dirNames = [...]string{"original", "reply"}

func (d Dir) String() string {
	if int(d) < len(dirNames) {
		return dirNames[d]
	}
	return "?"
}

// Segment is what the state machine needs of one TCP segment. It is a plain
// value: decoders fill it in place, nothing in it points elsewhere.
type Segment struct {
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Flags            Flags
	Window           uint16 // raw, unscaled
	PayloadLen       uint32 // TCP payload bytes (IP payload minus TCP header)

	// Options. WScale is valid when HasWScale; SackRight is the highest right
	// edge among the SACK blocks, valid when HasSack.
	MSS       uint16
	WScale    uint8
	HasWScale bool
	SackPerm  bool
	HasSack   bool
	SackRight uint32
	HasTS     bool
	TSVal     uint32
	TSEcr     uint32
}

// End is the sequence number just past this segment: seq + payload, plus one
// each for SYN and FIN (they occupy sequence space).
func (s *Segment) End() uint32 {
	e := s.Seq + s.PayloadLen
	if s.Flags&SYN != 0 {
		e++
	}
	if s.Flags&FIN != 0 {
		e++
	}
	return e
}
