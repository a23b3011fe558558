package fsm

// Config holds the knobs of Linux's TCP tracker, named after its sysctls
// (net.netfilter.nf_conntrack_tcp_*). One Config is shared read-only by all
// connections; the machine never writes to it.
type Config struct {
	Loose            bool  // nf_conntrack_tcp_loose: pick up connections mid-stream (default true)
	Liberal          bool  // nf_conntrack_tcp_be_liberal: only out-of-window RSTs are invalid (default false)
	IgnoreInvalidRST bool  // nf_conntrack_tcp_ignore_invalid_rst: skip the RST sequence check (default false)
	MaxRetrans       uint8 // nf_conntrack_tcp_max_retrans: identical ACK-class repeats before the short timer (default 3)
	Timeouts         Timeouts
}

// DefaultConfig returns the kernel's defaults (nf_conntrack_tcp_init_net).
func DefaultConfig() Config {
	return Config{
		Loose:      true,
		MaxRetrans: 3,
		Timeouts:   DefaultTimeouts(),
	}
}
