package main

import (
	"encoding/json"
	"io"
	"strconv"
	"time"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// --invalid: one line per packet conntrack would mark invalid or ignore,
// the way the kernel logs it with net.netfilter.nf_conntrack_log_invalid=6:
//
//	[1795239326.236668]	#17 nf_ct_proto_6: invalid rst SRC=10.1.0.2 DST=10.2.0.2 LEN=40 … RST URGP=0
//
// the capture time, the packet's record number in the input, then the
// kernel's line from its message on (the logging box's IN=, OUT= and MAC=
// fields left out). A packet for which the kernel logs a second line (the
// timer shortened after an out-of-window FIN/RST exchange) gets two lines.

// invalidWriter prints the packet events of --invalid, as text or JSON.
type invalidWriter struct {
	w      io.Writer
	json   bool
	stamps bool
	line   []byte
	enc    *json.Encoder
}

func newInvalidWriter(w io.Writer, asJSON, stamps bool) *invalidWriter {
	iw := &invalidWriter{w: w, json: asJSON, stamps: stamps}
	if asJSON {
		iw.enc = json.NewEncoder(w)
	}
	return iw
}

// event writes e if it is a packet conntrack did not simply accept.
func (iw *invalidWriter) event(e *flowtable.Event) error {
	if e.Type != flowtable.EventPacket || e.Packet.Reason.Code == fsm.NoReason {
		return nil
	}
	if iw.json {
		return iw.enc.Encode(makeJSONInvalid(e))
	}
	for _, why := range [2]fsm.Reason{e.Packet.Reason, e.Packet.Also} {
		if why.Code == fsm.NoReason {
			continue
		}
		iw.line = appendInvalidLine(iw.line[:0], e, why, iw.stamps)
		iw.line = append(iw.line, '\n')
		if _, err := iw.w.Write(iw.line); err != nil {
			return err
		}
	}
	return nil
}

// appendInvalidLine is one text line for the packet of e and reason why.
func appendInvalidLine(b []byte, e *flowtable.Event, why fsm.Reason, stamp bool) []byte {
	if stamp {
		b = appendStamp(b, e.TS)
		b = append(b, '\t')
	}
	b = append(b, '#')
	b = strconv.AppendUint(b, e.Packet.Frame, 10)
	b = append(b, ' ')
	return appendKernelLine(b, e, why)
}

// appendKernelLine is the kernel's line: "nf_ct_proto_6: REASON SRC=…".
func appendKernelLine(b []byte, e *flowtable.Event, why fsm.Reason) []byte {
	b = append(b, "nf_ct_proto_6: "...)
	b = why.AppendText(b)
	b = append(b, ' ')
	return appendNFLogPacket(b, e)
}

// appendStamp is conntrack -E -o timestamp's "[seconds.micros]".
func appendStamp(b []byte, ts int64) []byte {
	b = append(b, '[')
	b = strconv.AppendInt(b, ts/1e9, 10)
	b = append(b, '.')
	us := (ts % 1e9) / 1e3
	for d := int64(100000); d > 1 && us < d; d /= 10 {
		b = append(b, '0')
	}
	b = strconv.AppendInt(b, us, 10)
	return append(b, ']')
}

// jsonInvalid is --invalid -o json's object (one per packet, one line);
// README documents it.
type jsonInvalid struct {
	Time    string  `json:"time"`    // RFC 3339, UTC
	TS      float64 `json:"ts"`      // Unix seconds
	Packet  uint64  `json:"packet"`  // record number in the input (1 = first)
	Verdict string  `json:"verdict"` // "invalid" or "ignore"
	Reason  string  `json:"reason"`  // short name of the kernel's message (fsm.ReasonCode)
	Message string  `json:"message"` // the kernel's message, with its bound
	Bound   *uint32 `json:"bound,omitempty"`
	Logged  bool    `json:"logged"` // false where the kernel writes no line (no pickup with --no-loose)
	// Also is the kernel's second message for the packet: the timer
	// shortened after an out-of-window FIN/RST exchange.
	Also   string `json:"also,omitempty"`
	Src    string `json:"src"`
	Dst    string `json:"dst"`
	Sport  uint16 `json:"sport"`
	Dport  uint16 `json:"dport"`
	Flags  string `json:"flags"` // as tcpdump prints them
	Seq    uint32 `json:"seq"`
	Ack    uint32 `json:"ack"`
	Window uint16 `json:"window"`
	Len    uint32 `json:"len"`    // TCP payload bytes
	IPLen  uint32 `json:"ip_len"` // the IP datagram
	// Flow is the connection as conntrack holds it after the packet
	// (absent for a packet that belongs to none).
	Flow *jsonInvalidFlow `json:"flow,omitempty"`
	Log  string           `json:"log"` // the text line's kernel part: "nf_ct_proto_6: … URGP=0 …"
}

type jsonInvalidFlow struct {
	Direction string `json:"direction"` // the packet's: "original" or "reply"
	State     string `json:"state"`
	Assured   bool   `json:"assured"`
	Unreplied bool   `json:"unreplied"`
}

func makeJSONInvalid(e *flowtable.Event) *jsonInvalid {
	p := e.Packet
	why := p.Reason
	k := &e.Flow.Key
	src, dst := k.SrcAddr(), k.DstAddr()
	if p.Dir == fsm.Reply {
		src, dst = dst, src
	}
	j := &jsonInvalid{
		Time: time.Unix(0, e.TS).UTC().Format(time.RFC3339Nano), TS: float64(e.TS/1e3) / 1e6,
		Packet: p.Frame, Verdict: p.Verdict.String(), Reason: why.Code.String(), Message: why.String(), Logged: why.Logged(),
		Src: src.String(), Dst: dst.String(), Sport: p.TCP.SrcPort, Dport: p.TCP.DstPort,
		Flags: p.TCP.Flags.String(), Seq: p.TCP.Seq, Ack: p.TCP.Ack, Window: p.TCP.Window, Len: p.TCP.PayloadLen, IPLen: p.IPLen,
		Log: string(appendKernelLine(nil, e, why)),
	}
	switch why.Code {
	case fsm.ReasonOverWindow, fsm.ReasonSeqOver, fsm.ReasonAckOver, fsm.ReasonSeqUnder, fsm.ReasonAckUnder:
		j.Bound = &why.Bound
	}
	if p.Also.Code != fsm.NoReason {
		j.Also = p.Also.String()
	}
	if e.Flow.ID != 0 {
		st := e.Flow.Conn.Status()
		j.Flow = &jsonInvalidFlow{Direction: p.Dir.String(), State: e.Flow.Conn.State().String(),
			Assured: st&fsm.Assured != 0, Unreplied: st&fsm.SeenReply == 0}
	}
	return j
}
