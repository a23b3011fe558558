package decode

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/tcptrack/tcptrack/zeek"
)

// Frames are built with gopacket (an independent serializer: lengths and
// checksums are its own), and by hand for the layers it cannot write.

var (
	macA, macB = net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}
	ip4A, ip4B = net.IP{10, 0, 0, 1}, net.IP{10, 0, 0, 2}
	outA, outB = net.IP{192, 0, 2, 1}, net.IP{192, 0, 2, 2}
	ip6A       = net.ParseIP("2001:db8::1")
	ip6B       = net.ParseIP("2001:db8::2")
)

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// tcpIP4 is an IPv4 TCP segment with n payload bytes.
func tcpIP4(t testing.TB, src, dst net.IP, sp, dp uint16, syn bool, n int) []byte {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst, Id: 7}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), Seq: 1000, Ack: 1, ACK: !syn, SYN: syn, Window: 512}
	tcp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, tcp, gopacket.Payload(make([]byte, n)))
}

func tcpIP6(t testing.TB, n int) []byte {
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: ip6A, DstIP: ip6B}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 1000, ACK: true, Window: 512}
	tcp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, tcp, gopacket.Payload(make([]byte, n)))
}

func eth(et uint16, payload []byte) []byte {
	b := append(append(append([]byte{}, macB...), macA...), byte(et>>8), byte(et))
	return append(b, payload...)
}

// udpIP4 wraps payload in UDP over IPv4 between the outer addresses.
func udpIP4(t testing.TB, sp, dp uint16, payload []byte) []byte {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: outA, DstIP: outB}
	udp := &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}
	udp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, udp, gopacket.Payload(payload))
}

func ipProto(t testing.TB, proto layers.IPProtocol, payload []byte) []byte {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: outA, DstIP: outB}
	return serialize(t, ip, gopacket.Payload(payload))
}

// describe summarises what Decode handed over.
func describe(pkts []zeek.Packet) string {
	var out []string
	for _, p := range pkts {
		s := fmt.Sprintf("%s:%d>%s:%d %s ip=%d len=%d cap=%d", p.Src, p.TCP.SrcPort, p.Dst, p.TCP.DstPort, p.TCP.Flags,
			p.IPLen, p.TCP.PayloadLen, p.Captured)
		switch p.Skip {
		case zeek.BadOffset:
			s += " bad-offset"
		case zeek.BadHeader:
			s += " bad-header"
		case zeek.BadChecksum:
			s += " bad-checksum"
		}
		if p.Encap != 0 {
			s += " tunneled"
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

const syn4 = "10.0.0.1:40000>10.0.0.2:80 S ip=40 len=0 cap=0"

func TestDecode(t *testing.T) {
	seg := tcpIP4(t, ip4A, ip4B, 40000, 80, true, 0)
	data := tcpIP4(t, ip4A, ip4B, 40000, 80, false, 20)
	badTCP := append([]byte(nil), seg...)
	badTCP[len(badTCP)-3] ^= 0xff // the checksum field
	badIP := append([]byte(nil), seg...)
	badIP[10] ^= 0xff
	zeroLen := append([]byte(nil), data...)
	zeroLen[2], zeroLen[3] = 0, 0
	zeroLen[10], zeroLen[11] = 0, 0
	binary.BigEndian.PutUint16(zeroLen[10:], ^checksum(zeroLen[:20], 0))
	cutOpts := append([]byte(nil), seg...)
	cutOpts[32] = 0x70 // data offset 7 words: options beyond the segment
	lowOff := append([]byte(nil), seg...)
	lowOff[32] = 0x40

	vxlan := func(inner []byte) []byte {
		return append([]byte{0x08, 0, 0, 0, 0, 0, 42, 0}, eth(0x0800, inner)...)
	}
	gtp := append([]byte{0x32, 0xff, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0}, data...) // version 1, PT, S flag: 4 optional bytes
	binary.BigEndian.PutUint16(gtp[2:], uint16(len(gtp)-8))
	teredoInner := tcpIP6Teredo(t)
	// AYIYA: 2-byte identity (1<<1), 20-byte signature (5*4), opcode 1
	// (forward), next header 41.
	ayiya := append([]byte{0x10, 0x52, 0x11, 41, 0, 0, 0, 0}, append(make([]byte, 2+20), tcpIP6(t, 0)...)...)
	geneve := append([]byte{0x01, 0, 0x65, 0x58, 0, 0, 9, 0, 0, 0, 0, 0}, eth(0x0800, data)...)

	cases := []struct {
		name   string
		link   uint32
		frame  []byte
		wire   int // 0: all captured
		ignore bool
		want   string
	}{
		{"ethernet", 1, eth(0x0800, seg), 0, false, syn4},
		{"tcp checksum", 1, eth(0x0800, badTCP), 0, false, syn4 + " bad-checksum"},
		{"tcp checksum ignored", 1, eth(0x0800, badTCP), 0, true, syn4},
		{"ip checksum", 1, eth(0x0800, badIP), 0, false, ""},
		{"ip checksum ignored", 1, eth(0x0800, badIP), 0, true, syn4},
		{"padding", 1, append(eth(0x0800, seg), 0, 0, 0, 0, 0, 0), 0, false, syn4},
		{"snaplen cut payload", 1, eth(0x0800, data)[:14+40+5], 14 + 60, false, "10.0.0.1:40000>10.0.0.2:80 . ip=60 len=20 cap=5"},
		{"ip longer than the frame", 1, eth(0x0800, data)[:14+50], 0, false, ""},
		{"options cut", 1, eth(0x0800, cutOpts), 0, false, "10.0.0.1:40000>10.0.0.2:80 S ip=40 len=0 cap=0 bad-header"},
		{"data offset below 5", 1, eth(0x0800, lowOff), 0, false, "10.0.0.1:40000>10.0.0.2:80 S ip=40 len=0 cap=0 bad-offset"},
		{"ip length 0", 1, eth(0x0800, zeroLen), 0, false, ""},
		{"ip length 0 ignored", 1, eth(0x0800, zeroLen), 0, true, "10.0.0.1:40000>10.0.0.2:80 . ip=0 len=20 cap=20"},
		{"vlan qinq", 1, eth(0x88a8, append([]byte{0, 5, 0x81, 0}, append([]byte{0, 6, 0x08, 0}, seg...)...)), 0, false, syn4},
		{"vlan then 0x9100", 1, eth(0x8100, append([]byte{0, 5, 0x91, 0}, append([]byte{0, 6, 0x08, 0}, seg...)...)), 0, false, ""},
		{"fabricpath", 1, append(append(append([]byte{}, macB...), macA...), append([]byte{0x89, 0x03, 0, 0}, eth(0x0800, seg)...)...), 0, false, syn4},
		{"pbb", 1, eth(0x88e7, append([]byte{0, 0, 0, 1}, eth(0x0800, seg)...)), 0, false, syn4},
		{"vntag", 1, eth(0x8926, append([]byte{0, 0, 0, 0, 0x81, 0}, append([]byte{0, 6, 0x08, 0}, seg...)...)), 0, false, syn4},
		{"mpls", 1, eth(0x8847, append([]byte{0, 1, 0, 64, 0, 2, 1, 64}, seg...)), 0, false, syn4},
		{"pppoe", 1, eth(0x8864, append([]byte{0x11, 0, 0, 1, 0, byte(len(seg) + 2), 0, 0x21}, append(seg, 0xee, 0xee)...)), 0, false, syn4},
		{"llc snap", 1, eth(uint16(len(seg)+8), append([]byte{0xaa, 0xaa, 3, 0, 0, 0, 8, 0}, seg...)), 0, false, syn4},
		{"sll", 113, append([]byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0, 0, 1, 8, 0}, seg...), 0, false, syn4},
		{"sll2", 276, append([]byte{8, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0, 0, 1}, seg...), 0, false, syn4},
		{"null", 0, append([]byte{2, 0, 0, 0}, seg...), 0, false, syn4},
		{"raw ipv6", 101, tcpIP6(t, 3), 0, false, "2001:db8::1:40000>2001:db8::2:80 . ip=63 len=3 cap=3"},
		{"ipv6 options", 101, tcpIP6Ext(t), 0, false, "2001:db8::1:40000>2001:db8::2:80 . ip=76 len=0 cap=0"},
		{"vxlan", 1, eth(0x0800, udpIP4(t, 50000, 4789, vxlan(seg))), 0, false, syn4 + " tunneled"},
		{"vxlan from the server port", 1, eth(0x0800, udpIP4(t, 4789, 50000, vxlan(seg))), 0, false, syn4 + " tunneled"},
		{"vxlan without I", 1, eth(0x0800, udpIP4(t, 50000, 4789, append([]byte{0, 0, 0, 0, 0, 0, 42, 0}, eth(0x0800, seg)...))), 0, false, ""},
		{"geneve", 1, eth(0x0800, udpIP4(t, 50000, 6081, geneve)), 0, false, "10.0.0.1:40000>10.0.0.2:80 . ip=60 len=20 cap=20 tunneled"},
		{"gtp", 1, eth(0x0800, udpIP4(t, 2152, 2152, gtp)), 0, false, "10.0.0.1:40000>10.0.0.2:80 . ip=60 len=20 cap=20 tunneled"},
		{"gtp with a byte too many", 1, eth(0x0800, udpIP4(t, 2152, 2152, append(gtp, 0))), 0, false, ""},
		{"teredo by content", 1, eth(0x0800, udpIP4(t, 3797, 33000, teredoInner)), 0, false, "2001:0:4136:e378:8000:63bf:3fff:fdd2:1286>2001:db8::2:80 . ip=60 len=0 cap=0 tunneled"},
		{"ayiya", 1, eth(0x0800, udpIP4(t, 5072, 40000, ayiya)), 0, false, "2001:db8::1:40000>2001:db8::2:80 . ip=60 len=0 cap=0 tunneled"},
		{"ip in ip", 1, eth(0x0800, ipProto(t, layers.IPProtocolIPv4, seg)), 0, false, syn4 + " tunneled"},
		{"ip in ip, trailing byte", 1, eth(0x0800, ipProto(t, layers.IPProtocolIPv4, append(seg, 0))), 0, false, ""},
		{"gre", 1, eth(0x0800, ipProto(t, layers.IPProtocolGRE, append([]byte{0, 0, 8, 0}, seg...))), 0, false, syn4 + " tunneled"},
		{"gre ethernet", 1, eth(0x0800, ipProto(t, layers.IPProtocolGRE, append([]byte{0x20, 0, 0x65, 0x58, 0, 0, 0, 9}, eth(0x0800, seg)...))), 0, false, syn4 + " tunneled"},
		{"gre over udp", 1, eth(0x0800, udpIP4(t, 50000, 4754, append([]byte{0, 0, 8, 0}, seg...))), 0, false, syn4 + " tunneled"},
		{"gre aruba a-msdu", 1, eth(0x0800, ipProto(t, layers.IPProtocolGRE, append([]byte{0, 0, 0x82, 0}, amsdu(seg, data)...))), 0, false,
			syn4 + " tunneled; 10.0.0.1:40000>10.0.0.2:80 . ip=60 len=20 cap=20 tunneled"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := New(Config{IgnoreChecksums: c.ignore})
			wire := c.wire
			if wire == 0 {
				wire = len(c.frame)
			}
			got := describe(d.Decode(&Frame{TS: 1e18, LinkType: c.link, Data: c.frame, WireLen: wire}))
			if got != c.want {
				t.Errorf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

// tcpIP6Teredo is an IPv6 segment between a Teredo address and another.
func tcpIP6Teredo(t testing.TB) []byte {
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
		SrcIP: net.ParseIP("2001:0:4136:e378:8000:63bf:3fff:fdd2"), DstIP: ip6B}
	tcp := &layers.TCP{SrcPort: 1286, DstPort: 80, Seq: 1, ACK: true, Window: 512}
	tcp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, tcp)
}

// tcpIP6Ext has hop-by-hop and destination options before TCP.
func tcpIP6Ext(t testing.TB) []byte {
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolIPv6HopByHop, SrcIP: ip6A, DstIP: ip6B}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 1000, ACK: true, Window: 512}
	tcp.SetNetworkLayerForChecksum(ip)
	tb := serialize(t, tcp)
	ext := []byte{60, 0, 1, 4, 0, 0, 0, 0, 6, 0, 1, 4, 0, 0, 0, 0} // hop-by-hop then destination options, PadN
	return serialize(t, ip, gopacket.Payload(append(ext, tb...)))
}

// amsdu is an 802.11 QoS data frame with an A-MSDU of the packets given.
func amsdu(pkts ...[]byte) []byte {
	f := make([]byte, 26)
	f[0] = 0x88 // data, QoS
	f[24] = 0x80
	for i, p := range pkts {
		sub := append(append(append([]byte{}, macB...), macA...), byte((len(p)+8)>>8), byte(len(p)+8))
		sub = append(sub, 0xaa, 0xaa, 3, 0, 0, 0, 8, 0)
		sub = append(sub, p...)
		if i < len(pkts)-1 {
			for len(sub)%4 != 2 { // pad the subframe body to 4 bytes
				sub = append(sub, 0)
			}
		}
		f = append(f, sub...)
	}
	return f
}

func TestFragments(t *testing.T) {
	whole := tcpIP4(t, ip4A, ip4B, 40000, 80, false, 40) // 20 + 20 + 40
	frag := func(off int, more bool, payload []byte) []byte {
		h := append([]byte(nil), whole[:20]...)
		binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
		fo := uint16(off / 8)
		if more {
			fo |= 0x2000
		}
		binary.BigEndian.PutUint16(h[6:], fo)
		h[10], h[11] = 0, 0
		binary.BigEndian.PutUint16(h[10:], ^checksum(h[:20], 0))
		return append(h, payload...)
	}
	d := New(Config{})
	first := frag(0, true, whole[20:44])
	last := frag(24, false, whole[44:])
	if got := describe(d.Decode(&Frame{TS: 1e18, LinkType: 101, Data: last, WireLen: len(last)})); got != "" {
		t.Fatalf("half a datagram gave %q", got)
	}
	got := describe(d.Decode(&Frame{TS: 1e18 + 1, LinkType: 101, Data: first, WireLen: len(first)}))
	if want := "10.0.0.1:40000>10.0.0.2:80 . ip=80 len=40 cap=40"; got != want {
		t.Errorf("reassembled: %q, want %q", got, want)
	}
	if s := d.Stats(); s.Fragments != 2 || s.Segments != 1 || d.frags.held != 0 {
		t.Errorf("stats %+v, %d bytes held", s, d.frags.held)
	}
	// An incomplete datagram is dropped after frag_timeout.
	d.Decode(&Frame{TS: 2e18, LinkType: 101, Data: last, WireLen: len(last)})
	d.Decode(&Frame{TS: 2e18 + int64(6*60e9), LinkType: 101, Data: seg4(t), WireLen: 40})
	if d.frags.held != 0 || len(d.frags.bufs) != 0 {
		t.Errorf("expired fragments still held: %d bytes", d.frags.held)
	}
}

func seg4(t testing.TB) []byte { return tcpIP4(t, ip4A, ip4B, 40000, 80, true, 0) }

// TestTunnelIdentity: both directions of a tunnel are the same tunnel,
// another tunnel is not.
func TestTunnelIdentity(t *testing.T) {
	d := New(Config{})
	vx := func(sp, dp uint16, src, dst net.IP) uint64 {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src, DstIP: dst}
		udp := &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}
		udp.SetNetworkLayerForChecksum(ip)
		f := eth(0x0800, serialize(t, ip, udp, gopacket.Payload(append([]byte{8, 0, 0, 0, 0, 0, 1, 0}, eth(0x0800, seg4(t))...))))
		p := d.Decode(&Frame{LinkType: 1, Data: f, WireLen: len(f)})
		if len(p) != 1 {
			t.Fatalf("%d packets", len(p))
		}
		return p[0].Encap
	}
	a, b, c := vx(50000, 4789, outA, outB), vx(4789, 50000, outB, outA), vx(50001, 4789, outA, outB)
	if a == 0 || a != b || a == c {
		t.Errorf("identities %x %x %x", a, b, c)
	}
}

func TestDecodeAllocs(t *testing.T) {
	d := New(Config{})
	f := eth(0x0800, tcpIP4(t, ip4A, ip4B, 40000, 80, false, 100))
	fr := Frame{LinkType: 1, Data: f, WireLen: len(f)}
	d.Decode(&fr)
	if n := testing.AllocsPerRun(1000, func() { d.Decode(&fr) }); n != 0 {
		t.Errorf("%.1f allocations per frame", n)
	}
}

func BenchmarkDecode(b *testing.B) {
	d := New(Config{})
	f := eth(0x0800, tcpIP4(b, ip4A, ip4B, 40000, 80, false, 1400))
	fr := Frame{LinkType: 1, Data: f, WireLen: len(f)}
	b.ReportAllocs()
	b.SetBytes(int64(len(f)))
	for i := 0; i < b.N; i++ {
		d.Decode(&fr)
	}
}
