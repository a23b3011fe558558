package flowtable

import (
	"math/rand/v2"
	"testing"

	"github.com/tcptrack/tcptrack/fsm"
)

// TestShardSummaries follows summaries through a flow's life: fed every
// segment (invalid ones too), handed out with DESTROY events (killed,
// reopened, expired) and for the flows still live.
func TestShardSummaries(t *testing.T) {
	cfg := fsm.DefaultConfig()
	s := newShard(&cfg, 0, true)
	s.keepSums = true

	// 1: complete exchange, then an out-of-window packet (invalid for
	// conntrack, seen by the summary), then reopened by a new SYN.
	a := newConv(40001, sec).handshake().add(true, fsm.ACK|fsm.PSH, 100).add(false, fsm.ACK, 0).closeFromClient()
	bogus := a.packets[3]
	bogus.TS = a.ts
	bogus.TCP.Seq += 1 << 30
	a.ts += a.stepTime
	a.packets = append(a.packets, bogus)
	a.cseq += 100000
	a.add(true, fsm.SYN, 0)
	// 2: refused: RST before any reply kills the flow at once.
	b := newConv(40002, 2*sec).add(true, fsm.SYN, 0).add(false, fsm.RST|fsm.ACK, 0)
	// 3: left open: still live at the end.
	c := newConv(40003, 3*sec).handshake()

	var pkts []Packet
	for _, cv := range []*conv{a, b, c} {
		pkts = append(pkts, cv.packets...)
	}
	sortByTS(pkts)
	for i := range pkts {
		p := &pkts[i]
		s.processPacket(p, uint64(i+1))
	}
	if n := len(s.summaries()); n != s.len() {
		t.Fatalf("%d summaries for %d live flows", n, s.len())
	}
	// Past SYN_SENT's 120 s, well within ESTABLISHED's 5 days.
	live := s.finish(200 * sec)
	sums := s.summaries()
	evs := s.takeEvents(nil)

	byPort := map[uint16][]*fsm.Summary{}
	for i := range evs {
		e := &evs[i]
		if (e.Type == EventDestroy) != (e.Summary != nil) {
			t.Errorf("%v event: summary %v", e.Type, e.Summary != nil)
		}
		if e.Summary != nil {
			byPort[e.Flow.Key.SrcPort] = append(byPort[e.Flow.Key.SrcPort], e.Summary)
		}
	}
	if len(live) != 1 || len(sums) != 1 || live[0].Key.SrcPort != 40003 {
		t.Fatalf("live flows %v, summaries %d: want 40003", live, len(sums))
	}
	check := func(name string, s *fsm.Summary, pkts [2]uint64, state, hist string) {
		t.Helper()
		got := [2]uint64{s.Dirs[fsm.Original].Packets, s.Dirs[fsm.Reply].Packets}
		if got != pkts || s.ConnState().String() != state || s.History() != hist {
			t.Errorf("%s: packets %v %s %q, want %v %s %q", name, got, s.ConnState(), s.History(), pkts, state, hist)
		}
	}
	if len(byPort[40001]) != 2 || len(byPort[40002]) != 1 || len(byPort[40003]) != 0 {
		t.Fatalf("destroyed summaries per port: %d %d %d", len(byPort[40001]), len(byPort[40002]), len(byPort[40003]))
	}
	// The bogus segment is counted (6 from the client, 1 of them invalid);
	// the reopening SYN belongs to the new flow.
	check("reopened", byPort[40001][0], [2]uint64{6, 3}, "SF", "ShADaFf")
	if n := byPort[40001][0].Dirs[fsm.Original].Invalid; n != 1 {
		t.Errorf("reopened: %d invalid, want 1", n)
	}
	check("expired after reopen", byPort[40001][1], [2]uint64{1, 0}, "S0", "S")
	check("killed", byPort[40002][0], [2]uint64{1, 1}, "REJ", "Sr")
	check("live", &sums[0], [2]uint64{2, 1}, "S1", "ShA")
}

// TestTableSummaries checks that Close and SnapshotSummaries return
// summaries parallel to the flows, whatever the shard count, and that
// without Config.Summaries nothing is kept.
func TestTableSummaries(t *testing.T) {
	var pkts []Packet
	for i := 0; i < 50; i++ {
		c := newConv(uint16(41000+i), sec+int64(i)*sec/50).handshake()
		for j := 0; j <= i%5; j++ {
			c.add(true, fsm.ACK|fsm.PSH, 10)
		}
		pkts = append(pkts, c.packets...)
	}
	sortByTS(pkts)
	for _, keep := range []bool{false, true} {
		for _, shards := range []int{1, 3} {
			var destroyed int
			tb := New(Config{FSM: fsm.DefaultConfig(), Shards: shards, Summaries: keep, Acct: true, OnEvents: func(evs []Event) {
				for i := range evs {
					if evs[i].Summary != nil {
						destroyed++
					}
				}
			}})
			for i := range pkts {
				tb.Add(&pkts[i])
			}
			flows, sums := tb.SnapshotSummaries(pkts[len(pkts)-1].TS)
			if keep && len(sums) != len(flows) || !keep && sums != nil {
				t.Fatalf("keep=%v shards=%d: snapshot %d flows %d summaries", keep, shards, len(flows), len(sums))
			}
			res := tb.Close(pkts[len(pkts)-1].TS)
			if !keep {
				if res.Summaries() != nil || destroyed != 0 {
					t.Errorf("summaries kept without Config.Summaries")
				}
				continue
			}
			if len(res.Summaries()) != res.Len() || res.Len() != 50 {
				t.Fatalf("shards=%d: %d flows, %d summaries", shards, res.Len(), len(res.Summaries()))
			}
			for i := range res.Len() {
				f, s := res.At(i)
				data := uint64(f.Key.SrcPort-41000)%5 + 1
				if s.Start != f.Start || s.Dirs[fsm.Original].Packets != 2+data || s.PayloadBytes(fsm.Original) != 10*data {
					t.Errorf("shards=%d flow %d: summary %+v does not match flow", shards, f.Key.SrcPort, s.Dirs[fsm.Original])
				}
			}
		}
	}
}

// BenchmarkShardProcessSummaries is the hot path with summaries kept: it
// must not allocate either.
func BenchmarkShardProcessSummaries(b *testing.B) {
	cfg := fsm.DefaultConfig()
	s := newShard(&cfg, 0, false)
	s.keepSums = true
	benchShard(b, s)
}

// TestSortFlowsWithSummaries: the in-place permutation keeps each summary
// with its flow.
func TestSortFlowsWithSummaries(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 2, 7, 100} {
		ids := rng.Perm(n)
		flows := make([]Flow, n)
		sums := make([]fsm.Summary, n)
		for i, id := range ids {
			flows[i].ID = uint64(id)
			sums[i].Start = int64(id)
		}
		sortFlows(flows, sums)
		for i := range flows {
			if flows[i].ID != uint64(i) || sums[i].Start != int64(i) {
				t.Fatalf("n=%d: position %d holds flow %d, summary %d", n, i, flows[i].ID, sums[i].Start)
			}
		}
	}
}
