package fsm

// State is a conntrack TCP state. The numeric order is the kernel's: rules
// compare states with >=, so it must not change.
type State uint8

const (
	None State = iota
	SynSent
	SynRecv
	Established
	FinWait
	CloseWait
	LastAck
	TimeWait
	Close
	SynSent2
	numStates
)

var stateNames = [...]string{"NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"}

// String is the name conntrack -L prints.
func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "INVALID"
}

// Valid reports whether s is one of the defined states.
func (s State) Valid() bool { return s < numStates }

// Status holds conntrack's per-entry status bits that the output shows
// (the kernel's IPS_SEEN_REPLY and IPS_ASSURED).
type Status uint8

const (
	SeenReply Status = 1 << iota // a reply-direction packet was accepted: clears [UNREPLIED]
	Assured                      // [ASSURED]: never cleared, protects from early drop
)

var statusNames = [...]string{"seen-reply", "assured"}

// String names the bits set, joined by '|' ("seen-reply|assured"), or
// "none".
func (s Status) String() string { return bitNames(uint8(s), statusNames[:]) }

// SeenReply reports whether a reply was seen: conntrack prints
// [UNREPLIED] while it was not.
func (s Status) SeenReply() bool { return s&SeenReply != 0 }

// Assured reports [ASSURED].
func (s Status) Assured() bool { return s&Assured != 0 }

// SockState is one endpoint's socket state as netstat on that host would
// print it (Linux names, include/net/tcp_states.h).
type SockState uint8

const (
	SockUnknown SockState = iota // nothing seen from or to it that tells
	SockSynSent
	SockSynRecv
	SockEstablished
	SockFinWait1
	SockFinWait2
	SockClosing
	SockTimeWait
	SockCloseWait
	SockLastAck
	SockClose
	numSockStates
)

var sockNames = [...]string{"-", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "CLOSING", "TIME_WAIT", "CLOSE_WAIT", "LAST_ACK", "CLOSE"}

func (s SockState) String() string {
	if s < numSockStates {
		return sockNames[s]
	}
	return "?"
}
