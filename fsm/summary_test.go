package fsm

import (
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
