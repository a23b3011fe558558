package main

import (
	"encoding/json"
	"io"
	"time"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// jsonFlow is the -o json schema (one object per line); README documents it.
type jsonFlow struct {
	Family    string            `json:"family"` // "ipv4" or "ipv6"
	Proto     string            `json:"proto"`  // always "tcp"
	State     string            `json:"state"`  // conntrack state, e.g. "ESTABLISHED"
	Timeout   int64             `json:"timeout"`
	Unreplied bool              `json:"unreplied"`
	Assured   bool              `json:"assured"`
	Original  jsonTuple         `json:"original"`
	Reply     jsonTuple         `json:"reply"`
	Sockets   jsonSocket        `json:"sockets"`
	Confirmed jsonSockConfirmed `json:"sockets_confirmed"`
	Timers    jsonSockTimers    `json:"socket_timers"`
	FirstSeen string            `json:"first_seen"` // RFC 3339, nanoseconds
	LastSeen  string            `json:"last_seen"`
	IdleSecs  float64           `json:"idle_seconds"`
	Zeek      *jsonZeek         `json:"zeek,omitempty"` // with summaries: the conn.log view
}

// jsonZeek is the flow as Zeek's conn.log would describe it.
type jsonZeek struct {
	UID         string  `json:"uid"`
	ConnState   string  `json:"conn_state"`
	History     string  `json:"history"`
	DurationSec float64 `json:"duration"`
	MissedBytes uint64  `json:"missed_bytes"`
}

// jsonDirSummary is one direction's health counters; unlike the conntrack
// counters it counts every segment of the flow, invalid ones too.
type jsonDirSummary struct {
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

type jsonTuple struct {
	Src     string          `json:"src"`
	Dst     string          `json:"dst"`
	Sport   uint16          `json:"sport"`
	Dport   uint16          `json:"dport"`
	Packets uint64          `json:"packets"`
	Bytes   uint64          `json:"bytes"`
	Summary *jsonDirSummary `json:"summary,omitempty"`
}

type jsonSocket struct {
	Original string `json:"original"` // the endpoint that sent the first packet; "-" unknown, "GONE" no socket any more
	Reply    string `json:"reply"`
}

// jsonSockConfirmed: false where the state rests on something the wire has
// not shown (and for "-").
type jsonSockConfirmed struct {
	Original bool `json:"original"`
	Reply    bool `json:"reply"`
}

// jsonSockTimers: seconds left on each host's own timer (TIME_WAIT,
// orphaned FIN_WAIT2, SYN_SENT's and SYN_RECV's retransmission), or null.
type jsonSockTimers struct {
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

func writeJSON(w io.Writer, flows []flowtable.Flow, now int64) error {
	return writeJSONList(w, flowSlice{flows: flows}, now)
}

// writeJSONList adds, for flows that have summaries, the Zeek view and
// each direction's summary.
func writeJSONList(w io.Writer, flows flowList, now int64) error {
	enc := json.NewEncoder(w)
	for i := range flows.Len() {
		fl, s := flows.At(i)
		j := makeJSONFlow(&fl, s, now)
		if err := enc.Encode(&j); err != nil {
			return err
		}
	}
	return nil
}

func jsonSummary(s *fsm.Summary, dir fsm.Dir) *jsonDirSummary {
	d := &s.Dirs[dir]
	j := &jsonDirSummary{
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
func makeJSONFlow(f *flowtable.Flow, s *fsm.Summary, now int64) jsonFlow {
	k := &f.Key
	st := f.Conn.Status()
	cs, ss := f.Sockets(now)
	fam := "ipv6"
	if k.Is4 {
		fam = "ipv4"
	}
	j := jsonFlow{
		Family: fam, Proto: "tcp",
		State:     f.Conn.State().String(),
		Timeout:   f.TimeoutAt(now),
		Unreplied: st&fsm.SeenReply == 0,
		Assured:   st&fsm.Assured != 0,
		Original: jsonTuple{Src: k.SrcAddr().String(), Dst: k.DstAddr().String(), Sport: k.SrcPort, Dport: k.DstPort,
			Packets: f.Packets[fsm.Original], Bytes: f.Bytes[fsm.Original]},
		Reply: jsonTuple{Src: k.DstAddr().String(), Dst: k.SrcAddr().String(), Sport: k.DstPort, Dport: k.SrcPort,
			Packets: f.Packets[fsm.Reply], Bytes: f.Bytes[fsm.Reply]},
		Sockets:   jsonSocket{Original: cs.State.String(), Reply: ss.State.String()},
		Confirmed: jsonSockConfirmed{Original: cs.Confirmed, Reply: ss.Confirmed},
		Timers:    jsonSockTimers{Original: timerSeconds(cs), Reply: timerSeconds(ss)},
		FirstSeen: time.Unix(0, f.Start).UTC().Format(time.RFC3339Nano),
		LastSeen:  time.Unix(0, f.Last).UTC().Format(time.RFC3339Nano),
		IdleSecs:  float64(max(now-f.Last, 0)) / 1e9,
	}
	if s != nil {
		j.Original.Summary = jsonSummary(s, fsm.Original)
		j.Reply.Summary = jsonSummary(s, fsm.Reply)
		j.Zeek = &jsonZeek{
			UID:         string(appendZeekUID(nil, k, s.Start)),
			ConnState:   s.ConnState().String(),
			History:     s.History(),
			DurationSec: float64(s.Duration()) / 1e9,
			MissedBytes: s.MissedBytes(),
		}
	}
	return j
}
