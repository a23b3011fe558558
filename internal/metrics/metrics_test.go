package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	tt "github.com/tcptrack/tcptrack/internal/testutil"
)

var sample = &Sample{
	Flows: []FlowCount{
		{State: "ESTABLISHED", Assured: true, N: 12},
		{State: "SYN_SENT", Unreplied: true, N: 3},
		{State: "TIME_WAIT", Assured: true, N: 5},
	},
	Endpoints:        []EndpointCount{{Side: "original", State: "ESTABLISHED", N: 12}, {Side: "reply", State: "-", N: 3}},
	Packets:          []Count{{"tcp", 1000}, {"not_tcp", 7}},
	Segments:         []Count{{"accepted", 990}, {"invalid", 10}},
	Removed:          []Count{{"expired", 4}, {"evicted", 0}},
	FlowsCreated:     24,
	CaptureReceived:  1007,
	CaptureDropped:   2,
	CaptureBytes:     123456,
	TableFlows:       20,
	TableLimit:       4194304,
	FlowPackets:      [2]uint64{600, 390},
	FlowBytes:        [2]uint64{60000, 390000},
	CaptureIfDropped: 1,
}

func TestCollector(t *testing.T) {
	c := NewCollector(func(context.Context) (*Sample, error) { return sample, nil }, time.Second)
	want := `
# HELP tcptrack_flows Flows in the table by conntrack state; assured and unreplied are conntrack's [ASSURED] and [UNREPLIED].
# TYPE tcptrack_flows gauge
tcptrack_flows{assured="false",state="SYN_SENT",unreplied="true"} 3
tcptrack_flows{assured="true",state="ESTABLISHED",unreplied="false"} 12
tcptrack_flows{assured="true",state="TIME_WAIT",unreplied="false"} 5
# HELP tcptrack_flow_bytes_total IP bytes counted by conntrack-style accounting, by direction.
# TYPE tcptrack_flow_bytes_total counter
tcptrack_flow_bytes_total{direction="original"} 60000
tcptrack_flow_bytes_total{direction="reply"} 390000
# HELP tcptrack_capture_dropped_packets_total Packets lost to the capture: by the kernel (buffer full) or the interface (libpcap's ps_drop, ps_ifdrop).
# TYPE tcptrack_capture_dropped_packets_total counter
tcptrack_capture_dropped_packets_total{where="interface"} 1
tcptrack_capture_dropped_packets_total{where="kernel"} 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"tcptrack_flows", "tcptrack_flow_bytes_total", "tcptrack_capture_dropped_packets_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c); n != 3+2+2+2+2+1+1+2+1+1+1+2+2 {
		t.Errorf("%d metrics", n)
	}
	// The exposition passes Prometheus' own linter.
	problems, err := testutil.CollectAndLint(c)
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

// TestExposition pins the whole text a scrape of tcptrack's collector
// gives for the sample (testdata/metrics.golden): names, help, types,
// labels.
func TestExposition(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(func(context.Context) (*Sample, error) { return sample, nil }, time.Second))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	tt.Golden(t, filepath.Join("testdata", "metrics.golden"), []byte(get(t, srv.URL, 200)))
}

// TestHandler: /metrics answers in the text format, and a source that
// fails makes the scrape fail rather than report stale numbers.
func TestHandler(t *testing.T) {
	ok := httptest.NewServer(Handler(func(context.Context) (*Sample, error) { return sample, nil }, time.Second))
	defer ok.Close()
	body := get(t, ok.URL+"/metrics", 200)
	for _, want := range []string{`tcptrack_table_max_flows 4.194304e+06`, `tcptrack_flows_created_total 24`, "go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v: %s", err, out)
		}
	}
	get(t, ok.URL+"/nothing", 404)
	bad := httptest.NewServer(Handler(func(ctx context.Context) (*Sample, error) {
		<-ctx.Done()
		return nil, errors.New("capture loop did not answer")
	}, 50*time.Millisecond))
	defer bad.Close()
	if body := get(t, bad.URL+"/metrics", 500); !strings.Contains(body, "capture loop did not answer") {
		t.Errorf("failed scrape says %q", body)
	}
}

func get(t *testing.T, url string, code int) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != code {
		t.Errorf("GET %s: %d, want %d: %s", url, resp.StatusCode, code, b)
	}
	return string(b)
}
