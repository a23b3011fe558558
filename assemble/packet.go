// Package assemble turns capture files into compact TCP segment records.
// Reader streams pcap and pcapng records (Merger interleaves several files
// by time); Decoder peels off the link layer, VLAN tags, MPLS, PPPoE, IPv4
// (options, fragment reassembly) and IPv6 (extension headers, fragment
// reassembly) into a reused Packet, as the kernel's conntrack would see the
// datagram; Filter applies tcpdump expressions. Neither Reader.Next nor
// Decoder.Decode allocates.
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
	// Reject says why Decode returned Rejected (fsm.ReasonTruncated,
	// fsm.ReasonBadChecksum); NoReason for a TCP segment.
	Reject fsm.ReasonCode
}
