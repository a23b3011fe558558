package decode

import (
	"net/netip"

	"github.com/tcptrack/tcptrack/fsm"
	"github.com/tcptrack/tcptrack/zeek"
)

// IP protocol numbers Zeek's IP analyzer dispatches on.
const (
	protoIPIP   = 4
	protoTCP    = 6
	protoUDP    = 17
	protoIPv6   = 41
	protoGRE    = 47
	protoNone   = 59
	protoESP    = 50
	protoMobile = 135
)

// ipHdr is what the transport layers need of an IP header.
type ipHdr struct {
	src, dst netip.Addr
	v4       bool
	total    int   // TotalLen(): the header's length field (IPv6: payload length + 40), 0 if it says 0
	hdrLen   int   // IPv4 header, or the IPv6 header chain
	proto    uint8 // what follows the header(s)
	last     uint8 // IPv6: the type of the chain's last header
	// payloadLen is PayloadLen(): what the header says follows the
	// header(s); 0 when the IPv4 length is 0.
	payloadLen int
	frag       fragInfo
}

// parse reads the IP header at b (IP_Hdr); ok is false for a version
// other than 4 and 6 or a header shorter than the minimum.
func (h *ipHdr) parse(b []byte) (ok bool) {
	*h = ipHdr{}
	switch b[0] >> 4 {
	case 4:
		h.v4 = true
		h.hdrLen = int(b[0]&0x0f) * 4
		h.total = int(be16(b[2:]))
		h.proto = b[9]
		h.src = netip.AddrFrom4([4]byte(b[12:16]))
		h.dst = netip.AddrFrom4([4]byte(b[16:20]))
		if h.total != 0 {
			h.payloadLen = h.total - h.hdrLen
		}
		if off := be16(b[6:]); off&0x3fff != 0 {
			h.frag = fragInfo{is: true, offset: int(off&0x1fff) * 8, more: off&0x2000 != 0, id: uint32(be16(b[4:]))}
		}
		return true
	case 6:
		if len(b) < 40 {
			return false
		}
		h.total = int(be16(b[4:])) + 40
		h.src = netip.AddrFrom16([16]byte(b[8:24]))
		h.dst = netip.AddrFrom16([16]byte(b[24:40]))
		h.ipv6Chain(b)
		h.payloadLen = h.total - h.hdrLen
		return true
	}
	return false
}

// ip is Zeek's IP analyzer (IPAnalyzer::AnalyzePacket).
func (d *Decoder) ip(b []byte, p *pkt) {
	if len(b) < 20 {
		return
	}
	var h ipHdr
	if !h.parse(b) {
		return
	}
	total := h.total
	if total == 0 {
		// Segmentation offload zeroes the length; with checksums verified
		// the packet is dropped (its checksum is wrong too).
		if !d.cfg.IgnoreChecksums {
			return
		}
		total = len(b) + p.tail
	}
	if len(b)+p.tail+p.cut < total {
		return // the frame is shorter than the IP header says
	}
	if h.hdrLen > total || h.hdrLen > len(b) || h.v4 && h.hdrLen < 20 {
		return
	}
	if h.v4 && !d.cfg.IgnoreChecksums && checksum(b[:h.hdrLen], 0) != 0xffff {
		return
	}
	if h.frag.is {
		if len(b) < total {
			// Not all captured: reassembly is hopeless; only a first
			// fragment is of use (its headers).
			if h.frag.offset != 0 {
				return
			}
		} else {
			d.stats.Fragments++
			rb := d.frags.add(d, &h, b[:total])
			if rb == nil {
				return
			}
			// The reassembled datagram, a packet of its own length.
			if !h.parse(rb) {
				return
			}
			h.total = len(rb)
			h.payloadLen = h.total - h.hdrLen
			if h.hdrLen > h.total {
				return
			}
			b = rb
			p = &pkt{ts: p.ts, encap: p.encap, depth: p.depth}
		}
	}
	if !h.v4 && (h.last == protoESP || h.last == protoMobile || h.proto == protoNone) {
		return
	}
	payload := b[h.hdrLen:]
	if h.payloadLen != 0 && len(payload) > h.payloadLen {
		payload = payload[:h.payloadLen] // link-layer padding
	}
	switch h.proto {
	case protoTCP:
		d.tcp(payload, &h, p)
	case protoUDP:
		d.udp(payload, &h, p)
	case protoIPIP:
		d.ipInIP(payload, &h, p, tunnelIP, 4)
	case protoIPv6:
		d.ipInIP(payload, &h, p, tunnelIP, 6)
	case protoGRE:
		d.gre(payload, &h, p)
	}
}

// fragInfo describes a fragment header.
type fragInfo struct {
	is     bool
	offset int
	more   bool
	id     uint32
	// IPv6: where the fragment header starts (the unfragmentable headers'
	// length), the offset of the next-header byte that names it, and the
	// protocol after it.
	at, nhPos int
	next      uint8
}

// ipv6Chain walks the IPv6 extension headers the way Zeek's header chain
// does: through hop-by-hop, routing, destination options and AH, stopping
// after a fragment, ESP or mobility header, or where the capture ends
// (IPv6_Hdr_Chain::Init).
func (h *ipHdr) ipv6Chain(b []byte) {
	const fixed = 0xff // the fixed header's "type"
	cur, off, nhPos := uint8(fixed), 0, 6
	for len(b)-off >= 2 {
		var next uint8
		var l int
		switch cur {
		case fixed:
			next, l = b[6], 40
		case 44, protoESP:
			next, l = b[off], 8
		case 51:
			next, l = b[off], 8+4*int(b[off+1])
		default:
			next, l = b[off], 8+8*int(b[off+1])
		}
		if l > len(b)-off {
			break // a header cut short is not part of the chain
		}
		if cur == 44 {
			fo := be16(b[off+2:])
			h.frag = fragInfo{is: true, offset: int(fo & 0xfff8), more: fo&1 != 0, id: be32(b[off+4:]),
				at: off, nhPos: nhPos, next: next}
		}
		h.hdrLen, h.proto, h.last = off+l, next, cur
		if cur != fixed {
			nhPos = off
		}
		off += l
		if cur == 44 || cur == protoESP || cur == protoMobile {
			break
		}
		switch next {
		case 0, 43, 60, 44, 51, protoESP, protoMobile:
			cur = next
			continue
		}
		break
	}
}

// checksum is the ones'-complement sum of b added to sum (RFC 1071),
// 0xffff over a header or segment whose checksum is right.
func checksum(b []byte, sum uint32) uint16 {
	for len(b) >= 2 {
		sum += uint32(be16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

// pseudo is the pseudo-header sum for a transport checksum.
func pseudo(h *ipHdr, proto uint8, n int) uint32 {
	var s uint32
	add := func(a netip.Addr) {
		if a.Is4() {
			x := a.As4()
			s += uint32(be16(x[0:])) + uint32(be16(x[2:]))
			return
		}
		x := a.As16()
		for i := 0; i < 16; i += 2 {
			s += uint32(be16(x[i:]))
		}
	}
	add(h.src)
	add(h.dst)
	return s + uint32(proto) + uint32(n)
}

// tcp is what Zeek's TCP analyzer does with a segment before its
// connection logic: at least the fixed 20-byte header must be there to
// find the connection; the full header and (unless ignored) a valid
// checksum to process the segment.
func (d *Decoder) tcp(c []byte, h *ipHdr, p *pkt) {
	if h.payloadLen != 0 && h.payloadLen < 20 || len(c) < 20 {
		return
	}
	n := h.payloadLen // the segment's length by the IP header
	if h.total == 0 {
		n = len(c)
	}
	d.out = append(d.out, zeek.Packet{})
	z := &d.out[len(d.out)-1]
	z.TS = p.ts
	z.Src, z.Dst = h.src, h.dst
	z.IPLen = uint32(h.total)
	z.Encap = p.encap
	z.TCP = fsm.Segment{
		SrcPort: be16(c), DstPort: be16(c[2:]),
		Seq: be32(c[4:]), Ack: be32(c[8:]),
		Flags: fsm.Flags(c[13]), Window: be16(c[14:]),
	}
	if p.depth > 0 {
		d.stats.Tunneled++
	}
	hl := int(c[12]>>4) * 4
	switch {
	case hl < 20:
		z.Skip = zeek.BadOffset
		return
	case hl > n || hl > len(c):
		z.Skip = zeek.BadHeader
		return
	}
	z.TCP.PayloadLen = uint32(n - hl)
	z.Captured = uint32(len(c) - hl)
	if !d.cfg.IgnoreChecksums && len(c) >= n && checksum(c[:n], pseudo(h, protoTCP, n)) != 0xffff {
		z.Skip = zeek.BadChecksum
	}
}
