package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// readStats accounts for every record read: the kinds add up to Read.
type readStats struct {
	Read        uint64
	TCP         uint64
	NotTCP      uint64
	Fragments   uint64 // IP fragments held for reassembly (the last one of a datagram counts as TCP or not TCP)
	Malformed   uint64
	Truncated   uint64 // headers cut short by the snapshot length
	Unsupported uint64 // link types we do not decode
	Filtered    uint64 // rejected by the BPF filter
	AfterNow    uint64 // stamped after --now, not applied

	// Not part of the sum: records stamped before one read earlier (they
	// are applied in reading order at the latest time seen, as a router
	// would have seen them).
	Backwards   uint64
	MaxStepBack int64 // ns
	unsupported []linkCount
}

// linkCount counts records of a link type the decoder does not know, per
// file, for the warning that names them.
type linkCount struct {
	file string
	link assemble.LinkType
	n    uint64
}

func (st *readStats) countUnsupported(file string, lt assemble.LinkType) {
	for i := range st.unsupported {
		if c := &st.unsupported[i]; c.link == lt && c.file == file {
			c.n++
			return
		}
	}
	st.unsupported = append(st.unsupported, linkCount{file: file, link: lt, n: 1})
}

func cmdRead(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o, err := parseReadFlags(args, stderr)
	if err != nil {
		return err
	}
	src, closeAll, size, err := openSources(o.files, stdin)
	if err != nil {
		return err
	}
	defer closeAll()

	if o.noTrack {
		return readOnly(src, stdout)
	}

	var filter *assemble.Filter
	if o.filter != "" {
		if filter, err = assemble.NewFilter(o.filter); err != nil {
			return usagef("read: %v", err)
		}
	}

	out := bufio.NewWriterSize(stdout, 1<<16)
	defer out.Flush()
	lo := lineOpts{acct: o.acct, extended: o.extended}
	cfg := flowtable.Config{FSM: o.fsm, Shards: o.shards, MaxFlows: o.maxFlows, Summaries: o.wantSummaries(), Acct: o.wantAcct()}
	if o.wantHosts() {
		cfg.Hosts = &o.hosts
	}
	var zv *zeekView // -o zeek, zeek-json: Zeek's connection model, beside the table
	if o.zeekOutput() {
		zv = newZeekView(out, o)
	}
	if o.events {
		var line []byte
		cfg.OnEvents = func(evs []flowtable.Event) {
			for i := range evs {
				line = appendEventLine(line[:0], &evs[i], o.output, lo, o.eventStamps)
				line = append(line, '\n')
				out.Write(line)
			}
		}
	}
	fx, err := openFlowExport(&o.ipfixFlags, false, stderr)
	if err != nil {
		return err
	}
	if fx != nil {
		cfg.OnEvents = fx.chain(cfg.OnEvents)
		cfg.Hosts = &o.hosts // records carry the endpoints' sockets
	}
	cfg.DestroyEventsOnly = !o.events // IPFIX needs ended flows only
	table := flowtable.New(cfg)
	dec := assemble.NewDecoder(assemble.DecoderConfig{})

	prog := newProgress(stderr, o.progress, size)
	var st readStats
	var pkt assemble.Packet
	var last int64
	var warnings []error
	_, merged := src.(*mergedSource)
	for {
		rec, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, assemble.ErrTruncated) {
				// A cut-short last record: keep what was read. The merger
				// drops that file and goes on with the others; a single
				// reader would return the same error again.
				warnings = append(warnings, err)
				if merged {
					continue
				}
				break
			}
			table.Close(last)
			prog.done()
			return err
		}
		st.Read++
		if st.Read&4095 == 0 {
			prog.update(src.Offset(), st.Read, table.Active())
		}
		if o.nowSet && rec.TS > o.now {
			st.AfterNow++
			continue
		}
		if filter != nil && !filter.Match(&rec) {
			st.Filtered++
			continue
		}
		if zv != nil {
			zv.add(&rec) // with its own time: Zeek keeps a packet's time, its timers run on the latest
		}
		if rec.TS < last {
			// Time stepped back (a clock step, multi-queue capture). The
			// kernel's timers are monotonic and it saw the packet after the
			// ones before it: take it as arriving at the latest time seen.
			st.Backwards++
			st.MaxStepBack = max(st.MaxStepBack, last-rec.TS)
			rec.TS = last
		}
		switch dec.Decode(&rec, &pkt) {
		case assemble.TCP:
			st.TCP++
			if pkt.TS > last {
				last = pkt.TS
			}
			table.Add(&pkt)
			continue
		case assemble.NotTCP:
			st.NotTCP++
		case assemble.Fragment:
			st.Fragments++
		case assemble.Malformed:
			st.Malformed++
		case assemble.Truncated:
			st.Truncated++
		default:
			st.Unsupported++
			st.countUnsupported(src.Name(), rec.LinkType)
		}
		if rec.TS > last {
			last = rec.TS
		}
	}
	prog.done()
	now := last
	if o.nowSet {
		now = o.now
	}
	res := table.Close(now)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "tcptrack: warning: %v (the table covers what was read)\n", w)
	}
	for _, c := range st.unsupported {
		fmt.Fprintf(stderr, "tcptrack: warning: %s: %d records with link type %s (%d) not decoded (counted as unsupported link)\n",
			c.file, c.n, c.link, uint32(c.link))
	}
	if res.Stats.Evicted > 0 || res.Stats.Dropped > 0 {
		fmt.Fprintf(stderr, "tcptrack: warning: table full (--max-flows %d): %d flows evicted early, %d segments dropped that would have created one\n",
			o.maxFlows, res.Stats.Evicted, res.Stats.Dropped)
	}
	if st.MaxStepBack >= 1e9 {
		// Small steps back are common (multi-queue capture); a large one
		// can change what expired, so it is worth a word.
		fmt.Fprintf(stderr, "tcptrack: warning: %d records stamped earlier than a record read before them (up to %.6f s back); taken as arriving at the latest time seen before them\n",
			st.Backwards, float64(st.MaxStepBack)/1e9)
	}
	if filter != nil {
		if ferr := filter.Err(); ferr != nil {
			// Records of those link types were counted as filtered out.
			fmt.Fprintf(stderr, "tcptrack: warning: filter %q: %v\n", o.filter, ferr)
		}
	}
	if fx != nil {
		if err := fx.finish(&res, now); err != nil {
			return err
		}
	}
	if zv != nil {
		if err := zv.finish(now); err != nil {
			return err
		}
	} else if o.output == "netstat" {
		if err := writeNetstat(out, res.HostPairs(), &o.hosts, now, o.host, o.timers); err != nil {
			return err
		}
	} else if o.output == "sockets" {
		if err := writeSocketsJSON(out, res.HostPairs(), &o.hosts, now, o.host); err != nil {
			return err
		}
	} else if !o.events || o.outputSet {
		if err := writeFlowList(out, stderr, o, &res, now); err != nil {
			return err
		}
	}
	if o.stats {
		rep := makeStatsReport(&st, &res.Stats, dec.Stats())
		if o.statsJSON {
			rep.writeJSON(stderr)
		} else {
			rep.writeText(stderr)
		}
		for _, p := range rep.Unbalanced {
			fmt.Fprintf(stderr, "tcptrack: warning: accounting does not add up: %s\n", p)
		}
	}
	return out.Flush()
}

func writeFlows(out *bufio.Writer, stderr io.Writer, o *readOptions, flows []flowtable.Flow, now int64) error {
	return writeFlowList(out, stderr, o, flowSlice{flows: flows}, now)
}

// flowList is an ordered set of flows, each with its summary or nil: a
// closed table's Result (read straight from the table), or a snapshot.
type flowList interface {
	Len() int
	At(i int) (flowtable.Flow, *fsm.Summary)
}

// flowSlice is a flowList over copies; sums, when not nil, parallels flows.
type flowSlice struct {
	flows []flowtable.Flow
	sums  []fsm.Summary
}

func (l flowSlice) Len() int { return len(l.flows) }

func (l flowSlice) At(i int) (flowtable.Flow, *fsm.Summary) {
	if i < len(l.sums) {
		return l.flows[i], &l.sums[i]
	}
	return l.flows[i], nil
}

// writeFlowList is writeFlows for any flowList: the outputs that show
// summaries use the flows' own.
func writeFlowList(out *bufio.Writer, stderr io.Writer, o *readOptions, flows flowList, now int64) error {
	switch o.output {
	case "table":
		return writeTableColumns(out, flows, now, o.columns)
	case "json":
		return writeJSONList(out, flows, now)
	}
	lo := lineOpts{acct: o.acct, extended: o.extended}
	var line []byte
	for i := range flows.Len() {
		f, _ := flows.At(i)
		line = appendConntrack(line[:0], &f, now, lo)
		line = append(line, '\n')
		if _, err := out.Write(line); err != nil {
			return err
		}
	}
	// conntrack -L says this on stderr too; scripts read stdout only.
	fmt.Fprintf(stderr, "tcptrack %s (conntrack-style): %d flow entries have been shown.\n", version, flows.Len())
	return nil
}

// statsReport is what --stats prints. Four sums must hold, and the report
// says so when one does not: every record read lands in exactly one packet
// kind; every TCP segment in exactly one table verdict; every IP fragment
// frame in exactly one fate; every flow created is still live or left the
// table for one reason.
type statsReport struct {
	Read        uint64  `json:"read"`
	TCP         uint64  `json:"tcp"`
	NotTCP      uint64  `json:"not_tcp"`
	Fragments   uint64  `json:"fragments"`
	Malformed   uint64  `json:"malformed"`
	Truncated   uint64  `json:"truncated"`
	Unsupported uint64  `json:"unsupported_link"`
	Filtered    uint64  `json:"filtered"`
	AfterNow    uint64  `json:"after_now"`
	Backwards   uint64  `json:"timestamps_backwards"` // not part of the sum
	MaxStepBack float64 `json:"max_step_back_seconds"`

	Verdicts struct {
		Accepted uint64 `json:"accepted"`
		Ignored  uint64 `json:"ignored"`
		Invalid  uint64 `json:"invalid"`
		Dropped  uint64 `json:"dropped_table_full"`
	} `json:"tcp_verdicts"`
	Frag struct {
		Joined      uint64 `json:"joined"`
		Lost        uint64 `json:"lost"`
		Waiting     uint64 `json:"waiting"`
		Dropped     uint64 `json:"dropped"`
		Duplicate   uint64 `json:"duplicate"`
		Reassembled uint64 `json:"datagrams_reassembled"`
		Expired     uint64 `json:"datagrams_expired"`
	} `json:"fragment_frames"`
	Flows struct {
		Created  uint64 `json:"created"`
		Expired  uint64 `json:"expired"`
		Killed   uint64 `json:"killed"`
		Reopened uint64 `json:"reopened"`
		Evicted  uint64 `json:"evicted"`
		Active   uint64 `json:"active"`
	} `json:"flows"`
	UnsupportedLinks []unsupportedLink `json:"unsupported_links,omitempty"`
	Unbalanced       []string          `json:"unbalanced,omitempty"`
}

type unsupportedLink struct {
	File     string `json:"file"`
	LinkType uint32 `json:"link_type"`
	Name     string `json:"name"`
	Records  uint64 `json:"records"`
}

func makeStatsReport(st *readStats, ft *flowtable.Stats, ds assemble.DecodeStats) *statsReport {
	r := &statsReport{
		Read: st.Read, TCP: st.TCP, NotTCP: st.NotTCP, Fragments: st.Fragments, Malformed: st.Malformed,
		Truncated: st.Truncated, Unsupported: st.Unsupported, Filtered: st.Filtered, AfterNow: st.AfterNow,
		Backwards: st.Backwards, MaxStepBack: float64(st.MaxStepBack) / 1e9,
	}
	r.Verdicts.Accepted, r.Verdicts.Ignored, r.Verdicts.Invalid, r.Verdicts.Dropped = ft.Accepted, ft.Ignored, ft.Invalid, ft.Dropped
	r.Frag.Joined, r.Frag.Lost, r.Frag.Waiting = ds.FragJoined, ds.FragLost, ds.FragWaiting
	r.Frag.Dropped, r.Frag.Duplicate = ds.FragDropped, ds.FragDuplicate
	r.Frag.Reassembled, r.Frag.Expired = ds.FragCompleted, ds.FragExpired
	r.Flows.Created, r.Flows.Expired, r.Flows.Killed = ft.Created, ft.Expired, ft.Killed
	r.Flows.Reopened, r.Flows.Evicted, r.Flows.Active = ft.Reopened, ft.Evicted, ft.Active
	for _, c := range st.unsupported {
		r.UnsupportedLinks = append(r.UnsupportedLinks, unsupportedLink{File: c.file, LinkType: uint32(c.link), Name: c.link.String(), Records: c.n})
	}

	check := func(what string, total uint64, parts ...uint64) {
		var sum uint64
		for _, p := range parts {
			sum += p
		}
		if sum != total {
			r.Unbalanced = append(r.Unbalanced, fmt.Sprintf("%s: %d, parts sum to %d", what, total, sum))
		}
	}
	check("packets read", r.Read, r.TCP, r.NotTCP, r.Fragments, r.Malformed, r.Truncated, r.Unsupported, r.Filtered, r.AfterNow)
	check("tcp segments", r.TCP, r.Verdicts.Accepted, r.Verdicts.Ignored, r.Verdicts.Invalid, r.Verdicts.Dropped)
	check("tcp segments handed to the table", r.TCP, ft.Segments)
	check("fragment frames", r.Fragments, r.Frag.Joined, r.Frag.Lost, r.Frag.Waiting, r.Frag.Dropped, r.Frag.Duplicate)
	check("flows created", r.Flows.Created, r.Flows.Expired, r.Flows.Killed, r.Flows.Reopened, r.Flows.Evicted, r.Flows.Active)
	return r
}

func (r *statsReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "packets read:        %d\n", r.Read)
	v := &r.Verdicts
	fmt.Fprintf(w, "  tcp:               %d (accepted %d, ignored %d, invalid %d, dropped table full %d)\n",
		r.TCP, v.Accepted, v.Ignored, v.Invalid, v.Dropped)
	fmt.Fprintf(w, "  not tcp:           %d\n", r.NotTCP)
	f := &r.Frag
	fmt.Fprintf(w, "  ip fragments:      %d (joined %d, lost with given-up datagrams %d, waiting %d, dropped %d, duplicate %d; datagrams reassembled %d, expired %d)\n",
		r.Fragments, f.Joined, f.Lost, f.Waiting, f.Dropped, f.Duplicate, f.Reassembled, f.Expired)
	fmt.Fprintf(w, "  malformed:         %d\n", r.Malformed)
	fmt.Fprintf(w, "  truncated:         %d\n", r.Truncated)
	fmt.Fprintf(w, "  unsupported link:  %d\n", r.Unsupported)
	fmt.Fprintf(w, "  filtered out:      %d\n", r.Filtered)
	fmt.Fprintf(w, "  after --now:       %d\n", r.AfterNow)
	fl := &r.Flows
	fmt.Fprintf(w, "flows created:       %d (expired %d, killed by RST %d, reopened %d, evicted %d, active %d)\n",
		fl.Created, fl.Expired, fl.Killed, fl.Reopened, fl.Evicted, fl.Active)
	if r.Backwards > 0 {
		fmt.Fprintf(w, "out of order:        %d records stamped before one read earlier (up to %.6f s back)\n", r.Backwards, r.MaxStepBack)
	}
}

func (r *statsReport) writeJSON(w io.Writer) {
	b, _ := json.Marshal(r) // plain struct of numbers and strings: cannot fail
	w.Write(append(b, '\n'))
}

// statsFlag is --stats (text) or --stats=json.
type statsFlag struct{ on, json *bool }

func (f statsFlag) IsBoolFlag() bool { return true }

func (f statsFlag) String() string {
	switch {
	case f.on == nil || !*f.on:
		return "false"
	case *f.json:
		return "json"
	}
	return "true"
}

func (f statsFlag) Set(v string) error {
	switch v {
	case "true", "text":
		*f.on, *f.json = true, false
	case "json":
		*f.on, *f.json = true, true
	case "false":
		*f.on, *f.json = false, false
	default:
		return fmt.Errorf("--stats takes nothing, =text or =json, not %q", v)
	}
	return nil
}

// progress draws one status line on a terminal: bytes read of the total,
// packets per second, flows held.
type progress struct {
	w     io.Writer
	on    bool
	size  int64
	start time.Time
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, mode string, size int64) *progress {
	on := mode == "always"
	if mode == "auto" {
		if f, ok := w.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				on = true
			}
		}
	}
	now := time.Now()
	return &progress{w: w, on: on, size: size, start: now, last: now}
}

func (p *progress) update(off int64, pkts uint64, flows int) {
	if !p.on {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 250*time.Millisecond {
		return
	}
	p.last = now
	rate := float64(pkts) / now.Sub(p.start).Seconds()
	if p.size > 0 {
		fmt.Fprintf(p.w, "\r%s / %s (%.0f%%)  %.0f pkt/s  %d flows   ", mib(off), mib(p.size), 100*float64(off)/float64(p.size), rate, flows)
	} else {
		fmt.Fprintf(p.w, "\r%s  %.0f pkt/s  %d flows   ", mib(off), rate, flows)
	}
	p.drawn = true
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// readOnly reads every record and nothing more: the floor the replay
// path is measured against.
func readOnly(src recordSource, stdout io.Writer) error {
	n, bytes := 0, 0
	for {
		rec, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		n++
		bytes += rec.CapLen
	}
	_, err := fmt.Fprintf(stdout, "%d records, %d captured bytes\n", n, bytes)
	return err
}
