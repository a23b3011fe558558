package main

// IPFIX export for read and live: a record per connection when it ends
// (DESTROY), for every connection still open at the end, and on live
// periodic records of long connections (--ipfix-active). The records are
// built off the packet path (from events and the final table) and sent by
// one goroutine of their own.

import (
	"flag"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
	"github.com/tcptrack/tcptrack/ipfix"
	"github.com/tcptrack/tcptrack/output"
)

const ipfixUsage = `IPFIX export (RFC 7011; one biflow record per connection, see README "Scaling out"):
      --ipfix TARGET       send to a collector: HOST:PORT or udp://HOST:PORT (UDP), tcp://HOST:PORT
      --ipfix-file FILE    write an IPFIX file (RFC 5655)
      --ipfix-domain N     observation domain id in the message headers (default 0)
`

const ipfixActiveUsage = `      --ipfix-active D     report connections open longer than D again every D (default 60s; 0: only at the end)
`

// ipfixFlags are the export flags read and live share.
type ipfixFlags struct {
	target string
	file   string
	domain uint
	active time.Duration // live only
}

func (o *ipfixFlags) on() bool { return o.target != "" || o.file != "" }

// addIPFIXFlags registers --ipfix, --ipfix-file, --ipfix-domain and, for
// live, --ipfix-active.
func addIPFIXFlags(fs *flag.FlagSet, o *ipfixFlags, live bool) {
	fs.StringVar(&o.target, "ipfix", "", "")
	fs.StringVar(&o.file, "ipfix-file", "", "")
	fs.UintVar(&o.domain, "ipfix-domain", 0, "")
	if live {
		o.active = time.Minute
		fs.DurationVar(&o.active, "ipfix-active", time.Minute, "")
	}
}

func (o *ipfixFlags) check(cmd string) error {
	if o.domain > 1<<32-1 {
		return usagef("%s: --ipfix-domain must be below 2^32", cmd)
	}
	if o.active != 0 && o.active < time.Second {
		return usagef("%s: --ipfix-active must be at least 1s (or 0)", cmd)
	}
	return nil
}

// flowExport turns flows into IPFIX records and hands them to its sending
// goroutine.
type flowExport struct {
	xs     []*ipfix.Exporter
	active time.Duration
	lossy  bool // live: drop records rather than stall the capture when the sender lags
	in     chan []ipfix.Record
	done   chan struct{}
	stderr io.Writer

	mu       sync.Mutex
	reported map[uint64]reported // flows given an active-timeout record, by flow ID
	nextScan int64

	dropped atomic.Uint64 // records dropped because the queue was full (lossy only)
	errs    []error       // from the sender, first of each kind
}

// reported is what a flow's earlier records carried: the next carries the
// difference (delta counters).
type reported struct {
	at      int64 // capture time of the last record
	packets [2]uint64
	bytes   [2]uint64
}

// openFlowExport opens the collector connection and the file; nil when
// neither flag is given.
func openFlowExport(o *ipfixFlags, lossy bool, stderr io.Writer) (*flowExport, error) {
	if !o.on() {
		return nil, nil
	}
	e := &flowExport{active: o.active, lossy: lossy, in: make(chan []ipfix.Record, 256), done: make(chan struct{}),
		stderr: stderr, reported: map[uint64]reported{}}
	opts := ipfix.Options{Domain: uint32(o.domain)}
	if o.target != "" {
		x, err := ipfix.Dial(o.target, opts)
		if err != nil {
			return nil, usagef("--ipfix: %v", err)
		}
		e.xs = append(e.xs, x)
	}
	if o.file != "" {
		x, err := ipfix.Create(o.file, opts)
		if err != nil {
			for _, x := range e.xs {
				x.Close()
			}
			return nil, fmt.Errorf("--ipfix-file: %w", err)
		}
		e.xs = append(e.xs, x)
	}
	go e.send()
	return e, nil
}

// send is the sending goroutine: each batch goes to every exporter, and is
// flushed when the queue runs dry, so a collector sees records promptly.
func (e *flowExport) send() {
	defer close(e.done)
	seen := map[string]bool{}
	for recs := range e.in {
		for _, x := range e.xs {
			if err := x.Export(recs...); err != nil && !seen[err.Error()] {
				seen[err.Error()] = true
				e.errs = append(e.errs, err)
			}
			if len(e.in) == 0 {
				if err := x.Flush(); err != nil && !seen[err.Error()] {
					seen[err.Error()] = true
					e.errs = append(e.errs, err)
				}
			}
		}
	}
}

func (e *flowExport) queue(recs []ipfix.Record) {
	if len(recs) == 0 {
		return
	}
	if !e.lossy {
		e.in <- recs
		return
	}
	select {
	case e.in <- recs:
	default:
		e.dropped.Add(uint64(len(recs)))
	}
}

// chain returns an OnEvents callback that runs next (if any), then makes
// the records of the flows that ended.
func (e *flowExport) chain(next func([]flowtable.Event)) func([]flowtable.Event) {
	return func(evs []flowtable.Event) {
		if next != nil {
			next(evs)
		}
		e.onEvents(evs)
	}
}

func (e *flowExport) onEvents(evs []flowtable.Event) {
	var recs []ipfix.Record
	e.mu.Lock()
	for i := range evs {
		ev := &evs[i]
		if ev.Type != flowtable.EventDestroy {
			continue
		}
		recs = append(recs, e.record(&ev.Flow, destroyReason(ev), ev.TS))
		delete(e.reported, ev.Flow.ID)
	}
	e.mu.Unlock()
	e.queue(recs)
}

// destroyReason maps why conntrack dropped a flow to flowEndReason.
func destroyReason(ev *flowtable.Event) ipfix.EndReason {
	switch ev.Reason {
	case flowtable.Killed, flowtable.Reopened:
		return ipfix.EndDetected
	case flowtable.Evicted:
		return ipfix.LackOfResources
	}
	switch ev.Flow.Conn.State() {
	case fsm.TimeWait, fsm.Close:
		return ipfix.EndDetected // closed by FIN or RST, then its timer ran out
	}
	return ipfix.IdleTimeout
}

// record builds f's record at now: counters since its last record, the
// endpoints' sockets as at now (under e.mu).
func (e *flowExport) record(f *flowtable.Flow, why ipfix.EndReason, now int64) ipfix.Record {
	k := &f.Key
	st := f.Conn.Status()
	cs, ss := f.Sockets(max(now, f.Last))
	r := ipfix.Record{
		Src: k.SrcAddr(), Dst: k.DstAddr(), SrcPort: k.SrcPort, DstPort: k.DstPort,
		Start: f.Start / 1e6, End: f.Last / 1e6,
		Packets: f.Packets, Octets: f.Bytes,
		TCPFlags:  [2]uint16{uint16(f.TCPFlags[0]), uint16(f.TCPFlags[1])},
		EndReason: why,
		State: ipfix.State{Conntrack: f.Conn.State().String(), Assured: st&fsm.Assured != 0,
			Unreplied: st&fsm.SeenReply == 0, Sockets: [2]string{cs.State.String(), ss.State.String()}}.String(),
	}
	if p, ok := e.reported[f.ID]; ok {
		for d := range 2 {
			r.Packets[d] -= p.packets[d]
			r.Octets[d] -= p.bytes[d]
		}
	}
	return r
}

// due says whether an active-timeout scan is due at now (capture time).
func (e *flowExport) due(now int64) bool {
	return e.active > 0 && now >= e.nextScan
}

// activeScan makes a record for every flow open at least --ipfix-active
// since its start or last record that has new packets. Scans run every
// quarter of --ipfix-active (at least every second), so a record comes at
// most a quarter late.
func (e *flowExport) activeScan(now int64, flows []flowtable.Flow) {
	e.nextScan = now + max(int64(e.active)/4, int64(time.Second))
	var recs []ipfix.Record
	e.mu.Lock()
	for i := range flows {
		f := &flows[i]
		p, ok := e.reported[f.ID]
		since := f.Start
		if ok {
			since = p.at
		}
		if now-since < int64(e.active) || (ok && p.packets == f.Packets) {
			continue
		}
		recs = append(recs, e.record(f, ipfix.ActiveTimeout, now))
		e.reported[f.ID] = reported{at: now, packets: f.Packets, bytes: f.Bytes}
	}
	e.mu.Unlock()
	e.queue(recs)
}

// finish makes the records of the flows still open at the end (forced
// end), waits for everything to be sent and closes the exporters. Errors
// are warnings: the table was printed all the same.
func (e *flowExport) finish(flows output.Flows, now int64) error {
	const batch = 1024
	recs := make([]ipfix.Record, 0, batch)
	e.mu.Lock()
	for i := range flows.Len() {
		f, _ := flows.At(i)
		recs = append(recs, e.record(&f, ipfix.ForcedEnd, now))
		if len(recs) == batch {
			e.in <- recs // the end: wait rather than drop
			recs = make([]ipfix.Record, 0, batch)
		}
	}
	e.mu.Unlock()
	if len(recs) > 0 {
		e.in <- recs
	}
	close(e.in)
	<-e.done
	for _, x := range e.xs {
		if err := x.Close(); err != nil {
			e.errs = append(e.errs, err)
		}
	}
	st := e.stats()
	fmt.Fprintf(e.stderr, "tcptrack: IPFIX: %d records in %d messages (%d bytes) sent\n", st.Records, st.Messages, st.Bytes)
	if n := e.dropped.Load(); n > 0 {
		fmt.Fprintf(e.stderr, "tcptrack: warning: IPFIX: %d records dropped: the collector connection could not keep up\n", n)
	}
	if len(e.errs) == 0 {
		return nil
	}
	for _, err := range e.errs[1:] {
		fmt.Fprintf(e.stderr, "tcptrack: warning: %v\n", err)
	}
	return e.errs[0]
}

// stats is what every exporter sent, summed.
func (e *flowExport) stats() ipfix.Stats {
	var s ipfix.Stats
	for _, x := range e.xs {
		t := x.Stats()
		s.Messages += t.Messages
		s.Records += t.Records
		s.Bytes += t.Bytes
		s.Templates += t.Templates
		s.SendErrors += t.SendErrors
	}
	return s
}
