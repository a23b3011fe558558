package output

import (
	"encoding/json"
	"io"
	"strconv"
	"time"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// tcptrack's --invalid: one line per packet conntrack would mark invalid or ignore,
// the way the kernel logs it with net.netfilter.nf_conntrack_log_invalid=6:
//
//	[1795239326.236668]	#17 nf_ct_proto_6: invalid rst SRC=10.1.0.2 DST=10.2.0.2 LEN=40 … RST URGP=0
//
// the capture time, the packet's record number in the input, then the
// kernel's line from its message on (the logging box's IN=, OUT= and MAC=
// fields left out). A packet for which the kernel logs a second line (the
// timer shortened after an out-of-window FIN/RST exchange) gets two lines.

// InvalidWriter writes the packets conntrack marks invalid or ignores
// (the flowtable's EventPacket events with a reason), as the kernel's log
// lines or as JSON objects, one per line.
type InvalidWriter struct {
	w      io.Writer
	json   bool
	stamps bool
	line   []byte
	enc    *json.Encoder
}

// NewInvalidWriter writes to w: text lines (stamps: capture time first, as
// conntrack -E -o timestamp) or, asJSON, JSONInvalid objects.
func NewInvalidWriter(w io.Writer, asJSON, stamps bool) *InvalidWriter {
	iw := &InvalidWriter{w: w, json: asJSON, stamps: stamps}
	if asJSON {
		iw.enc = json.NewEncoder(w)
	}
	return iw
}

// Event writes e if it is a packet conntrack did not simply accept, and
// ignores every other event.
func (iw *InvalidWriter) Event(e *flowtable.Event) error {
	if e.Type != flowtable.EventPacket || e.Report.Reason.Code == fsm.NoReason {
		return nil
	}
	if iw.json {
		return iw.enc.Encode(NewJSONInvalid(e))
	}
	for _, why := range [2]fsm.Reason{e.Report.Reason, e.Report.Also} {
		if why.Code == fsm.NoReason {
			continue
		}
		iw.line = AppendInvalidLine(iw.line[:0], e, why, iw.stamps)
		iw.line = append(iw.line, '\n')
		if _, err := iw.w.Write(iw.line); err != nil {
			return err
		}
	}
	return nil
}

// AppendInvalidLine appends one text line (no newline) for the packet of e
// and reason why: "[time]\t#N nf_ct_proto_6: REASON SRC=…".
func AppendInvalidLine(b []byte, e *flowtable.Event, why fsm.Reason, stamp bool) []byte {
	if stamp {
		b = appendStamp(b, e.TS)
		b = append(b, '\t')
	}
	b = append(b, '#')
	b = strconv.AppendUint(b, e.Report.Frame, 10)
	b = append(b, ' ')
	return AppendKernelLine(b, e, why)
}

// AppendKernelLine appends the kernel's line for the packet of e and
// reason why: "nf_ct_proto_6: REASON SRC=… URGP=…" (the logging box's
// IN=, OUT= and MAC= left out).
func AppendKernelLine(b []byte, e *flowtable.Event, why fsm.Reason) []byte {
	b = append(b, "nf_ct_proto_6: "...)
	b = why.AppendText(b)
	b = append(b, ' ')
	return AppendNFLogPacket(b, e)
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

// JSONInvalid is one packet conntrack marked invalid or ignored, as
// tcptrack's --invalid -o json writes it (one per line); README documents
// it.
type JSONInvalid struct {
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
	Flow *JSONInvalidFlow `json:"flow,omitempty"`
	Log  string           `json:"log"` // the text line's kernel part: "nf_ct_proto_6: … URGP=0 …"
}

type JSONInvalidFlow struct {
	Direction string `json:"direction"` // the packet's: "original" or "reply"
	State     string `json:"state"`
	Assured   bool   `json:"assured"`
	Unreplied bool   `json:"unreplied"`
}

// NewJSONInvalid describes the packet of an EventPacket.
func NewJSONInvalid(e *flowtable.Event) *JSONInvalid {
	p := e.Report
	why := p.Reason
	k := &e.Flow.Key
	src, dst := k.SrcAddr(), k.DstAddr()
	if p.Dir == fsm.Reply {
		src, dst = dst, src
	}
	j := &JSONInvalid{
		Time: time.Unix(0, e.TS).UTC().Format(time.RFC3339Nano), TS: float64(e.TS/1e3) / 1e6,
		Packet: p.Frame, Verdict: p.Verdict.String(), Reason: why.Code.String(), Message: why.String(), Logged: why.Logged(),
		Src: src.String(), Dst: dst.String(), Sport: p.TCP.SrcPort, Dport: p.TCP.DstPort,
		Flags: p.TCP.Flags.String(), Seq: p.TCP.Seq, Ack: p.TCP.Ack, Window: p.TCP.Window, Len: p.TCP.PayloadLen, IPLen: p.IPLen,
		Log: string(AppendKernelLine(nil, e, why)),
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
		j.Flow = &JSONInvalidFlow{Direction: p.Dir.String(), State: e.Flow.Conn.State().String(),
			Assured: st&fsm.Assured != 0, Unreplied: st&fsm.SeenReply == 0}
	}
	return j
}
