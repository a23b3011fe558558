package zeek

import (
	"net/netip"
	"strconv"
	"time"
)

// Record is one conn.log line for a TCP connection. It is passed to the
// Tracker's callback, which must not keep History past the call.
type Record struct {
	Start      int64 // first packet, Unix nanoseconds (ts)
	Orig, Resp netip.AddrPort
	// Duration is last_time - start_time; Zeek leaves duration and the two
	// byte counts unset when it is 0.
	Duration              int64
	OrigBytes, RespBytes  uint64 // payload from sequence numbers
	State                 ConnState
	LocalOrig, LocalResp  bool // in Site::private_address_space
	MissedBytes           uint64
	History               []byte
	OrigPkts, OrigIPBytes uint64
	RespPkts, RespIPBytes uint64
	// Tunneled: the packets came through a tunnel (Zeek names the
	// tunnel's connection in tunnel_parents; without records for the
	// outer connections, tcptrack leaves it unset).
	Tunneled bool
}

// Fields and Types are conn.log's columns and their types, as Zeek 8+
// writes them (base/protocols/conn/main.zeek).
var (
	Fields = [...]string{"ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service",
		"duration", "orig_bytes", "resp_bytes", "conn_state", "local_orig", "local_resp", "missed_bytes", "history",
		"orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes", "tunnel_parents", "ip_proto"}
	Types = [...]string{"time", "string", "addr", "port", "addr", "port", "enum", "string",
		"interval", "count", "count", "string", "bool", "bool", "count", "string",
		"count", "count", "count", "count", "set[string]", "count"}
)

// AppendHeader appends the TSV header of a conn.log whose #open stamp is
// openTS (Unix nanoseconds; Zeek writes its wall clock, we the capture's
// first time, so that output depends on input only).
func AppendHeader(b []byte, openTS int64) []byte {
	b = append(b, "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n#open\t"...)
	b = appendDate(b, openTS)
	b = append(b, "\n#fields"...)
	for _, f := range Fields {
		b = append(append(b, '\t'), f...)
	}
	b = append(b, "\n#types"...)
	for _, t := range Types {
		b = append(append(b, '\t'), t...)
	}
	return append(b, '\n')
}

// AppendClose appends the #close line.
func AppendClose(b []byte, ts int64) []byte {
	return append(appendDate(append(b, "#close\t"...), ts), '\n')
}

// appendDate is Zeek's #open/#close stamp, %Y-%m-%d-%H-%M-%S in UTC.
func appendDate(b []byte, ns int64) []byte {
	return time.Unix(0, ns).UTC().AppendFormat(b, "2006-01-02-15-04-05")
}

// AppendUID appends the record's uid: "C" and 17 base-62 digits (96 bits)
// of a hash of the tuple and start time. Zeek's uids are random; these are
// the same for the same input.
func (r *Record) AppendUID(b []byte) []byte {
	var in [2*18 + 8]byte
	o, p := r.Orig.Addr().As16(), r.Resp.Addr().As16()
	copy(in[0:], o[:])
	in[16], in[17] = byte(r.Orig.Port()>>8), byte(r.Orig.Port())
	copy(in[18:], p[:])
	in[34], in[35] = byte(r.Resp.Port()>>8), byte(r.Resp.Port())
	for i := 0; i < 8; i++ {
		in[36+i] = byte(r.Start >> (8 * i))
	}
	hi := mix(in[:], 0x9e3779b97f4a7c15)
	lo := mix(in[:], 0xc2b2ae3d27d4eb4f) >> 32 // 32 more bits: 96 in all
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var d [17]byte
	for i := len(d) - 1; i >= 0; i-- {
		// (hi:lo) / 62 on the 96-bit number, the remainder being the digit.
		rem := hi % 62
		hi /= 62
		x := rem<<32 | lo
		lo = x / 62
		d[i] = digits[x%62]
	}
	return append(append(b, 'C'), d[:]...)
}

// mix is FNV-1a from a chosen offset with a final avalanche, so nearby
// tuples get unrelated uids.
func mix(p []byte, h uint64) uint64 {
	for _, c := range p {
		h ^= uint64(c)
		h *= 0x100000001b3
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// AppendTSV appends the record as a conn.log line (no newline).
func (r *Record) AppendTSV(b []byte) []byte {
	b = appendTime(b, r.Start)
	b = r.AppendUID(append(b, '\t'))
	b = r.Orig.Addr().AppendTo(append(b, '\t'))
	b = strconv.AppendUint(append(b, '\t'), uint64(r.Orig.Port()), 10)
	b = r.Resp.Addr().AppendTo(append(b, '\t'))
	b = strconv.AppendUint(append(b, '\t'), uint64(r.Resp.Port()), 10)
	b = append(b, "\ttcp\t-\t"...) // proto, service (no application analyzers)
	if r.Duration > 0 {
		b = appendTime(b, r.Duration)
		b = strconv.AppendUint(append(b, '\t'), r.OrigBytes, 10)
		b = strconv.AppendUint(append(b, '\t'), r.RespBytes, 10)
	} else {
		b = append(b, "-\t-\t-"...)
	}
	b = append(append(b, '\t'), r.State.String()...)
	b = append(append(b, '\t'), boolTF(r.LocalOrig))
	b = append(append(b, '\t'), boolTF(r.LocalResp))
	b = strconv.AppendUint(append(b, '\t'), r.MissedBytes, 10)
	b = append(b, '\t')
	if len(r.History) > 0 {
		b = append(b, r.History...)
	} else {
		b = append(b, '-')
	}
	b = strconv.AppendUint(append(b, '\t'), r.OrigPkts, 10)
	b = strconv.AppendUint(append(b, '\t'), r.OrigIPBytes, 10)
	b = strconv.AppendUint(append(b, '\t'), r.RespPkts, 10)
	b = strconv.AppendUint(append(b, '\t'), r.RespIPBytes, 10)
	return append(b, "\t-\t6"...) // tunnel_parents, ip_proto
}

// AppendJSON appends the record as Zeek's JSON writer does (one object, no
// newline): unset fields left out, times as epoch seconds.
func (r *Record) AppendJSON(b []byte) []byte {
	b = appendSeconds(append(b, `{"ts":`...), r.Start)
	b = append(r.AppendUID(append(b, `,"uid":"`...)), '"')
	b = r.Orig.Addr().AppendTo(append(b, `,"id.orig_h":"`...))
	b = strconv.AppendUint(append(b, `","id.orig_p":`...), uint64(r.Orig.Port()), 10)
	b = r.Resp.Addr().AppendTo(append(b, `,"id.resp_h":"`...))
	b = strconv.AppendUint(append(b, `","id.resp_p":`...), uint64(r.Resp.Port()), 10)
	b = append(b, `,"proto":"tcp"`...)
	if r.Duration > 0 {
		b = appendSeconds(append(b, `,"duration":`...), r.Duration)
		b = strconv.AppendUint(append(b, `,"orig_bytes":`...), r.OrigBytes, 10)
		b = strconv.AppendUint(append(b, `,"resp_bytes":`...), r.RespBytes, 10)
	}
	b = append(append(append(b, `,"conn_state":"`...), r.State.String()...), '"')
	b = strconv.AppendBool(append(b, `,"local_orig":`...), r.LocalOrig)
	b = strconv.AppendBool(append(b, `,"local_resp":`...), r.LocalResp)
	b = strconv.AppendUint(append(b, `,"missed_bytes":`...), r.MissedBytes, 10)
	if len(r.History) > 0 {
		b = append(append(append(b, `,"history":"`...), r.History...), '"')
	}
	b = strconv.AppendUint(append(b, `,"orig_pkts":`...), r.OrigPkts, 10)
	b = strconv.AppendUint(append(b, `,"orig_ip_bytes":`...), r.OrigIPBytes, 10)
	b = strconv.AppendUint(append(b, `,"resp_pkts":`...), r.RespPkts, 10)
	b = strconv.AppendUint(append(b, `,"resp_ip_bytes":`...), r.RespIPBytes, 10)
	return append(b, `,"ip_proto":6}`...)
}

func boolTF(v bool) byte {
	if v {
		return 'T'
	}
	return 'F'
}

// appendTime formats nanoseconds as Zeek prints time and interval values:
// seconds with six decimals, rounded to the microsecond.
func appendTime(b []byte, ns int64) []byte {
	if ns < 0 {
		b = append(b, '-')
		ns = -ns
	}
	us := (ns + 500) / 1000
	b = strconv.AppendInt(b, us/1e6, 10)
	b = append(b, '.')
	frac := us % 1e6
	for div := int64(1e5); div > 0; div /= 10 {
		b = append(b, byte('0'+frac/div%10))
	}
	return b
}

// appendSeconds is appendTime without trailing zeros, as Zeek's JSON
// writer prints doubles.
func appendSeconds(b []byte, ns int64) []byte {
	n := len(b)
	b = appendTime(b, ns)
	for len(b) > n && b[len(b)-1] == '0' {
		b = b[:len(b)-1]
	}
	if b[len(b)-1] == '.' {
		b = b[:len(b)-1]
	}
	return b
}
