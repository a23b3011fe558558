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
