// Package kernelcorpus is the on-disk contract between the kernel-corpus
// generator (tools/corpusgen) and the tests that replay it: the file names
// of a scenario directory and its meta.json. Both sides use these
// definitions, so they cannot drift apart.
package kernelcorpus

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The files of one scenario directory.
const (
	CaptureFile   = "capture.pcap"  // tcpdump -i any -Q in in the router
	ConntrackFile = "conntrack.txt" // conntrack -L -o extended -p tcp
	EventsFile    = "events.txt"    // conntrack -E -o timestamp -p tcp
	MetaFile      = "meta.json"     // Meta
	// InvalidLogFile holds the router's conntrack log lines for the
	// scenario (net.netfilter.nf_conntrack_log_invalid=6): one kernel
	// message per line, verbatim ("nf_ct_proto_6: REASON IN=… SRC=…"), in
	// the order logged. Absent from corpora recorded before it existed.
	InvalidLogFile = "invalid.log"
)

// The endpoint hosts' socket tables, taken right after conntrack -L, in
// the same shell: SocketsFile(host) is `ss -tanoeH` in that host's
// namespace, NetstatFile(host) `netstat -tn` (net-tools). host is one of
// Hosts.
func SocketsFile(host string) string { return "ss-" + host + ".txt" }
func NetstatFile(host string) string { return "netstat-" + host + ".txt" }

// DroppedFile lists the TCP frames an impairing bridge dropped on their
// way to the router, before the capture point (impaired scenarios only),
// one a line: "UNIXTIME SRC SPORT DST DPORT FLAGS SEQ ACK LEN" (FLAGS as
// tcpdump letters). No observer at the router saw them: a host whose last
// segment is among them did something the capture cannot show (a lost RST
// is never sent again).
const DroppedFile = "dropped-before-capture.txt"

// Hosts names the endpoint namespaces whose sockets are recorded.
var Hosts = []string{"client", "server"}

// Meta is a scenario's meta.json; field order and names are the contract.
// Times are Unix seconds with microsecond resolution (CLOCK_REALTIME, the
// clock of the capture and of conntrack -E's stamps).
type Meta struct {
	Scenario    string            `json:"scenario"`
	Description string            `json:"description"`
	Seed        int64             `json:"seed"`
	Kernel      string            `json:"kernel"`
	ListAt      float64           `json:"list_at"`     // midpoint of the conntrack -L call
	ListBefore  float64           `json:"list_before"` // just before it
	ListAfter   float64           `json:"list_after"`  // just after it
	EventsStart float64           `json:"events_start"`
	EventsStop  float64           `json:"events_stop"`
	Sysctl      map[string]string `json:"sysctl"` // the router's nf_conntrack_* settings after -L
	Expect      []string          `json:"expect"` // what the scenario should show, in prose

	// The endpoint hosts, by name (Hosts): addresses, the instants their
	// socket tables were taken and their TCP timer settings.
	HostSockets map[string]HostSnapshot `json:"hosts,omitempty"`
	// Crafted lists endpoints whose segments were crafted frames, not a
	// socket's (ADDR, or ADDR:PORT for one port of a real host): they have
	// no socket to compare with, or their socket did not send what the
	// capture shows.
	Crafted []string `json:"crafted,omitempty"`
	// KernelHZ is the kernel's CONFIG_HZ (its timer wheel's tick), 0 if
	// unknown.
	KernelHZ int `json:"kernel_hz,omitempty"`
}

// HostSnapshot is one endpoint host's part of meta.json.
type HostSnapshot struct {
	Addrs         []string          `json:"addrs"`
	SocketsBefore float64           `json:"ss_before"`
	SocketsAfter  float64           `json:"ss_after"`
	SocketsAt     float64           `json:"ss_at"` // midpoint of the ss call
	NetstatBefore float64           `json:"netstat_before"`
	NetstatAfter  float64           `json:"netstat_after"`
	NetstatAt     float64           `json:"netstat_at"`
	Sysctl        map[string]string `json:"sysctl"` // the net.ipv4.tcp_* timer settings of the namespace
}

// UnixSeconds is t as meta.json stores it: microsecond resolution, like
// the capture and conntrack -E stamps.
func UnixSeconds(t time.Time) float64 {
	return float64(t.UnixMicro()) / 1e6
}

// ReadMeta reads dir/meta.json.
func ReadMeta(dir string) (*Meta, error) {
	data, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if err != nil {
		return nil, err
	}
	var m Meta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, MetaFile), err)
	}
	return &m, nil
}

// WriteMeta writes m as dir/meta.json.
func WriteMeta(dir string, m *Meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, MetaFile), append(b, '\n'), 0o644)
}

// Dirs lists the scenario directories under root (those holding a
// meta.json), sorted.
func Dirs(root string) ([]string, error) {
	metas, err := filepath.Glob(filepath.Join(root, "*", MetaFile))
	if err != nil {
		return nil, err
	}
	dirs := make([]string, 0, len(metas))
	for _, m := range metas {
		dirs = append(dirs, filepath.Dir(m))
	}
	slices.Sort(dirs)
	return dirs, nil
}
