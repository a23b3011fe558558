package flowtable

import (
	"reflect"
	"testing"

	"github.com/tcptrack/tcptrack/fsm"
)

func runShard(t *testing.T, cfg *fsm.Config, pkts []Packet, now int64) ([]Flow, []Event, Stats) {
	t.Helper()
	s := newShard(cfg, 0, true)
	s.keepAcct = true
	for i := range pkts {
		s.processPacket(&pkts[i], uint64(i+1))
	}
	flows := s.finish(now)
	return flows, s.takeEvents(nil), s.stats
}

func TestShardLifecycle(t *testing.T) {
	cfg := fsm.DefaultConfig()
	cases := []struct {
		name      string
		pkts      []Packet
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
	s := newShard(&cfg, 3, false)
	var pkts []Packet
	pkts = append(pkts, newConv(1, sec).handshake().packets...)             // assured
	pkts = append(pkts, newConv(2, 2*sec).add(true, fsm.SYN, 0).packets...) // not assured
	pkts = append(pkts, newConv(3, 3*sec).handshake().packets...)           // assured
	pkts = append(pkts, newConv(4, 4*sec).add(true, fsm.SYN, 0).packets...) // table full: evicts port 2
	for i := range pkts {
		s.processPacket(&pkts[i], uint64(i+1))
	}
	flows := s.finish(10 * sec)
	var ports []uint16
	for _, f := range flows {
		ports = append(ports, f.Key.SrcPort)
	}
	if st := s.stats; st.Evicted != 1 || len(flows) != 3 {
		t.Fatalf("evicted %d, flows %v", st.Evicted, ports)
	}
	for _, p := range ports {
		if p == 2 {
			t.Fatalf("the unassured flow survived: %v", ports)
		}
	}
}

// BenchmarkShardProcess is the per-shard hot path alone.
func BenchmarkShardProcess(b *testing.B) {
	cfg := fsm.DefaultConfig()
	s := newShard(&cfg, 0, false)
	benchShard(b, s)
}

// benchShard warms s with 1024 established conversations of 23 packets,
// then times Process over them round-robin.
func benchShard(b *testing.B, s *shard) {
	var pkts []segment
	var hashes []uint64
	for i := 0; i < 1024; i++ {
		c := newConv(uint16(30000+i), sec).handshake()
		for j := 0; j < 20; j++ {
			c.add(j%2 == 0, fsm.ACK|fsm.PSH, 100)
		}
		for k := range c.packets {
			pkts = append(pkts, segmentOf(&c.packets[k]))
			hashes = append(hashes, pkts[len(pkts)-1].Key.Hash())
		}
	}
	for i := range pkts {
		s.process(&pkts[i], uint64(i+1), hashes[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(pkts)
		s.process(&pkts[j], uint64(i+1), hashes[j])
	}
}
