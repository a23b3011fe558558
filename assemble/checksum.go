package assemble

import (
	"encoding/binary"
	"math/bits"
)

// TCP checksum verification, as conntrack does it at PRE_ROUTING when
// net.netfilter.nf_conntrack_checksum=1 (the default): a segment whose
// checksum is wrong is invalid and never tracked.
//
// A capture taken on a host sees that host's own outgoing packets before
// the NIC fills their checksum in (checksum offload), and packets merged
// by GRO with a checksum the stack never finished: in both the field holds
// the pseudo-header sum instead (CHECKSUM_PARTIAL). Such a packet is the
// capturing host's business, which its own conntrack never verifies either
// (outgoing packets are not checked; GRO packets are known good), so it
// counts as good here. So do packets a cooked capture marks as outgoing,
// and segments the snapshot length cut short (nothing to verify them by).

// sum64 adds b to a ones'-complement accumulator of 64-bit little-endian
// words (RFC 1071: the sum is byte-order independent up to a final swap).
func sum64(acc uint64, b []byte) uint64 {
	var c uint64
	for len(b) >= 32 {
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[8:]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[16:]), c)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b[24:]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(b), c)
		b = b[8:]
	}
	acc, c = bits.Add64(acc, c, 0)
	if len(b) > 0 {
		var tail [8]byte
		copy(tail[:], b)
		acc, c = bits.Add64(acc, binary.LittleEndian.Uint64(tail[:]), 0)
		acc += c
	}
	return acc
}

// fold16 reduces the accumulator to the 16-bit ones'-complement sum in
// network byte order.
func fold16(acc uint64) uint16 {
	s := acc>>32 + acc&0xffffffff
	s = s>>32 + s&0xffffffff
	s = s>>16 + s&0xffff
	s = s>>16 + s&0xffff
	s = s>>16 + s&0xffff
	return bits.ReverseBytes16(uint16(s))
}

// beWord is a 16-bit network-order value in sum64's little-endian terms.
func beWord(v uint16) uint64 { return uint64(bits.ReverseBytes16(v)) }

// checksumStatus is what verification made of one segment.
type checksumStatus uint8

const (
	checksumGood    checksumStatus = iota
	checksumBad                    // wrong: conntrack marks the packet invalid
	checksumPartial                // the pseudo-header sum of an offloaded or GRO'd packet
)

// verifyTCP checks the segment seg (the whole TCP header and payload)
// against the pseudo-header: addrs are the source and destination
// addresses as they sit in the IP header.
func verifyTCP(addrs, seg []byte) checksumStatus {
	pseudo := sum64(0, addrs)
	// The length is 16 bits in IPv4's pseudo-header, 32 in IPv6's.
	pseudo, c := bits.Add64(pseudo, beWord(6)+beWord(uint16(len(seg)>>16))+beWord(uint16(len(seg))), 0)
	pseudo += c
	if fold16(sum64(pseudo, seg)) == 0xffff {
		return checksumGood
	}
	if binary.BigEndian.Uint16(seg[16:]) == fold16(pseudo) {
		return checksumPartial
	}
	return checksumBad
}
