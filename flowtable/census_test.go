package flowtable

import (
	"net/netip"
	"testing"

	"github.com/tcptrack/tcptrack/fsm"
)

// TestCensus: the counts equal what a snapshot of the same table shows,
// for one shard and several.
func TestCensus(t *testing.T) {
	for _, shards := range []int{1, 3} {
		hcfg := fsm.DefaultHostConfig()
		tb := New(Config{FSM: fsm.DefaultConfig(), Shards: shards, Acct: true, Hosts: &hcfg})
		// Some connections open, some closed, one unanswered: several
		// states and socket states at once.
		var pkts []Packet
		for i := range 30 {
			c := newConv(uint16(20000+i), int64(i)*sec/10).handshake().add(true, fsm.ACK|fsm.PSH, 100)
			switch i % 3 {
			case 1:
				c.closeFromClient()
			case 2:
				c.add(true, fsm.FIN|fsm.ACK, 0)
			}
			pkts = append(pkts, c.packets...)
		}
		pkts = append(pkts, newConv(30000, 0).add(true, fsm.SYN, 0).packets...)
		sortByTS(pkts)
		var last int64
		for i := range pkts {
			tb.Add(&pkts[i])
			last = pkts[i].TS
		}
		c := tb.Census(last)
		flows := tb.Snapshot(last)
		var want Census
		want.Flows = len(flows)
		var pk, by [2]uint64
		for _, f := range flows {
			want.ByState[f.Conn.State()][f.Conn.Status()&3]++
			o, r := f.Sockets(last)
			want.Sockets[fsm.Original][o.State]++
			want.Sockets[fsm.Reply][r.State]++
			for d := range 2 {
				pk[d] += f.Packets[d]
				by[d] += f.Bytes[d]
			}
		}
		if c.Flows != want.Flows || c.ByState != want.ByState || c.Sockets != want.Sockets {
			t.Errorf("%d shards: census %+v, snapshot says %+v", shards, c, want)
		}
		if c.Stats.Packets != pk || c.Stats.Bytes != by || c.Stats.Active != uint64(len(flows)) {
			t.Errorf("%d shards: census counters %v %v active %d, flows sum to %v %v (%d flows)",
				shards, c.Stats.Packets, c.Stats.Bytes, c.Stats.Active, pk, by, len(flows))
		}
		states := 0
		for st := range c.ByState {
			for _, n := range c.ByState[st] {
				if n > 0 {
					states++
				}
			}
		}
		if states < 3 || c.Stats.Packets[fsm.Reply] == 0 {
			t.Errorf("%d shards: the test traffic made no two-way flows: %+v", shards, c)
		}
		tb.Close(last)
	}
}

// BenchmarkCensus is what one metrics scrape costs the table: a census of
// 256 Ki established flows (one op; see ns/flow).
func BenchmarkCensus(b *testing.B) {
	const flows = 1 << 18
	for _, shards := range []int{1, 2} {
		b.Run(map[int]string{1: "shards=1", 2: "shards=2"}[shards], func(b *testing.B) {
			hcfg := fsm.DefaultHostConfig()
			tb := New(Config{FSM: fsm.DefaultConfig(), Shards: shards, Acct: true, Hosts: &hcfg})
			var p Packet
			for i := range flows {
				p = Packet{TS: sec, IPLen: 40, Src: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Dst: server,
					TCP: fsm.Segment{SrcPort: 40000, DstPort: 80, Flags: fsm.ACK, Window: 65535, Seq: 1, Ack: 1}}
				tb.Add(&p)
			}
			if c := tb.Census(sec); c.Flows != flows {
				b.Fatalf("census of %d flows, want %d", c.Flows, flows)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				tb.Census(sec)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/flows, "ns/flow")
			tb.Close(sec)
		})
	}
}
