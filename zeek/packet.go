// Package zeek builds Zeek's conn.log for TCP the way Zeek itself does:
// Zeek's connection model, not the kernel's. A connection record lives by
// Zeek's timers (tcp_inactivity_timeout, tcp_close_delay, the SYN attempt
// delay, the session expiry check) and ends at the end of the trace;
// originator and responder are oriented by Zeek's rules (a SYN-ACK first
// is flipped by the next ACK, well-known server ports flip a mid-stream
// start); every packet Zeek would see counts, whether or not conntrack
// would create an entry for it; history, conn_state, sizes and content
// gaps follow Zeek's TCP analyzer (src/analyzer/protocol/tcp and
// src/packet_analysis/protocol/tcp in zeek/zeek), run on headers only.
//
// The input is one Packet per TCP segment, as Zeek's packet analysis hands
// it to the TCP analyzer (package zeek/decode produces them from capture
// records); the output is a Record per connection, passed to a callback
// as each connection ends.
package zeek

import (
	"net/netip"

	"github.com/tcptrack/tcptrack/fsm"
)

// Packet is one TCP segment as Zeek's TCP analyzer receives it.
type Packet struct {
	TS       int64      // capture time, Unix nanoseconds
	Src, Dst netip.Addr // the innermost IP header's addresses
	// IPLen is the IP header's total length (for IPv6 the payload length
	// plus 40), what Zeek's connection-size analyzer adds to ip_bytes; 0
	// when the header says 0 (segmentation offload).
	IPLen uint32
	// TCP is the TCP header. PayloadLen is the payload length the IP
	// header implies (the captured length when the IP length is 0).
	TCP fsm.Segment
	// Captured is how much of the payload the capture holds.
	Captured uint32
	// Skip says why Zeek finds the connection for the packet but does not
	// process it any further (0: it does).
	Skip Skip
	// Encap identifies the tunnels the packet came through (0: none); a
	// connection whose packets change tunnels is counted as Zeek counts
	// tunnel_changed events.
	Encap uint64
}

// Skip is why a packet's connection is looked up (or created) but the
// packet goes no further.
type Skip uint8

const (
	Process     Skip = iota
	BadOffset        // TCP data offset below 5 words: not even a reuse check
	BadHeader        // the TCP header (with options) is longer than the segment or than what was captured
	BadChecksum      // the TCP checksum is wrong (history C/c)
)
