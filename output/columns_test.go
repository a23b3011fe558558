package output_test

import (
	"testing"

	"github.com/tcptrack/tcptrack/fsm"
	"github.com/tcptrack/tcptrack/output"
)

func TestParseColumns(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		n       int
		sums    bool
		wantErr bool
	}{
		{"", 10, false, false},
		{"default", 10, false, false},
		{"+rtt", 11, true, false},
		{"client,server", 2, false, false},
		{"all", 24, true, false},
		{"bogus", 0, false, true},
		{",", 0, false, true},
	} {
		cols, err := output.ParseColumns(tc.spec)
		if (err != nil) != tc.wantErr || len(cols) != tc.n || output.ColumnsNeedSummaries(cols) != tc.sums {
			t.Errorf("ParseColumns(%q): %d columns, summaries %v, error %v", tc.spec, len(cols), output.ColumnsNeedSummaries(cols), err)
		}
	}
}

func TestStatusFlag(t *testing.T) {
	for st, want := range map[fsm.Status]string{0: "UNREPLIED", fsm.SeenReply: "-", fsm.SeenReply | fsm.Assured: "ASSURED"} {
		if got := output.StatusFlag(st); got != want {
			t.Errorf("StatusFlag(%v) = %q, want %q", st, got, want)
		}
	}
}
