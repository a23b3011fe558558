package output

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
	"github.com/tcptrack/tcptrack/internal/testutil"
)

// nflogTCP is a TCP header: ports 40000 → 80, seq 1, ack 2, window 512,
// the given byte 12 (data offset, reserved bits, AE) and flags, urgent
// pointer 7, then opts.
func nflogTCP(b12, flags byte, opts ...byte) []byte {
	h := make([]byte, 20, 20+len(opts))
	binary.BigEndian.PutUint16(h[0:], 40000)
	binary.BigEndian.PutUint16(h[2:], 80)
	binary.BigEndian.PutUint32(h[4:], 1)
	binary.BigEndian.PutUint32(h[8:], 2)
	h[12], h[13] = b12, flags
	binary.BigEndian.PutUint16(h[14:], 512)
	binary.BigEndian.PutUint16(h[18:], 7)
	return append(h, opts...)
}

// nflogV4 is an IPv4 header (tos, id, flags/offset, options) in front of tcp.
func nflogV4(tos byte, id, ff uint16, opts []byte, tcp []byte) []byte {
	ihl := 20 + len(opts)
	h := make([]byte, ihl, ihl+len(tcp))
	h[0], h[1], h[8], h[9] = 0x40|byte(ihl/4), tos, 63, 6
	binary.BigEndian.PutUint16(h[2:], uint16(ihl+len(tcp)+100))
	binary.BigEndian.PutUint16(h[4:], id)
	binary.BigEndian.PutUint16(h[6:], ff)
	copy(h[12:], []byte{10, 1, 0, 2, 10, 2, 0, 2})
	copy(h[20:], opts)
	return append(h, tcp...)
}

// nflogV6 is an IPv6 header (traffic class 0x2a, flow label 0x12345) with
// the extension header chain ext starting with next header nh.
func nflogV6(nh byte, ext, tcp []byte) []byte {
	h := make([]byte, 40, 40+len(ext)+len(tcp))
	binary.BigEndian.PutUint32(h, 6<<28|0x2a<<20|0x12345)
	binary.BigEndian.PutUint16(h[4:], uint16(len(ext)+len(tcp)+100))
	h[6], h[7] = nh, 61
	copy(h[8:], netip.MustParseAddr("fd00:1::2").AsSlice())
	copy(h[24:], netip.MustParseAddr("2001:db8::ab:c").AsSlice())
	return append(append(h, ext...), tcp...)
}

func TestNFLogPacket(t *testing.T) {
	plain := nflogTCP(5<<4, 0x18)
	tcpTail := "PROTO=TCP SPT=40000 DPT=80 SEQ=1 ACK=2 WINDOW=512 RES=0x00 ACK PSH URGP=7"
	for _, tc := range []struct {
		name string
		wire []byte
		want string
	}{
		{"ipv4, DF", nflogV4(0, 4660, 0x4000, nil, plain),
			"SRC=10.1.0.2 DST=10.2.0.2 LEN=140 TOS=0x00 PREC=0x00 TTL=63 ID=4660 DF " + tcpTail},
		{"tos and precedence, CE and MF", nflogV4(0xb8|0x01, 1, 0x8000|0x2000, nil, plain),
			"SRC=10.1.0.2 DST=10.2.0.2 LEN=140 TOS=0x18 PREC=0xA0 TTL=63 ID=1 CE MF " + tcpTail},
		{"ip options", nflogV4(0, 1, 0, []byte{1, 1, 1, 0}, plain),
			"SRC=10.1.0.2 DST=10.2.0.2 LEN=144 TOS=0x00 PREC=0x00 TTL=63 ID=1 OPT (01010100) " + tcpTail},
		{"non-first fragment: no TCP fields", nflogV4(0, 1, 0x2000|185, nil, plain),
			"SRC=10.1.0.2 DST=10.2.0.2 LEN=140 TOS=0x00 PREC=0x00 TTL=63 ID=1 MF FRAG:185 PROTO=TCP"},
		{"tcp options, every flag, AE and reserved bits", nflogV4(0, 1, 0, nil, nflogTCP(6<<4|0x0f, 0xff, 2, 4, 5, 0xb4)),
			"SRC=10.1.0.2 DST=10.2.0.2 LEN=144 TOS=0x00 PREC=0x00 TTL=63 ID=1 PROTO=TCP SPT=40000 DPT=80 SEQ=1 ACK=2 WINDOW=512 RES=0x38 AE CWR ECE URG ACK PSH RST SYN FIN URGP=7 OPT (020405B4)"},
		{"data offset past the captured header", nflogV4(0, 1, 0, nil, nflogTCP(15<<4, 0x10)),
			"SRC=10.1.0.2 DST=10.2.0.2 LEN=140 TOS=0x00 PREC=0x00 TTL=63 ID=1 PROTO=TCP SPT=40000 DPT=80 SEQ=1 ACK=2 WINDOW=512 RES=0x00 ACK URGP=7 OPT (TRUNCATED)"},
		{"tcp header cut", nflogV4(0, 1, 0, nil, plain[:12]),
			"SRC=10.1.0.2 DST=10.2.0.2 LEN=132 TOS=0x00 PREC=0x00 TTL=63 ID=1 PROTO=TCP INCOMPLETE [112 bytes]"},
		{"ipv6", nflogV6(6, nil, plain),
			"SRC=fd00:0001:0000:0000:0000:0000:0000:0002 DST=2001:0db8:0000:0000:0000:0000:00ab:000c LEN=160 TC=42 HOPLIMIT=61 FLOWLBL=74565 " + tcpTail},
		{"ipv6 hop-by-hop and destination options", nflogV6(0, append([]byte{60, 0, 0, 0, 0, 0, 0, 0}, 6, 0, 0, 0, 0, 0, 0, 0), plain),
			"SRC=fd00:0001:0000:0000:0000:0000:0000:0002 DST=2001:0db8:0000:0000:0000:0000:00ab:000c LEN=176 TC=42 HOPLIMIT=61 FLOWLBL=74565 OPT ( ) OPT ( ) " + tcpTail},
		{"ipv6 atomic fragment", nflogV6(44, []byte{6, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef}, plain),
			"SRC=fd00:0001:0000:0000:0000:0000:0000:0002 DST=2001:0db8:0000:0000:0000:0000:00ab:000c LEN=168 TC=42 HOPLIMIT=61 FLOWLBL=74565 OPT ( FRAG:0 ID:deadbeef ) " + tcpTail},
		{"ipv6 non-first fragment", nflogV6(44, []byte{6, 0, 0x05, 0x01, 0, 0, 0, 9}, plain),
			"SRC=fd00:0001:0000:0000:0000:0000:0000:0002 DST=2001:0db8:0000:0000:0000:0000:00ab:000c LEN=168 TC=42 HOPLIMIT=61 FLOWLBL=74565 OPT ( FRAG:1280 INCOMPLETE ID:00000009 ) PROTO=TCP"},
		{"ipv6 AH", nflogV6(51, []byte{6, 1, 0, 0, 0, 0, 0x12, 0x34, 0, 0, 0, 1}, plain),
			"SRC=fd00:0001:0000:0000:0000:0000:0000:0002 DST=2001:0db8:0000:0000:0000:0000:00ab:000c LEN=172 TC=42 HOPLIMIT=61 FLOWLBL=74565 OPT ( AH SPI=0x1234 ) " + tcpTail},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := flowtable.Event{Type: flowtable.EventPacket, Report: &flowtable.PacketReport{Wire: tc.wire}}
			if got := string(AppendNFLogPacket(nil, &e)); got != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// Without headers, the line is made of the tuple and the segment.
func TestNFLogFromSegment(t *testing.T) {
	e := flowtable.Event{Type: flowtable.EventPacket,
		Flow:   flowtable.Flow{Key: flowtable.MakeKey(netip.MustParseAddr("10.1.0.2"), netip.MustParseAddr("10.2.0.2"), 40000, 80)},
		Report: &flowtable.PacketReport{Dir: fsm.Reply, IPLen: 40, TCP: fsm.Segment{SrcPort: 80, DstPort: 40000, Seq: 9, Ack: 8, Flags: fsm.RST | fsm.ACK, Window: 0}}}
	want := "SRC=10.2.0.2 DST=10.1.0.2 LEN=40 PROTO=TCP SPT=80 DPT=40000 SEQ=9 ACK=8 WINDOW=0 ACK RST"
	if got := string(AppendNFLogPacket(nil, &e)); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

// Formatting a line allocates nothing beyond the buffer it grows.
func TestNFLogAllocs(t *testing.T) {
	e := flowtable.Event{Type: flowtable.EventPacket, Report: &flowtable.PacketReport{
		Reason: fsm.Reason{Code: fsm.ReasonSeqOver, Bound: 12345},
		Wire:   nflogV6(0, []byte{6, 0, 0, 0, 0, 0, 0, 0}, nflogTCP(6<<4, 0x18, 1, 1, 8, 10))}}
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { buf = AppendInvalidLine(buf[:0], &e, e.Report.Reason, true) }); n != 0 {
		t.Errorf("%v allocations per line", n)
	}
}

func TestFuzzNFLogSeeds(t *testing.T) {
	plain := nflogTCP(5<<4, 0x18)
	testutil.SeedCorpus(t, "FuzzNFLog", []testutil.Seed{
		{Name: "ipv4", Data: nflogV4(0, 1, 0x4000, []byte{1, 1, 1, 0}, plain)},
		{Name: "ipv4-fragment", Data: nflogV4(0, 1, 0x2001, nil, plain)},
		{Name: "ipv6-ext", Data: nflogV6(0, append([]byte{44, 0, 0, 0, 0, 0, 0, 0}, 6, 0, 0, 1, 0, 0, 0, 1), plain)},
		{Name: "ipv6-esp", Data: nflogV6(50, []byte{0, 0, 0, 1, 0, 0, 0, 1}, nil)},
		{Name: "short", Data: []byte{0x45, 0}},
	})
}

// FuzzNFLog: any header bytes format without panicking into a line that
// starts with SRC=.
func FuzzNFLog(f *testing.F) {
	f.Fuzz(func(t *testing.T, wire []byte) {
		e := flowtable.Event{Type: flowtable.EventPacket, Report: &flowtable.PacketReport{Wire: wire,
			Reason: fsm.Reason{Code: fsm.ReasonInvalidState, Index: 3, State: fsm.SynSent}}}
		line := AppendInvalidLine(nil, &e, e.Report.Reason, true)
		if !strings.Contains(string(line), " SRC=") {
			t.Fatalf("line without SRC=: %q", line)
		}
		j := NewJSONInvalid(&e)
		if j.Log == "" || j.Reason != "invalid-state" {
			t.Fatalf("json %+v", j)
		}
	})
}
