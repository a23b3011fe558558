package main

// What takes live past one terminal: IPFIX export (ipfix.go), Prometheus
// metrics (--metrics) and AF_PACKET fanout (--fanout, live_fanout.go).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
	"github.com/tcptrack/tcptrack/internal/metrics"
	"github.com/tcptrack/tcptrack/output"
)

const scaleUsage = `Scaling out (see README "Scaling out"):
      --metrics ADDR       serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9477, :9477)
      --fanout ID          join AF_PACKET fanout group ID (0-65535) in hash mode: processes on the
                           same interface with the same ID share its connections, each connection
                           wholly in one of them
`

// scaleFlags are live's flags for export, metrics and fanout.
type scaleFlags struct {
	ipfixFlags
	metricsAddr string
	fanout      int // -1: none
}

func addScaleFlags(fs *flag.FlagSet, o *scaleFlags) {
	addIPFIXFlags(fs, &o.ipfixFlags, true)
	fs.StringVar(&o.metricsAddr, "metrics", "", "")
	o.fanout = -1
	fs.IntVar(&o.fanout, "fanout", -1, "")
}

func (o *scaleFlags) check() error {
	if err := o.ipfixFlags.check("live"); err != nil {
		return err
	}
	if o.fanout < -1 || o.fanout > 65535 {
		return usagef("live: --fanout takes a group id 0-65535, not %d", o.fanout)
	}
	if o.metricsAddr != "" {
		if _, _, err := net.SplitHostPort(o.metricsAddr); err != nil {
			return usagef("live: --metrics %q: want HOST:PORT or :PORT", o.metricsAddr)
		}
	}
	return nil
}

// liveScale is the running export and metrics server of one capture.
type liveScale struct {
	fx   *flowExport
	srv  *http.Server
	reqs chan chan *metrics.Sample // scrapes waiting for the capture loop
	done chan struct{}             // closed when the capture loop stops answering
}

// startScale opens the IPFIX export and the metrics listener; nil when
// neither is asked for.
func startScale(o *liveOptions, stderr io.Writer) (*liveScale, error) {
	fx, err := openFlowExport(&o.ipfixFlags, true, stderr)
	if err != nil {
		return nil, err
	}
	if fx == nil && o.metricsAddr == "" {
		return nil, nil
	}
	s := &liveScale{fx: fx, reqs: make(chan chan *metrics.Sample), done: make(chan struct{})}
	if o.metricsAddr != "" {
		ln, err := net.Listen("tcp", o.metricsAddr)
		if err != nil {
			if fx != nil {
				fx.finish(output.FlowSlice{}, 0)
			}
			return nil, fmt.Errorf("--metrics: %w", err)
		}
		s.srv = &http.Server{Handler: metrics.Handler(s.sample, 5*time.Second), ReadHeaderTimeout: 5 * time.Second}
		go s.srv.Serve(ln)
		fmt.Fprintf(stderr, "tcptrack: metrics at http://%s/metrics\n", ln.Addr())
	}
	return s, nil
}

// sample is the metrics Source: the capture loop answers between packets.
func (s *liveScale) sample(ctx context.Context) (*metrics.Sample, error) {
	req := make(chan *metrics.Sample, 1)
	select {
	case s.reqs <- req:
	case <-s.done:
		return nil, errors.New("the capture has stopped")
	case <-ctx.Done():
		return nil, fmt.Errorf("the capture loop did not take the request: %w", ctx.Err())
	}
	select {
	case smp := <-req:
		return smp, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("the capture loop did not answer: %w", ctx.Err())
	}
}

// tick runs on the capture loop's periodic path: a due active-timeout scan
// and the scrapes waiting.
func (s *liveScale) tick(l *liveLoop, now int64) {
	if s.fx != nil && s.fx.due(now) {
		s.fx.activeScan(now, l.table.Snapshot(now))
	}
	for {
		select {
		case req := <-s.reqs:
			req <- l.metricsSample(now)
		default:
			return
		}
	}
}

// finish stops answering scrapes and sends the last IPFIX records.
func (s *liveScale) finish(flows output.Flows, now int64) error {
	close(s.done)
	var err error
	if s.fx != nil {
		err = s.fx.finish(flows, now)
	}
	if s.srv != nil {
		s.srv.Close()
	}
	return err
}

// metricsSample counts the table (on the shards' goroutines) and copies the
// loop's counters.
func (l *liveLoop) metricsSample(now int64) *metrics.Sample {
	c := l.table.Census(now)
	pst, _ := l.src.Stats()
	ps := l.pl.Stats()
	s := &metrics.Sample{
		FlowsCreated: c.Stats.Created, TableFlows: c.Flows, TableLimit: l.o.maxFlows,
		CaptureReceived: pst.Received, CaptureDropped: pst.Dropped, CaptureIfDropped: pst.IfDropped,
		CaptureBytes: ps.WireBytes, FlowPackets: c.Stats.Packets, FlowBytes: c.Stats.Bytes,
	}
	for st := fsm.SynSent; st.Valid(); st++ {
		for bits := range 4 {
			status := fsm.Status(bits)
			s.Flows = append(s.Flows, metrics.FlowCount{State: st.String(), N: c.ByState[st][bits],
				Assured: status&fsm.Assured != 0, Unreplied: status&fsm.SeenReply == 0})
		}
	}
	for d, side := range []string{"original", "reply"} {
		for st := fsm.SockUnknown; st.String() != "?"; st++ {
			s.Endpoints = append(s.Endpoints, metrics.EndpointCount{Side: side, State: st.String(), N: c.Sockets[d][st]})
		}
	}
	ds := &ps.Decode
	s.Packets = []metrics.Count{{Label: "tcp", N: ds.TCP + ds.Rejected}, {Label: "not_tcp", N: ds.NotTCP}, {Label: "fragment", N: ds.Fragment},
		{Label: "malformed", N: ds.Malformed}, {Label: "truncated", N: ds.Truncated}, {Label: "unsupported_link", N: ds.Unsupported}}
	ft := &c.Stats
	s.Segments = []metrics.Count{{Label: "accepted", N: ft.Accepted}, {Label: "ignored", N: ft.Ignored}, {Label: "invalid", N: ft.Invalid}, {Label: "dropped_table_full", N: ft.Dropped}}
	s.Removed = []metrics.Count{{Label: "expired", N: ft.Expired}, {Label: "killed", N: ft.Killed}, {Label: "reopened", N: ft.Reopened}, {Label: "evicted", N: ft.Evicted}}
	return s
}

// The final table's Result serves as output.Flows.
var _ output.Flows = (*flowtable.Result)(nil)
