package flowtable

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/fsm"
)

const sec = int64(time.Second)

var (
	client = netip.MustParseAddr("10.0.0.1")
	server = netip.MustParseAddr("10.0.0.2")
)

// conv builds the packets of one conversation between client:cport and
// server:80; the helpers keep sequence numbers consistent.
type conv struct {
	cport    uint16
	cseq     uint32
	sseq     uint32
	ts       int64
	packets  []assemble.Packet
	stepTime int64
}

func newConv(cport uint16, start int64) *conv {
	return &conv{cport: cport, cseq: 1000, sseq: 5000, ts: start, stepTime: sec / 100}
}

func (c *conv) add(fromClient bool, flags fsm.Flags, payload uint32) *conv {
	p := assemble.Packet{TS: c.ts, IPLen: 40 + payload}
	p.TCP = fsm.Segment{Flags: flags, Window: 65535, PayloadLen: payload}
	if fromClient {
		p.Src, p.Dst = client, server
		p.TCP.SrcPort, p.TCP.DstPort = c.cport, 80
		p.TCP.Seq, p.TCP.Ack = c.cseq, c.sseq
	} else {
		p.Src, p.Dst = server, client
		p.TCP.SrcPort, p.TCP.DstPort = 80, c.cport
		p.TCP.Seq, p.TCP.Ack = c.sseq, c.cseq
	}
	if flags&fsm.ACK == 0 {
		p.TCP.Ack = 0
	}
	end := p.TCP.End() - p.TCP.Seq
	if fromClient {
		c.cseq += end
	} else {
		c.sseq += end
	}
	c.packets = append(c.packets, p)
	c.ts += c.stepTime
	return c
}

func (c *conv) handshake() *conv {
	return c.add(true, fsm.SYN, 0).add(false, fsm.SYN|fsm.ACK, 0).add(true, fsm.ACK, 0)
}

func (c *conv) closeFromClient() *conv {
	return c.add(true, fsm.FIN|fsm.ACK, 0).add(false, fsm.FIN|fsm.ACK, 0).add(true, fsm.ACK, 0)
}

func runShard(t *testing.T, cfg *fsm.Config, pkts []assemble.Packet, now int64) ([]Flow, []Event, Stats) {
	t.Helper()
	s := NewShard(cfg, 0, true)
	s.KeepAcct()
	for i := range pkts {
		s.processPacket(&pkts[i], uint64(i+1))
	}
	flows := s.Finish(now)
	return flows, s.TakeEvents(nil), s.Stats()
}

func TestShardLifecycle(t *testing.T) {
	cfg := fsm.DefaultConfig()
	cases := []struct {
		name      string
		pkts      []assemble.Packet
		at        int64 // seconds after the last packet
		wantState []string
		wantEv    []string
	}{
		{
			name:      "handshake then established",
			pkts:      newConv(1000, sec).handshake().add(true, fsm.ACK|fsm.PSH, 100).add(false, fsm.ACK, 0).packets,
			wantState: []string{"ESTABLISHED assured"},
			wantEv:    []string{"NEW SYN_SENT", "UPDATE SYN_RECV", "UPDATE ESTABLISHED"},
		},
		{
			name:      "close from client, TIME_WAIT expires",
			pkts:      newConv(1001, sec).handshake().closeFromClient().packets,
			at:        121,
			wantState: nil,
			wantEv:    []string{"NEW SYN_SENT", "UPDATE SYN_RECV", "UPDATE ESTABLISHED", "UPDATE FIN_WAIT", "UPDATE LAST_ACK", "UPDATE TIME_WAIT", "DESTROY expired"},
		},
		{
			name:      "refused",
			pkts:      newConv(1002, sec).add(true, fsm.SYN, 0).add(false, fsm.RST|fsm.ACK, 0).packets,
			wantState: nil,
			wantEv:    []string{"NEW SYN_SENT", "DESTROY killed"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			last := c.pkts[len(c.pkts)-1].TS
			flows, evs, st := runShard(t, &cfg, c.pkts, last+c.at*sec)
			var states []string
			for i := range flows {
				s := flows[i].Conn.State().String()
				if flows[i].Conn.Status()&fsm.Assured != 0 {
					s += " assured"
				}
				states = append(states, s)
			}
			if !reflect.DeepEqual(states, c.wantState) {
				t.Errorf("flows %v, want %v", states, c.wantState)
			}
			var got []string
			for _, e := range evs {
				s := e.Type.String() + " "
				if e.Type == EventDestroy {
					s += e.Reason.String()
				} else {
					s += e.Flow.Conn.State().String()
				}
				got = append(got, s)
			}
			if !reflect.DeepEqual(got, c.wantEv) {
				t.Errorf("events %v, want %v", got, c.wantEv)
			}
			if st.Segments != st.Accepted+st.Ignored+st.Invalid+st.Dropped {
				t.Errorf("stats do not add up: %+v", st)
			}
		})
	}
}

func TestShardCountsAndExpiryOnLookup(t *testing.T) {
	cfg := fsm.DefaultConfig()
	c := newConv(2000, sec).handshake().add(true, fsm.ACK|fsm.PSH, 100)
	flows, _, _ := runShard(t, &cfg, c.packets, c.ts)
	if len(flows) != 1 {
		t.Fatalf("want 1 flow, got %d", len(flows))
	}
	f := flows[0]
	if f.Packets != [2]uint64{3, 1} || f.Bytes != [2]uint64{40 + 40 + 140, 40} {
		t.Errorf("counters %v %v", f.Packets, f.Bytes)
	}
	// A SYN on the same tuple after the SYN_SENT timeout: a new flow.
	c2 := newConv(2001, sec).add(true, fsm.SYN, 0)
	c2.ts += 121 * sec
	c2.cseq += 99999
	c2.add(true, fsm.SYN, 0)
	flows, evs, st := runShard(t, &cfg, c2.packets, c2.ts)
	if len(flows) != 1 || flows[0].Start != c2.packets[1].TS || st.Expired != 1 || st.Created != 2 {
		t.Errorf("flows %d start %d stats %+v", len(flows), flows[0].Start, st)
	}
	if len(evs) != 3 || evs[1].Type != EventDestroy || evs[1].TS != c2.packets[0].TS+120*sec {
		t.Errorf("events %+v", evs)
	}
}

func TestEarlyDropPrefersUnassured(t *testing.T) {
	cfg := fsm.DefaultConfig()
	s := NewShard(&cfg, 3, false)
	var pkts []assemble.Packet
	pkts = append(pkts, newConv(1, sec).handshake().packets...)             // assured
	pkts = append(pkts, newConv(2, 2*sec).add(true, fsm.SYN, 0).packets...) // not assured
	pkts = append(pkts, newConv(3, 3*sec).handshake().packets...)           // assured
	pkts = append(pkts, newConv(4, 4*sec).add(true, fsm.SYN, 0).packets...) // table full: evicts port 2
	for i := range pkts {
		s.processPacket(&pkts[i], uint64(i+1))
	}
	flows := s.Finish(10 * sec)
	var ports []uint16
	for _, f := range flows {
		ports = append(ports, f.Key.SrcPort)
	}
	if st := s.Stats(); st.Evicted != 1 || len(flows) != 3 {
		t.Fatalf("evicted %d, flows %v", st.Evicted, ports)
	}
	for _, p := range ports {
		if p == 2 {
			t.Fatalf("the unassured flow survived: %v", ports)
		}
	}
}

// TestTableShardsAgree: the result and the event stream do not depend on
// the number of shards.
func TestTableShardsAgree(t *testing.T) {
	var pkts []assemble.Packet
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

func sortByTS(p []assemble.Packet) {
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
	var pkts []assemble.Packet
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

// BenchmarkShardProcess is the per-shard hot path alone.
func BenchmarkShardProcess(b *testing.B) {
	cfg := fsm.DefaultConfig()
	s := NewShard(&cfg, 0, false)
	benchShard(b, s)
}

// benchShard warms s with 1024 established conversations of 23 packets,
// then times Process over them round-robin.
func benchShard(b *testing.B, s *Shard) {
	var pkts []Segment
	var hashes []uint64
	for i := 0; i < 1024; i++ {
		c := newConv(uint16(30000+i), sec).handshake()
		for j := 0; j < 20; j++ {
			c.add(j%2 == 0, fsm.ACK|fsm.PSH, 100)
		}
		for k := range c.packets {
			pkts = append(pkts, SegmentOf(&c.packets[k]))
			hashes = append(hashes, pkts[len(pkts)-1].Key.Hash())
		}
	}
	for i := range pkts {
		s.Process(&pkts[i], uint64(i+1), hashes[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(pkts)
		s.Process(&pkts[j], uint64(i+1), hashes[j])
	}
}
