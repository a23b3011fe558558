package flowtable

import (
	"net/netip"

	"github.com/tcptrack/tcptrack/fsm"
)

// Packet is one decoded TCP segment with its network context: what
// Table.Add takes. A decoder (assemble's, or the caller's own over
// gopacket, AF_PACKET, eBPF ...) fills a caller-owned Packet in place; it
// holds no pointers into frame buffers, and Add copies it.
type Packet struct {
	TS       int64      // capture time, Unix nanoseconds
	Src, Dst netip.Addr // IPv4 (Is4) or IPv6 addresses, no zone
	IPLen    uint32     // IP datagram length (header + payload, after defragmentation): what conntrack's byte counters add
	VLAN     uint16     // innermost 802.1Q/802.1ad VLAN ID, 0 when untagged; not part of the flow's key (no conntrack zones)
	TCP      fsm.Segment
}

// segment is a Packet as a shard takes it: its tuple as a Key
// (pointer-free, so batches of them cost the GC nothing), the capture time
// (Unix ns), the IP datagram length the byte counters add, and the TCP
// header.
type segment struct {
	Key   Key
	TS    int64
	IPLen uint32
	TCP   fsm.Segment
}
