package fsm

import (
	"strings"
	"testing"
)

// sstep is one segment of a hand-written exchange. The originator's ISN is
// 1000 and the responder's 5000; seq/ack are absolute.
type sstep struct {
	dir      Dir
	flags    Flags
	seq, ack uint32
	n        uint32 // payload length
	win      uint16 // 0 means 1000 unless zeroWin
	zeroWin  bool
	at       int64 // ms since start; 0 means previous + 1
	verdict  Verdict
}

const (
	O = Original
	R = Reply
)

func runSummary(steps []sstep) *Summary {
	var s Summary
	var ts int64
	for _, st := range steps {
		if st.at != 0 {
			ts = st.at * 1e6
		} else {
			ts += 1e6
		}
		w := st.win
		if w == 0 && !st.zeroWin {
			w = 1000
		}
		seg := Segment{Flags: st.flags, Seq: st.seq, Ack: st.ack, PayloadLen: st.n, Window: w}
		s.Observe(st.dir, &seg, 40+st.n, ts, st.verdict)
	}
	return &s
}

// Handshake building blocks.
var (
	sSyn    = sstep{dir: O, flags: SYN, seq: 1000}
	sSynAck = sstep{dir: R, flags: SYN | ACK, seq: 5000, ack: 1001}
	sAck    = sstep{dir: O, flags: ACK, seq: 1001, ack: 5001}
)

func withHS(more ...sstep) []sstep { return append([]sstep{sSyn, sSynAck, sAck}, more...) }

// TestSummaryConnState covers every conn_state value. Each expectation was
// worked out by hand from Zeek's endpoint state machine and the
// conn_state function of base/protocols/conn/main.zeek.
func TestSummaryConnState(t *testing.T) {
	cases := []struct {
		name    string
		steps   []sstep
		state   string
		history string
	}{
		{"S0 lone SYN", []sstep{sSyn}, "S0", "S"},
		{"S0 SYN repeated, same ISN", []sstep{sSyn, sSyn}, "S0", "S"},
		// Zeek re-bases the sequence space on a SYN with a new ISN, so
		// its relative number is again 0: not a new S.
		{"S0 SYN repeated, new ISN", []sstep{sSyn, {dir: O, flags: SYN, seq: 7777}}, "S0", "S"},
		{"S1 handshake only", withHS(), "S1", "ShA"},
		{"S1 with data", withHS(sstep{dir: O, flags: PSH | ACK, seq: 1001, ack: 5001, n: 10}, sstep{dir: R, flags: ACK, seq: 5001, ack: 1011}), "S1", "ShADa"},
		{"SF normal close", withHS(
			sstep{dir: O, flags: PSH | ACK, seq: 1001, ack: 5001, n: 10},
			sstep{dir: R, flags: ACK, seq: 5001, ack: 1011},
			sstep{dir: R, flags: PSH | ACK, seq: 5001, ack: 1011, n: 20},
			sstep{dir: O, flags: ACK, seq: 1011, ack: 5021},
			sstep{dir: O, flags: FIN | ACK, seq: 1011, ack: 5021},
			sstep{dir: R, flags: FIN | ACK, seq: 5021, ack: 1012},
			sstep{dir: O, flags: ACK, seq: 1012, ack: 5022},
		), "SF", "ShADadFf"},
		{"REJ RST answers SYN", []sstep{sSyn, {dir: R, flags: RST | ACK, seq: 0, ack: 1001}}, "REJ", "Sr"},
		{"S2 originator closes alone", withHS(sstep{dir: O, flags: FIN | ACK, seq: 1001, ack: 5001}), "S2", "ShAF"},
		{"S3 responder closes alone", withHS(sstep{dir: R, flags: FIN | ACK, seq: 5001, ack: 1001}), "S3", "ShAf"},
		{"RSTO originator aborts", withHS(sstep{dir: O, flags: RST | ACK, seq: 1001, ack: 5001}), "RSTO", "ShAR"},
		{"RSTR responder aborts", withHS(sstep{dir: R, flags: RST | ACK, seq: 5001, ack: 1001}), "RSTR", "ShAr"},
		{"RSTOS0 SYN then own RST", []sstep{sSyn, {dir: O, flags: RST, seq: 1001}}, "RSTOS0", "SR"},
		{"RSTRH midstream then responder RST", []sstep{
			{dir: O, flags: ACK, seq: 1001, ack: 5001},
			{dir: R, flags: RST, seq: 5001},
		}, "RSTRH", "Ar"},
		{"SH SYN then FIN", []sstep{sSyn, {dir: O, flags: FIN, seq: 1001}}, "SH", "SF"},
		{"SHR midstream then responder FIN", []sstep{
			{dir: O, flags: ACK, seq: 1001, ack: 5001},
			{dir: R, flags: FIN | ACK, seq: 5001, ack: 1001},
		}, "SHR", "Af"},
		{"OTH midstream data", []sstep{
			{dir: O, flags: PSH | ACK, seq: 1001, ack: 5001, n: 5},
			{dir: R, flags: PSH | ACK, seq: 5001, ack: 1006, n: 5},
		}, "OTH", "Dd"},
		{"OTH originator RST midstream", []sstep{
			{dir: O, flags: PSH | ACK, seq: 1001, ack: 5001, n: 5},
			{dir: O, flags: RST, seq: 1006},
		}, "OTH", "DR"},
		{"REJ both reset, nothing sent", withHS(
			sstep{dir: O, flags: RST, seq: 1001},
			sstep{dir: R, flags: RST, seq: 5001},
		), "REJ", "ShARr"},
		{"SF FIN then RST from the peer", withHS(
			sstep{dir: O, flags: FIN | ACK, seq: 1001, ack: 5001},
			sstep{dir: R, flags: FIN | ACK, seq: 5001, ack: 1002},
			sstep{dir: O, flags: RST, seq: 1002},
		), "SF", "ShAFfR"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := runSummary(c.steps)
			if got := s.ConnState().String(); got != c.state {
				t.Errorf("conn_state %s, want %s (history %s)", got, c.state, s.History())
			}
			if got := s.History(); got != c.history {
				t.Errorf("history %q, want %q", got, c.history)
			}
		})
	}
	// Every value of the type is covered above.
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.state] = true
	}
	for z := ZeekOTH; z < numZeekStates; z++ {
		if !seen[z.String()] {
			t.Errorf("no case for %v", z)
		}
	}
}

// TestSummaryHistoryLetters checks the letters beyond the basic ones: the
// once-only ones (I, Q), repeats of S/F/R on new sequence numbers, and
// the logarithmic T/W/G counts.
func TestSummaryHistoryLetters(t *testing.T) {
	data := func(seq uint32, n uint32) sstep {
		return sstep{dir: O, flags: PSH | ACK, seq: seq, ack: 5001, n: n}
	}
	rexmit := func(k int) []sstep {
		out := withHS(data(1001, 100))
		for range k {
			out = append(out, data(1001, 100))
		}
		return out
	}
	zero := func(k int) []sstep {
		out := withHS()
		for range k {
			out = append(out, sstep{dir: R, flags: ACK, seq: 5001, ack: 1001, zeroWin: true})
		}
		return out
	}
	cases := []struct {
		name    string
		steps   []sstep
		history string
	}{
		{"FIN+RST is I", withHS(sstep{dir: O, flags: FIN | RST | ACK, seq: 1001, ack: 5001}), "ShAI"},
		{"SYN+FIN is Q", []sstep{{dir: O, flags: SYN | FIN, seq: 1000}}, "Q"},
		{"Q and I once each", []sstep{{dir: O, flags: SYN | FIN, seq: 1000}, {dir: O, flags: SYN | RST, seq: 1000}, {dir: O, flags: FIN | RST, seq: 1002}, {dir: O, flags: FIN | RST, seq: 1002}}, "QI"},
		{"1 retransmission", rexmit(1), "ShADT"},
		{"9 retransmissions", rexmit(9), "ShADT"},
		{"10 retransmissions", rexmit(10), "ShADTT"},
		{"100 retransmissions", rexmit(100), "ShADTTT"},
		{"zero window x1", zero(1), "ShAaw"},
		{"zero window x10", zero(10), "ShAaww"},
		{"no zero window with RST", withHS(sstep{dir: R, flags: RST, seq: 5001, zeroWin: true}), "ShAr"},
		{"FIN repeated at the same place", withHS(
			sstep{dir: O, flags: FIN | ACK, seq: 1001, ack: 5001},
			sstep{dir: O, flags: FIN | ACK, seq: 1001, ack: 5001},
		), "ShAF"},
		{"FIN repeated further on", withHS(
			sstep{dir: O, flags: FIN | ACK, seq: 1001, ack: 5001},
			sstep{dir: O, flags: FIN | ACK, seq: 1001, ack: 5001, n: 5},
		), "ShAFF"},
		{"RST repeated with new seq", withHS(
			sstep{dir: R, flags: RST, seq: 5001},
			sstep{dir: R, flags: RST, seq: 5002},
		), "ShArr"},
		{"SYN-ACK repeated", []sstep{sSyn, sSynAck, sSynAck, sAck}, "ShA"},
		// After a FIN the numbers are not re-based: a new ISN shows.
		{"SYN after own FIN, new ISN", []sstep{sSyn, {dir: O, flags: FIN, seq: 1001}, {dir: O, flags: SYN, seq: 7777}}, "SFS"},
		{"gap: ACK beyond unseen data", withHS(
			data(1001, 100),
			// 1101..1200 never seen
			data(1201, 100),
			sstep{dir: R, flags: ACK, seq: 5001, ack: 1301},
		), "ShADaG"},
		{"no gap for a midstream pickup", []sstep{
			{dir: O, flags: PSH | ACK, seq: 1001, ack: 5001, n: 10},
			{dir: R, flags: ACK, seq: 5001, ack: 2000},
		}, "Da"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := runSummary(c.steps).History(); got != c.history {
				t.Errorf("history %q, want %q", got, c.history)
			}
		})
	}
}

// TestSummaryCounters checks sizes from sequence numbers, gaps, repeats,
// out-of-order arrivals, duplicate ACKs, zero windows, RTT, duration.
func TestSummaryCounters(t *testing.T) {
	d := func(seq, n uint32) sstep { return sstep{dir: O, flags: PSH | ACK, seq: seq, ack: 5001, n: n} }
	a := func(ack uint32) sstep { return sstep{dir: R, flags: ACK, seq: 5001, ack: ack} }
	steps := []sstep{
		{dir: O, flags: SYN, seq: 1000, at: 10},
		{dir: O, flags: SYN, seq: 1000, at: 20}, // retransmitted: the RTT counts from here
		{dir: R, flags: SYN | ACK, seq: 5000, ack: 1001, at: 50},
		{dir: O, flags: ACK, seq: 1001, ack: 5001, at: 53},
		d(1001, 100), // in order
		d(1201, 100), // leaves a hole 1101..1200
		d(1101, 100), // fills it: out of order
		d(1101, 100), // repeat
		d(1251, 100), // half repeat (1251..1300), half new
		a(1351),      // everything acknowledged
		a(1351),      // duplicate ACK? nothing outstanding: no
		d(1351, 100), // outstanding now
		a(1351),      // duplicate ACK
		a(1351),      // another
		d(1551, 50),  // 1451..1550 never seen
		a(1601),      // gap of 100
		{dir: R, flags: ACK, seq: 5001, ack: 1601, zeroWin: true},
		{dir: O, flags: FIN | ACK, seq: 1601, ack: 5001, at: 100},
		{dir: R, flags: FIN | ACK, seq: 5001, ack: 1602, at: 110},
		{dir: O, flags: ACK, seq: 1602, ack: 5002, at: 120, verdict: Invalid},
	}
	s := runSummary(steps)
	o, r := s.Dirs[Original], s.Dirs[Reply]
	check := func(name string, got, want any) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("orig packets", o.Packets, uint64(12))
	check("resp packets", r.Packets, uint64(8))
	check("orig payload carried", o.PayloadBytes, uint64(650))
	check("orig bytes from seq", s.PayloadBytes(Original), uint64(600))
	check("resp bytes from seq", s.PayloadBytes(Reply), uint64(0))
	check("orig retransmits", o.Retransmits, uint64(2))
	check("orig retransmitted bytes", o.RetransBytes, uint64(150))
	check("orig out of order", o.OutOfOrder, uint64(1))
	check("resp dup ACKs", r.DupAcks, uint64(2))
	check("orig gaps", o.Gaps, uint64(1))
	check("missed bytes", s.MissedBytes(), uint64(100))
	check("resp zero windows", r.ZeroWindows, uint64(1))
	check("orig invalid", o.Invalid, uint64(1))
	check("resp RTT", r.RTT, int64(30e6))
	check("orig RTT", o.RTT, int64(3e6))
	check("RTT known", o.HasRTT && r.HasRTT, true)
	// The final ACK comes after both FINs: not part of the duration.
	check("duration", s.Duration(), int64(100e6))
	check("state", s.ConnState().String(), "SF")
	// Zeek's T also counts the out-of-order segment.
	check("history", s.History(), "ShADTaGwFf")
}

// TestSummaryPayloadFromSeq follows Zeek's Size(): the highest of the last
// sequence sent and the last acknowledged, less SYN and FIN; a midstream
// side is numbered as though a SYN preceded its first packet.
func TestSummaryPayloadFromSeq(t *testing.T) {
	cases := []struct {
		name       string
		steps      []sstep
		orig, resp uint64
	}{
		{"handshake only", withHS(), 0, 0},
		{"acked beyond what was seen", withHS(sstep{dir: R, flags: ACK, seq: 5001, ack: 1501}), 500, 0},
		{"midstream", []sstep{
			{dir: O, flags: PSH | ACK, seq: 90001, ack: 70001, n: 300},
			{dir: R, flags: PSH | ACK, seq: 70001, ack: 90301, n: 20},
		}, 300, 20},
		{"aborted half-open SYN", []sstep{sSyn, {dir: O, flags: RST | ACK, seq: 1001, ack: 999999}}, 0, 0},
		{"wraps around 2^32", []sstep{
			{dir: O, flags: SYN, seq: 0xffffff00},
			{dir: R, flags: SYN | ACK, seq: 5000, ack: 0xffffff01},
			{dir: O, flags: ACK | PSH, seq: 0xffffff01, ack: 5001, n: 0x200},
			{dir: R, flags: ACK, seq: 5001, ack: 0x101},
		}, 0x200, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := runSummary(c.steps)
			if o, r := s.PayloadBytes(Original), s.PayloadBytes(Reply); o != c.orig || r != c.resp {
				t.Errorf("bytes %d/%d, want %d/%d (history %s)", o, r, c.orig, c.resp, s.History())
			}
		})
	}
}

func TestSummaryHistoryBounded(t *testing.T) {
	// FINs at ever new places each add an F.
	steps := []sstep{sSyn}
	for i := range 200 {
		steps = append(steps, sstep{dir: O, flags: FIN | ACK, seq: uint32(1001 + i*7), ack: 5001})
	}
	h := runSummary(steps).History()
	if len(h) != histCap || h[0] != 'S' || strings.Trim(h[1:], "F") != "" {
		t.Errorf("history %q: want S and %d F", h, histCap-1)
	}
}

func TestZeekStateNames(t *testing.T) {
	for z := ZeekOTH; z < numZeekStates; z++ {
		if z.String() == "?" || z.String() == "" {
			t.Errorf("state %d has no name", z)
		}
	}
	if ZeekState(200).String() != "?" {
		t.Errorf("out of range state named")
	}
}

// TestObserveAllocs keeps the per-packet path allocation-free.
func TestObserveAllocs(t *testing.T) {
	segs, dirs := benchFlow()
	var s Summary
	n := testing.AllocsPerRun(100, func() {
		s = Summary{}
		for i := range segs {
			s.Observe(dirs[i], &segs[i], 1500, int64(i), Accept)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per connection, want 0", n)
	}
}

func BenchmarkObserve(b *testing.B) {
	segs, dirs := benchFlow()
	b.ReportAllocs()
	b.ResetTimer()
	var s Summary
	for n := 0; n < b.N; n++ {
		s = Summary{}
		for i := range segs {
			s.Observe(dirs[i], &segs[i], 1500, int64(i), Accept)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(segs)), "ns/pkt")
}
