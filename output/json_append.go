package output

import (
	"encoding/json"
	"math"
	"strconv"
)

// The -o json lines are written by hand, byte for byte what encoding/json
// writes for JSONFlow and JSONEvent (FuzzJSONAppend compares the two):
// reflection cost more than tracking the flows on a big table.

// errJSONFloat is returned for a float encoding/json refuses (NaN, ±Inf);
// the caller then lets encoding/json say so.
type errJSONFloat struct{}

func (errJSONFloat) Error() string { return "json: unsupported float" }

// appendJSONFlow appends j as one JSON object, as json.Marshal would.
func appendJSONFlow(b []byte, j *JSONFlow) ([]byte, error) {
	b = append(b, '{')
	b, err := appendJSONFlowFields(b, j)
	return append(b, '}'), err
}

// appendJSONEvent appends j as one JSON object, as json.Marshal would
// (the embedded flow's fields follow the event's).
func appendJSONEvent(b []byte, j *JSONEvent) ([]byte, error) {
	b = append(b, `{"event":`...)
	b = appendJSONString(b, j.Event)
	b = append(b, `,"time":`...)
	b = appendJSONString(b, j.Time)
	if j.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendJSONString(b, j.Reason)
	}
	b = append(b, ',')
	b, err := appendJSONFlowFields(b, &j.JSONFlow)
	return append(b, '}'), err
}

func appendJSONFlowFields(b []byte, j *JSONFlow) ([]byte, error) {
	var bad bool
	b = append(b, `"family":`...)
	b = appendJSONString(b, j.Family)
	b = append(b, `,"proto":`...)
	b = appendJSONString(b, j.Proto)
	b = append(b, `,"state":`...)
	b = appendJSONString(b, j.State)
	b = append(b, `,"timeout":`...)
	b = strconv.AppendInt(b, j.Timeout, 10)
	b = append(b, `,"unreplied":`...)
	b = strconv.AppendBool(b, j.Unreplied)
	b = append(b, `,"assured":`...)
	b = strconv.AppendBool(b, j.Assured)
	b = append(b, `,"original":`...)
	b = appendJSONTuple(b, &j.Original, &bad)
	b = append(b, `,"reply":`...)
	b = appendJSONTuple(b, &j.Reply, &bad)
	b = append(b, `,"sockets":{"original":`...)
	b = appendJSONString(b, j.Sockets.Original)
	b = append(b, `,"reply":`...)
	b = appendJSONString(b, j.Sockets.Reply)
	b = append(b, `},"sockets_confirmed":{"original":`...)
	b = strconv.AppendBool(b, j.Confirmed.Original)
	b = append(b, `,"reply":`...)
	b = strconv.AppendBool(b, j.Confirmed.Reply)
	b = append(b, `},"socket_timers":{"original":`...)
	b = appendJSONFloatPtr(b, j.Timers.Original, &bad)
	b = append(b, `,"reply":`...)
	b = appendJSONFloatPtr(b, j.Timers.Reply, &bad)
	b = append(b, `},"first_seen":`...)
	b = appendJSONString(b, j.FirstSeen)
	b = append(b, `,"last_seen":`...)
	b = appendJSONString(b, j.LastSeen)
	b = append(b, `,"idle_seconds":`...)
	b = appendJSONFloat(b, j.IdleSecs, &bad)
	if z := j.Zeek; z != nil {
		b = append(b, `,"zeek":{"uid":`...)
		b = appendJSONString(b, z.UID)
		b = append(b, `,"conn_state":`...)
		b = appendJSONString(b, z.ConnState)
		b = append(b, `,"history":`...)
		b = appendJSONString(b, z.History)
		b = append(b, `,"duration":`...)
		b = appendJSONFloat(b, z.DurationSec, &bad)
		b = append(b, `,"missed_bytes":`...)
		b = strconv.AppendUint(b, z.MissedBytes, 10)
		b = append(b, '}')
	}
	if bad {
		return b, errJSONFloat{}
	}
	return b, nil
}

func appendJSONTuple(b []byte, t *JSONTuple, bad *bool) []byte {
	b = append(b, `{"src":`...)
	b = appendJSONString(b, t.Src)
	b = append(b, `,"dst":`...)
	b = appendJSONString(b, t.Dst)
	b = append(b, `,"sport":`...)
	b = strconv.AppendUint(b, uint64(t.Sport), 10)
	b = append(b, `,"dport":`...)
	b = strconv.AppendUint(b, uint64(t.Dport), 10)
	b = append(b, `,"packets":`...)
	b = strconv.AppendUint(b, t.Packets, 10)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendUint(b, t.Bytes, 10)
	if s := t.Summary; s != nil {
		for _, f := range [...]struct {
			name string
			v    uint64
		}{
			{`,"summary":{"packets_seen":`, s.Packets}, {`,"ip_bytes":`, s.IPBytes},
			{`,"payload_bytes":`, s.PayloadBytes}, {`,"payload_carried":`, s.Carried},
			{`,"retransmits":`, s.Retransmits}, {`,"retransmitted_bytes":`, s.RetransBytes},
			{`,"out_of_order":`, s.OutOfOrder}, {`,"zero_windows":`, s.ZeroWindows},
			{`,"dup_acks":`, s.DupAcks}, {`,"gaps":`, s.Gaps},
			{`,"missed_bytes":`, s.MissedBytes}, {`,"invalid":`, s.Invalid},
		} {
			b = append(b, f.name...)
			b = strconv.AppendUint(b, f.v, 10)
		}
		if s.RTTms != nil {
			b = append(b, `,"handshake_rtt_ms":`...)
			b = appendJSONFloat(b, *s.RTTms, bad)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendJSONFloatPtr(b []byte, f *float64, bad *bool) []byte {
	if f == nil {
		return append(b, "null"...)
	}
	return appendJSONFloat(b, *f, bad)
}

// appendJSONFloat is encoding/json's float64 form: the shortest 'f' form,
// or 'e' (exponent unpadded) below 1e-6 and from 1e21.
func appendJSONFloat(b []byte, f float64, bad *bool) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		*bad = true
		return append(b, '0')
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONString quotes s as encoding/json does (HTML-safe). The strings
// tcptrack writes are plain ASCII; anything else goes through
// encoding/json itself.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string cannot fail
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
