// Package flowtable keeps TCP flows keyed by 4-tuple, sharded by a symmetric
// hash so that both directions of a connection land in the same shard, each
// shard owned by one goroutine. It runs the fsm per flow, expires flows in
// capture (or wall) time and enforces a size limit with the kernel's
// early-drop preference. Its input is a Packet that any decoder fills
// (assemble's, or the caller's own); it imports fsm only, and knows nothing
// of capture files or output formats.
package flowtable

import (
	"encoding/binary"
	"net/netip"
)

// Key is a flow's original-direction tuple. It is a comparable value with no
// pointers (unlike netip.Addr), so a slab of flows is not scanned by the GC.
// IPv4 addresses are stored v4-mapped with Is4 set.
type Key struct {
	Src, Dst         [16]byte
	SrcPort, DstPort uint16
	Is4              bool
}

// MakeKey builds the key of a segment travelling src:sport → dst:dport.
func MakeKey(src, dst netip.Addr, sport, dport uint16) Key {
	return Key{Src: src.As16(), Dst: dst.As16(), SrcPort: sport, DstPort: dport, Is4: src.Is4()}
}

// Reverse is the tuple of the other direction.
func (k Key) Reverse() Key {
	return Key{Src: k.Dst, Dst: k.Src, SrcPort: k.DstPort, DstPort: k.SrcPort, Is4: k.Is4}
}

// SrcAddr and DstAddr give the addresses back in netip form.
func (k Key) SrcAddr() netip.Addr { return k.addr(k.Src) }
func (k Key) DstAddr() netip.Addr { return k.addr(k.Dst) }

func (k Key) addr(a [16]byte) netip.Addr {
	ip := netip.AddrFrom16(a)
	if k.Is4 {
		return ip.Unmap()
	}
	return ip
}

// Hash is symmetric: a key and its reverse hash alike, so a flow's two
// directions meet in one shard and one table slot chain.
func (k Key) Hash() uint64 {
	a := endpointHash(k.Src, k.SrcPort)
	b := endpointHash(k.Dst, k.DstPort)
	if a > b {
		a, b = b, a
	}
	return mix(a*0x9e3779b97f4a7c15 ^ b)
}

func endpointHash(ip [16]byte, port uint16) uint64 {
	hi := binary.LittleEndian.Uint64(ip[:8])
	lo := binary.LittleEndian.Uint64(ip[8:])
	return mix(hi ^ mix(lo^uint64(port)<<1))
}

// mix is the 64-bit finaliser of MurmurHash3: full avalanche, no allocation.
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
