package zeek

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/fsm"
)

// step is one segment of a hand-written exchange between the client
// 10.0.0.1:40000 and the server 10.0.0.2 (port 80 unless port is set).
// The client's ISN is 1000, the server's 5000; seq and ack are absolute.
type step struct {
	fromServer bool
	flags      fsm.Flags
	seq, ack   uint32
	n          uint32        // payload length
	at         time.Duration // since the start; 0: 1 ms after the previous step
	zeroWin    bool
	skip       Skip
	port       uint16 // the server's port (default 80)
	cport      uint16 // the client's port (default 40000)
	encap      uint64
	captured   int // captured payload bytes when not all (-1: none)
}

const (
	O = false // from the client
	R = true  // from the server
)

var (
	client = netip.MustParseAddr("10.0.0.1")
	server = netip.MustParseAddr("10.0.0.2")
)

func (s step) packet(ts int64) Packet {
	p := Packet{TS: ts, Src: client, Dst: server, IPLen: 40 + s.n, Skip: s.skip, Encap: s.encap, Captured: s.n}
	sp, cp := s.port, s.cport
	if sp == 0 {
		sp = 80
	}
	if cp == 0 {
		cp = 40000
	}
	p.TCP = fsm.Segment{SrcPort: cp, DstPort: sp, Seq: s.seq, Ack: s.ack, Flags: s.flags, PayloadLen: s.n, Window: 1000}
	if s.fromServer {
		p.Src, p.Dst = server, client
		p.TCP.SrcPort, p.TCP.DstPort = sp, cp
	}
	if s.zeroWin {
		p.TCP.Window = 0
	}
	if s.captured != 0 {
		p.Captured = uint32(max(s.captured, 0))
	}
	return p
}

const t0 = int64(1_700_000_000) * 1e9

// runSteps feeds the steps to a Tracker and returns its records as text:
// "orig_p>resp_p state history o_pkts/o_ipbytes r_pkts/r_ipbytes
// o_bytes/r_bytes missed duration_ms", in the order written.
func runSteps(cfg Config, steps []step) []string {
	var out []string
	tr := NewTracker(cfg, func(r *Record) {
		d := "-"
		if r.Duration > 0 {
			d = fmt.Sprint(r.Duration / 1e6)
		}
		out = append(out, fmt.Sprintf("%d>%d %s %s %d/%d %d/%d %d/%d %d %s", r.Orig.Port(), r.Resp.Port(), r.State,
			r.History, r.OrigPkts, r.OrigIPBytes, r.RespPkts, r.RespIPBytes, r.OrigBytes, r.RespBytes, r.MissedBytes, d))
	})
	ts := t0
	for _, s := range steps {
		if s.at != 0 {
			ts = t0 + int64(s.at)
		} else {
			ts += 1e6
		}
		p := s.packet(ts)
		tr.Add(&p)
	}
	tr.Flush()
	return out
}

var (
	syn    = step{flags: fsm.SYN, seq: 1000}
	synAck = step{fromServer: R, flags: fsm.SYN | fsm.ACK, seq: 5000, ack: 1001}
	ack    = step{flags: fsm.ACK, seq: 1001, ack: 5001}
)

func hs(more ...step) []step { return append([]step{syn, synAck, ack}, more...) }

// TestTrackerScenarios: each expectation follows Zeek's TCP analyzer and
// session timers step by step (the comments say which rule decides).
func TestTrackerScenarios(t *testing.T) {
	cases := []struct {
		name  string
		cfg   Config
		steps []step
		want  []string
	}{
		{"complete", Config{}, hs(
			step{flags: fsm.ACK | fsm.PSH, seq: 1001, ack: 5001, n: 100},
			step{fromServer: R, flags: fsm.ACK | fsm.PSH, seq: 5001, ack: 1101, n: 300},
			step{flags: fsm.FIN | fsm.ACK, seq: 1101, ack: 5301},
			step{fromServer: R, flags: fsm.FIN | fsm.ACK, seq: 5301, ack: 1102},
			step{flags: fsm.ACK, seq: 1102, ack: 5302},
		), []string{"40000>80 SF ShADdFf 5/300 3/420 100/300 0 6"}}, // the last ACK, after both FINs, does not count for the duration
		{"syn only", Config{}, []step{syn}, []string{"40000>80 S0 S 1/40 0/0 0/0 0 -"}},
		// The SYN attempt timer ends an unanswered SYN 5 s after it: a
		// retransmission 6 s later is a new connection.
		{"syn retried late", Config{}, []step{syn, {flags: fsm.SYN, seq: 1000, at: time.Second}, {flags: fsm.SYN, seq: 1000, at: 6 * time.Second}},
			[]string{"40000>80 S0 S 2/80 0/0 0/0 0 999", "40000>80 S0 S 1/40 0/0 0/0 0 -"}},
		// A lone RST: the originator RESET, the responder never spoke: OTH.
		{"lone rst", Config{}, []step{{flags: fsm.RST, seq: 1000}}, []string{"40000>80 OTH R 1/40 0/0 0/0 0 -"}},
		// A lone SYN-ACK from port 80 to a port no analyzer knows: Zeek
		// flips at once (^) and the SYN-ACK is the responder's (h).
		{"lone syn-ack", Config{}, []step{synAck}, []string{"40000>80 OTH ^h 0/0 1/40 0/0 0 -"}},
		// The same from a port nobody knows: no flip until an ACK (then ^h);
		// the ACK's sender, never having sent a SYN, is partial: OTH.
		{"syn-ack then ack", Config{}, []step{
			{fromServer: R, flags: fsm.SYN | fsm.ACK, seq: 5000, ack: 1001, port: 9999},
			{flags: fsm.ACK, seq: 1001, ack: 5001, port: 9999}},
			[]string{"40000>9999 OTH ^hA 1/40 1/40 0/0 0 1"}},
		// FIN-only traffic from one side: SH.
		{"fin only", Config{}, []step{{flags: fsm.FIN | fsm.ACK, seq: 1000, ack: 5000, port: 9999}}, []string{"40000>9999 SH F 1/40 0/0 0/0 0 -"}},
		// Idle past the inactivity timeout (5 minutes once established): the
		// next packet opens a new record, mid-stream (OTH, D).
		{"inactivity", Config{}, hs(step{flags: fsm.ACK | fsm.PSH, seq: 1001, ack: 5001, n: 10, at: 301 * time.Second}),
			[]string{"40000>80 S1 ShA 2/80 1/40 0/0 0 2", "40000>80 OTH D 1/50 0/0 0/0 0 -"}},
		// Port 22 gets an hour (Conn::port_inactivity_timeouts).
		{"ssh inactivity", Config{}, []step{
			{flags: fsm.SYN, seq: 1000, port: 22}, {fromServer: R, flags: fsm.SYN | fsm.ACK, seq: 5000, ack: 1001, port: 22},
			{flags: fsm.ACK, seq: 1001, ack: 5001, port: 22}, {flags: fsm.ACK | fsm.PSH, seq: 1001, ack: 5001, n: 10, port: 22, at: 600 * time.Second}},
			[]string{"40000>22 S1 ShAD 3/130 1/40 10/0 0 599999"}},
		// A mid-stream connection is past the handshake states at once
		// (partial): 5 minutes, not the 1 minute of a handshake.
		{"partial timeout", Config{}, []step{
			{flags: fsm.ACK, seq: 1001, ack: 5001, port: 9999},
			{flags: fsm.ACK | fsm.PSH, seq: 1001, ack: 5001, n: 1, port: 9999, at: 200 * time.Second}},
			[]string{"40000>9999 OTH AD 2/81 0/0 1/0 0 199999"}},
		// Retransmitted payload: T at the 1st and 10th time.
		{"retransmissions", Config{}, func() []step {
			s := hs(step{flags: fsm.ACK | fsm.PSH, seq: 1001, ack: 5001, n: 10})
			for range 10 {
				s = append(s, step{flags: fsm.ACK | fsm.PSH, seq: 1001, ack: 5001, n: 10})
			}
			return s
		}(), []string{"40000>80 S1 ShADTT 13/630 1/40 10/0 0 13"}},
		// A zero window from the server: w.
		{"zero window", Config{}, hs(step{fromServer: R, flags: fsm.ACK, seq: 5001, ack: 1001, zeroWin: true}),
			[]string{"40000>80 S1 ShAaw 2/80 2/80 0/0 0 3"}},
		// 100 bytes never seen, then acknowledged: a gap (G, missed 100).
		{"gap", Config{}, hs(
			step{flags: fsm.ACK | fsm.PSH, seq: 1101, ack: 5001, n: 50},
			step{fromServer: R, flags: fsm.ACK, seq: 5001, ack: 1151}),
			[]string{"40000>80 S1 ShADaG 3/170 2/80 150/0 100 4"}},
		// Payload cut by the snapshot length is not reassembled: a gap once
		// acknowledged.
		{"snaplen gap", Config{}, hs(
			step{flags: fsm.ACK | fsm.PSH, seq: 1001, ack: 5001, n: 50, captured: 10},
			step{fromServer: R, flags: fsm.ACK, seq: 5001, ack: 1051}),
			[]string{"40000>80 S1 ShADaG 3/170 2/80 50/0 50 4"}},
		// A bad checksum: C, and the packet is not counted.
		{"bad checksum", Config{}, hs(step{flags: fsm.ACK | fsm.PSH, seq: 1001, ack: 5001, n: 10, skip: BadChecksum}),
			[]string{"40000>80 S1 ShAC 2/80 1/40 0/0 0 2"}},
		// A cut header: found its connection, nothing more.
		{"bad header", Config{}, []step{{flags: fsm.SYN, seq: 1000, skip: BadHeader}}, []string{"40000>80 OTH  0/0 0/0 0/0 0 -"}},
		// After both FINs the connection lingers tcp_close_delay (5 s): a new
		// SYN within it is a reuse (the connection closed), a new record.
		{"reuse after close", Config{}, hs(
			step{flags: fsm.FIN | fsm.ACK, seq: 1001, ack: 5001},
			step{fromServer: R, flags: fsm.FIN | fsm.ACK, seq: 5001, ack: 1002},
			step{flags: fsm.SYN, seq: 9000, at: 2 * time.Second}),
			[]string{"40000>80 SF ShAFf 3/120 2/80 0/0 0 4", "40000>80 S0 S 1/40 0/0 0/0 0 -"}},
		// A RST ends the record tcp_close_delay after the last packet: a
		// packet 6 s later starts a new one.
		{"after reset", Config{}, hs(
			step{fromServer: R, flags: fsm.RST, seq: 5001},
			step{flags: fsm.ACK, seq: 1001, ack: 5001, at: 6 * time.Second}),
			[]string{"40000>80 RSTR ShAr 2/80 2/80 0/0 0 3", "40000>80 OTH A 1/40 0/0 0/0 0 -"}},
		// A SYN with a new ISN while established: reuse.
		{"reuse established", Config{}, hs(step{flags: fsm.SYN, seq: 7000}),
			[]string{"40000>80 S1 ShA 2/80 1/40 0/0 0 2", "40000>80 S0 S 1/40 0/0 0/0 0 -"}},
		// Both ports well known, data first from the lower one: flipped
		// (Zeek's guess favours the lower port as the server); from the
		// higher one: not.
		{"both ports known", Config{}, []step{{flags: fsm.ACK | fsm.PSH, seq: 1001, ack: 5001, n: 5, cport: 80, port: 443}},
			[]string{"443>80 OTH ^d 0/0 1/45 0/0 0 -"}},
		{"both ports known, higher first", Config{}, []step{{flags: fsm.ACK | fsm.PSH, seq: 1001, ack: 5001, n: 5, cport: 443, port: 80}},
			[]string{"443>80 OTH D 1/45 0/0 0/0 0 -"}},
		// An empty server port set: nothing flips.
		{"no server ports", Config{ServerPorts: new(PortSet)}, []step{synAck},
			[]string{"80>40000 OTH H 1/40 0/0 0/0 0 -"}},
		// A full table drops new connections.
		{"max conns", Config{MaxConns: 1}, []step{syn, {flags: fsm.SYN, seq: 1000, cport: 40001}},
			[]string{"40000>80 S0 S 1/40 0/0 0/0 0 -"}},
		// The tunnel changing more than 5 times: X.
		{"tunnel changes", Config{}, func() []step {
			s := []step{syn}
			for i := range 7 {
				s = append(s, step{flags: fsm.SYN, seq: 1000, encap: uint64(i + 1)})
			}
			return s
		}(), []string{"40000>80 S0 SX 8/320 0/0 0/0 0 7"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := runSteps(c.cfg, c.steps)
			if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("records:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

func TestConnState(t *testing.T) {
	cases := []struct {
		o, r  EndpointState
		os    uint64
		hist  string
		state ConnState
	}{
		{SynSent, Inactive, 0, "S", S0},
		{Established, Established, 0, "ShA", S1},
		{Closed, Closed, 0, "ShAFf", SF},
		{SynSent, Reset, 0, "Sr", REJ},
		{Reset, Reset, 0, "ShRr", REJ},
		{Reset, Reset, 5, "ShDRr", RSTR},
		{Inactive, Reset, 0, "r", RSTRH},
		{Established, Reset, 0, "ShAr", RSTR},
		{Reset, Inactive, 0, "SR", RSTOS0},
		{Reset, Inactive, 0, "^SaR", RSTOS0},
		{Reset, Inactive, 0, "SAR", OTH},
		{Reset, Established, 0, "ShAR", RSTO},
		{Closed, Established, 0, "ShAF", S2},
		{Closed, Inactive, 0, "F", SH},
		{Established, Closed, 0, "ShAf", S3},
		{Partial, Closed, 0, "Df", SHR},
		{SynAckSent, Inactive, 0, "H", OTH},
	}
	for _, c := range cases {
		if got := connState(c.o, c.r, c.os, 0, []byte(c.hist)); got != c.state {
			t.Errorf("%v/%v %q: %v, want %v", c.o, c.r, c.hist, got, c.state)
		}
	}
}

func TestScaled(t *testing.T) {
	var s scaled
	var hits []uint32
	for i := uint32(1); i <= 1000; i++ {
		if s.hit() {
			hits = append(hits, i)
		}
	}
	if fmt.Sprint(hits) != "[1 10 100 1000]" {
		t.Errorf("letters at %v", hits)
	}
}

func TestReassemblerInsert(t *testing.T) {
	var r reassembler
	r.init()
	for _, b := range []block{{10, 20}, {30, 40}, {5, 45}, {40, 50}} {
		r.insert(b.seq, b.upper)
	}
	want := []block{{5, 10}, {10, 20}, {20, 30}, {30, 40}, {40, 45}, {45, 50}}
	if fmt.Sprint(r.blocks) != fmt.Sprint(want) {
		t.Errorf("blocks %v, want %v", r.blocks, want)
	}
	if at := r.insert(12, 25); r.blocks[at] != (block{10, 20}) {
		t.Errorf("insert returned %v, want the block holding its start", r.blocks[at])
	}
}

func TestParsePorts(t *testing.T) {
	s, err := ParsePorts("http, 22,9000-9002,none")
	if err != nil {
		t.Fatal(err)
	}
	if got := s.String(); got != "22,80,81,631,1080,3128,8000,8080,8888,9000,9001,9002" {
		t.Errorf("ports %s", got)
	}
	for _, bad := range []string{"nosuch", "70000", "9-3", "1-x"} {
		if _, err := ParsePorts(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if d := DefaultServerPorts(); !d.Has(443) || !d.Has(6667) || d.Has(12345) {
		t.Error("default server ports")
	}
}

func TestRecordFormat(t *testing.T) {
	r := Record{Start: 1371685686536606000, Orig: netip.MustParseAddrPort("10.0.0.1:40000"),
		Resp: netip.MustParseAddrPort("[2001:db8::1]:80"), Duration: 1500000000, OrigBytes: 5, RespBytes: 7,
		State: SF, LocalOrig: true, History: []byte("ShADadFf"), OrigPkts: 3, OrigIPBytes: 125}
	tsv := string(r.AppendTSV(nil))
	uid := string(r.AppendUID(nil))
	want := "1371685686.536606\t" + uid + "\t10.0.0.1\t40000\t2001:db8::1\t80\ttcp\t-\t1.500000\t5\t7\tSF\tT\tF\t0\tShADadFf\t3\t125\t0\t0\t-\t6"
	if tsv != want {
		t.Errorf("tsv\n%q\nwant\n%q", tsv, want)
	}
	js := string(r.AppendJSON(nil))
	if !strings.Contains(js, `"duration":1.5,"orig_bytes":5`) || !strings.HasPrefix(js, `{"ts":1371685686.536606,`) {
		t.Errorf("json %s", js)
	}
	r.Duration = 0
	if s := string(r.AppendTSV(nil)); !strings.Contains(s, "\t-\t-\t-\tSF") {
		t.Errorf("duration 0 should leave duration and bytes unset: %s", s)
	}
	if len(uid) != 18 || uid[0] != 'C' {
		t.Errorf("uid %q", uid)
	}
	r2 := r
	r2.Start++
	if string(r2.AppendUID(nil)) == uid {
		t.Error("uid ignores the start time")
	}
	for _, c := range []struct {
		ns        int64
		tsv, json string
	}{
		{1371685686536606499, "1371685686.536606", "1371685686.536606"},
		{1371685686536606500, "1371685686.536607", "1371685686.536607"},
		{1500000000, "1.500000", "1.5"},
		{0, "0.000000", "0"},
		{60098000, "0.060098", "0.060098"},
	} {
		if got := string(appendTime(nil, c.ns)); got != c.tsv {
			t.Errorf("%d: %q, want %q", c.ns, got, c.tsv)
		}
		if got := string(appendSeconds(nil, c.ns)); got != c.json {
			t.Errorf("%d: json %q, want %q", c.ns, got, c.json)
		}
	}
}

// TestTrackerAllocs: a connection's steady state allocates nothing per
// packet.
func TestTrackerAllocs(t *testing.T) {
	tr := NewTracker(Config{}, func(*Record) {})
	steps := hs()
	ts := t0
	for _, s := range steps {
		ts += 1e6
		p := s.packet(ts)
		tr.Add(&p)
	}
	seq, n := uint32(1001), uint32(100)
	allocs := testing.AllocsPerRun(1000, func() {
		ts += 1e6
		p := step{flags: fsm.ACK | fsm.PSH, seq: seq, ack: 5001, n: n}.packet(ts)
		tr.Add(&p)
		a := step{fromServer: R, flags: fsm.ACK, seq: 5001, ack: seq + n}.packet(ts)
		tr.Add(&a)
		seq += n
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per pair of packets", allocs)
	}
}

func BenchmarkTracker(b *testing.B) {
	tr := NewTracker(Config{}, func(*Record) {})
	ts := t0
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		// 1000 connections at a time, each a handshake, data and close.
		cport := uint16(10000 + i/8%1000)
		k := i % 8
		var s step
		switch k {
		case 0:
			s = syn
		case 1:
			s = synAck
		case 2:
			s = ack
		case 3:
			s = step{flags: fsm.ACK | fsm.PSH, seq: 1001, ack: 5001, n: 100}
		case 4:
			s = step{fromServer: R, flags: fsm.ACK | fsm.PSH, seq: 5001, ack: 1101, n: 300}
		case 5:
			s = step{flags: fsm.FIN | fsm.ACK, seq: 1101, ack: 5301}
		case 6:
			s = step{fromServer: R, flags: fsm.FIN | fsm.ACK, seq: 5301, ack: 1102}
		default:
			s = step{flags: fsm.ACK, seq: 1102, ack: 5302}
		}
		s.cport = cport
		ts += 1e3
		p := s.packet(ts)
		tr.Add(&p)
	}
	tr.Flush()
}

// TestTimersBounded: a long flood of unanswered SYNs (each ended by the
// attempt timer after 5 s, its inactivity timer due only after 60 s) keeps
// the timer heap in proportion to the connections held.
func TestTimersBounded(t *testing.T) {
	tr := NewTracker(Config{}, func(*Record) {})
	maxTimers, maxActive := 0, 0
	ts := t0
	for i := range 200000 {
		ts += 1e6 // 1000 SYNs a second for 200 s
		s := step{flags: fsm.SYN, seq: 1000, cport: uint16(1024 + i%60000), port: 80 + uint16(i/60000)}
		p := s.packet(ts)
		tr.Add(&p)
		maxTimers = max(maxTimers, len(tr.timers))
		maxActive = max(maxActive, tr.Stats().Active)
	}
	if maxTimers > 8*maxActive+2*minCompact {
		t.Errorf("%d timers for at most %d connections", maxTimers, maxActive)
	}
	if maxActive > 5100 {
		t.Errorf("%d connections held: the attempt timer should end each after 5 s", maxActive)
	}
}
