package output

import (
	"encoding/binary"

	"github.com/tcptrack/tcptrack/flowtable"
)

// The uid of the flow summary's Zeek view (-o json's "zeek" object).
// Zeek's conn.log itself (-o zeek, zeek-json) is package zeek's: Zeek's own
// connection model, fed every packet beside the table.

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// appendZeekUID appends a Zeek-style connection uid: "C" and 96 bits in
// base 62, here a hash of the original tuple and the first packet's time,
// so that the same input gives the same uids (Zeek's are random).
func appendZeekUID(b []byte, k *flowtable.Key, start int64) []byte {
	var in [16 + 16 + 2 + 2 + 1 + 8]byte
	copy(in[0:], k.Src[:])
	copy(in[16:], k.Dst[:])
	binary.BigEndian.PutUint16(in[32:], k.SrcPort)
	binary.BigEndian.PutUint16(in[34:], k.DstPort)
	if k.Is4 {
		in[36] = 4
	}
	binary.BigEndian.PutUint64(in[37:], uint64(start))
	hi := fnv1a(in[:], 0xcbf29ce484222325)
	lo := fnv1a(in[:], 0x84222325cbf29ce4) >> 32 // 32 more bits: 96 in all
	b = append(b, 'C')
	// 96 bits need 17 base-62 digits; emit them most significant first.
	var d [17]byte
	for i := len(d) - 1; i >= 0; i-- {
		// (hi:lo) / 62, remainder r, on a 64+32-bit number.
		r := hi % 62
		hi /= 62
		x := r<<32 | lo
		lo = x / 62
		d[i] = base62[x%62]
	}
	return append(b, d[:]...)
}

// fnv1a is 64-bit FNV-1a from a chosen offset, finished with a mixer so
// that nearby inputs spread over all bits.
func fnv1a(p []byte, h uint64) uint64 {
	for _, c := range p {
		h ^= uint64(c)
		h *= 0x100000001b3
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}
