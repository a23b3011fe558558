package kmsg

import "strings"

// Prefix starts every line the TCP tracker logs: nf_l4proto_log_invalid's
// "nf_ct_proto_%d: " with IPPROTO_TCP.
const Prefix = "nf_ct_proto_6: "

// Entry is one line conntrack logged for a TCP packet:
//
//	nf_ct_proto_6: REASON IN=c0 OUT= MAC=… SRC=10.1.0.2 DST=… LEN=52 … URGP=0 OPT (…)
//
// split into the tracker's message and nf_log_ipv4/ipv6's description of
// the packet.
type Entry struct {
	Reason string // the tracker's message, e.g. "invalid rst"
	In     string // IN=: the interface it arrived on ("" when sent locally)
	Out    string // OUT=
	MAC    string // MAC=: destination, source and ethertype of the frame, as colon-separated hex
	Packet string // from "SRC=" on, the trailing space removed: IP and TCP header as the logger prints them
}

// Parse splits a kernel log message; ok is false for anything that is not
// a TCP tracker line.
func Parse(msg string) (e Entry, ok bool) {
	rest, ok := strings.CutPrefix(msg, Prefix)
	if !ok {
		return Entry{}, false
	}
	i := strings.Index(rest, " IN=")
	if i < 0 {
		return Entry{}, false
	}
	e.Reason = rest[:i]
	rest = rest[i+1:]
	j := strings.Index(rest, "SRC=")
	if j < 0 {
		return Entry{}, false
	}
	e.Packet = strings.TrimRight(rest[j:], " ")
	for _, f := range strings.Fields(rest[:j]) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "IN":
			e.In = v
		case "OUT":
			e.Out = v
		case "MAC":
			e.MAC = v
		}
	}
	return e, true
}

// Field returns the value of KEY= in the packet description ("" when
// absent), e.g. Field("SPT").
func (e Entry) Field(key string) string {
	for _, f := range strings.Fields(e.Packet) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// HasMAC reports whether the frame's destination or source MAC address is
// mac (lower-case colon form, as net.HardwareAddr prints it).
func (e Entry) HasMAC(mac string) bool {
	return strings.HasPrefix(e.MAC, mac) || (len(e.MAC) > 18 && strings.HasPrefix(e.MAC[18:], mac))
}
