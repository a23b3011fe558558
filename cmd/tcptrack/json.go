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
	Family    string     `json:"family"` // "ipv4" or "ipv6"
	Proto     string     `json:"proto"`  // always "tcp"
	State     string     `json:"state"`  // conntrack state, e.g. "ESTABLISHED"
	Timeout   int64      `json:"timeout"`
	Unreplied bool       `json:"unreplied"`
	Assured   bool       `json:"assured"`
	Original  jsonTuple  `json:"original"`
	Reply     jsonTuple  `json:"reply"`
	Sockets   jsonSocket `json:"sockets"`
	FirstSeen string     `json:"first_seen"` // RFC 3339, nanoseconds
	LastSeen  string     `json:"last_seen"`
	IdleSecs  float64    `json:"idle_seconds"`
}

type jsonTuple struct {
	Src     string `json:"src"`
	Dst     string `json:"dst"`
	Sport   uint16 `json:"sport"`
	Dport   uint16 `json:"dport"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

type jsonSocket struct {
	Original string `json:"original"` // the endpoint that sent the first packet
	Reply    string `json:"reply"`
}

func writeJSON(w io.Writer, flows []flowtable.Flow, now int64) error {
	enc := json.NewEncoder(w)
	for i := range flows {
		f := &flows[i]
		k := &f.Key
		st := f.Conn.Status()
		cs, ss := f.Conn.Sockets()
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
			Sockets:   jsonSocket{Original: cs.String(), Reply: ss.String()},
			FirstSeen: time.Unix(0, f.Start).UTC().Format(time.RFC3339Nano),
			LastSeen:  time.Unix(0, f.Last).UTC().Format(time.RFC3339Nano),
			IdleSecs:  float64(max(now-f.Last, 0)) / 1e9,
		}
		if err := enc.Encode(&j); err != nil {
			return err
		}
	}
	return nil
}
