package output

import (
	"encoding/json"
	"io"
	"time"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// JSONFlow is one line of FormatJSON (the -o json schema the README
// documents); decode tcptrack's JSON output into it.
type JSONFlow struct {
	Family    string               `json:"family"` // "ipv4" or "ipv6"
	Proto     string               `json:"proto"`  // always "tcp"
	State     string               `json:"state"`  // conntrack state, e.g. "ESTABLISHED"
	Timeout   int64                `json:"timeout"`
	Unreplied bool                 `json:"unreplied"`
	Assured   bool                 `json:"assured"`
	Original  JSONTuple            `json:"original"`
	Reply     JSONTuple            `json:"reply"`
	Sockets   JSONSockets          `json:"sockets"`
	Confirmed JSONSocketsConfirmed `json:"sockets_confirmed"`
	Timers    JSONSocketTimers     `json:"socket_timers"`
	FirstSeen string               `json:"first_seen"` // RFC 3339, nanoseconds
	LastSeen  string               `json:"last_seen"`
	IdleSecs  float64              `json:"idle_seconds"`
	Zeek      *JSONZeek            `json:"zeek,omitempty"` // with summaries: the conn.log view
}

// JSONZeek is the flow as Zeek's conn.log would describe it.
type JSONZeek struct {
	UID         string  `json:"uid"`
	ConnState   string  `json:"conn_state"`
	History     string  `json:"history"`
	DurationSec float64 `json:"duration"`
	MissedBytes uint64  `json:"missed_bytes"`
}

// JSONDirSummary is one direction's health counters; unlike the conntrack
// counters it counts every segment of the flow, invalid ones too.
type JSONDirSummary struct {
	Packets      uint64   `json:"packets_seen"`
	IPBytes      uint64   `json:"ip_bytes"`
	PayloadBytes uint64   `json:"payload_bytes"`   // from sequence numbers (Zeek's orig_bytes/resp_bytes)
	Carried      uint64   `json:"payload_carried"` // payload in the segments, repeats included
	Retransmits  uint64   `json:"retransmits"`
	RetransBytes uint64   `json:"retransmitted_bytes"`
	OutOfOrder   uint64   `json:"out_of_order"`
	ZeroWindows  uint64   `json:"zero_windows"`
	DupAcks      uint64   `json:"dup_acks"`
	Gaps         uint64   `json:"gaps"`
	MissedBytes  uint64   `json:"missed_bytes"`
	Invalid      uint64   `json:"invalid"`
	RTTms        *float64 `json:"handshake_rtt_ms,omitempty"` // capture point to this side and back
}

// JSONTuple is one direction's tuple and conntrack counters.
type JSONTuple struct {
	Src     string          `json:"src"`
	Dst     string          `json:"dst"`
	Sport   uint16          `json:"sport"`
	Dport   uint16          `json:"dport"`
	Packets uint64          `json:"packets"`
	Bytes   uint64          `json:"bytes"`
	Summary *JSONDirSummary `json:"summary,omitempty"`
}

// JSONSockets are the two endpoints' socket states, as netstat on each
// host would show them: "-" unknown, "GONE" no socket any more.
type JSONSockets struct {
	Original string `json:"original"` // the endpoint that sent the first packet
	Reply    string `json:"reply"`
}

// JSONSocketsConfirmed is false for a state that rests on something the
// wire has not shown reached its host (and for "-").
type JSONSocketsConfirmed struct {
	Original bool `json:"original"`
	Reply    bool `json:"reply"`
}

// JSONSocketTimers are the seconds left on each host's own timer
// (TIME_WAIT, orphaned FIN_WAIT2, SYN_SENT's and SYN_RECV's
// retransmission), or null.
type JSONSocketTimers struct {
	Original *float64 `json:"original"`
	Reply    *float64 `json:"reply"`
}

func timerSeconds(so fsm.Socket) *float64 {
	if so.Timer == fsm.TimerNone {
		return nil
	}
	v := float64(so.Left.Milliseconds()) / 1e3
	return &v
}

// WriteJSON writes one JSON object per flow per line (the -o json schema
// the README documents); flows that have summaries get the Zeek view and
// each direction's summary too.
func WriteJSON(w io.Writer, flows Flows, now int64) error {
	// Lines go out in batches: w is often unbuffered.
	var buf []byte
	for i := range flows.Len() {
		fl, s := flows.At(i)
		j := makeJSONFlow(&fl, s, now)
		n := len(buf)
		var err error
		if buf, err = appendJSONFlow(buf, &j); err != nil {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			_, err = json.Marshal(&j) // encoding/json's own error
			return err
		}
		buf = append(buf, '\n')
		if len(buf) >= 64<<10 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		_, err := w.Write(buf)
		return err
	}
	return nil
}

func jsonSummary(s *fsm.Summary, dir fsm.Dir) *JSONDirSummary {
	d := &s.Dirs[dir]
	j := &JSONDirSummary{
		Packets: d.Packets, IPBytes: d.IPBytes, PayloadBytes: s.PayloadBytes(dir), Carried: d.PayloadBytes,
		Retransmits: d.Retransmits, RetransBytes: d.RetransBytes, OutOfOrder: d.OutOfOrder,
		ZeroWindows: d.ZeroWindows, DupAcks: d.DupAcks, Gaps: d.Gaps, MissedBytes: d.MissedBytes, Invalid: d.Invalid,
	}
	if d.HasRTT {
		ms := float64(d.RTT) / 1e6
		j.RTTms = &ms
	}
	return j
}

// makeJSONFlow is one flow's -o json object at now; s adds the Zeek view
// and each direction's summary when not nil.
func makeJSONFlow(f *flowtable.Flow, s *fsm.Summary, now int64) JSONFlow {
	k := &f.Key
	st := f.Conn.Status()
	cs, ss := f.Sockets(now)
	fam := "ipv6"
	if k.Is4 {
		fam = "ipv4"
	}
	j := JSONFlow{
		Family: fam, Proto: "tcp",
		State:     f.Conn.State().String(),
		Timeout:   f.TimeoutAt(now),
		Unreplied: !st.SeenReply(),
		Assured:   st.Assured(),
		Original: JSONTuple{Src: k.SrcAddr().String(), Dst: k.DstAddr().String(), Sport: k.SrcPort, Dport: k.DstPort,
			Packets: f.Packets[fsm.Original], Bytes: f.Bytes[fsm.Original]},
		Reply: JSONTuple{Src: k.DstAddr().String(), Dst: k.SrcAddr().String(), Sport: k.DstPort, Dport: k.SrcPort,
			Packets: f.Packets[fsm.Reply], Bytes: f.Bytes[fsm.Reply]},
		Sockets:   JSONSockets{Original: cs.State.String(), Reply: ss.State.String()},
		Confirmed: JSONSocketsConfirmed{Original: cs.Confirmed, Reply: ss.Confirmed},
		Timers:    JSONSocketTimers{Original: timerSeconds(cs), Reply: timerSeconds(ss)},
		FirstSeen: time.Unix(0, f.Start).UTC().Format(time.RFC3339Nano),
		LastSeen:  time.Unix(0, f.Last).UTC().Format(time.RFC3339Nano),
		IdleSecs:  float64(max(now-f.Last, 0)) / 1e9,
	}
	if s != nil {
		j.Original.Summary = jsonSummary(s, fsm.Original)
		j.Reply.Summary = jsonSummary(s, fsm.Reply)
		j.Zeek = &JSONZeek{
			UID:         string(appendZeekUID(nil, k, s.Start)),
			ConnState:   s.ConnState().String(),
			History:     s.History(),
			DurationSec: float64(s.Duration()) / 1e9,
			MissedBytes: s.MissedBytes(),
		}
	}
	return j
}

// JSONEvent is one event line of -e -o json: the flow's FormatJSON object
// as it stood just after the event, with what happened and when first.
type JSONEvent struct {
	Event  string `json:"event"`            // NEW, UPDATE or DESTROY, as conntrack -E
	Time   string `json:"time"`             // RFC 3339, UTC, nanoseconds
	Reason string `json:"reason,omitempty"` // DESTROY: expired, killed, reopened or evicted
	JSONFlow
}

// AppendJSONEvent appends e as one JSON object (no newline).
func AppendJSONEvent(b []byte, e *flowtable.Event) []byte {
	j := JSONEvent{Event: e.Type.String(), Time: time.Unix(0, e.TS).UTC().Format(time.RFC3339Nano),
		JSONFlow: makeJSONFlow(&e.Flow, e.Summary, e.TS)}
	if e.Type == flowtable.EventDestroy {
		j.Reason = e.Reason.String()
	}
	out, err := appendJSONEvent(b, &j)
	if err != nil { // a float encoding/json refuses: what it wrote (nothing)
		out, _ := json.Marshal(&j)
		return append(b, out...)
	}
	return out
}
