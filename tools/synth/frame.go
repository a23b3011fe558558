package main

import (
	"encoding/binary"
)

// Header sizes and protocol numbers used when building frames.
const (
	ethLen     = 14
	vlanLen    = 4
	ipv4Len    = 20
	ipv6Len    = 40
	tcpLen     = 20
	udpLen     = 8
	arpLen     = 28
	maxFrame   = 1600 // Ethernet + VLAN + IPv6 + TCP with options + MSS payload fits
	etherIPv4  = 0x0800
	etherIPv6  = 0x86dd
	etherARP   = 0x0806
	etherVLAN  = 0x8100
	protoTCP   = 6
	protoUDP   = 17
	minEthSize = 60 // frames shorter than this are padded on the wire
)

// TCP flag bits.
const (
	flagFIN = 0x01
	flagSYN = 0x02
	flagRST = 0x04
	flagPSH = 0x08
	flagACK = 0x10
)

// frameBuilder assembles one frame at a time into a reused buffer, so
// generating a packet allocates nothing.
type frameBuilder struct {
	buf  [maxFrame]byte
	opts [40]byte
}

// l2 is what the link and network layers of a frame need.
type l2 struct {
	srcMAC, dstMAC [6]byte
	vlan           uint16 // 0: untagged
	v6             bool
	src, dst       [16]byte // IPv4 uses the first 4 bytes
	ipID           uint16
}

// link writes the Ethernet header (and 802.1Q tag) and returns the offset
// of the network header.
func (fb *frameBuilder) link(h *l2, etherType uint16) int {
	b := fb.buf[:]
	copy(b[0:6], h.dstMAC[:])
	copy(b[6:12], h.srcMAC[:])
	off := 12
	if h.vlan != 0 {
		binary.BigEndian.PutUint16(b[off:], etherVLAN)
		binary.BigEndian.PutUint16(b[off+2:], h.vlan&0x0fff)
		off += vlanLen
	}
	binary.BigEndian.PutUint16(b[off:], etherType)
	return off + 2
}

// network writes the IPv4 or IPv6 header for an L4 payload of l4len bytes
// and returns the offset of the L4 header.
func (fb *frameBuilder) network(h *l2, off int, proto byte, l4len int) int {
	b := fb.buf[off:]
	if h.v6 {
		binary.BigEndian.PutUint32(b[0:], 6<<28)
		binary.BigEndian.PutUint16(b[4:], uint16(l4len))
		b[6] = proto
		b[7] = 64
		copy(b[8:24], h.src[:])
		copy(b[24:40], h.dst[:])
		return off + ipv6Len
	}
	b[0] = 0x45
	b[1] = 0
	binary.BigEndian.PutUint16(b[2:], uint16(ipv4Len+l4len))
	binary.BigEndian.PutUint16(b[4:], h.ipID)
	binary.BigEndian.PutUint16(b[6:], 0x4000) // DF, as Linux sends TCP
	b[8] = 64
	b[9] = proto
	b[10], b[11] = 0, 0
	copy(b[12:16], h.src[:4])
	copy(b[16:20], h.dst[:4])
	binary.BigEndian.PutUint16(b[10:], ^fold(sum32(b[:ipv4Len], 0)))
	return off + ipv4Len
}

// pseudoSum is the checksum contribution of the IPv4/IPv6 pseudo header.
func pseudoSum(h *l2, proto byte, l4len int) uint64 {
	var s uint64
	if h.v6 {
		s = sum32(h.src[:], 0)
		s = sum32(h.dst[:], s)
	} else {
		s = sum32(h.src[:4], 0)
		s = sum32(h.dst[:4], s)
	}
	return s + uint64(proto) + uint64(l4len)
}

// tcp builds a complete Ethernet/IP/TCP frame and returns it (a view of
// the builder's buffer, valid until the next call).
func (fb *frameBuilder) tcp(h *l2, sport, dport uint16, seq, ack uint32, flags uint8, win uint16, opts, payload []byte) []byte {
	off := fb.link(h, etherType(h))
	hl := tcpLen + len(opts)
	l4len := hl + len(payload)
	off = fb.network(h, off, protoTCP, l4len)
	t := fb.buf[off:]
	binary.BigEndian.PutUint16(t[0:], sport)
	binary.BigEndian.PutUint16(t[2:], dport)
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], ack)
	t[12] = byte(hl/4) << 4
	t[13] = flags
	binary.BigEndian.PutUint16(t[14:], win)
	t[16], t[17], t[18], t[19] = 0, 0, 0, 0
	copy(t[tcpLen:], opts)
	copy(t[hl:], payload)
	s := sum32(t[:l4len], pseudoSum(h, protoTCP, l4len))
	binary.BigEndian.PutUint16(t[16:], ^fold(s))
	return fb.pad(off + l4len)
}

// udp builds an Ethernet/IP/UDP frame.
func (fb *frameBuilder) udp(h *l2, sport, dport uint16, payload []byte) []byte {
	off := fb.link(h, etherType(h))
	l4len := udpLen + len(payload)
	off = fb.network(h, off, protoUDP, l4len)
	u := fb.buf[off:]
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(l4len))
	u[6], u[7] = 0, 0
	copy(u[udpLen:], payload)
	c := ^fold(sum32(u[:l4len], pseudoSum(h, protoUDP, l4len)))
	if c == 0 {
		c = 0xffff // zero means "no checksum" in UDP
	}
	binary.BigEndian.PutUint16(u[6:], c)
	return fb.pad(off + l4len)
}

// arp builds an ARP request (reply=false, broadcast) or reply for IPv4
// addresses in h.
func (fb *frameBuilder) arp(h *l2, reply bool) []byte {
	off := fb.link(h, etherARP)
	a := fb.buf[off:]
	binary.BigEndian.PutUint16(a[0:], 1)         // Ethernet
	binary.BigEndian.PutUint16(a[2:], etherIPv4) // IPv4
	a[4], a[5] = 6, 4
	op := uint16(1)
	if reply {
		op = 2
	}
	binary.BigEndian.PutUint16(a[6:], op)
	copy(a[8:14], h.srcMAC[:])
	copy(a[14:18], h.src[:4])
	if reply {
		copy(a[18:24], h.dstMAC[:])
	} else {
		clear(a[18:24])
	}
	copy(a[24:28], h.dst[:4])
	return fb.pad(off + arpLen)
}

// pad zero-fills a frame up to the Ethernet minimum, as captures show it.
func (fb *frameBuilder) pad(n int) []byte {
	if n < minEthSize {
		clear(fb.buf[n:minEthSize])
		n = minEthSize
	}
	return fb.buf[:n]
}

func etherType(h *l2) uint16 {
	if h.v6 {
		return etherIPv6
	}
	return etherIPv4
}

// sum32 adds b as big-endian 32-bit words (plus a trailing partial word)
// to s; folding the result gives the 16-bit one's-complement sum because
// 2^16 ≡ 1 (mod 2^16-1). Word-at-a-time keeps MSS-sized payloads cheap.
func sum32(b []byte, s uint64) uint64 {
	for len(b) >= 16 {
		s += uint64(binary.BigEndian.Uint32(b[0:])) + uint64(binary.BigEndian.Uint32(b[4:])) +
			uint64(binary.BigEndian.Uint32(b[8:])) + uint64(binary.BigEndian.Uint32(b[12:]))
		b = b[16:]
	}
	for len(b) >= 4 {
		s += uint64(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	switch len(b) {
	case 3:
		s += uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8
	case 2:
		s += uint64(b[0])<<24 | uint64(b[1])<<16
	case 1:
		s += uint64(b[0]) << 24
	}
	return s
}

func fold(s uint64) uint16 {
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
