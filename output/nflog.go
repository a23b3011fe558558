package output

import (
	"encoding/binary"
	"strconv"

	"github.com/tcptrack/tcptrack/flowtable"
)

// The packet part of a conntrack log line, as the kernel's syslog logger
// writes it (net/netfilter/nf_log_syslog.c, default log flags: TCP
// sequence numbers, TCP and IP options): from "SRC=" to "URGP=" and the
// options, for IPv4 (dump_ipv4_packet) and IPv6 (dump_ipv6_packet). The
// interface and MAC fields in front (IN= OUT= MAC=) are the logging box's
// and are left out; so is MARK= (skb->mark, never in a capture).

// AppendNFLogPacket appends the packet of an EventPacket as the kernel's
// logger describes it, from its captured IP and TCP headers; without them
// (a packet added without its headers) what the flow key and the segment
// give.
func AppendNFLogPacket(b []byte, e *flowtable.Event) []byte {
	w := e.Report.Wire
	if len(w) > 0 {
		switch w[0] >> 4 {
		case 4:
			if len(w) >= 20 {
				return appendNFLogIPv4(b, w)
			}
		case 6:
			if len(w) >= 40 {
				return appendNFLogIPv6(b, w)
			}
		}
	}
	return appendNFLogFromSegment(b, e)
}

func appendNFLogIPv4(b []byte, ip []byte) []byte {
	b = append(b, "SRC="...)
	b = appendDotted(b, ip[12:16])
	b = append(b, " DST="...)
	b = appendDotted(b, ip[16:20])
	b = append(b, " LEN="...)
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(ip[2:])), 10)
	b = append(b, " TOS=0x"...)
	b = appendHexUpper(b, ip[1]&0x1e)
	b = append(b, " PREC=0x"...)
	b = appendHexUpper(b, ip[1]&0xe0)
	b = append(b, " TTL="...)
	b = strconv.AppendUint(b, uint64(ip[8]), 10)
	b = append(b, " ID="...)
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(ip[4:])), 10)
	b = append(b, ' ')
	ff := binary.BigEndian.Uint16(ip[6:])
	if ff&0x8000 != 0 {
		b = append(b, "CE "...)
	}
	if ff&0x4000 != 0 {
		b = append(b, "DF "...)
	}
	if ff&0x2000 != 0 {
		b = append(b, "MF "...)
	}
	if off := ff & 0x1fff; off != 0 {
		b = append(b, "FRAG:"...)
		b = strconv.AppendUint(b, uint64(off), 10)
		b = append(b, ' ')
	}
	ihl := int(ip[0]&0x0f) * 4
	if ihl > 20 {
		if ihl > len(ip) {
			return append(b, "TRUNCATED"...)
		}
		b = appendOpt(b, ip[20:ihl])
	}
	if ihl > len(ip) {
		return append(b, "TRUNCATED"...)
	}
	return appendNFLogTCP(b, ip[ihl:], ff&0x1fff != 0, int(binary.BigEndian.Uint16(ip[2:]))-ihl)
}

// IPv6 extension headers the logger walks (nf_ip6_ext_hdr).
const (
	nhHopByHop = 0
	nhRouting  = 43
	nhFragment = 44
	nhESP      = 50
	nhAH       = 51
	nhNone     = 59
	nhDestOpts = 60
)

func appendNFLogIPv6(b []byte, ip []byte) []byte {
	b = append(b, "SRC="...)
	b = appendIPv6Full(b, ip[8:24])
	b = append(b, " DST="...)
	b = appendIPv6Full(b, ip[24:40])
	first := binary.BigEndian.Uint32(ip)
	b = append(b, " LEN="...)
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(ip[4:]))+40, 10)
	b = append(b, " TC="...)
	b = strconv.AppendUint(b, uint64(first&0x0ff00000>>20), 10)
	b = append(b, " HOPLIMIT="...)
	b = strconv.AppendUint(b, uint64(ip[7]), 10)
	b = append(b, " FLOWLBL="...)
	b = strconv.AppendUint(b, uint64(first&0x000fffff), 10)
	b = append(b, ' ')
	nh, off, fragment := ip[6], 40, false
	for nh != nhNone && (nh == nhHopByHop || nh == nhRouting || nh == nhFragment || nh == nhESP || nh == nhAH || nh == nhDestOpts) {
		if off+2 > len(ip) {
			return append(b, "TRUNCATED"...)
		}
		b = append(b, "OPT ( "...)
		hdrlen := 0
		switch nh {
		case nhFragment:
			b = append(b, "FRAG:"...)
			if off+8 > len(ip) {
				return append(b, "TRUNCATED "...)
			}
			fo := binary.BigEndian.Uint16(ip[off+2:])
			b = strconv.AppendUint(b, uint64(fo&0xfff8), 10)
			b = append(b, ' ')
			if fo&1 != 0 {
				b = append(b, "INCOMPLETE "...)
			}
			b = append(b, "ID:"...)
			b = appendHex32(b, binary.BigEndian.Uint32(ip[off+4:]))
			b = append(b, ' ')
			fragment = fo&0xfff8 != 0
			hdrlen = 8
		case nhHopByHop, nhRouting, nhDestOpts:
			if fragment {
				return append(b, ')')
			}
			hdrlen = (int(ip[off+1]) + 1) * 8
		case nhAH:
			b = append(b, "AH "...)
			if fragment {
				return append(b, ')')
			}
			if off+8 > len(ip) {
				return append(b, "INCOMPLETE [0 bytes] )"...)
			}
			b = append(b, "SPI=0x"...)
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(ip[off+4:])), 16)
			b = append(b, ' ')
			hdrlen = (int(ip[off+1]) + 2) * 4
		case nhESP:
			b = append(b, "ESP "...)
			if fragment {
				return append(b, ')')
			}
			if off+8 > len(ip) {
				return append(b, "INCOMPLETE [0 bytes] )"...)
			}
			b = append(b, "SPI=0x"...)
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(ip[off:])), 16)
			return append(b, " )"...)
		}
		b = append(b, ") "...)
		nh = ip[off]
		off += hdrlen
		if off > len(ip) {
			return append(b, "TRUNCATED"...)
		}
	}
	if nh != 6 {
		b = append(b, "PROTO="...)
		return strconv.AppendUint(b, uint64(nh), 10)
	}
	return appendNFLogTCP(b, ip[off:], fragment, int(binary.BigEndian.Uint16(ip[4:]))+40-off)
}

// appendNFLogTCP is nf_log_dump_tcp_header; segLen is the segment's
// length by the IP header (for INCOMPLETE).
func appendNFLogTCP(b []byte, th []byte, fragment bool, segLen int) []byte {
	b = append(b, "PROTO=TCP "...)
	if fragment {
		return b[:len(b)-1]
	}
	if len(th) < 20 {
		b = append(b, "INCOMPLETE ["...)
		b = strconv.AppendUint(b, uint64(max(segLen, 0)), 10)
		return append(b, " bytes]"...)
	}
	b = append(b, "SPT="...)
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(th)), 10)
	b = append(b, " DPT="...)
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(th[2:])), 10)
	b = append(b, " SEQ="...)
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(th[4:])), 10)
	b = append(b, " ACK="...)
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(th[8:])), 10)
	b = append(b, " WINDOW="...)
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(th[14:])), 10)
	b = append(b, " RES=0x"...)
	b = appendHexLower(b, (th[12]&0x0e)<<2) // (flag word & TCP_RESERVED_BITS) >> 22
	b = append(b, ' ')
	b = appendTCPFlagWords(b, th[12]&1 != 0, th[13])
	b = append(b, "URGP="...)
	b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(th[18:])), 10)
	if doff := int(th[12]>>4) * 4; doff > 20 {
		if doff > len(th) {
			return append(b, " OPT (TRUNCATED)"...)
		}
		b = append(b, ' ')
		b = appendOpt(b, th[20:doff])
		b = b[:len(b)-1]
	}
	return b
}

// appendTCPFlagWords writes the flags the way the logger names them, in
// its order.
func appendTCPFlagWords(b []byte, ae bool, f byte) []byte {
	if ae {
		b = append(b, "AE "...)
	}
	for _, x := range [...]struct {
		bit  byte
		name string
	}{{0x80, "CWR "}, {0x40, "ECE "}, {0x20, "URG "}, {0x10, "ACK "}, {0x08, "PSH "}, {0x04, "RST "}, {0x02, "SYN "}, {0x01, "FIN "}} {
		if f&x.bit != 0 {
			b = append(b, x.name...)
		}
	}
	return b
}

// appendNFLogFromSegment is the fallback without headers: the fields the
// flow key and the decoded segment hold, the rest left out.
func appendNFLogFromSegment(b []byte, e *flowtable.Event) []byte {
	k := &e.Flow.Key
	src, dst := k.SrcAddr(), k.DstAddr()
	if e.Report.Dir == 1 {
		src, dst = dst, src
	}
	b = append(b, "SRC="...)
	if src.Is4() {
		b = src.AppendTo(b)
	} else {
		a := src.As16()
		b = appendIPv6Full(b, a[:])
	}
	b = append(b, " DST="...)
	if dst.Is4() {
		b = dst.AppendTo(b)
	} else {
		a := dst.As16()
		b = appendIPv6Full(b, a[:])
	}
	s := &e.Report.TCP
	b = append(b, " LEN="...)
	b = strconv.AppendUint(b, uint64(e.Report.IPLen), 10)
	b = append(b, " PROTO=TCP SPT="...)
	b = strconv.AppendUint(b, uint64(s.SrcPort), 10)
	b = append(b, " DPT="...)
	b = strconv.AppendUint(b, uint64(s.DstPort), 10)
	b = append(b, " SEQ="...)
	b = strconv.AppendUint(b, uint64(s.Seq), 10)
	b = append(b, " ACK="...)
	b = strconv.AppendUint(b, uint64(s.Ack), 10)
	b = append(b, " WINDOW="...)
	b = strconv.AppendUint(b, uint64(s.Window), 10)
	b = append(b, ' ')
	b = appendTCPFlagWords(b, false, byte(s.Flags))
	return b[:len(b)-1]
}

func appendDotted(b []byte, a []byte) []byte {
	for i, x := range a {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendUint(b, uint64(x), 10)
	}
	return b
}

const hexLower, hexUpper = "0123456789abcdef", "0123456789ABCDEF"

func appendHexUpper(b []byte, x byte) []byte { return append(b, hexUpper[x>>4], hexUpper[x&15]) }
func appendHexLower(b []byte, x byte) []byte { return append(b, hexLower[x>>4], hexLower[x&15]) }

func appendHex32(b []byte, v uint32) []byte {
	for s := 28; s >= 0; s -= 4 {
		b = append(b, hexLower[v>>uint(s)&15])
	}
	return b
}

// appendIPv6Full is the kernel's %pI6: eight groups of four lower-case
// hex digits, nothing compressed.
func appendIPv6Full(b []byte, a []byte) []byte {
	for i := 0; i < 16; i += 2 {
		if i > 0 {
			b = append(b, ':')
		}
		b = appendHexLower(b, a[i])
		b = appendHexLower(b, a[i+1])
	}
	return b
}

// appendOpt is "OPT (HEX) ": options as upper-case hex bytes.
func appendOpt(b []byte, o []byte) []byte {
	b = append(b, "OPT ("...)
	for _, x := range o {
		b = appendHexUpper(b, x)
	}
	return append(b, ") "...)
}
