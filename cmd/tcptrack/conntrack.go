package main

import (
	"net/netip"
	"strconv"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// lineOpts chooses the optional parts of a conntrack-tools line.
type lineOpts struct {
	acct     bool // packets= bytes= after each tuple (nf_conntrack_acct=1)
	extended bool // "ipv4     2 " prefix, as conntrack -o extended
	event    bool // event line: no mark=/use=, counters only on DESTROY
	destroy  bool
	// Event lines carry what the kernel's message carried: the state only
	// when it changed (or on NEW/DESTROY), the timeout unless it is zero
	// on DESTROY.
	noState   bool
	noTimeout bool
}

// appendConntrack writes f the way conntrack-tools' default printer does
// (libnetfilter_conntrack snprintf_default): single spaces, the protocol
// names padded to 8 columns, flags between and after the tuples.
func appendConntrack(b []byte, f *flowtable.Flow, now int64, o lineOpts) []byte {
	k := &f.Key
	if o.extended {
		if k.Is4 {
			b = append(b, "ipv4     2 "...)
		} else {
			b = append(b, "ipv6     10 "...)
		}
	}
	b = append(b, "tcp      6 "...)
	if !o.noTimeout {
		b = strconv.AppendInt(b, f.TimeoutAt(now), 10)
		b = append(b, ' ')
	}
	if !o.noState {
		b = append(b, f.Conn.State().String()...)
		b = append(b, ' ')
	}
	counters := o.acct && (!o.event || o.destroy)
	b = appendTuple(b, k.SrcAddr(), k.DstAddr(), k.SrcPort, k.DstPort)
	if counters {
		b = appendCounters(b, f, fsm.Original)
	}
	st := f.Conn.Status()
	if st&fsm.SeenReply == 0 {
		b = append(b, "[UNREPLIED] "...)
	}
	b = appendTuple(b, k.DstAddr(), k.SrcAddr(), k.DstPort, k.SrcPort)
	if counters {
		b = appendCounters(b, f, fsm.Reply)
	}
	if st&fsm.Assured != 0 {
		b = append(b, "[ASSURED] "...)
	}
	if o.event {
		return b[:len(b)-1]
	}
	return append(b, "mark=0 use=1"...)
}

func appendTuple(b []byte, src, dst netip.Addr, sport, dport uint16) []byte {
	b = append(b, "src="...)
	b = src.AppendTo(b)
	b = append(b, " dst="...)
	b = dst.AppendTo(b)
	b = append(b, " sport="...)
	b = strconv.AppendUint(b, uint64(sport), 10)
	b = append(b, " dport="...)
	b = strconv.AppendUint(b, uint64(dport), 10)
	return append(b, ' ')
}

func appendCounters(b []byte, f *flowtable.Flow, d fsm.Dir) []byte {
	b = append(b, "packets="...)
	b = strconv.AppendUint(b, f.Packets[d], 10)
	b = append(b, " bytes="...)
	b = strconv.AppendUint(b, f.Bytes[d], 10)
	return append(b, ' ')
}

// appendEvent writes a conntrack -E line; with stamp, prefixed like
// conntrack -E -o timestamp: "[sec.usec]\t".
func appendEvent(b []byte, e *flowtable.Event, o lineOpts, stamp bool) []byte {
	if stamp {
		b = append(b, '[')
		b = strconv.AppendInt(b, e.TS/1e9, 10)
		b = append(b, '.')
		us := (e.TS % 1e9) / 1e3
		for d := int64(100000); d > 1 && us < d; d /= 10 {
			b = append(b, '0')
		}
		b = strconv.AppendInt(b, us, 10)
		b = append(b, "]\t"...)
	}
	switch e.Type {
	case flowtable.EventNew:
		b = append(b, "    [NEW] "...)
	case flowtable.EventUpdate:
		b = append(b, " [UPDATE] "...)
	default:
		b = append(b, "[DESTROY] "...)
	}
	o.event = true
	o.destroy = e.Type == flowtable.EventDestroy
	o.noState = e.Type == flowtable.EventUpdate && e.Changes&fsm.EvState == 0
	o.noTimeout = o.destroy && e.Flow.TimeoutAt(e.TS) == 0
	return appendConntrack(b, &e.Flow, e.TS, o)
}
