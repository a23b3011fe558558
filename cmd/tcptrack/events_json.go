package main

import (
	"encoding/json"
	"time"

	"github.com/tcptrack/tcptrack/flowtable"
)

// jsonEvent is one -e -o json line: the -o json object of the flow as it
// stood just after the event, with what happened and when first.
type jsonEvent struct {
	Event  string `json:"event"`            // NEW, UPDATE or DESTROY, as conntrack -E
	Time   string `json:"time"`             // RFC 3339, UTC, nanoseconds
	Reason string `json:"reason,omitempty"` // DESTROY: expired, killed, reopened or evicted
	jsonFlow
}

// appendJSONEvent appends e as one JSON object (no newline).
func appendJSONEvent(b []byte, e *flowtable.Event) []byte {
	j := jsonEvent{Event: e.Type.String(), Time: time.Unix(0, e.TS).UTC().Format(time.RFC3339Nano),
		jsonFlow: makeJSONFlow(&e.Flow, e.Summary, e.TS)}
	if e.Type == flowtable.EventDestroy {
		j.Reason = e.Reason.String()
	}
	out, _ := json.Marshal(&j) // strings and numbers only: cannot fail
	return append(b, out...)
}

// appendEventLine is an event as -e prints it: a conntrack -E line, or
// with -o json a JSON object.
func appendEventLine(b []byte, e *flowtable.Event, output string, lo lineOpts, stamps bool) []byte {
	if output == "json" {
		return appendJSONEvent(b, e)
	}
	return appendEvent(b, e, lo, stamps)
}
