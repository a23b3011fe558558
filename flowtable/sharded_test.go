package flowtable

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/tcptrack/tcptrack/fsm"
)

// TestTableShardsAgree: the result and the event stream do not depend on
// the number of shards.
func TestTableShardsAgree(t *testing.T) {
	var pkts []Packet
	var convs []*conv
	for i := 0; i < 300; i++ {
		convs = append(convs, newConv(uint16(10000+i), sec+int64(i)*sec/50))
	}
	// Interleave conversations in time order.
	for step := 0; step < 10; step++ {
		for i, c := range convs {
			switch {
			case step < 3:
				[]func() *conv{func() *conv { return c.add(true, fsm.SYN, 0) }, func() *conv { return c.add(false, fsm.SYN|fsm.ACK, 0) }, func() *conv { return c.add(true, fsm.ACK, 0) }}[step]()
			case step < 6 && i%3 != 0:
				c.add(step%2 == 0, fsm.ACK|fsm.PSH, 50)
			case step == 6 && i%3 == 1:
				c.add(true, fsm.FIN|fsm.ACK, 0)
			case step == 7 && i%3 == 1:
				c.add(false, fsm.FIN|fsm.ACK, 0)
			case step == 8 && i%3 == 1:
				c.add(true, fsm.ACK, 0)
			case step == 9 && i%5 == 0:
				c.add(false, fsm.RST|fsm.ACK, 0)
			}
		}
	}
	for _, c := range convs {
		pkts = append(pkts, c.packets...)
	}
	sortByTS(pkts)
	run := func(shards int) (Result, []string) {
		var evs []string
		tb := New(Config{FSM: fsm.DefaultConfig(), Shards: shards, BatchSize: 7, Acct: true, OnEvents: func(es []Event) {
			for _, e := range es {
				evs = append(evs, fmt.Sprintf("%d %s %v %s", e.TS, e.Type, e.Flow.Key.SrcPort, e.Flow.Conn.State()))
			}
		}})
		for i := range pkts {
			tb.Add(&pkts[i])
		}
		return tb.Close(pkts[len(pkts)-1].TS + 200*sec), evs
	}
	r1, e1 := run(1)
	for _, n := range []int{2, 5} {
		rn, en := run(n)
		if r1.Len() != rn.Len() || !reflect.DeepEqual(r1.Stats, rn.Stats) {
			t.Fatalf("%d shards: %d flows %+v; 1 shard: %d flows %+v", n, rn.Len(), rn.Stats, r1.Len(), r1.Stats)
		}
		for i := range r1.Len() {
			a, _ := r1.At(i)
			b, _ := rn.At(i)
			if a != b {
				t.Fatalf("%d shards: flow %d differs", n, i)
			}
		}
		if !reflect.DeepEqual(e1, en) {
			for i := range e1 {
				if e1[i] != en[i] {
					t.Fatalf("%d shards: event streams differ at %d: %q vs %q", n, i, e1[i-1:i+2], en[i-1:i+2])
				}
			}
		}
	}
	if len(e1) == 0 || r1.Stats.Expired == 0 {
		t.Fatalf("test does not exercise events/expiry: %d events, %+v", len(e1), r1.Stats)
	}
}

func sortByTS(p []Packet) {
	// insertion-stable sort without importing sort's closures twice
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j].TS < p[j-1].TS; j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

// BenchmarkTableAdd measures the producer-to-shard path per packet:
// hash, batch, hand-over, lookup and transition. It must not allocate.
func BenchmarkTableAdd(b *testing.B) {
	var pkts []Packet
	for i := 0; i < 512; i++ {
		c := newConv(uint16(20000+i), sec)
		c.handshake()
		for j := 0; j < 20; j++ {
			c.add(j%2 == 0, fsm.ACK|fsm.PSH, 100)
		}
		pkts = append(pkts, c.packets...)
	}
	tb := New(Config{FSM: fsm.DefaultConfig(), Shards: 2})
	for i := range pkts { // warm: flows exist, batches allocated
		tb.Add(&pkts[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := &pkts[3+i%(len(pkts)-3)]
		tb.Add(p)
	}
	b.StopTimer()
	tb.Close(pkts[len(pkts)-1].TS)
}
