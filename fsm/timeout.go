package fsm

import (
	"fmt"
	"strings"
	"time"
)

// Timeouts is how long an entry lives after its last refreshing packet, per
// state, plus the two caps the tracker applies on top (nf_conntrack_tcp_timeout_*).
type Timeouts struct {
	SynSent        time.Duration
	SynRecv        time.Duration
	Established    time.Duration
	FinWait        time.Duration
	CloseWait      time.Duration
	LastAck        time.Duration
	TimeWait       time.Duration
	Close          time.Duration
	SynSent2       time.Duration // no sysctl of its own in Linux; settable here for symmetry
	MaxRetrans     time.Duration // cap once retransmissions reach Config.MaxRetrans, or after a zero window
	Unacknowledged time.Duration // cap while either side has unacknowledged data, or while unreplied in ESTABLISHED
}

// DefaultTimeouts returns Linux's defaults (tcp_timeouts[] in nf_conntrack_proto_tcp.c).
func DefaultTimeouts() Timeouts {
	return Timeouts{
		SynSent:        120 * time.Second,
		SynRecv:        60 * time.Second,
		Established:    5 * 24 * time.Hour,
		FinWait:        120 * time.Second,
		CloseWait:      60 * time.Second,
		LastAck:        30 * time.Second,
		TimeWait:       120 * time.Second,
		Close:          10 * time.Second,
		SynSent2:       120 * time.Second,
		MaxRetrans:     300 * time.Second,
		Unacknowledged: 300 * time.Second,
	}
}

// ForState is the plain timeout of a state. NONE maps to SYN_SENT, as the
// kernel's timeouts[0] does.
func (t *Timeouts) ForState(s State) time.Duration {
	switch s {
	case SynSent, None:
		return t.SynSent
	case SynRecv:
		return t.SynRecv
	case Established:
		return t.Established
	case FinWait:
		return t.FinWait
	case CloseWait:
		return t.CloseWait
	case LastAck:
		return t.LastAck
	case TimeWait:
		return t.TimeWait
	case Close:
		return t.Close
	case SynSent2:
		return t.SynSent2
	}
	return 0
}

// TimeoutNames lists the names Set accepts, as the sysctls spell them
// without the nf_conntrack_tcp_timeout_ prefix.
func TimeoutNames() []string {
	return []string{
		"syn_sent", "syn_recv", "established", "fin_wait", "close_wait",
		"last_ack", "time_wait", "close", "syn_sent2", "max_retrans", "unacknowledged",
	}
}

// Set changes one timeout by name: a sysctl name (with or without the
// nf_conntrack_tcp_timeout_ prefix) or a state name in any case ("SYN_SENT").
func (t *Timeouts) Set(name string, d time.Duration) error {
	key := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(name)), "nf_conntrack_tcp_timeout_")
	p := t.field(key)
	if p == nil {
		return fmt.Errorf("fsm: unknown timeout %q (valid: %s)", name, strings.Join(TimeoutNames(), ", "))
	}
	if d < 0 {
		return fmt.Errorf("fsm: timeout %s: negative duration %v", key, d)
	}
	*p = d
	return nil
}

func (t *Timeouts) field(key string) *time.Duration {
	switch key {
	case "syn_sent":
		return &t.SynSent
	case "syn_recv":
		return &t.SynRecv
	case "established":
		return &t.Established
	case "fin_wait":
		return &t.FinWait
	case "close_wait":
		return &t.CloseWait
	case "last_ack":
		return &t.LastAck
	case "time_wait":
		return &t.TimeWait
	case "close":
		return &t.Close
	case "syn_sent2":
		return &t.SynSent2
	case "max_retrans":
		return &t.MaxRetrans
	case "unacknowledged":
		return &t.Unacknowledged
	}
	return nil
}
