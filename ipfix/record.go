package ipfix

import (
	"fmt"
	"net/netip"
	"strings"
)

// EndReason is flowEndReason (IANA IE 136): why a record was exported.
type EndReason uint8

const (
	IdleTimeout     EndReason = 1 // the connection's timeout ran out with nothing closing it
	ActiveTimeout   EndReason = 2 // a periodic report of a connection still open
	EndDetected     EndReason = 3 // FIN or RST closed it (ended in TIME_WAIT/CLOSE, killed, reopened)
	ForcedEnd       EndReason = 4 // still open when the capture or replay ended
	LackOfResources EndReason = 5 // evicted from a full table
)

func (r EndReason) String() string {
	switch r {
	case IdleTimeout:
		return "idle timeout"
	case ActiveTimeout:
		return "active timeout"
	case EndDetected:
		return "end of flow detected"
	case ForcedEnd:
		return "forced end"
	case LackOfResources:
		return "lack of resources"
	}
	return fmt.Sprintf("reason %d", uint8(r))
}

// Record is one connection's report: a biflow whose source is the initiator.
type Record struct {
	Src, Dst         netip.Addr // initiator, responder (same family)
	SrcPort, DstPort uint16
	Start, End       int64     // Unix milliseconds: first packet, last packet
	Octets           [2]uint64 // IP bytes since the last record: [0] initiator → responder, [1] back
	Packets          [2]uint64
	TCPFlags         [2]uint16 // tcpControlBits per direction, as Octets
	EndReason        EndReason
	State            string // the state text (see State), at most 65535 bytes
}

// State is what a record's state text says.
type State struct {
	Conntrack string    // conntrack's state: ESTABLISHED, TIME_WAIT, ...
	Assured   bool      // [ASSURED]
	Unreplied bool      // [UNREPLIED]: no reply seen
	Sockets   [2]string // the initiator's and the responder's socket state ("-": unknown)
}

// String is the state text: "TIME_WAIT [ASSURED] orig=TIME_WAIT reply=CLOSE".
func (s State) String() string {
	var b strings.Builder
	b.WriteString(s.Conntrack)
	if s.Unreplied {
		b.WriteString(" [UNREPLIED]")
	}
	if s.Assured {
		b.WriteString(" [ASSURED]")
	}
	b.WriteString(" orig=")
	b.WriteString(s.Sockets[0])
	b.WriteString(" reply=")
	b.WriteString(s.Sockets[1])
	return b.String()
}

// ParseState reads a state text back.
func ParseState(text string) (State, error) {
	var s State
	f := strings.Fields(text)
	if len(f) < 3 {
		return s, fmt.Errorf("ipfix: state text %q: want STATE [FLAGS] orig=S reply=S", text)
	}
	s.Conntrack = f[0]
	for _, w := range f[1 : len(f)-2] {
		switch w {
		case "[ASSURED]":
			s.Assured = true
		case "[UNREPLIED]":
			s.Unreplied = true
		default:
			return s, fmt.Errorf("ipfix: state text %q: unknown flag %q", text, w)
		}
	}
	o, ok1 := strings.CutPrefix(f[len(f)-2], "orig=")
	r, ok2 := strings.CutPrefix(f[len(f)-1], "reply=")
	if !ok1 || !ok2 {
		return s, fmt.Errorf("ipfix: state text %q: want orig=S reply=S at the end", text)
	}
	s.Sockets = [2]string{o, r}
	return s, nil
}
