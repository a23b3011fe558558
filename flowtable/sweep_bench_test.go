package flowtable

import (
	"net/netip"
	"testing"

	"github.com/tcptrack/tcptrack/fsm"
)

// BenchmarkSweepIdle: a sweep over a table of 1 M idle established flows
// that expires nothing costs the same as over an empty one (O(expired), not
// O(table)), and one that expires a flow costs one unlink.
func BenchmarkSweepIdle(b *testing.B) {
	cfg := fsm.DefaultConfig()
	s := newShard(&cfg, 0, false)
	var p Packet
	p.TS = sec
	p.IPLen = 40
	p.TCP = fsm.Segment{Flags: fsm.ACK, Window: 1000, Seq: 1, Ack: 1}
	for i := 0; i < 1<<20; i++ {
		p.Src = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		p.Dst = server
		p.TCP.SrcPort, p.TCP.DstPort = 1000, 80
		s.processPacket(&p, uint64(i+1))
	}
	if s.len() != 1<<20 {
		b.Fatalf("table holds %d", s.len())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.sweep(2*sec + int64(i)) // nothing due: picked-up flows have 300 s
	}
	b.StopTimer()
	b.ReportMetric(float64(s.len()), "flows")
}
