package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/output"
)

// readCounts are what read accounts for itself, outside the pipeline: every
// record read, those stamped after --now or rejected by the filter (not fed
// to the pipeline), and per file the link types the decoder could not take
// (for the warning that names them). The pipeline's stats account for the
// rest.
type readCounts struct {
	Read        uint64
	Filtered    uint64 // rejected by the BPF filter
	AfterNow    uint64 // stamped after --now, not applied
	unsupported []linkCount
}

// linkCount counts records of a link type the decoder does not know, per
// file, for the warning that names them.
type linkCount struct {
	file string
	link assemble.LinkType
	n    uint64
}

func (rc *readCounts) countUnsupported(file string, lt assemble.LinkType) {
	for i := range rc.unsupported {
		if c := &rc.unsupported[i]; c.link == lt && c.file == file {
			c.n++
			return
		}
	}
	rc.unsupported = append(rc.unsupported, linkCount{file: file, link: lt, n: 1})
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
	lo := o.lineOptions()
	cfg := flowtable.Config{FSM: o.fsm, Shards: o.shards, MaxFlows: o.maxFlows, Summaries: o.wantSummaries(), Acct: o.wantAcct()}
	if o.wantHosts() {
		cfg.Hosts = &o.hosts
	}
	var zv *zeekView // -o zeek, zeek-json: Zeek's connection model, beside the table
	if o.zeekOutput() {
		zv = newZeekView(out, o)
	}
	var iw *output.InvalidWriter // --invalid: the packets, from the table's packet events
	if o.invalid {
		iw = output.NewInvalidWriter(out, o.output == "json", o.eventStamps)
		cfg.Packets = flowtable.PacketsNotAccepted
	}
	if o.events || iw != nil {
		var line []byte
		cfg.OnEvents = func(evs []flowtable.Event) {
			for i := range evs {
				if evs[i].Type == flowtable.EventPacket {
					iw.Event(&evs[i]) // write errors show at the final Flush
					continue
				}
				if !o.events {
					continue
				}
				line = appendEventLine(line[:0], &evs[i], o.output, lo)
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
	pl := assemble.NewParallelPipeline(table, assemble.DecoderConfig{VerifyTCPChecksum: o.checksum}, o.shards)

	prog := newProgress(stderr, o.progress, size)
	var rc readCounts
	var warnings []error
	_, merged := src.(*mergedSource)
	recs := make([]assemble.Record, readBatch)
	for {
		n, err := src.NextBatch(recs)
		for i := range recs[:n] {
			rec := &recs[i]
			rc.Read++
			if rc.Read&4095 == 0 {
				prog.update(src.Offset(), rc.Read, table.Active())
			}
			if o.nowSet && rec.TS > o.now {
				rc.AfterNow++
				continue
			}
			if filter != nil && !filter.Match(rec) {
				rc.Filtered++
				continue
			}
			if zv != nil {
				zv.add(rec) // with its own time: Zeek keeps a packet's time, its timers run on the latest
			}
			if !rec.LinkType.Decodable() {
				rc.countUnsupported(src.Name(), rec.LinkType)
			}
			pl.AddNumbered(rec, rc.Read)
		}
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
			pl.Close()
			table.Close(pl.Now())
			prog.done()
			return err
		}
	}
	pl.Close()
	closeAll() // everything is read: the read buffers' memory goes back before the table closes
	prog.done()
	now := pl.Now()
	if o.nowSet {
		now = o.now
	}
	res := table.Close(now)
	capHeapGrowth()
	ps := pl.Stats()
	for _, w := range warnings {
		fmt.Fprintf(stderr, "tcptrack: warning: %v (the table covers what was read)\n", w)
	}
	for _, c := range rc.unsupported {
		fmt.Fprintf(stderr, "tcptrack: warning: %s: %d records with link type %s (%d) not decoded (counted as unsupported link)\n",
			c.file, c.n, c.link, uint32(c.link))
	}
	if res.Stats.Evicted > 0 || res.Stats.Dropped > 0 {
		fmt.Fprintf(stderr, "tcptrack: warning: table full (--max-flows %d): %d flows evicted early, %d segments dropped that would have created one\n",
			o.maxFlows, res.Stats.Evicted, res.Stats.Dropped)
	}
	if ps.MaxStepBack >= 1e9 {
		// Small steps back are common (multi-queue capture); a large one
		// can change what expired, so it is worth a word.
		fmt.Fprintf(stderr, "tcptrack: warning: %d records stamped earlier than a record read before them (up to %.6f s back); taken as arriving at the latest time seen before them\n",
			ps.Backwards, float64(ps.MaxStepBack)/1e9)
	}
	if ds := ps.Decode; ds.BadChecksum > 0 && ds.BadChecksum*10 >= ds.TCP+ds.Rejected {
		// Many wrong checksums: an edited capture rather than corruption.
		fmt.Fprintf(stderr, "tcptrack: warning: %d of %d TCP segments carry wrong checksums and are invalid, as the kernel would find them; if the capture was edited (anonymised, rewritten), --no-checksum reads them as intact\n",
			ds.BadChecksum, ds.TCP+ds.Rejected)
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
	} else if iw != nil {
		// --invalid replaces the table.
	} else if o.output == "netstat" {
		if err := output.WriteNetstat(out, res.HostPairs(), &o.hosts, now, output.NetstatOptions{Host: o.host, Timers: o.timers}); err != nil {
			return err
		}
	} else if o.output == "sockets" {
		if err := output.WriteSockets(out, res.HostPairs(), &o.hosts, now, o.host); err != nil {
			return err
		}
	} else if !o.events || o.outputSet {
		if err := writeFlows(out, stderr, &res, now, outputOptions(o.output, &o.lineFlags, o.columns)); err != nil {
			return err
		}
	}
	if o.stats {
		rep := makeStatsReport(&rc, &ps, &res.Stats, o.checksum)
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

// readOnly reads every record and nothing more: the floor the replay
// path is measured against.
func readOnly(src recordSource, stdout io.Writer) error {
	n, bytes := 0, 0
	recs := make([]assemble.Record, readBatch)
	for {
		k, err := src.NextBatch(recs)
		for i := range recs[:k] {
			n++
			bytes += recs[i].CapLen
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(stdout, "%d records, %d captured bytes\n", n, bytes)
	return err
}

// readBatch is how many records the read loop asks the source for at once.
const readBatch = 512

// capHeapGrowth bounds the heap from here on to what it holds now and a
// little more. The table is complete; the output formats allocate as they
// write (JSON above all), and all of that is garbage at once. Without a
// limit the collector would let the heap grow to twice the live table
// before collecting, and the peak memory of a big table would double.
func capHeapGrowth() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	debug.SetMemoryLimit(int64(ms.Sys-ms.HeapReleased) + 64<<20)
}
