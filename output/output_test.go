package output_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
	"github.com/tcptrack/tcptrack/internal/testutil"
	"github.com/tcptrack/tcptrack/output"
)

// replay tracks the shipped sample through the library alone (assemble,
// flowtable) and returns the closed table, the events and the instant it
// was taken, as tcptrack read does.
func replay(t *testing.T) (flowtable.Result, []flowtable.Event, int64) {
	t.Helper()
	rd, err := assemble.Open(filepath.Join(testutil.Root(t), "testdata", "pcaps", "sample.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var events []flowtable.Event
	hosts := fsm.DefaultHostConfig()
	table := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), Shards: 2, Acct: true, Summaries: true, Hosts: &hosts,
		OnEvents: func(evs []flowtable.Event) { events = append(events, evs...) }})
	pl := assemble.NewPipeline(table, assemble.DecoderConfig{})
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pl.Add(&rec)
	}
	return table.Close(pl.Now()), events, pl.Now()
}

// golden reads one of tcptrack read's golden files: the library must
// print what the command prints.
func golden(t *testing.T, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{testutil.Root(t), "cmd", "tcptrack", "testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func same(t *testing.T, what string, want, got []byte) {
	t.Helper()
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from tcptrack read's:\n%s", what, testutil.LineDiff(string(want), string(got)))
	}
}

// TestWriteMatchesRead: every format written through the library over the
// sample is byte for byte what tcptrack read prints for it.
func TestWriteMatchesRead(t *testing.T) {
	res, _, now := replay(t)
	for _, tc := range []struct {
		golden []string
		opts   output.Options
	}{
		{[]string{"golden", "conntrack.txt"}, output.Options{Format: output.FormatConntrack}},
		{[]string{"golden", "conntrack-acct-extended.txt"}, output.Options{Line: output.LineOptions{Acct: true, Extended: true}}},
		{[]string{"golden", "table.txt"}, output.Options{Format: output.FormatTable}},
		{[]string{"golden", "json.txt"}, output.Options{Format: output.FormatJSON}},
	} {
		var b bytes.Buffer
		if err := output.Write(&b, &res, now, tc.opts); err != nil {
			t.Fatal(err)
		}
		same(t, tc.opts.Format.String()+" ("+tc.golden[1]+")", golden(t, tc.golden...), b.Bytes())
	}
}

// TestFlowSlice: a snapshot's copies print like the closed table.
func TestFlowSlice(t *testing.T) {
	res, _, now := replay(t)
	var a, b bytes.Buffer
	output.WriteConntrack(&a, &res, now, output.LineOptions{Acct: true})
	output.WriteConntrack(&b, output.FlowSlice{Flows: res.Flows()}, now, output.LineOptions{Acct: true})
	same(t, "FlowSlice", a.Bytes(), b.Bytes())
	if s := (output.FlowSlice{Flows: res.Flows(), Summaries: res.Summaries()}); s.Len() != res.Len() {
		t.Errorf("Len %d, want %d", s.Len(), res.Len())
	} else if _, sum := s.At(0); sum == nil {
		t.Error("At: no summary")
	}
}

func TestFormats(t *testing.T) {
	for f := range output.Format(4) {
		g, ok := output.ParseFormat(f.String())
		if !ok || g != f {
			t.Errorf("ParseFormat(%q) = %v, %v", f.String(), g, ok)
		}
	}
	if _, ok := output.ParseFormat("xml"); ok || output.Format(99).String() != "?" {
		t.Error("unknown formats")
	}
	if output.FormatConntrack.NeedsSummaries() || output.FormatTable.NeedsSummaries() || !output.FormatJSON.NeedsSummaries() {
		t.Error("NeedsSummaries")
	}
}
