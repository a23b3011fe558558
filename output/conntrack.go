package output

import (
	"io"
	"net/netip"
	"runtime"
	"strconv"
	"sync"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// LineOptions choose the optional parts of conntrack-tools lines.
type LineOptions struct {
	Acct     bool // packets=N bytes=N after each tuple (nf_conntrack_acct=1)
	Extended bool // "ipv4     2 " / "ipv6     10 " prefix, as conntrack -o extended
	// Timestamps prefixes event lines with "[sec.usec]\t", as
	// conntrack -E -o timestamp.
	Timestamps bool
}

// lineParts are the parts an event line leaves out, on top of LineOptions.
type lineParts struct {
	event   bool // event line: no mark=/use=, counters only on DESTROY
	destroy bool
	// Event lines carry what the kernel's message carried: the state only
	// when it changed (or on NEW/DESTROY), the timeout unless it is zero
	// on DESTROY.
	noState   bool
	noTimeout bool
}

// AppendConntrack appends f as conntrack -L prints it at capture time now
// (libnetfilter_conntrack's snprintf_default: single spaces, the protocol
// names padded to 8 columns, flags between and after the tuples), without
// a newline.
func AppendConntrack(b []byte, f *flowtable.Flow, now int64, o LineOptions) []byte {
	return appendConntrack(b, f, now, o, lineParts{})
}

func appendConntrack(b []byte, f *flowtable.Flow, now int64, o LineOptions, p lineParts) []byte {
	k := &f.Key
	if o.Extended {
		if k.Is4 {
			b = append(b, "ipv4     2 "...)
		} else {
			b = append(b, "ipv6     10 "...)
		}
	}
	b = append(b, "tcp      6 "...)
	if !p.noTimeout {
		b = strconv.AppendInt(b, f.TimeoutAt(now), 10)
		b = append(b, ' ')
	}
	if !p.noState {
		b = append(b, f.Conn.State().String()...)
		b = append(b, ' ')
	}
	counters := o.Acct && (!p.event || p.destroy)
	b = appendTuple(b, k.SrcAddr(), k.DstAddr(), k.SrcPort, k.DstPort)
	if counters {
		b = appendCounters(b, f, fsm.Original)
	}
	st := f.Conn.Status()
	if !st.SeenReply() {
		b = append(b, "[UNREPLIED] "...)
	}
	b = appendTuple(b, k.DstAddr(), k.SrcAddr(), k.DstPort, k.SrcPort)
	if counters {
		b = appendCounters(b, f, fsm.Reply)
	}
	if st.Assured() {
		b = append(b, "[ASSURED] "...)
	}
	if p.event {
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

// AppendEvent appends e as conntrack -E prints it, without a newline. As
// on the kernel, an [UPDATE] carries the state only when the state
// changed, counters (with Acct) appear only on [DESTROY], and a [DESTROY]
// of an expired flow has no timeout.
func AppendEvent(b []byte, e *flowtable.Event, o LineOptions) []byte {
	if o.Timestamps {
		b = append(appendStamp(b, e.TS), '\t')
	}
	switch e.Type {
	case flowtable.EventNew:
		b = append(b, "    [NEW] "...)
	case flowtable.EventUpdate:
		b = append(b, " [UPDATE] "...)
	default:
		b = append(b, "[DESTROY] "...)
	}
	p := lineParts{event: true, destroy: e.Type == flowtable.EventDestroy}
	p.noState = e.Type == flowtable.EventUpdate && e.Changes&fsm.EvState == 0
	p.noTimeout = p.destroy && e.Flow.TimeoutAt(e.TS) == 0
	return appendConntrack(b, &e.Flow, e.TS, o, p)
}

// WriteConntrack writes one conntrack -L line per flow, in order. (The
// "N flow entries have been shown." that conntrack prints on stderr is the
// caller's.) A big list whose flows can be read concurrently (ConcurrentFlows,
// as a closed table's Result) is formatted on all CPUs, in blocks written in
// order.
func WriteConntrack(w io.Writer, flows Flows, now int64, o LineOptions) error {
	if cf, ok := flows.(ConcurrentFlows); ok && flows.Len() >= 2*lineBlock && runtime.GOMAXPROCS(0) > 1 {
		return writeConntrackParallel(w, cf, flows.Len(), now, o)
	}
	var line []byte
	for i := range flows.Len() {
		f, _ := flows.At(i)
		line = AppendConntrack(line[:0], &f, now, o)
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return err
		}
	}
	return nil
}

// ConcurrentFlows is a list of flows that several goroutines may read at
// once (flowtable.Result is one): Flow(i) is At(i) without the summary.
type ConcurrentFlows interface {
	Flow(i int) flowtable.Flow
}

// lineBlock is how many lines one goroutine formats at a time.
const lineBlock = 4096

// writeConntrackParallel formats blocks of lines on GOMAXPROCS goroutines,
// a round of blocks at a time, and writes each round in order: the output is
// byte for byte what the loop in WriteConntrack writes.
func writeConntrackParallel(w io.Writer, flows ConcurrentFlows, n int, now int64, o LineOptions) error {
	workers := runtime.GOMAXPROCS(0)
	bufs := make([][]byte, workers)
	var wg sync.WaitGroup
	for start := 0; start < n; start += workers * lineBlock {
		for k := range workers {
			lo := start + k*lineBlock
			if lo >= n {
				bufs[k] = bufs[k][:0]
				continue
			}
			hi := min(lo+lineBlock, n)
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := bufs[k][:0]
				for i := lo; i < hi; i++ {
					f := flows.Flow(i)
					b = AppendConntrack(b, &f, now, o)
					b = append(b, '\n')
				}
				bufs[k] = b
			}()
		}
		wg.Wait()
		for _, b := range bufs {
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
	}
	return nil
}
