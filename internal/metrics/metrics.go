// Package metrics serves tcptrack's state as Prometheus metrics. Nothing is
// counted per packet here: at each scrape the Collector asks its Source for
// a Sample (counters the tracker keeps anyway and a census of the table) and
// turns it into metrics.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sample is everything one scrape reports.
type Sample struct {
	Flows     []FlowCount     // live flows by conntrack state and flags
	Endpoints []EndpointCount // endpoints by socket state
	Packets   []Count         // frames captured, by what the decoder made of them
	Segments  []Count         // TCP segments, by the tracker's verdict
	Removed   []Count         // flows that left the table, by reason

	FlowsCreated     uint64
	CaptureReceived  uint64 // libpcap: packets the kernel handed over
	CaptureDropped   uint64 // libpcap: dropped by the kernel, buffer full
	CaptureIfDropped uint64 // libpcap: dropped by the interface
	CaptureBytes     uint64 // bytes on the wire of the frames captured
	TableFlows       int
	TableLimit       int       // 0: no limit
	FlowPackets      [2]uint64 // counted by the flows' accounting, original and reply direction
	FlowBytes        [2]uint64
}

// FlowCount is the number of flows in one state with one set of flags.
type FlowCount struct {
	State     string
	Assured   bool
	Unreplied bool
	N         int
}

// EndpointCount is the number of endpoints on one side in one socket state.
type EndpointCount struct {
	Side  string // "original" (the endpoint that sent the first packet) or "reply"
	State string
	N     int
}

// Count is one labelled counter value.
type Count struct {
	Label string
	N     uint64
}

// Source takes a sample; it must return by ctx's deadline.
type Source func(ctx context.Context) (*Sample, error)

// Collector is a prometheus.Collector over a Source.
type Collector struct {
	src     Source
	timeout time.Duration

	flows, endpoints, packets, segments, removed, created *prometheus.Desc
	capReceived, capDropped, capBytes                     *prometheus.Desc
	tableFlows, tableLimit, flowPackets, flowBytes        *prometheus.Desc
}

// NewCollector returns a Collector asking src, waiting at most timeout.
func NewCollector(src Source, timeout time.Duration) *Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("tcptrack_"+name, help, labels, nil)
	}
	return &Collector{
		src: src, timeout: timeout,
		flows:       d("flows", "Flows in the table by conntrack state; assured and unreplied are conntrack's [ASSURED] and [UNREPLIED].", "state", "assured", "unreplied"),
		endpoints:   d("endpoints", "Endpoints of the flows in the table by inferred socket state; side original is the endpoint that sent the first packet.", "side", "state"),
		packets:     d("packets_total", "Frames captured, by what the decoder made of them.", "kind"),
		segments:    d("tcp_segments_total", "TCP segments handed to the tracker, by its verdict.", "verdict"),
		removed:     d("flows_removed_total", "Flows that left the table, by reason.", "reason"),
		created:     d("flows_created_total", "Flows created."),
		capReceived: d("capture_received_packets_total", "Packets the kernel handed to the capture (libpcap's ps_recv)."),
		capDropped:  d("capture_dropped_packets_total", "Packets lost to the capture: by the kernel (buffer full) or the interface (libpcap's ps_drop, ps_ifdrop).", "where"),
		capBytes:    d("capture_bytes_total", "Bytes on the wire of the frames captured."),
		tableFlows:  d("table_flows", "Flows in the table."),
		tableLimit:  d("table_max_flows", "The table's size limit (--max-flows; 0: none)."),
		flowPackets: d("flow_packets_total", "Packets counted by conntrack-style accounting (accepted by the tracker), by direction.", "direction"),
		flowBytes:   d("flow_bytes_total", "IP bytes counted by conntrack-style accounting, by direction.", "direction"),
	}
}

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.flows, c.endpoints, c.packets, c.segments, c.removed, c.created,
		c.capReceived, c.capDropped, c.capBytes, c.tableFlows, c.tableLimit, c.flowPackets, c.flowBytes} {
		ch <- d
	}
}

// Collect takes a sample and sends its metrics; when the source does not
// answer, the scrape reports the error.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	s, err := c.src(ctx)
	if err == nil && s == nil {
		err = errors.New("no sample")
	}
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.flows, err)
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, f := range s.Flows {
		gauge(c.flows, float64(f.N), f.State, boolLabel(f.Assured), boolLabel(f.Unreplied))
	}
	for _, e := range s.Endpoints {
		gauge(c.endpoints, float64(e.N), e.Side, e.State)
	}
	for _, p := range s.Packets {
		counter(c.packets, p.N, p.Label)
	}
	for _, p := range s.Segments {
		counter(c.segments, p.N, p.Label)
	}
	for _, p := range s.Removed {
		counter(c.removed, p.N, p.Label)
	}
	counter(c.created, s.FlowsCreated)
	counter(c.capReceived, s.CaptureReceived)
	counter(c.capDropped, s.CaptureDropped, "kernel")
	counter(c.capDropped, s.CaptureIfDropped, "interface")
	counter(c.capBytes, s.CaptureBytes)
	gauge(c.tableFlows, float64(s.TableFlows))
	gauge(c.tableLimit, float64(s.TableLimit))
	for d, name := range []string{"original", "reply"} {
		counter(c.flowPackets, s.FlowPackets[d], name)
		counter(c.flowBytes, s.FlowBytes[d], name)
	}
}

func boolLabel(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// Handler serves /metrics: tcptrack's metrics and the Go runtime's and
// process's standard ones.
func Handler(src Source, timeout time.Duration) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(src, timeout),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<html><body><a href="/metrics">/metrics</a></body></html>`))
	})
	return mux
}
