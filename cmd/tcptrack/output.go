package main

import (
	"fmt"
	"io"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/output"
)

// writeFlows is the one place a list of flows becomes output: read's final
// table, live's, and every --export. Conntrack lines are followed, on
// stderr, by conntrack's "N flow entries have been shown." (nil stderr:
// not said, as for an export file).
func writeFlows(w, stderr io.Writer, flows output.Flows, now int64, o output.Options) error {
	if err := output.Write(w, flows, now, o); err != nil {
		return err
	}
	if o.Format == output.FormatConntrack && stderr != nil {
		// conntrack -L says this on stderr too; scripts read stdout only.
		fmt.Fprintf(stderr, "tcptrack %s (conntrack-style): %d flow entries have been shown.\n", version, flows.Len())
	}
	return nil
}

// outputOptions turns -o (validated when the flags were parsed), the line
// flags and --columns into output.Options.
func outputOptions(format string, lf *lineFlags, cols []output.Column) output.Options {
	f, _ := output.ParseFormat(format)
	return output.Options{Format: f, Line: lf.lineOptions(), Columns: cols}
}

// lineOptions are the line flags as output takes them.
func (f *lineFlags) lineOptions() output.LineOptions {
	return output.LineOptions{Acct: f.acct, Extended: f.extended, Timestamps: f.eventStamps}
}

// appendEventLine is an event as -e prints it: a conntrack -E line, or
// with -o json a JSON object.
func appendEventLine(b []byte, e *flowtable.Event, format string, lo output.LineOptions) []byte {
	if format == "json" {
		return output.AppendJSONEvent(b, e)
	}
	return output.AppendEvent(b, e, lo)
}
