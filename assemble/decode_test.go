package assemble

import (
	"encoding/binary"
	"testing"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// synOpts: MSS 1460, NOP, WS 7, SACK-permitted, timestamps 1/2.
var synOpts = []byte{2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}

var synSeg = seg{sport: 40000, dport: 80, seq: 1000, ack: 0, flags: fsm.SYN, win: 64240, opts: synOpts}

var synWant = fsm.Segment{SrcPort: 40000, DstPort: 80, Seq: 1000, Flags: fsm.SYN, Window: 64240,
	MSS: 1460, WScale: 7, HasWScale: true, SackPerm: true, HasTS: true, TSVal: 1, TSEcr: 2}

var dataSeg = seg{sport: 40000, dport: 80, seq: 1001, ack: 5001, flags: fsm.ACK | fsm.PSH, win: 502, payload: 100}

var dataWant = fsm.Segment{SrcPort: 40000, DstPort: 80, Seq: 1001, Ack: 5001, Flags: fsm.ACK | fsm.PSH, Window: 502, PayloadLen: 100}

func pkt4(s fsm.Segment, ipLen int) flowtable.Packet {
	return flowtable.Packet{TS: 1e9, Src: addrA, Dst: addrB, IPLen: uint32(ipLen), TCP: s}
}

func pkt6(s fsm.Segment, ipLen int) flowtable.Packet {
	return flowtable.Packet{TS: 1e9, Src: addr6A, Dst: addr6B, IPLen: uint32(ipLen), TCP: s}
}

func withVLAN(p flowtable.Packet, id uint16) flowtable.Packet { p.VLAN = id; return p }

type decodeCase struct {
	name string
	cfg  DecoderConfig
	rec  Record
	want Kind
	pkt  *flowtable.Packet // checked when want == TCP or Rejected
	// reject is Decoder.Reject's answer for a Rejected frame.
	reject fsm.ReasonCode
}

func ptr(p flowtable.Packet) *flowtable.Packet { return &p }

func decodeCases() []decodeCase {
	syn4 := v4{}.wrap(synSeg.bytes())   // 20 + 40
	data4 := v4{}.wrap(dataSeg.bytes()) // 20 + 20 + 100
	syn6 := v6{}.wrap(synSeg.bytes())   // 40 + 40
	ack4 := v4{}.wrap(seg{sport: 1, dport: 2, flags: fsm.ACK}.bytes())
	sll := func(arphrd, proto uint16, payload []byte) []byte {
		return cat(u16b(0), u16b(arphrd), u16b(6), make([]byte, 8), u16b(proto), payload)
	}
	sll2 := func(proto, arphrd uint16, payload []byte) []byte {
		return cat(u16b(proto), u16b(0), u32b(3), u16b(arphrd), []byte{0, 6}, make([]byte, 8), payload)
	}
	le32 := func(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }
	mpls := func(label uint32, bottom bool) []byte {
		v := label<<12 | 64
		if bottom {
			v |= 1 << 8
		}
		return u32b(v)
	}
	pppoe := func(proto []byte, payload []byte) []byte {
		return cat([]byte{0x11, 0}, u16b(0x0f07), u16b(uint16(len(proto)+len(payload))), proto, payload)
	}
	sackOpts := []byte{1, 1, 5, 18, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 1, 0, 0, 0, 0x10}
	sackWant := fsm.Segment{SrcPort: 1, DstPort: 2, Flags: fsm.ACK, HasSack: true, SackRight: 0x10}
	ipOpts := []byte{1, 1, 1, 0} // NOP NOP NOP EOL: IHL 6
	badCsum := v4{}.wrap(synSeg.bytes())
	badCsum[10] ^= 0xff

	return []decodeCase{
		{name: "ethernet ipv4 syn with options", rec: rec(LinkEthernet, ether(0x0800, syn4)), want: TCP, pkt: ptr(pkt4(synWant, 60))},
		{name: "ethernet ipv4 data", rec: rec(LinkEthernet, ether(0x0800, data4)), want: TCP, pkt: ptr(pkt4(dataWant, 140))},
		{name: "ethernet padding is not payload", rec: rec(LinkEthernet, cat(ether(0x0800, ack4), make([]byte, 6))), want: TCP,
			pkt: ptr(pkt4(fsm.Segment{SrcPort: 1, DstPort: 2, Flags: fsm.ACK}, 40))},
		{name: "ethernet ipv6 syn", rec: rec(LinkEthernet, ether(0x86dd, syn6)), want: TCP, pkt: ptr(pkt6(synWant, 80))},
		{name: "ethernet arp", rec: rec(LinkEthernet, ether(0x0806, make([]byte, 28))), want: NotTCP},
		{name: "ethernet 802.3 llc", rec: rec(LinkEthernet, ether(46, cat([]byte{0x42, 0x42, 3}, make([]byte, 43)))), want: NotTCP},
		{name: "ethernet ipv4 udp", rec: rec(LinkEthernet, ether(0x0800, v4{proto: 17}.wrap(make([]byte, 8)))), want: NotTCP},
		{name: "ethernet ipv4 icmp", rec: rec(LinkEthernet, ether(0x0800, v4{proto: 1}.wrap(make([]byte, 8)))), want: NotTCP},
		{name: "802.1q", rec: rec(LinkEthernet, ether(0x8100, cat(vlanTag(0x2000|42, 0x0800), syn4))), want: TCP, pkt: ptr(withVLAN(pkt4(synWant, 60), 42))},
		{name: "802.1ad qinq", rec: rec(LinkEthernet, ether(0x88a8, cat(vlanTag(100, 0x8100), vlanTag(0, 0x0800), syn4))), want: TCP, pkt: ptr(pkt4(synWant, 60))},
		{name: "three tags", rec: rec(LinkEthernet, ether(0x9100, cat(vlanTag(30, 0x8100), vlanTag(20, 0x8100), vlanTag(10, 0x86dd), syn6))), want: TCP, pkt: ptr(withVLAN(pkt6(synWant, 80), 10))},
		{name: "vlan cut short", rec: rec(LinkEthernet, ether(0x8100, []byte{0})), want: Malformed},
		{name: "mpls two labels ipv4", rec: rec(LinkEthernet, ether(0x8847, cat(mpls(100, false), mpls(200, true), syn4))), want: TCP, pkt: ptr(pkt4(synWant, 60))},
		{name: "vlan mpls ipv6", rec: rec(LinkEthernet, ether(0x8100, cat(vlanTag(7, 0x8847), mpls(16, true), syn6))), want: TCP, pkt: ptr(withVLAN(pkt6(synWant, 80), 7))},
		{name: "mpls pseudowire", rec: rec(LinkEthernet, ether(0x8847, cat(mpls(16, true), u32b(0), ether(0x0800, syn4)))), want: NotTCP},
		{name: "pppoe ipv4", rec: rec(LinkEthernet, ether(0x8864, pppoe(u16b(0x21), syn4))), want: TCP, pkt: ptr(pkt4(synWant, 60))},
		{name: "qinq pppoe ipv4", rec: rec(LinkEthernet, ether(0x8100, cat(vlanTag(3704, 0x8100), vlanTag(2474, 0x8864), pppoe(u16b(0x21), syn4)))), want: TCP, pkt: ptr(withVLAN(pkt4(synWant, 60), 2474))},
		{name: "pppoe ipv6 compressed protocol", rec: rec(LinkEthernet, ether(0x8864, pppoe([]byte{0x57}, syn6))), want: TCP, pkt: ptr(pkt6(synWant, 80))},
		{name: "pppoe lcp", rec: rec(LinkEthernet, ether(0x8864, pppoe(u16b(0xc021), make([]byte, 10)))), want: NotTCP},
		{name: "pppoe discovery", rec: rec(LinkEthernet, ether(0x8863, make([]byte, 20))), want: NotTCP},
		{name: "sll ipv4", rec: rec(LinkSLL, sll(1, 0x0800, syn4)), want: TCP, pkt: ptr(pkt4(synWant, 60))},
		{name: "sll vlan ipv6", rec: rec(LinkSLL, sll(1, 0x8100, cat(vlanTag(5, 0x86dd), syn6))), want: TCP, pkt: ptr(withVLAN(pkt6(synWant, 80), 5))},
		{name: "sll netlink", rec: rec(LinkSLL, sll(824, 0, make([]byte, 20))), want: NotTCP},
		{name: "sll 802.2", rec: rec(LinkSLL, sll(1, 4, make([]byte, 20))), want: NotTCP},
		{name: "sll2 ipv4", rec: rec(LinkSLL2, sll2(0x0800, 1, syn4)), want: TCP, pkt: ptr(pkt4(synWant, 60))},
		{name: "sll2 ipv6 loopback", rec: rec(LinkSLL2, sll2(0x86dd, 772, syn6)), want: TCP, pkt: ptr(pkt6(synWant, 80))},
		{name: "sll2 netlink", rec: rec(LinkSLL2, sll2(0, 824, make([]byte, 20))), want: NotTCP},
		{name: "sll2 short", rec: rec(LinkSLL2, make([]byte, 19)), want: Malformed},
		{name: "null ipv4 little-endian", rec: rec(LinkNull, cat(le32(2), syn4)), want: TCP, pkt: ptr(pkt4(synWant, 60))},
		{name: "null ipv4 big-endian", rec: rec(LinkNull, cat(u32b(2), syn4)), want: TCP, pkt: ptr(pkt4(synWant, 60))},
		{name: "null ipv6 darwin", rec: rec(LinkNull, cat(le32(30), syn6)), want: TCP, pkt: ptr(pkt6(synWant, 80))},
		{name: "null ipv6 freebsd", rec: rec(LinkNull, cat(le32(28), syn6)), want: TCP, pkt: ptr(pkt6(synWant, 80))},
		{name: "null ipv6 netbsd big-endian", rec: rec(LinkNull, cat(u32b(24), syn6)), want: TCP, pkt: ptr(pkt6(synWant, 80))},
		{name: "null other family", rec: rec(LinkNull, cat(le32(17), make([]byte, 30))), want: NotTCP},
		{name: "loop ipv4", rec: rec(LinkLoop, cat(u32b(2), syn4)), want: TCP, pkt: ptr(pkt4(synWant, 60))},
		{name: "raw ipv4", rec: rec(LinkRaw, syn4), want: TCP, pkt: ptr(pkt4(synWant, 60))},
		{name: "raw ipv6", rec: rec(LinkRaw, syn6), want: TCP, pkt: ptr(pkt6(synWant, 80))},
		{name: "raw bsd 12", rec: rec(LinkRawBSD, syn4), want: TCP, pkt: ptr(pkt4(synWant, 60))},
		{name: "raw openbsd 14", rec: rec(LinkRawOBSD, syn6), want: TCP, pkt: ptr(pkt6(synWant, 80))},
		{name: "raw not ip", rec: rec(LinkRaw, []byte{0x10, 0, 0, 0}), want: NotTCP},
		{name: "raw empty", rec: rec(LinkRaw, nil), want: Malformed},
		{name: "ipv4 link type", rec: rec(LinkIPv4, syn4), want: TCP, pkt: ptr(pkt4(synWant, 60))},
		{name: "ipv6 link type", rec: rec(LinkIPv6, syn6), want: TCP, pkt: ptr(pkt6(synWant, 80))},
		{name: "unsupported link type", rec: rec(LinkType(147), syn4), want: Unsupported},
		{name: "unsupported 802.11", rec: rec(LinkIEEE80211, syn4), want: Unsupported},

		{name: "ipv4 options", rec: rec(LinkRaw, v4{opts: ipOpts}.wrap(dataSeg.bytes())), want: TCP, pkt: ptr(pkt4(dataWant, 144))},
		{name: "ipv4 max options", rec: rec(LinkRaw, v4{opts: make([]byte, 40)}.wrap(dataSeg.bytes())), want: TCP, pkt: ptr(pkt4(dataWant, 180))},
		{name: "ipv4 bad checksum unchecked", rec: rec(LinkRaw, badCsum), want: TCP, pkt: ptr(pkt4(synWant, 60))},
		{name: "ipv4 bad checksum verified", cfg: DecoderConfig{VerifyIPv4Checksum: true}, rec: rec(LinkRaw, badCsum), want: Malformed},
		{name: "ipv4 good checksum verified", cfg: DecoderConfig{VerifyIPv4Checksum: true}, rec: rec(LinkRaw, v4{opts: ipOpts}.wrap(dataSeg.bytes())), want: TCP, pkt: ptr(pkt4(dataWant, 144))},
		{name: "ipv4 DF set is not a fragment", rec: rec(LinkRaw, v4{df: true}.wrap(synSeg.bytes())), want: TCP, pkt: ptr(pkt4(synWant, 60))},
		{name: "ipv4 udp fragment not held", rec: rec(LinkRaw, v4{proto: 17, more: true}.wrap(make([]byte, 16))), want: NotTCP},

		{name: "ipv6 hop-by-hop, dest opts, routing", rec: rec(LinkRaw, v6{nh: 0, ext: cat(ext6(60, 8), ext6(43, 16), ext6(6, 24))}.wrap(synSeg.bytes())), want: TCP, pkt: ptr(pkt6(synWant, 128))},
		{name: "ipv6 ah", rec: rec(LinkRaw, v6{nh: 51, ext: cat([]byte{6, 4}, make([]byte, 22))}.wrap(synSeg.bytes())), want: TCP, pkt: ptr(pkt6(synWant, 104))},
		{name: "ipv6 esp", rec: rec(LinkRaw, v6{nh: 50, ext: make([]byte, 16)}.wrap(synSeg.bytes())), want: NotTCP},
		{name: "ipv6 no next header", rec: rec(LinkRaw, v6{nh: 0, ext: ext6(59, 8)}.wrap(nil)), want: NotTCP},
		{name: "ipv6 icmpv6", rec: rec(LinkRaw, v6{nh: 58}.wrap(make([]byte, 8))), want: NotTCP},
		{name: "ipv6 atomic fragment", rec: rec(LinkRaw, v6{nh: 44, ext: frag6(6, 0, false, 7)}.wrap(synSeg.bytes())), want: TCP, pkt: ptr(pkt6(synWant, 80))},
		{name: "ipv6 dest opts then atomic fragment", rec: rec(LinkRaw, v6{nh: 60, ext: cat(ext6(44, 8), frag6(6, 0, false, 7))}.wrap(synSeg.bytes())), want: TCP, pkt: ptr(pkt6(synWant, 88))},
		{name: "ipv6 udp fragment not held", rec: rec(LinkRaw, v6{nh: 44, ext: frag6(17, 0, true, 7)}.wrap(make([]byte, 16))), want: NotTCP},
		{name: "ipv6 jumbo length 0", rec: rec(LinkRaw, func() []byte { b := v6{}.wrap(synSeg.bytes()); b[4], b[5] = 0, 0; return b }()), want: TCP, pkt: ptr(pkt6(synWant, 80))},
		{name: "ipv6 ext header beyond payload", rec: rec(LinkRaw, v6{nh: 0, ext: ext6(6, 8), plenAdj: -4}.wrap(nil)), want: Malformed},

		{name: "sack highest right edge in sequence space", rec: rec(LinkRaw, v4{}.wrap(seg{sport: 1, dport: 2, flags: fsm.ACK, opts: sackOpts}.bytes())), want: TCP, pkt: ptr(pkt4(sackWant, 60))},
		{name: "option with bad length stops parsing", rec: rec(LinkRaw, v4{}.wrap(seg{sport: 1, dport: 2, flags: fsm.SYN, opts: []byte{2, 4, 5, 0xb4, 3, 1, 7, 4, 2}}.bytes())), want: TCP,
			pkt: ptr(pkt4(fsm.Segment{SrcPort: 1, DstPort: 2, Flags: fsm.SYN, MSS: 1460}, 52))},
		{name: "option of wrong size ignored", rec: rec(LinkRaw, v4{}.wrap(seg{sport: 1, dport: 2, flags: fsm.SYN, opts: []byte{3, 4, 7, 0, 4, 2}}.bytes())), want: TCP,
			pkt: ptr(pkt4(fsm.Segment{SrcPort: 1, DstPort: 2, Flags: fsm.SYN, SackPerm: true}, 48))},
		{name: "options after end-of-list ignored", rec: rec(LinkRaw, v4{}.wrap(seg{sport: 1, dport: 2, flags: fsm.SYN, opts: []byte{0, 4, 2, 0}}.bytes())), want: TCP,
			pkt: ptr(pkt4(fsm.Segment{SrcPort: 1, DstPort: 2, Flags: fsm.SYN}, 44))},
		{name: "all flags", rec: rec(LinkRaw, v4{}.wrap(seg{flags: 0xff}.bytes())), want: TCP, pkt: ptr(pkt4(fsm.Segment{Flags: 0xff}, 40))},

		// Cut by snaplen.
		{name: "payload cut keeps real length", rec: cut(rec(LinkEthernet, ether(0x0800, data4)), 14+40+10), want: TCP, pkt: ptr(pkt4(dataWant, 140))},
		{name: "tcp options cut", rec: cut(rec(LinkEthernet, ether(0x0800, syn4)), 14+20+30), want: Truncated},
		{name: "tcp options cut kept", cfg: DecoderConfig{KeepCutOptions: true}, rec: cut(rec(LinkEthernet, ether(0x0800, syn4)), 14+20+32), want: TCP,
			pkt: ptr(pkt4(fsm.Segment{SrcPort: 40000, DstPort: 80, Seq: 1000, Flags: fsm.SYN, Window: 64240, MSS: 1460, WScale: 7, HasWScale: true, SackPerm: true}, 60))},
		{name: "tcp fixed header cut", rec: cut(rec(LinkEthernet, ether(0x0800, data4)), 14+20+19), want: Truncated},
		{name: "tcp fixed header cut even with KeepCutOptions", cfg: DecoderConfig{KeepCutOptions: true}, rec: cut(rec(LinkEthernet, ether(0x0800, data4)), 14+20+12), want: Truncated},
		{name: "ipv4 header cut", rec: cut(rec(LinkEthernet, ether(0x0800, data4)), 14+10), want: Truncated},
		{name: "ipv4 options cut", rec: cut(rec(LinkRaw, v4{opts: make([]byte, 20)}.wrap(dataSeg.bytes())), 30), want: Truncated},
		{name: "ipv6 header cut", rec: cut(rec(LinkEthernet, ether(0x86dd, syn6)), 14+39), want: Truncated},
		{name: "ipv6 ext header cut", rec: cut(rec(LinkRaw, v6{nh: 0, ext: cat(ext6(60, 8), ext6(6, 8))}.wrap(synSeg.bytes())), 47), want: Truncated},
		{name: "ipv6 ext header captured, tcp header not", rec: cut(rec(LinkRaw, v6{nh: 60, ext: ext6(6, 16)}.wrap(synSeg.bytes())), 42), want: Truncated},
		{name: "ethernet header cut", rec: cut(rec(LinkEthernet, ether(0x0800, data4)), 10), want: Truncated},
		{name: "sll header cut", rec: cut(rec(LinkSLL, sll(1, 0x0800, syn4)), 8), want: Truncated},

		// Inconsistent, nothing cut.
		{name: "ethernet runt", rec: rec(LinkEthernet, make([]byte, 10)), want: Malformed},
		{name: "ipv4 total length beyond frame", rec: rec(LinkRaw, v4{totalAdj: 8}.wrap(dataSeg.bytes())), want: Malformed},
		{name: "ipv4 total length below header", rec: rec(LinkRaw, v4{totalAdj: -130}.wrap(dataSeg.bytes())), want: Malformed},
		{name: "ipv4 tso length zero", rec: rec(LinkRaw, v4{totalAdj: -140}.wrap(dataSeg.bytes())), want: Malformed},
		{name: "ipv4 ihl below 5", rec: rec(LinkRaw, func() []byte { b := v4{}.wrap(dataSeg.bytes()); b[0] = 0x44; return b }()), want: Malformed},
		{name: "ipv4 wrong version", rec: rec(LinkIPv4, v6{}.wrap(synSeg.bytes())), want: Malformed},
		{name: "ipv6 wrong version", rec: rec(LinkIPv6, cat(syn4, make([]byte, 40))), want: Malformed},
		{name: "ipv6 payload length beyond frame", rec: rec(LinkRaw, v6{plenAdj: 1}.wrap(synSeg.bytes())), want: Malformed},
		{name: "ipv4 header too short", rec: rec(LinkIPv4, syn4[:19]), want: Malformed},
		{name: "tcp shorter than 20 by ip length", rec: rec(LinkRaw, v4{}.wrap(make([]byte, 12))), want: Malformed},
		// tcp_error's "truncated packet": refused, the fixed header read.
		{name: "tcp data offset below 5", rec: rec(LinkRaw, func() []byte { b := v4{}.wrap(dataSeg.bytes()); b[20+12] = 4 << 4; return b }()), want: Rejected,
			reject: fsm.ReasonTruncated, pkt: ptr(flowtable.Packet{TS: 1e9, Src: addrA, Dst: addrB, IPLen: 140,
				TCP: fsm.Segment{SrcPort: 40000, DstPort: 80, Seq: 1001, Ack: 5001, Flags: fsm.ACK | fsm.PSH, Window: 502, PayloadLen: 100}})},
		{name: "tcp data offset beyond segment", rec: rec(LinkRaw, v4{}.wrap(cat(seg{}.bytes()[:12], []byte{15 << 4}, make([]byte, 7)))), want: Rejected,
			reject: fsm.ReasonTruncated, pkt: ptr(flowtable.Packet{TS: 1e9, Src: addrA, Dst: addrB, IPLen: 40})},
	}
}

// checksumCases are the TCP checksum verification's decisions.
func checksumCases() []decodeCase {
	on := DecoderConfig{VerifyTCPChecksum: true}
	good4 := summed(v4{}.wrap(dataSeg.bytes()), 20)
	bad4 := flip(good4, 20+16)
	good6 := summed(v6{}.wrap(synSeg.bytes()), 40)
	bad6 := flip(good6, 40+30) // an option byte
	partial := offloaded(v4{}.wrap(dataSeg.bytes()), 20)
	sll := func(pkttype uint16, payload []byte) []byte {
		return cat(u16b(pkttype), u16b(1), u16b(6), make([]byte, 8), u16b(0x0800), payload)
	}
	sll2 := func(pkttype byte, payload []byte) []byte {
		return cat(u16b(0x0800), u16b(0), u32b(3), u16b(1), []byte{pkttype, 6}, make([]byte, 8), payload)
	}
	return []decodeCase{
		{name: "good ipv4", cfg: on, rec: rec(LinkRaw, good4), want: TCP, pkt: ptr(pkt4(dataWant, 140))},
		{name: "bad ipv4", cfg: on, rec: rec(LinkRaw, bad4), want: Rejected, reject: fsm.ReasonBadChecksum, pkt: ptr(pkt4(dataWant, 140))},
		{name: "bad ipv4, not verified", rec: rec(LinkRaw, bad4), want: TCP, pkt: ptr(pkt4(dataWant, 140))},
		{name: "good ipv6", cfg: on, rec: rec(LinkRaw, good6), want: TCP, pkt: ptr(pkt6(synWant, 80))},
		{name: "bad ipv6", cfg: on, rec: rec(LinkRaw, bad6), want: Rejected, reject: fsm.ReasonBadChecksum},
		{name: "offload pattern counts as good", cfg: on, rec: rec(LinkRaw, partial), want: TCP, pkt: ptr(pkt4(dataWant, 140))},
		{name: "cut by snaplen: not verifiable", cfg: on, rec: cut(rec(LinkRaw, bad4), 60), want: TCP, pkt: ptr(pkt4(dataWant, 140))},
		{name: "sll outgoing: not verified", cfg: on, rec: rec(LinkSLL, sll(4, bad4)), want: TCP},
		{name: "sll incoming: verified", cfg: on, rec: rec(LinkSLL, sll(0, bad4)), want: Rejected, reject: fsm.ReasonBadChecksum},
		{name: "sll2 outgoing: not verified", cfg: on, rec: rec(LinkSLL2, sll2(4, bad4)), want: TCP},
		{name: "sll2 to us: verified", cfg: on, rec: rec(LinkSLL2, sll2(0, bad4)), want: Rejected, reject: fsm.ReasonBadChecksum},
	}
}

// summed fills in the TCP checksum of an IP datagram whose TCP header
// starts at off.
func summed(ip []byte, off int) []byte {
	ip = append([]byte(nil), ip...)
	seg := ip[off:]
	seg[16], seg[17] = 0, 0
	binary.BigEndian.PutUint16(seg[16:], ^checksum(cat(pseudoHeader(ip, len(seg)), seg)))
	return ip
}

// offloaded leaves the pseudo-header sum in the field, as a host with TX
// checksum offload hands its packets to a local capture.
func offloaded(ip []byte, off int) []byte {
	ip = append([]byte(nil), ip...)
	seg := ip[off:]
	binary.BigEndian.PutUint16(seg[16:], checksum(pseudoHeader(ip, len(seg))))
	return ip
}

func pseudoHeader(ip []byte, n int) []byte {
	if ip[0]>>4 == 4 {
		return cat(ip[12:20], []byte{0, 6}, u16b(uint16(n)))
	}
	return cat(ip[8:40], u32b(uint32(n)), []byte{0, 0, 0, 6})
}

func flip(b []byte, i int) []byte {
	b = append([]byte(nil), b...)
	b[i] ^= 0x5a
	return b
}

func TestDecode(t *testing.T) {
	for _, tc := range append(decodeCases(), checksumCases()...) {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(tc.cfg)
			var p flowtable.Packet
			r := tc.rec
			got := d.Decode(&r, &p)
			if got != tc.want {
				t.Fatalf("Decode = %v, want %v", got, tc.want)
			}
			if (got == TCP || got == Rejected) && tc.pkt != nil && p != *tc.pkt {
				t.Errorf("packet\n got %+v\nwant %+v", p, *tc.pkt)
			}
			if d.Reject() != tc.reject {
				t.Errorf("Reject = %v, want %v", d.Reject(), tc.reject)
			}
			if n := d.Stats().Count(tc.want); n != 1 {
				t.Errorf("Stats().Count(%v) = %d, want 1", tc.want, n)
			}
		})
	}
}

// Wire is the packet's IP and TCP headers, options included, payload not.
func TestWire(t *testing.T) {
	ipOpts := []byte{1, 1, 1, 0}
	for _, tc := range []struct {
		name string
		rec  Record
		kind Kind
		want int // bytes, from the IP header
	}{
		{"ipv4 syn with options", rec(LinkEthernet, ether(0x0800, v4{}.wrap(synSeg.bytes()))), TCP, 60},
		{"ipv4 options, data", rec(LinkRaw, v4{opts: ipOpts}.wrap(dataSeg.bytes())), TCP, 44},
		{"ipv6 ext headers", rec(LinkRaw, v6{nh: 0, ext: cat(ext6(60, 8), ext6(6, 16))}.wrap(synSeg.bytes())), TCP, 40 + 24 + 40},
		{"truncated header: the fixed part", rec(LinkRaw, func() []byte { b := v4{}.wrap(dataSeg.bytes()); b[20+12] = 4 << 4; return b }()), Rejected, 40},
		{"not TCP", rec(LinkRaw, v4{proto: 17}.wrap(make([]byte, 8))), NotTCP, 0},
	} {
		d := NewDecoder(DecoderConfig{})
		var p flowtable.Packet
		r := tc.rec
		if k := d.Decode(&r, &p); k != tc.kind {
			t.Fatalf("%s: Decode = %v, want %v", tc.name, k, tc.kind)
		}
		w := d.Wire()
		if len(w) != tc.want || (len(w) > 0 && w[0]>>4 != 4 && w[0]>>4 != 6) {
			t.Errorf("%s: Wire = %d bytes starting %x, want %d from the IP header", tc.name, len(w), w[:min(1, len(w))], tc.want)
		}
	}
}

// A reused Packet must not keep options from an earlier segment.
func TestDecodeResetsPacket(t *testing.T) {
	d := NewDecoder(DecoderConfig{})
	var p flowtable.Packet
	r1 := rec(LinkEthernet, ether(0x8100, cat(vlanTag(9, 0x0800), v4{}.wrap(synSeg.bytes()))))
	r2 := rec(LinkRaw, v4{}.wrap(dataSeg.bytes()))
	if d.Decode(&r1, &p) != TCP || d.Decode(&r2, &p) != TCP {
		t.Fatal("not TCP")
	}
	if want := pkt4(dataWant, 140); p != want {
		t.Errorf("got %+v, want %+v", p, want)
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{TCP: "TCP", NotTCP: "NotTCP", Fragment: "Fragment", Malformed: "Malformed", Truncated: "Truncated", Unsupported: "Unsupported", Rejected: "Rejected", 42: "Kind(42)"} {
		if got := k.String(); got != want {
			t.Errorf("%d: %q, want %q", k, got, want)
		}
	}
}

func TestLinkTypeString(t *testing.T) {
	for lt, want := range map[LinkType]string{0: "NULL", 1: "EN10MB", 101: "RAW", 113: "LINUX_SLL", 276: "LINUX_SLL2", 228: "IPV4", 229: "IPV6", 108: "LOOP", 9999: "LINKTYPE_9999"} {
		if got := lt.String(); got != want {
			t.Errorf("%d: %q, want %q", lt, got, want)
		}
	}
}
