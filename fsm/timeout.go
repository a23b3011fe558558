package fsm

import (
	"fmt"
	"strings"
	"time"
)

// Timeouts is the kernel's tcp_timeouts[]: how long an entry lives after
// its last refreshing packet, one entry per state (indexed by State), then
// the two caps the tracker applies on top (indexed by TimeoutMaxRetrans and
// TimeoutUnacknowledged, the kernel's TCP_CONNTRACK_RETRANS and _UNACK).
// The None entry is unused: ForState gives SYN_SENT's for it.
type Timeouts [numTimeouts]time.Duration

// Indexes of the two caps in Timeouts, after the states.
const (
	TimeoutMaxRetrans     = int(numStates)     // cap once retransmissions reach Config.MaxRetrans, or after a zero window
	TimeoutUnacknowledged = int(numStates) + 1 // cap while either side has unacknowledged data, or while unreplied in ESTABLISHED
	numTimeouts           = int(numStates) + 2
)

// timeoutNames are the sysctl names (nf_conntrack_tcp_timeout_NAME) of the
// Timeouts entries; None has none.
var timeoutNames = [numTimeouts]string{
	SynSent: "syn_sent", SynRecv: "syn_recv", Established: "established", FinWait: "fin_wait",
	CloseWait: "close_wait", LastAck: "last_ack", TimeWait: "time_wait", Close: "close",
	SynSent2:              "syn_sent2", // no sysctl of its own in Linux; settable here for symmetry
	TimeoutMaxRetrans:     "max_retrans",
	TimeoutUnacknowledged: "unacknowledged",
}

// DefaultTimeouts returns Linux's defaults (tcp_timeouts[] in nf_conntrack_proto_tcp.c).
func DefaultTimeouts() Timeouts {
	return Timeouts{
		SynSent:               120 * time.Second,
		SynRecv:               60 * time.Second,
		Established:           5 * 24 * time.Hour,
		FinWait:               120 * time.Second,
		CloseWait:             60 * time.Second,
		LastAck:               30 * time.Second,
		TimeWait:              120 * time.Second,
		Close:                 10 * time.Second,
		SynSent2:              120 * time.Second,
		TimeoutMaxRetrans:     300 * time.Second,
		TimeoutUnacknowledged: 300 * time.Second,
	}
}

// ForState is the plain timeout of a state. NONE maps to SYN_SENT, as the
// kernel's timeouts[0] does; a value that is no state has none.
func (t *Timeouts) ForState(s State) time.Duration {
	switch {
	case s == None:
		s = SynSent
	case s >= numStates:
		return 0
	}
	return t[s]
}

// TimeoutNames lists the names Set accepts, as the sysctls spell them
// without the nf_conntrack_tcp_timeout_ prefix, in table order.
func TimeoutNames() []string {
	var names []string
	for _, n := range timeoutNames {
		if n != "" {
			names = append(names, n)
		}
	}
	return names
}

// Set changes one timeout by name: a sysctl name (with or without the
// nf_conntrack_tcp_timeout_ prefix) or a state name in any case ("SYN_SENT").
func (t *Timeouts) Set(name string, d time.Duration) error {
	key := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(name)), "nf_conntrack_tcp_timeout_")
	i := -1
	for j, n := range timeoutNames {
		if n != "" && n == key {
			i = j
		}
	}
	if i < 0 {
		return fmt.Errorf("fsm: unknown timeout %q (valid: %s)", name, strings.Join(TimeoutNames(), ", "))
	}
	if d < 0 {
		return fmt.Errorf("fsm: timeout %s: negative duration %v", key, d)
	}
	t[i] = d
	return nil
}
