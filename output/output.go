// Package output writes tracked flows the ways tcptrack prints them:
// conntrack -L lines and conntrack -E event lines (byte for byte
// conntrack-tools' format), a netstat-style table with each endpoint's
// socket state, JSON lines (flows and events) and CSV; the kernel's log
// lines for packets conntrack marks invalid or ignores (nf_conntrack_log_invalid
// form, text or JSON) and connection ladders (text, SVG). It works over
// flowtable's and fsm's types, knows nothing of capture files, and needs
// no cgo. (Zeek's conn.log is package zeek's: Zeek's own connection model,
// fed packets, not flows.)
package output

import (
	"io"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// Flows is an ordered set of flows, each with its summary or nil: a closed
// table's *flowtable.Result (read straight from the table's storage), or a
// FlowSlice.
type Flows interface {
	Len() int
	At(i int) (flowtable.Flow, *fsm.Summary)
}

// FlowSlice is Flows over copies, such as Table.Snapshot returns;
// Summaries, when not nil, parallels Flows.
type FlowSlice struct {
	Flows     []flowtable.Flow
	Summaries []fsm.Summary
}

// Len is the number of flows.
func (l FlowSlice) Len() int { return len(l.Flows) }

// At returns the i-th flow and its summary (nil when there are none).
func (l FlowSlice) At(i int) (flowtable.Flow, *fsm.Summary) {
	if i < len(l.Summaries) {
		return l.Flows[i], &l.Summaries[i]
	}
	return l.Flows[i], nil
}

// Format is one way of writing a list of flows.
type Format uint8

const (
	FormatConntrack Format = iota // conntrack -L lines
	FormatTable                   // the netstat-style table
	FormatJSON                    // one JSON object per flow per line
	FormatCSV                     // the table's facts as RFC 4180 CSV
	numFormats
)

var formatNames = [...]string{"conntrack", "table", "json", "csv"}

// String is the format's name as -o takes it.
func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return "?"
}

// ParseFormat reads a format name ("conntrack", "table", "json", "csv").
func ParseFormat(name string) (Format, bool) {
	for i, n := range formatNames {
		if n == name {
			return Format(i), true
		}
	}
	return 0, false
}

// NeedsSummaries reports whether the format shows each flow's fsm.Summary
// (flowtable.Config.Summaries must be set for it).
func (f Format) NeedsSummaries() bool { return f == FormatJSON }

// Options choose a format and its details.
type Options struct {
	Format  Format
	Line    LineOptions // FormatConntrack: the optional parts of each line
	Columns []Column    // FormatTable: nil for the default columns
}

// Write writes flows in o.Format, taken at capture time now (Unix ns):
// timeouts left and idle times are counted to it.
func Write(w io.Writer, flows Flows, now int64, o Options) error {
	switch o.Format {
	case FormatTable:
		return WriteTable(w, flows, now, o.Columns)
	case FormatJSON:
		return WriteJSON(w, flows, now)
	case FormatCSV:
		return WriteCSV(w, flows, now)
	}
	return WriteConntrack(w, flows, now, o.Line)
}
