package flowtable_test

import (
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
	"github.com/tcptrack/tcptrack/output"
)

// Feed a Table from packets a program already has, here decoded by
// gopacket, and print the table as conntrack -L would. Anything that
// yields IP addresses and a TCP header (AF_PACKET, eBPF, a pcap library)
// fills a flowtable.Packet the same way. The first flow's timeout is the
// kernel's 300 s cap: its last data is not acknowledged yet.
func ExampleTable() {
	table := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), Shards: 1, Acct: true})

	var ip4 layers.IPv4
	var tcp layers.TCP
	var payload gopacket.Payload
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeIPv4, &ip4, &tcp, &payload)
	decoded := make([]gopacket.LayerType, 0, 3)

	start := time.Date(2026, 11, 21, 5, 37, 45, 0, time.UTC)
	var p flowtable.Packet
	for i, frame := range exampleFrames() {
		if err := parser.DecodeLayers(frame, &decoded); err != nil || len(decoded) < 2 {
			continue // not IPv4 + TCP
		}
		src, _ := netip.AddrFromSlice(ip4.SrcIP.To4())
		dst, _ := netip.AddrFromSlice(ip4.DstIP.To4())
		p = flowtable.Packet{
			TS:    start.Add(time.Duration(i) * time.Millisecond).UnixNano(),
			Src:   src,
			Dst:   dst,
			IPLen: uint32(ip4.Length),
			TCP:   segmentOf(&tcp, int(ip4.Length)-int(ip4.IHL)*4),
		}
		table.Add(&p)
	}
	res := table.Close(p.TS)
	output.WriteConntrack(os.Stdout, &res, p.TS, output.LineOptions{Acct: true})
	// Output:
	// tcp      6 299 ESTABLISHED src=10.1.0.2 dst=10.2.0.2 sport=40000 dport=80 packets=3 bytes=224 src=10.2.0.2 dst=10.1.0.2 sport=80 dport=40000 packets=1 bytes=44 [ASSURED] mark=0 use=1
	// tcp      6 120 SYN_SENT src=10.1.0.2 dst=10.2.0.3 sport=40001 dport=443 packets=1 bytes=44 [UNREPLIED] src=10.2.0.3 dst=10.1.0.2 sport=443 dport=40001 packets=0 bytes=0 mark=0 use=1
}

// segmentOf takes what the state machine needs from gopacket's TCP layer;
// l4Len is the TCP header and payload length from the IP header.
func segmentOf(t *layers.TCP, l4Len int) fsm.Segment {
	s := fsm.Segment{
		SrcPort: uint16(t.SrcPort), DstPort: uint16(t.DstPort),
		Seq: t.Seq, Ack: t.Ack, Window: t.Window,
		PayloadLen: uint32(l4Len - int(t.DataOffset)*4),
	}
	for _, f := range []struct {
		set  bool
		flag fsm.Flags
	}{{t.FIN, fsm.FIN}, {t.SYN, fsm.SYN}, {t.RST, fsm.RST}, {t.PSH, fsm.PSH}, {t.ACK, fsm.ACK}, {t.URG, fsm.URG}, {t.ECE, fsm.ECE}, {t.CWR, fsm.CWR}} {
		if f.set {
			s.Flags |= f.flag
		}
	}
	for _, o := range t.Options {
		d := o.OptionData
		switch {
		case o.OptionType == layers.TCPOptionKindMSS && len(d) == 2:
			s.MSS = uint16(d[0])<<8 | uint16(d[1])
		case o.OptionType == layers.TCPOptionKindWindowScale && len(d) == 1:
			s.WScale, s.HasWScale = d[0], true
		case o.OptionType == layers.TCPOptionKindSACKPermitted:
			s.SackPerm = true
		case o.OptionType == layers.TCPOptionKindSACK && len(d) >= 8:
			for ; len(d) >= 8; d = d[8:] {
				right := uint32(d[4])<<24 | uint32(d[5])<<16 | uint32(d[6])<<8 | uint32(d[7])
				if !s.HasSack || int32(right-s.SackRight) > 0 {
					s.SackRight, s.HasSack = right, true
				}
			}
		case o.OptionType == layers.TCPOptionKindTimestamps && len(d) == 8:
			s.HasTS = true
			s.TSVal = uint32(d[0])<<24 | uint32(d[1])<<16 | uint32(d[2])<<8 | uint32(d[3])
			s.TSEcr = uint32(d[4])<<24 | uint32(d[5])<<16 | uint32(d[6])<<8 | uint32(d[7])
		}
	}
	return s
}

// exampleFrames builds raw IPv4 frames with gopacket: a handshake and one
// data segment on one connection, an unanswered SYN on another.
func exampleFrames() [][]byte {
	client, server, other := net.IPv4(10, 1, 0, 2), net.IPv4(10, 2, 0, 2), net.IPv4(10, 2, 0, 3)
	frame := func(src, dst net.IP, tcp *layers.TCP, data []byte) []byte {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
		tcp.Window = 64240
		tcp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
		if err := gopacket.SerializeLayers(buf, opts, ip, tcp, gopacket.Payload(data)); err != nil {
			panic(err)
		}
		return buf.Bytes()
	}
	mss := []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}}}
	return [][]byte{
		frame(client, server, &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 1000, SYN: true, Options: mss}, nil),
		frame(server, client, &layers.TCP{SrcPort: 80, DstPort: 40000, Seq: 5000, Ack: 1001, SYN: true, ACK: true, Options: mss}, nil),
		frame(client, server, &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 1001, Ack: 5001, ACK: true}, nil),
		frame(client, server, &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 1001, Ack: 5001, ACK: true, PSH: true}, make([]byte, 100)),
		frame(client, other, &layers.TCP{SrcPort: 40001, DstPort: 443, Seq: 7000, SYN: true, Options: mss}, nil),
	}
}
