// Package assemble turns captured frames into compact TCP segment records:
// link layer, VLAN tags, IPv4 (with options and fragment reassembly) and
// IPv6 (with extension headers) are peeled off into reused structs.
package assemble

import (
	"net/netip"

	"github.com/tcptrack/tcptrack/fsm"
)

// Packet is one decoded TCP segment with its network context. Decoders fill
// a caller-owned Packet in place; it holds no pointers into frame buffers.
type Packet struct {
	TS       int64      // capture time, Unix nanoseconds
	Src, Dst netip.Addr // IPv4 (Is4) or IPv6 addresses, no zone
	IPLen    uint32     // IP datagram length (header + payload, after defragmentation): what conntrack's byte counters add
	VLAN     uint16     // innermost 802.1Q/802.1ad VLAN ID, 0 when untagged
	TCP      fsm.Segment
}
