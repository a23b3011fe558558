package flowtable

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/fsm"
)

// chunkTraffic is a few hundred interleaved conversations: opened, used,
// closed, reset, left open.
func chunkTraffic() []Packet {
	var convs []*conv
	for i := range 200 {
		c := newConv(uint16(20000+i), sec+int64(i)*sec/40).handshake()
		switch i % 4 {
		case 0:
			c.add(true, fsm.ACK|fsm.PSH, 100).add(false, fsm.ACK, 0).closeFromClient()
		case 1:
			c.add(false, fsm.RST|fsm.ACK, 0)
		case 2:
			c.add(true, fsm.ACK|fsm.PSH, 10).add(false, fsm.ACK|fsm.PSH, 20)
		}
		convs = append(convs, c)
	}
	var pkts []Packet
	for _, c := range convs {
		pkts = append(pkts, c.packets...)
	}
	sortByTS(pkts)
	return pkts
}

// tableView is what a closed table and its events say, for comparison.
func tableView(res *Result, evs []string) string {
	s := fmt.Sprintf("%+v\n", res.Stats)
	for i := range res.Len() {
		f, sum := res.At(i)
		s += fmt.Sprintf("%+v\n", f)
		if sum != nil {
			s += fmt.Sprintf("  %+v\n", *sum)
		}
	}
	for _, e := range evs {
		s += e + "\n"
	}
	return s
}

// TestChunksMatchAdd: the same packets fed as chunks of any size, some put
// in after the rest of their chunk with Insert, leave the table, its events
// and its summaries exactly as Add does, packet numbers included.
func TestChunksMatchAdd(t *testing.T) {
	pkts := chunkTraffic()
	end := pkts[len(pkts)-1].TS + 200*sec
	newTable := func(shards int, evs *[]string) *Table {
		return New(Config{FSM: fsm.DefaultConfig(), Shards: shards, Acct: true, Summaries: true, OnEvents: func(es []Event) {
			for _, e := range es {
				*evs = append(*evs, fmt.Sprintf("%d %d %s %s %v %v", e.TS, e.Seq, e.Type, e.Reason, e.Flow.Key, e.Flow.Conn.State()))
			}
		}})
	}
	var wantEvs []string
	tb := newTable(1, &wantEvs)
	for i := range pkts {
		tb.Add(&pkts[i])
	}
	wres := tb.Close(end)
	want := tableView(&wres, wantEvs)

	rng := rand.New(rand.NewPCG(3, 4))
	for _, shards := range []int{1, 2, 3} {
		for _, size := range []int{1, 5, 64, len(pkts)} {
			t.Run(fmt.Sprintf("shards=%d/chunk=%d", shards, size), func(t *testing.T) {
				var evs []string
				tb := newTable(shards, &evs)
				for lo := 0; lo < len(pkts); lo += size {
					hi := min(lo+size, len(pkts))
					c := tb.NewChunk()
					// Hold one packet back and Insert it last, as the
					// fragment step does.
					late := lo + rng.IntN(hi-lo)
					for i := lo; i < hi; i++ {
						if i != late {
							c.Add(&pkts[i], uint64(i+1))
						}
					}
					c.Insert(&pkts[late], uint64(late+1))
					c.Through(pkts[hi-1].TS)
					tb.Submit(c, nil)
				}
				res := tb.Close(end)
				if got := tableView(&res, evs); got != want {
					t.Errorf("chunks differ from Add")
				}
			})
		}
	}
}

// TestSummariesHeldThenBuilt: a flow's summary read from the table, while
// it is held as its first segment and after it has been built, is the one
// Observe gives segment by segment.
func TestSummariesHeldThenBuilt(t *testing.T) {
	cfg := fsm.DefaultConfig()
	c := newConv(30000, sec).handshake().add(true, fsm.ACK|fsm.PSH, 100).add(false, fsm.ACK, 0)
	s := newShard(&cfg, 0, false)
	s.keepSums = true
	var direct fsm.Summary
	var conn fsm.Conn
	for i := range c.packets {
		p := &c.packets[i]
		dir := fsm.Original
		if p.Src != client {
			dir = fsm.Reply
		}
		if i == 0 {
			conn.Start(&cfg, &p.TCP)
		}
		r := conn.Update(&cfg, dir, &p.TCP)
		direct.Observe(dir, &p.TCP, p.IPLen, p.TS, r.Verdict)
		s.processPacket(p, uint64(i+1))
		got := s.summaries()
		if len(got) != 1 || !reflect.DeepEqual(got[0], direct) {
			t.Fatalf("after %d segments: summary\n%+v\nwant\n%+v", i+1, got, direct)
		}
		if built := s.sums.at(0).full != 0; built != (i+1 > liteSegs) {
			t.Fatalf("after %d segments: built %v", i+1, built)
		}
	}
	// Destroying the flow frees its summary for the next one.
	s.destroy(0, c.ts, 0, Expired, 0)
	if len(s.sumFree) != 1 || s.sums.at(0).full != 0 || s.sums.at(0).n != 0 {
		t.Fatalf("after destroy: free %v, slot %+v", s.sumFree, *s.sums.at(0))
	}
}

// TestOrderManyShards: with more shards than a 4-byte reference can name,
// the closed table still lists every flow once, in first-seen order.
func TestOrderManyShards(t *testing.T) {
	pkts := chunkTraffic()
	for _, shards := range []int{1, 3, 64, 65, 100} {
		tb := New(Config{FSM: fsm.DefaultConfig(), Shards: shards})
		for i := range pkts {
			tb.Add(&pkts[i])
		}
		res := tb.Close(pkts[len(pkts)-1].TS)
		if wide := res.wide != nil; wide != (shards > 64) {
			t.Fatalf("%d shards: wide references %v", shards, wide)
		}
		var last uint64
		seen := map[Key]bool{}
		for i := range res.Len() {
			f, _ := res.At(i)
			if f.ID <= last || seen[f.Key] {
				t.Fatalf("%d shards: flow %d (ID %d after %d, seen %v)", shards, i, f.ID, last, seen[f.Key])
			}
			last = f.ID
			seen[f.Key] = true
		}
		if res.Len() != int(res.Stats.Active) || res.Len() == 0 {
			t.Fatalf("%d shards: %d flows listed, %d active", shards, res.Len(), res.Stats.Active)
		}
	}
}

// TestAddIP: a packet added with its header's address bytes is filed as Add
// files it: same key, same hash, same part.
func TestAddIP(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	tb := New(Config{FSM: fsm.DefaultConfig(), Shards: 3})
	defer tb.Close(0)
	a, b := tb.NewChunk(), tb.NewChunk()
	for i := range 2000 {
		var p Packet
		var src, dst []byte
		if i%3 == 0 {
			s, d := make([]byte, 16), make([]byte, 16)
			for j := range s {
				s[j], d[j] = byte(rng.Uint32()), byte(rng.Uint32())
			}
			if i%6 == 0 {
				copy(s, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}) // v4-mapped, but an IPv6 packet
			}
			p.Src, p.Dst = netip.AddrFrom16([16]byte(s)), netip.AddrFrom16([16]byte(d))
			src, dst = s, d
		} else {
			s, d := [4]byte{10, byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())}, [4]byte{192, 168, byte(i), 1}
			p.Src, p.Dst = netip.AddrFrom4(s), netip.AddrFrom4(d)
			src, dst = s[:], d[:]
		}
		p.TCP.SrcPort, p.TCP.DstPort = uint16(rng.Uint32()), uint16(rng.Uint32())
		a.Add(&p, uint64(i+1))
		b.AddIP(&p, src, dst, uint64(i+1))
	}
	for si := range a.parts {
		if !reflect.DeepEqual(a.parts[si].items, b.parts[si].items) {
			t.Fatalf("shard %d: AddIP filed differently from Add", si)
		}
	}
	tb.Submit(a, nil)
	tb.Submit(b, nil)
}

// TestChunksReportAsTable: a table that reports packets, fed as chunks
// with AddWire and Refuse (some refused packets and some late ones put in
// after the rest of their chunk), reports every packet as one fed by
// Table.AddWire and Table.Refuse does: numbers, headers, reasons, order;
// without reports, refused packets are only counted, as Table.Refuse
// counts them.
func TestChunksReportAsTable(t *testing.T) {
	pkts := append(chunkTraffic(), packetConv()...)
	sortByTS(pkts)
	end := pkts[len(pkts)-1].TS + 200*sec
	refused := func(i int) bool { return i%9 == 4 }
	why := fsm.Reason{Code: fsm.ReasonBadChecksum}
	wire := func(i int) []byte { return []byte(fmt.Sprintf("headers of %d", i)) }
	for _, mode := range []PacketEvents{PacketsNone, PacketsNotAccepted, PacketsAll} {
		newTable := func(shards int, evs *[]string) *Table {
			return New(Config{FSM: fsm.DefaultConfig(), Shards: shards, Acct: true, Packets: mode, OnEvents: func(es []Event) {
				for _, e := range es {
					s := fmt.Sprintf("%d %d %s %v %v", e.TS, e.Seq, e.Type, e.Flow.Key, e.Flow.Conn.State())
					if p := e.Report; p != nil {
						s += fmt.Sprintf(" %d %q %s %s %q %q %q", p.Frame, p.Wire, p.Dir, p.Verdict, p.Reason.Code, p.Reason, p.Also)
					}
					*evs = append(*evs, s)
				}
			}})
		}
		var wantEvs []string
		tb := newTable(1, &wantEvs)
		for i := range pkts {
			if refused(i) {
				tb.Refuse(&pkts[i], uint64(100+i), why, wire(i))
			} else {
				tb.AddWire(&pkts[i], uint64(100+i), wire(i))
			}
		}
		wres := tb.Close(end)
		want := tableView(&wres, wantEvs)
		if mode != PacketsNone && !strings.Contains(want, "bad-checksum") {
			t.Fatalf("%v: no refusal reported:\n%s", mode, want)
		}
		if wres.Stats.Refused == 0 {
			t.Fatalf("%v: no refusal counted: %+v", mode, wres.Stats)
		}
		rng := rand.New(rand.NewPCG(5, 6))
		for _, shards := range []int{1, 2, 3} {
			for _, size := range []int{1, 7, len(pkts)} {
				t.Run(fmt.Sprintf("%v/shards=%d/chunk=%d", mode, shards, size), func(t *testing.T) {
					var evs []string
					tb := newTable(shards, &evs)
					for lo := 0; lo < len(pkts); lo += size {
						hi := min(lo+size, len(pkts))
						c := tb.NewChunk()
						late := lo + rng.IntN(hi-lo)
						put := func(i int) {
							if refused(i) {
								c.Refuse(&pkts[i], uint64(i+1), uint64(100+i), why, wire(i))
							} else {
								c.AddWire(&pkts[i], uint64(i+1), uint64(100+i), wire(i))
							}
						}
						for i := lo; i < hi; i++ {
							if i != late {
								put(i)
							}
						}
						put(late)
						c.Through(pkts[hi-1].TS)
						tb.Submit(c, nil)
					}
					res := tb.Close(end)
					if got := tableView(&res, evs); got != want {
						t.Errorf("chunks differ from AddWire/Refuse:\n%s", firstDiff(want, got))
					}
				})
			}
		}
	}
}

// firstDiff shows where two multi-line strings part.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return fmt.Sprintf("line %d\n  want %s\n  got  %s", i+1, a, b)
		}
	}
	return ""
}
