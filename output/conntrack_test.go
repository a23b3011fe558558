package output_test

import (
	"testing"

	"github.com/tcptrack/tcptrack/output"
)

// TestEventsMatchRead: conntrack -E lines, as tcptrack read -e --acct.
func TestEventsMatchRead(t *testing.T) {
	_, events, _ := replay(t)
	var b []byte
	for i := range events {
		b = output.AppendEvent(b, &events[i], output.LineOptions{Acct: true, Timestamps: true})
		b = append(b, '\n')
	}
	same(t, "events", golden(t, "golden", "events.txt"), b)
}

// TestAppendAllocs: a line appended to a buffer with room allocates
// nothing, so events can be written on the table's goroutine as they come.
func TestAppendAllocs(t *testing.T) {
	res, events, now := replay(t)
	f, _ := res.At(0)
	buf := make([]byte, 0, 1024)
	lo := output.LineOptions{Acct: true, Extended: true, Timestamps: true}
	if n := testing.AllocsPerRun(100, func() {
		buf = output.AppendConntrack(buf[:0], &f, now, lo)
		buf = output.AppendEvent(buf[:0], &events[len(events)-1], lo)
	}); n != 0 {
		t.Errorf("%v allocations per line pair, want 0", n)
	}
}
