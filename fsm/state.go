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
// print it (Linux names, include/net/tcp_states.h), plus two of ours:
// SockUnknown ("-": what the wire shows does not decide it) and SockGone
// ("GONE": the host no longer has the socket; ss and netstat list nothing).
// Linux's CLOSE is never listed: a socket that reaches it leaves the hash
// tables at once, so it is GONE here.
type SockState uint8

const (
	SockUnknown SockState = iota // nothing seen decides it
	SockSynSent
	SockSynRecv
	SockEstablished
	SockFinWait1
	SockFinWait2
	SockClosing
	SockTimeWait
	SockCloseWait
	SockLastAck
	SockGone
	numSockStates
)

var sockNames = [...]string{"-", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "CLOSING", "TIME_WAIT", "CLOSE_WAIT", "LAST_ACK", "GONE"}

// String is the name netstat prints ("-" and "GONE" for ours).
func (s SockState) String() string {
	if s < numSockStates {
		return sockNames[s]
	}
	return "?"
}

// sockGoneFIN is GONE reached after taking the peer's FIN (LAST_ACK
// acknowledged, TIME_WAIT run out). It is shown as GONE; kept apart only so
// that a picked-up host can still be told to have had no FIN from its peer.
const sockGoneFIN = numSockStates

// sockSet is a set of socket states: what one endpoint may be in when the
// capture began after its connection did.
type sockSet uint16

// setGone is both ways of being gone.
var setGone = setOf(SockGone, sockGoneFIN)

func setOf(states ...SockState) sockSet {
	var s sockSet
	for _, st := range states {
		s |= 1 << st
	}
	return s
}

func (s sockSet) has(st SockState) bool { return s&(1<<st) != 0 }

// single returns the one state of a singleton set (GONE for either gone).
func (s sockSet) single() (SockState, bool) {
	if s != 0 && s&^setGone == 0 {
		return SockGone, true
	}
	if s == 0 || s&(s-1) != 0 {
		return SockUnknown, false
	}
	for st := SockState(1); st < numSockStates; st++ {
		if s == 1<<st {
			return st, true
		}
	}
	return SockUnknown, false
}

// members calls fn for each state of s.
func (s sockSet) members(fn func(SockState)) {
	for st := SockState(1); st <= sockGoneFIN; st++ {
		if s.has(st) {
			fn(st)
		}
	}
}

// Groups of states by what the socket can still do.
var (
	// synchronized: past the handshake, before the end.
	setSynchronized = setOf(SockEstablished, SockFinWait1, SockFinWait2, SockClosing, SockTimeWait, SockCloseWait, SockLastAck)
	// canSend: may still send new data or a first FIN.
	setCanSend = setOf(SockEstablished, SockCloseWait)
	// notReceivedFIN: has not taken in the peer's FIN.
	setNoPeerFIN = setOf(SockSynSent, SockSynRecv, SockEstablished, SockFinWait1, SockFinWait2, SockGone)
)
