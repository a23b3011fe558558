package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/output"
)

// TestJSONEvents: -e -o json gives one object per event, the same events
// as the conntrack -E lines (themselves judged by the kernel's conntrack -E
// in TestKernelEvents), with the flow's -o json fields, the event type and
// its time.
func TestJSONEvents(t *testing.T) {
	total := 0
	for _, dir := range corpusDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m := loadMeta(t, dir)
			flags := corpusFlags(t, m)
			pcap := filepath.Join(dir, "capture.pcap")
			lines := parseCTText(t, "-e", runTool(t, append(append([]string{"read", "-e", "--acct"}, flags...), pcap)...))
			out := runTool(t, append(append([]string{"read", "-e", "-o", "json"}, flags...), pcap)...)
			var events []output.JSONEvent
			var final []output.JSONFlow
			sc := bufio.NewScanner(bytes.NewReader(out))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var ev output.JSONEvent
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Fatalf("not one JSON object: %q: %v", sc.Text(), err)
				}
				if ev.Event == "" {
					final = append(final, ev.JSONFlow) // -o given: the final table follows
					continue
				}
				events = append(events, ev)
			}
			if len(events) != len(lines) {
				t.Fatalf("%d JSON events, %d conntrack -E lines", len(events), len(lines))
			}
			total += len(events)
			for i, ev := range events {
				l := lines[i]
				tuple := fmt.Sprintf("%s %s %d %d", ev.Original.Src, ev.Original.Dst, ev.Original.Sport, ev.Original.Dport)
				ts, err := time.Parse(time.RFC3339Nano, ev.Time)
				switch {
				case err != nil:
					t.Errorf("event %d: time %q: %v", i, ev.Time, err)
				case ev.Event != l.event || tuple != l.orig || ev.Unreplied != l.unreplied || ev.Assured != l.assured:
					t.Errorf("event %d: JSON %s %s unreplied=%v assured=%v; line %v", i, ev.Event, tuple, ev.Unreplied, ev.Assured, l)
				case l.state != "" && ev.State != l.state:
					t.Errorf("event %d: JSON state %s; line %v", i, ev.State, l)
				case float64(ts.UnixMicro())/1e6-l.ts > 1e-6 || l.ts-float64(ts.UnixMicro())/1e6 > 1e-6:
					t.Errorf("event %d: JSON time %s; line %v", i, ev.Time, l)
				case ev.Event == "DESTROY" && (ev.Reason == "" ||
					[2][2]int64{{int64(ev.Original.Packets), int64(ev.Original.Bytes)}, {int64(ev.Reply.Packets), int64(ev.Reply.Bytes)}} != l.counters):
					t.Errorf("event %d: DESTROY reason %q counters %d/%d %d/%d; line %v", i, ev.Reason,
						ev.Original.Packets, ev.Original.Bytes, ev.Reply.Packets, ev.Reply.Bytes, l)
				case ev.Event != "DESTROY" && ev.Reason != "":
					t.Errorf("event %d: %s with a reason %q", i, ev.Event, ev.Reason)
				}
			}
			if !strings.Contains(string(out), `"sockets":{"original":`) {
				t.Error("no socket states in the JSON events")
			}
		})
	}
	if total < 500 {
		t.Errorf("only %d events in the whole corpus", total)
	}
}
