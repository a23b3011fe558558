package flowtable

import (
	"fmt"
	"reflect"
	"testing"
	"unsafe"

	"github.com/tcptrack/tcptrack/fsm"
	"github.com/tcptrack/tcptrack/internal/testutil"
)

// A host pair fed one segment is held as that segment and built when read
// or when a second comes. Tables that hold pairs and tables that build
// every pair at once must hand out the same pairs, the same sockets on
// every flow and the same census.

// hostRun is what a table hands out about the hosts.
type hostRun struct {
	pairs   []HostPair
	sockets []string // per flow: both sockets at the end
	census  string
}

func runHosts(cfg fsm.Config, maxFlows, shards int, eager bool, steps []byte) hostRun {
	hcfg := fsm.DefaultHostConfig()
	tb := New(Config{FSM: cfg, MaxFlows: maxFlows, Shards: shards, BatchSize: 3, TickEvery: 1e9, Acct: true, Hosts: &hcfg})
	for _, s := range tb.shards {
		s.hosts.eager = eager
	}
	var last int64
	decodeShardSteps(steps, func(p *Packet) {
		tb.Add(p)
		last = max(last, p.TS)
	})
	census := fmt.Sprintf("%+v", tb.Census(last))
	res := tb.Close(last)
	r := hostRun{pairs: res.HostPairs(), census: census}
	for _, f := range res.Flows() {
		o, rp := f.Sockets(last)
		r.sockets = append(r.sockets, fmt.Sprintf("%v %+v %+v", f.HasHosts, o, rp))
	}
	return r
}

func diffHosts(held, eager hostRun) string {
	if len(held.pairs) != len(eager.pairs) {
		return fmt.Sprintf("%d vs %d pairs", len(held.pairs), len(eager.pairs))
	}
	for i := range held.pairs {
		if !reflect.DeepEqual(held.pairs[i], eager.pairs[i]) {
			return fmt.Sprintf("pair %d: %+v\nvs %+v", i, held.pairs[i], eager.pairs[i])
		}
	}
	if !reflect.DeepEqual(held.sockets, eager.sockets) {
		return fmt.Sprintf("sockets %v\nvs %v", held.sockets, eager.sockets)
	}
	if held.census != eager.census {
		return fmt.Sprintf("census %s\nvs %s", held.census, eager.census)
	}
	return ""
}

func TestHeldHostPairs(t *testing.T) {
	lone := step(0, false, 1, fsm.SYN, 0, 0, 64, 0)
	rst := step(2, true, 1, fsm.RST, 0, 0, 0, 0)
	tests := []struct {
		name  string
		steps []byte
	}{
		{"one SYN", join(0, lone)},
		{"lone SYN, lone RST, a handshake", join(0, append(append(lone, rst...), join(0, handshake(4)...)[1:]...))},
		{"handshakes and closes", join(0, append(handshake(1), handshake(5)...)...)},
		{"limited table", join(2, append(handshake(0), lone, rst, step(3, false, 1, fsm.FIN|fsm.ACK, 0, 0, 64, 0))...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, max := fuzzSetup(tc.steps[0])
			held := runHosts(cfg, max, 1, false, tc.steps[1:])
			if len(held.pairs) == 0 {
				t.Fatal("no host pairs: the test proves nothing")
			}
			if d := diffHosts(held, runHosts(cfg, max, 1, true, tc.steps[1:])); d != "" {
				t.Fatal(d)
			}
		})
	}
}

// TestHostEntrySize: a held pair is what keeps SYN floods small with
// sockets shown (-o json): the entry must stay far below a built pair.
func TestHostEntrySize(t *testing.T) {
	if e, h := unsafe.Sizeof(hostEntry{}), unsafe.Sizeof(fsm.Hosts{}); e > 112 || h < 3*e {
		t.Fatalf("host entry %d bytes, a built pair %d", e, h)
	}
}

func FuzzHeldHostPairs(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 {
			return
		}
		cfg, max := fuzzSetup(data[0])
		for _, shards := range []int{1, 3} {
			if d := diffHosts(runHosts(cfg, max, shards, false, data[1:]), runHosts(cfg, max, shards, true, data[1:])); d != "" {
				t.Fatalf("%d shards: %s", shards, d)
			}
		}
	})
}

// TestHeldHostPairsSeeds keeps testdata/fuzz/FuzzHeldHostPairs in step with
// shardSeeds (go test -update rewrites it).
func TestHeldHostPairsSeeds(t *testing.T) {
	testutil.SeedCorpus(t, "FuzzHeldHostPairs", shardSeeds())
}
