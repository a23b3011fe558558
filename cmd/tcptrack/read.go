package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/flowtable"
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
	cfg := flowtable.Config{FSM: o.fsm, Shards: o.shards, MaxFlows: o.maxFlows}
	if o.events {
		var line []byte
		cfg.OnEvents = func(evs []flowtable.Event) {
			for i := range evs {
				line = appendEvent(line[:0], &evs[i], lo, o.eventStamps)
				line = append(line, '\n')
				out.Write(line)
			}
		}
	}
	table := flowtable.New(cfg)
	dec := assemble.NewDecoder(assemble.DecoderConfig{})

	prog := newProgress(stderr, o.progress, size)
	var st readStats
	var pkt assemble.Packet
	var last int64
	var warning error
	for {
		rec, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, assemble.ErrTruncated) {
				warning = err
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
	if warning != nil {
		fmt.Fprintf(stderr, "tcptrack: warning: %v (the table covers what was read)\n", warning)
	}
	if filter != nil {
		if ferr := filter.Err(); ferr != nil {
			// Records of those link types were counted as filtered out.
			fmt.Fprintf(stderr, "tcptrack: warning: filter %q: %v\n", o.filter, ferr)
		}
	}
	if !o.events || o.outputSet {
		if err := writeFlows(out, stderr, o, res.Flows, now); err != nil {
			return err
		}
	}
	if o.stats {
		writeStats(stderr, &st, &res.Stats, dec)
	}
	return out.Flush()
}

func writeFlows(out *bufio.Writer, stderr io.Writer, o *readOptions, flows []flowtable.Flow, now int64) error {
	switch o.output {
	case "table":
		return writeTable(out, flows, now)
	case "json":
		return writeJSON(out, flows, now)
	}
	lo := lineOpts{acct: o.acct, extended: o.extended}
	var line []byte
	for i := range flows {
		line = appendConntrack(line[:0], &flows[i], now, lo)
		line = append(line, '\n')
		if _, err := out.Write(line); err != nil {
			return err
		}
	}
	// conntrack -L says this on stderr too; scripts read stdout only.
	fmt.Fprintf(stderr, "tcptrack %s (conntrack-style): %d flow entries have been shown.\n", version, len(flows))
	return nil
}

func writeStats(w io.Writer, st *readStats, ft *flowtable.Stats, dec *assemble.Decoder) {
	ds := dec.Stats()
	fmt.Fprintf(w, "packets read:        %d\n", st.Read)
	fmt.Fprintf(w, "  tcp:               %d (accepted %d, ignored %d, invalid %d, dropped table full %d)\n",
		st.TCP, ft.Accepted, ft.Ignored, ft.Invalid, ft.Dropped)
	fmt.Fprintf(w, "  not tcp:           %d\n", st.NotTCP)
	fmt.Fprintf(w, "  fragments held:    %d (datagrams reassembled %d, expired %d)\n", st.Fragments, ds.FragCompleted, ds.FragExpired)
	fmt.Fprintf(w, "  malformed:         %d\n", st.Malformed)
	fmt.Fprintf(w, "  truncated:         %d\n", st.Truncated)
	fmt.Fprintf(w, "  unsupported link:  %d\n", st.Unsupported)
	fmt.Fprintf(w, "  filtered out:      %d\n", st.Filtered)
	fmt.Fprintf(w, "  after --now:       %d\n", st.AfterNow)
	fmt.Fprintf(w, "flows created:       %d (expired %d, killed by RST %d, reopened %d, evicted %d, active %d)\n",
		ft.Created, ft.Expired, ft.Killed, ft.Reopened, ft.Evicted, ft.Active)
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
