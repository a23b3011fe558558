package output_test

import (
	"bytes"
	"testing"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
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

// manyFlows repeats a closed table's flows n times over, readable at once
// from several goroutines, like the Result of a big table.
type manyFlows struct {
	res *flowtable.Result
	n   int
}

func (m manyFlows) Len() int { return m.n }
func (m manyFlows) At(i int) (flowtable.Flow, *fsm.Summary) {
	return m.Flow(i), nil
}
func (m manyFlows) Flow(i int) flowtable.Flow {
	f := m.res.Flow(i % m.res.Len())
	f.Key.SrcPort += uint16(i) // lines differ, so an order mistake shows
	return f
}

// onlyAt hides Flow(int) behind a method of another shape: WriteConntrack
// then formats on one goroutine.
type onlyAt struct{ manyFlows }

func (o onlyAt) Flow() {}

// TestWriteConntrackParallel: a big list formatted on every CPU is byte for
// byte the list formatted line by line.
func TestWriteConntrackParallel(t *testing.T) {
	res, _, now := replay(t)
	for _, n := range []int{2*4096 - 1, 2 * 4096, 50001} {
		var par, seq bytes.Buffer
		m := manyFlows{res: &res, n: n}
		if err := output.WriteConntrack(&par, m, now, output.LineOptions{Acct: true, Extended: true}); err != nil {
			t.Fatal(err)
		}
		if err := output.WriteConntrack(&seq, onlyAt{m}, now, output.LineOptions{Acct: true, Extended: true}); err != nil {
			t.Fatal(err)
		}
		if bytes.Count(seq.Bytes(), []byte("\n")) != n || !bytes.Equal(par.Bytes(), seq.Bytes()) {
			t.Fatalf("%d flows: formatted in parallel differs from line by line", n)
		}
	}
}
