package output

import (
	"bytes"
	"encoding/binary"
	"io"
	"strconv"
	"time"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// Zeek conn.log output (-o zeek: Zeek's ASCII TSV log; -o zeek-json: its
// JSON lines). One record per conntrack flow lifetime: a flow that ended
// (RST, expiry, reopen, eviction) gets its record when it ends, the flows
// still live get theirs at the end, in first-seen order.

// zeekFields and zeekTypes are conn.log's columns as Zeek declares them
// (base/protocols/conn/main.zeek, before ip_proto was added).
var (
	zeekFields = []string{"ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service",
		"duration", "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp", "missed_bytes", "history",
		"orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "tunnel_parents"}
	zeekTypes = []string{"time", "string", "addr", "port", "addr", "port", "enum", "string",
		"interval", "count", "count", "string", "bool", "bool", "count", "string",
		"count", "count", "count", "count", "set[string]"}
)

// ZeekWriter writes conn.log records as flows end (Record, from DESTROY
// events that carry a summary) and for the flows still live at the end
// (Finish). The first write error is kept and returned by Finish.
type ZeekWriter struct {
	out    io.Writer
	held   *bytes.Buffer // set when records wait for the end
	json   bool
	opened bool
	line   []byte
	err    error
}

// NewZeekWriter writes conn.log records to out: Zeek's TSV log, or with
// json its JSON lines. With hold, records wait in memory until Finish, so
// that another stream sharing out (conntrack events) does not interleave.
func NewZeekWriter(out io.Writer, json, hold bool) *ZeekWriter {
	z := &ZeekWriter{out: out, json: json}
	if hold {
		z.held = new(bytes.Buffer)
	}
	return z
}

func (z *ZeekWriter) dst() io.Writer {
	if z.held != nil {
		return z.held
	}
	return z.out
}

func (z *ZeekWriter) write(b []byte) {
	if z.err == nil {
		_, z.err = z.dst().Write(b)
	}
}

// Open writes the TSV header (once; Finish calls it if nobody did); #open
// is ts, the capture time of the first record read (Zeek writes its wall
// clock), so that the output depends on the input only.
func (z *ZeekWriter) Open(ts int64) {
	if z.opened {
		return
	}
	z.opened = true
	if z.json {
		return
	}
	b := z.line[:0]
	b = append(b, "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t"...)
	b = appendZeekDate(b, ts)
	b = append(b, "\n#fields"...)
	for _, f := range zeekFields {
		b = append(append(b, '\t'), f...)
	}
	b = append(b, "\n#types"...)
	for _, t := range zeekTypes {
		b = append(append(b, '\t'), t...)
	}
	b = append(b, '\n')
	z.line = b
	z.write(b)
}

// Record writes the record of one flow.
func (z *ZeekWriter) Record(f *flowtable.Flow, s *fsm.Summary) {
	if z.json {
		z.line = appendZeekJSON(z.line[:0], f, s)
	} else {
		z.line = appendZeekTSV(z.line[:0], f, s)
	}
	z.line = append(z.line, '\n')
	z.write(z.line)
}

// Finish writes the records of the flows that have summaries and the
// #close line (at now), then what was held.
func (z *ZeekWriter) Finish(flows Flows, now int64) error {
	z.Open(now)
	for i := range flows.Len() {
		if f, s := flows.At(i); s != nil {
			z.Record(&f, s)
		}
	}
	if !z.json {
		z.write(appendZeekDate([]byte("#close\t"), now))
		z.write([]byte{'\n'})
	}
	if z.held != nil && z.err == nil {
		_, z.err = z.out.Write(z.held.Bytes())
		z.held = nil
	}
	return z.err
}

// zeekRecord is one conn.log line's values; nil-able fields are unset
// when Zeek would leave them unset.
type zeekRecord struct {
	uid                  []byte
	durationSet          bool
	duration             int64
	origBytes, respBytes uint64
}

func makeZeekRecord(f *flowtable.Flow, s *fsm.Summary, buf []byte) zeekRecord {
	r := zeekRecord{uid: appendZeekUID(buf, &f.Key, s.Start)}
	// Zeek sets duration and the byte counts only for a positive duration.
	if d := s.Duration(); d > 0 {
		r.durationSet, r.duration = true, d
		r.origBytes, r.respBytes = s.PayloadBytes(fsm.Original), s.PayloadBytes(fsm.Reply)
	}
	return r
}

// appendZeekTSV appends one conn.log line in Zeek's ASCII format.
func appendZeekTSV(b []byte, f *flowtable.Flow, s *fsm.Summary) []byte {
	var ub [24]byte
	r := makeZeekRecord(f, s, ub[:0])
	k := &f.Key
	o, p := &s.Dirs[fsm.Original], &s.Dirs[fsm.Reply]
	b = appendZeekTime(b, s.Start)
	b = append(append(b, '\t'), r.uid...)
	b = append(b, '\t')
	b = k.SrcAddr().AppendTo(b)
	b = strconv.AppendUint(append(b, '\t'), uint64(k.SrcPort), 10)
	b = append(b, '\t')
	b = k.DstAddr().AppendTo(b)
	b = strconv.AppendUint(append(b, '\t'), uint64(k.DstPort), 10)
	b = append(b, "\ttcp\t-\t"...) // proto, service
	if r.durationSet {
		b = appendZeekTime(b, r.duration)
		b = strconv.AppendUint(append(b, '\t'), r.origBytes, 10)
		b = strconv.AppendUint(append(b, '\t'), r.respBytes, 10)
	} else {
		b = append(b, "-\t-\t-"...)
	}
	b = append(append(b, '\t'), s.ConnState().String()...)
	b = append(b, "\t-\t-\t"...) // local_orig, local_resp: no Site::local_nets
	b = strconv.AppendUint(b, s.MissedBytes(), 10)
	b = append(b, '\t')
	if h := s.AppendHistory(b); len(h) > len(b) {
		b = h
	} else {
		b = append(b, '-')
	}
	b = strconv.AppendUint(append(b, '\t'), o.Packets, 10)
	b = strconv.AppendUint(append(b, '\t'), o.IPBytes, 10)
	b = strconv.AppendUint(append(b, '\t'), p.Packets, 10)
	b = strconv.AppendUint(append(b, '\t'), p.IPBytes, 10)
	return append(b, "\t-"...) // tunnel_parents: no tunnels decoded as such
}

// appendZeekJSON appends one record as Zeek's JSON writer does: unset
// fields left out, times as epoch seconds.
func appendZeekJSON(b []byte, f *flowtable.Flow, s *fsm.Summary) []byte {
	var ub [24]byte
	r := makeZeekRecord(f, s, ub[:0])
	k := &f.Key
	o, p := &s.Dirs[fsm.Original], &s.Dirs[fsm.Reply]
	b = append(b, `{"ts":`...)
	b = appendJSONSeconds(b, s.Start)
	b = append(append(append(b, `,"uid":"`...), r.uid...), '"')
	b = k.SrcAddr().AppendTo(append(b, `,"id.orig_h":"`...))
	b = strconv.AppendUint(append(b, `","id.orig_p":`...), uint64(k.SrcPort), 10)
	b = k.DstAddr().AppendTo(append(b, `,"id.resp_h":"`...))
	b = strconv.AppendUint(append(b, `","id.resp_p":`...), uint64(k.DstPort), 10)
	b = append(b, `,"proto":"tcp"`...)
	if r.durationSet {
		b = appendJSONSeconds(append(b, `,"duration":`...), r.duration)
		b = strconv.AppendUint(append(b, `,"orig_bytes":`...), r.origBytes, 10)
		b = strconv.AppendUint(append(b, `,"resp_bytes":`...), r.respBytes, 10)
	}
	b = append(append(append(b, `,"conn_state":"`...), s.ConnState().String()...), '"')
	b = strconv.AppendUint(append(b, `,"missed_bytes":`...), s.MissedBytes(), 10)
	if h := s.History(); h != "" {
		b = append(append(append(b, `,"history":"`...), h...), '"')
	}
	b = strconv.AppendUint(append(b, `,"orig_pkts":`...), o.Packets, 10)
	b = strconv.AppendUint(append(b, `,"orig_ip_bytes":`...), o.IPBytes, 10)
	b = strconv.AppendUint(append(b, `,"resp_pkts":`...), p.Packets, 10)
	b = strconv.AppendUint(append(b, `,"resp_ip_bytes":`...), p.IPBytes, 10)
	return append(b, '}')
}

// appendZeekTime formats nanoseconds as Zeek prints time and interval
// values: seconds with six decimals (rounded to the microsecond).
func appendZeekTime(b []byte, ns int64) []byte {
	if ns < 0 {
		b = append(b, '-')
		ns = -ns
	}
	us := (ns + 500) / 1000
	b = strconv.AppendInt(b, us/1e6, 10)
	frac := us % 1e6
	b = append(b, '.')
	for div := int64(1e5); div > 0; div /= 10 {
		b = append(b, byte('0'+frac/div%10))
	}
	return b
}

// appendJSONSeconds is appendZeekTime without trailing zeros, as Zeek's
// JSON writer prints doubles.
func appendJSONSeconds(b []byte, ns int64) []byte {
	n := len(b)
	b = appendZeekTime(b, ns)
	for len(b) > n && b[len(b)-1] == '0' {
		b = b[:len(b)-1]
	}
	if b[len(b)-1] == '.' {
		b = b[:len(b)-1]
	}
	return b
}

// appendZeekDate is the #open/#close stamp: %Y-%m-%d-%H-%M-%S, UTC.
func appendZeekDate(b []byte, ns int64) []byte {
	return time.Unix(0, ns).UTC().AppendFormat(b, "2006-01-02-15-04-05")
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// appendZeekUID appends a Zeek-style connection uid: "C" and 96 bits in
// base 62, here a hash of the original tuple and the first packet's time,
// so that the same input gives the same uids (Zeek's are random).
func appendZeekUID(b []byte, k *flowtable.Key, start int64) []byte {
	var in [16 + 16 + 2 + 2 + 1 + 8]byte
	copy(in[0:], k.Src[:])
	copy(in[16:], k.Dst[:])
	binary.BigEndian.PutUint16(in[32:], k.SrcPort)
	binary.BigEndian.PutUint16(in[34:], k.DstPort)
	if k.Is4 {
		in[36] = 4
	}
	binary.BigEndian.PutUint64(in[37:], uint64(start))
	hi := fnv1a(in[:], 0xcbf29ce484222325)
	lo := fnv1a(in[:], 0x84222325cbf29ce4) >> 32 // 32 more bits: 96 in all
	b = append(b, 'C')
	// 96 bits need 17 base-62 digits; emit them most significant first.
	var d [17]byte
	for i := len(d) - 1; i >= 0; i-- {
		// (hi:lo) / 62, remainder r, on a 64+32-bit number.
		r := hi % 62
		hi /= 62
		x := r<<32 | lo
		lo = x / 62
		d[i] = base62[x%62]
	}
	return append(b, d[:]...)
}

// fnv1a is 64-bit FNV-1a from a chosen offset, finished with a mixer so
// that nearby inputs spread over all bits.
func fnv1a(p []byte, h uint64) uint64 {
	for _, c := range p {
		h ^= uint64(c)
		h *= 0x100000001b3
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}
