package flowtable

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/tcptrack/tcptrack/fsm"
)

// BenchmarkTableLarge is the table's hot path where it matters: a table
// far bigger than the CPU caches (256 Ki established flows, ~40 MiB), each
// packet for a random one of them, through Add, the batch hand-off and the
// shard goroutines. Per-packet cost here is dominated by cache misses on
// the index and the flow; it needs only New, Add and Close so that older
// revisions can run it too (benchstat).
func BenchmarkTableLarge(b *testing.B) {
	const flows = 1 << 18
	pkts := make([]Packet, flows)
	for i := range pkts {
		p := &pkts[i]
		p.Src = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		p.Dst = server
		p.IPLen = 40
		p.TCP = fsm.Segment{SrcPort: 40000, DstPort: 80, Flags: fsm.ACK, Window: 65535, Seq: 1, Ack: 1}
	}
	for _, shards := range []int{1, 2} {
		b.Run(map[int]string{1: "shards=1", 2: "shards=2"}[shards], func(b *testing.B) {
			tb := New(Config{FSM: fsm.DefaultConfig(), Shards: shards})
			ts := sec
			for i := range pkts { // mid-stream pickups: every flow exists
				pkts[i].TS = ts
				tb.Add(&pkts[i])
			}
			rng := rand.New(rand.NewPCG(1, 2))
			order := make([]uint32, 1<<16)
			for i := range order {
				order[i] = uint32(rng.IntN(flows))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p := &pkts[order[i&(len(order)-1)]]
				p.TS = ts + int64(i)
				tb.Add(p)
			}
			b.StopTimer()
			tb.Close(ts + int64(b.N))
		})
	}
}
