package assemble

import (
	"encoding/binary"
	"net/netip"

	"github.com/tcptrack/tcptrack/fsm"
)

// Frame builders for tests: plain byte assembly, so malformed variants
// are easy to make.

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func u16b(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32b(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// seg describes a TCP header to build.
type seg struct {
	sport, dport uint16
	seq, ack     uint32
	flags        fsm.Flags
	win          uint16
	opts         []byte // raw options, padded to 4 by tcpHdr
	payload      int
}

func (s seg) bytes() []byte {
	opts := append([]byte(nil), s.opts...)
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	h := cat(u16b(s.sport), u16b(s.dport), u32b(s.seq), u32b(s.ack),
		[]byte{byte((20 + len(opts)) / 4 << 4), byte(s.flags)}, u16b(s.win), u16b(0), u16b(0), opts)
	return append(h, make([]byte, s.payload)...)
}

var (
	addrA  = netip.MustParseAddr("10.0.0.1")
	addrB  = netip.MustParseAddr("192.168.1.2")
	addr6A = netip.MustParseAddr("2001:db8::1")
	addr6B = netip.MustParseAddr("2001:db8::2")
)

// v4 builds an IPv4 header (with checksum) in front of payload.
type v4 struct {
	src, dst netip.Addr
	proto    byte
	id       uint16
	fragOff  int // bytes, multiple of 8
	more     bool
	df       bool
	opts     []byte
	totalAdj int // added to the total length field (to make it lie)
}

func (h v4) wrap(payload []byte) []byte {
	src, dst := h.src, h.dst
	if !src.IsValid() {
		src, dst = addrA, addrB
	}
	proto := h.proto
	if proto == 0 {
		proto = 6
	}
	ihl := 20 + len(h.opts)
	ff := uint16(h.fragOff / 8)
	if h.more {
		ff |= 0x2000
	}
	if h.df {
		ff |= 0x4000
	}
	b := cat([]byte{byte(0x40 | ihl/4), 0}, u16b(uint16(ihl+len(payload)+h.totalAdj)), u16b(h.id), u16b(ff),
		[]byte{64, proto}, u16b(0), src.AsSlice(), dst.AsSlice(), h.opts)
	binary.BigEndian.PutUint16(b[10:], ^checksum(b))
	return append(b, payload...)
}

// v6 builds an IPv6 header; ext is the raw extension header chain and
// nh the first next-header value.
type v6 struct {
	src, dst netip.Addr
	nh       byte
	ext      []byte
	plenAdj  int
}

func (h v6) wrap(payload []byte) []byte {
	src, dst := h.src, h.dst
	if !src.IsValid() {
		src, dst = addr6A, addr6B
	}
	nh := h.nh
	if nh == 0 && h.ext == nil {
		nh = 6
	}
	plen := len(h.ext) + len(payload) + h.plenAdj
	return cat([]byte{0x60, 0, 0, 0}, u16b(uint16(plen)), []byte{nh, 64}, src.AsSlice(), dst.AsSlice(), h.ext, payload)
}

// ext6 is one extension header of the given next header and total length
// (multiple of 8).
func ext6(next byte, length int) []byte {
	b := make([]byte, length)
	b[0], b[1] = next, byte(length/8-1)
	return b
}

// frag6 is an IPv6 fragment header.
func frag6(next byte, off int, more bool, id uint32) []byte {
	fo := uint16(off)
	if more {
		fo |= 1
	}
	return cat([]byte{next, 0}, u16b(fo), u32b(id))
}

var macs = make([]byte, 12)

func ether(et uint16, payload []byte) []byte { return cat(macs, u16b(et), payload) }

// vlanTag is a 4-byte tag: TCI then the inner type.
func vlanTag(id uint16, inner uint16) []byte { return cat(u16b(id), u16b(inner)) }

func rec(lt LinkType, data []byte) Record {
	return Record{TS: 1e9, CapLen: len(data), OrigLen: len(data), LinkType: lt, Data: data}
}

// cut captures only the first n bytes of a frame.
func cut(r Record, n int) Record {
	r.Data = r.Data[:n]
	r.CapLen = n
	return r
}
