package flowtable

import (
	"reflect"
	"testing"

	"github.com/tcptrack/tcptrack/fsm"
)

// TestDestroyEventsOnly: with the option, OnEvents gets exactly the
// DESTROY events it gets without it, in the same order.
func TestDestroyEventsOnly(t *testing.T) {
	var pkts []Packet
	for i := range 20 {
		c := newConv(uint16(20000+i), int64(i)*sec/10).handshake().add(true, fsm.ACK|fsm.PSH, 100)
		if i%2 == 0 {
			c.closeFromClient()
		} else {
			c.add(true, fsm.RST, 0)
		}
		pkts = append(pkts, c.packets...)
	}
	sortByTS(pkts)
	run := func(only bool) []Event {
		var evs []Event
		tb := New(Config{FSM: fsm.DefaultConfig(), Shards: 2, Acct: true, DestroyEventsOnly: only,
			OnEvents: func(e []Event) { evs = append(evs, e...) }})
		for i := range pkts {
			tb.Add(&pkts[i])
		}
		tb.Close(pkts[len(pkts)-1].TS + 1000*sec)
		return evs
	}
	var want []Event
	for _, e := range run(false) {
		if e.Type == EventDestroy {
			want = append(want, e)
		}
	}
	got := run(true)
	if len(want) < 20 || !reflect.DeepEqual(got, want) {
		t.Errorf("%d events with DestroyEventsOnly, want the %d DESTROY events", len(got), len(want))
	}
}
