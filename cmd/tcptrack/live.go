package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/output"
)

// cmdLive opens the interface and runs the capture until a signal, --count
// or --duration stops it.
func cmdLive(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o, err := parseLiveFlags(args, stderr)
	if err != nil {
		return err
	}
	src, err := openCapture(captureConfig{iface: o.iface, snaplen: o.snaplen, promisc: o.promisc,
		bufferBytes: o.bufferBytes, direction: o.direction, filter: o.filter, readTimeout: liveReadTimeout, fanout: o.fanout})
	if err != nil {
		return err
	}
	defer src.Close()
	var stop stopSignal
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sigs:
			stop.set(time.Now())
		case <-done:
		}
	}()
	fmt.Fprintf(stderr, "tcptrack: listening on %s (direction %s, filter %q), link type %v, snapshot length %d bytes\n",
		o.iface, o.direction, o.filter, src.LinkType(), src.SnapLen())
	return runLive(o, src, time.Now, &stop, stdin, stdout, stderr)
}

// stopSignal ends the capture: a signal, the q key, --duration, a closed
// pipe. It keeps the first instant it was set.
type stopSignal struct{ at atomic.Int64 }

func (s *stopSignal) set(t time.Time) { s.at.CompareAndSwap(0, t.UnixNano()) }
func (s *stopSignal) isSet() bool     { return s.at.Load() != 0 }
func (s *stopSignal) when() int64     { return s.at.Load() }

// liveLoop is one capture session: it owns the pipeline and the table (the
// table's single producer), and hands snapshots to the view and exporter.
type liveLoop struct {
	o     *liveOptions
	src   captureSource
	pl    *assemble.Pipeline
	table *flowtable.Table
	dump  *pcapWriter
	clock func() time.Time
	stop  *stopSignal

	dumpErr  error
	start    time.Time
	deadline int64 // --duration, Unix ns (0: none)
	nextDue  int64 // capture time of the next periodic check
	nextView int64
	nextExp  int64
	nextSync int64

	scale  *liveScale // IPFIX export and metrics, or nil
	view   *liveView
	frames chan *viewFrame // to the view goroutine
	exp    *exporter
	expIn  chan *viewFrame

	closedMu sync.Mutex
	closed   []flowtable.Flow // destroyed since the last frame (view only)
}

// periodEvery is how often, in capture time, the loop looks at the clock
// for the view, the export, --duration and flushing -w.
const periodEvery = int64(50 * time.Millisecond)

// runLive is the capture loop with its outputs; tests drive it with a
// recorded source and a fake clock.
func runLive(o *liveOptions, src captureSource, clock func() time.Time, stop *stopSignal, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	l := &liveLoop{o: o, src: src, clock: clock, stop: stop}
	l.start = clock()
	if o.duration > 0 {
		l.deadline = l.start.Add(o.duration).UnixNano()
	}
	viewOn := !o.events && !o.invalid && !o.once && isTerminal(stdout)

	lo := o.lineOptions()
	cfg := flowtable.Config{FSM: o.fsm, Shards: o.shards, MaxFlows: o.maxFlows, TickEvery: int64(liveReadTimeout), Acct: true, Hosts: &o.hosts}
	switch {
	case o.events || o.invalid:
		// One write per line: a pipe reader sees each change at once.
		var line []byte
		var iw *output.InvalidWriter
		if o.invalid {
			iw = output.NewInvalidWriter(stdout, o.output == "json", o.eventStamps)
			cfg.Packets = flowtable.PacketsNotAccepted
		}
		cfg.OnEvents = func(evs []flowtable.Event) {
			for i := range evs {
				if evs[i].Type == flowtable.EventPacket {
					if iw.Event(&evs[i]) != nil {
						stop.set(clock())
					}
					continue
				}
				if !o.events {
					continue
				}
				line = appendEventLine(line[:0], &evs[i], o.output, lo)
				line = append(line, '\n')
				if _, werr := stdout.Write(line); werr != nil {
					// A closed pipe (head, less quitting): stop as tcpdump does.
					stop.set(clock())
				}
			}
		}
	case viewOn:
		// Closed flows linger in the view: keep what the table destroys.
		cfg.OnEvents = func(evs []flowtable.Event) {
			l.closedMu.Lock()
			for i := range evs {
				if evs[i].Type == flowtable.EventDestroy {
					l.closed = append(l.closed, evs[i].Flow)
				}
			}
			l.closedMu.Unlock()
		}
	}
	if l.scale, err = startScale(o, stderr); err != nil {
		return err
	}
	if l.scale != nil && l.scale.fx != nil {
		cfg.OnEvents = l.scale.fx.chain(cfg.OnEvents)
	}
	cfg.DestroyEventsOnly = !o.events // the view and IPFIX need ended flows only
	l.table = flowtable.New(cfg)
	l.pl = assemble.NewPipeline(l.table, assemble.DecoderConfig{VerifyTCPChecksum: o.checksum})

	if o.write != "" {
		if l.dump, err = createPcap(o.write, src.SnapLen(), src.LinkType()); err != nil {
			l.table.Close(clock().UnixNano())
			return err
		}
		defer func() {
			if cerr := l.dump.Close(); err == nil && cerr != nil {
				err = cerr
			}
		}()
	}

	var viewDone chan struct{}
	var term *terminal
	if viewOn {
		l.view = newLiveView(o, l.start.UnixNano())
		term = openTerminal(stdin, stdout)
		l.frames = make(chan *viewFrame, 1)
		viewDone = make(chan struct{})
		keys := term.keys()
		go l.view.run(term, l.frames, keys, stop, viewDone)
	}
	if o.export != "" {
		l.exp = &exporter{path: o.export, opts: outputOptions(o.exportFmt, &o.lineFlags, nil), done: make(chan struct{})}
		l.expIn = make(chan *viewFrame, 1)
		go l.exp.run(l.expIn, stderr)
	}

	now0 := l.start.UnixNano()
	l.nextDue = now0 + periodEvery
	l.nextView = now0
	l.nextExp = now0 + int64(o.every)
	capErr := l.capture()

	// The end: everything due by the stop expires, then the outputs. A
	// signal's instant is the table's: conntrack -L run at that moment
	// lists the same.
	endNow := clock().UnixNano()
	if at := stop.when(); at != 0 {
		endNow = at
	}
	pst, pstErr := src.Stats()
	res := l.table.Close(endNow)
	var scaleErr error
	if l.scale != nil {
		scaleErr = l.scale.finish(&res, endNow)
	}
	flows := res.Flows()
	if l.expIn != nil {
		close(l.expIn)
		<-l.exp.done
	}
	var outErr error
	if l.view != nil {
		close(l.frames)
		<-viewDone
		term.restore()
		outErr = l.view.printFinal(stdout, l.frame(endNow, flows, pst))
	} else if !o.invalid && (!o.events || o.outputSet) {
		out := bufio.NewWriterSize(stdout, 1<<16)
		outErr = writeFlows(out, stderr, output.FlowSlice{Flows: flows}, endNow, outputOptions(o.output, &o.lineFlags, nil))
		if ferr := out.Flush(); outErr == nil {
			outErr = ferr
		}
	}
	if l.exp != nil {
		if eerr := l.exp.write(flows, endNow); eerr != nil && outErr == nil {
			outErr = eerr
		}
	}
	ps := l.pl.Stats()
	writeLiveStats(stderr, o, &ps, pst, pstErr, &res.Stats)
	return errors.Join(capErr, l.dumpErr, outErr, scaleErr)
}

// capture reads until stopped. It returns a capture error, or nil.
func (l *liveLoop) capture() error {
	var rec assemble.Record
	for !l.stop.isSet() {
		err := l.src.Read(&rec)
		switch {
		case err == nil:
			if at := l.stop.when(); at != 0 && rec.TS > at {
				return nil // after the stop instant: not in the final table
			}
			l.packet(&rec)
			if rec.TS >= l.nextDue {
				l.periodic(rec.TS)
			}
			if l.o.count > 0 && l.pl.Records() >= l.o.count {
				return nil
			}
		case err == errReadTimeout:
			// Quiet link: the wall clock moves expiry and the event
			// watermark along, as the kernel's timers do.
			if l.stop.isSet() {
				return nil // the table is taken at the stop instant, not later
			}
			now := l.clock().UnixNano()
			l.table.Tick(now - int64(liveTickSlack))
			l.periodic(now)
		case err == io.EOF:
			return nil
		default:
			return err
		}
	}
	return nil
}

// packet is the per-packet path: save, then the pipeline (time clamp,
// decode, track). It allocates nothing.
func (l *liveLoop) packet(rec *assemble.Record) {
	if l.dump != nil && l.dumpErr == nil {
		if err := l.dump.write(rec); err != nil {
			l.dumpErr = err
		}
	}
	l.pl.Add(rec)
}

// periodic runs the clock-driven work: stop at --duration, refresh the
// view, export, flush -w.
func (l *liveLoop) periodic(capTS int64) {
	now := max(capTS, l.clock().UnixNano())
	l.nextDue = now + periodEvery
	if l.deadline > 0 && now >= l.deadline {
		l.stop.set(time.Unix(0, l.deadline))
		return
	}
	if l.dump != nil && l.dumpErr == nil && now >= l.nextSync {
		l.nextSync = now + int64(time.Second)
		l.dumpErr = l.dump.flush()
	}
	if l.scale != nil {
		l.scale.tick(l, now)
	}
	wantView := l.view != nil && now >= l.nextView
	wantExp := l.exp != nil && now >= l.nextExp
	if !wantView && !wantExp {
		return
	}
	pst, _ := l.src.Stats()
	began := time.Now()
	fr := l.frame(now, l.table.Snapshot(now), pst)
	if wantView {
		// A snapshot stalls the capture for O(table); with a huge table
		// the view refreshes less often rather than cost packets.
		l.nextView = now + max(int64(l.o.refresh), 20*int64(time.Since(began)))
		select {
		case l.frames <- fr:
		default: // the view is still drawing the last one
		}
	}
	if wantExp {
		l.nextExp = now + int64(l.o.every)
		select {
		case l.expIn <- fr:
		default: // the last export is still being written
		}
	}
}

func (l *liveLoop) frame(now int64, flows []flowtable.Flow, pst captureStats) *viewFrame {
	ps := l.pl.Stats()
	fr := &viewFrame{now: now, flows: flows, captured: ps.Records, bytes: ps.WireBytes, tcp: ps.Decode.TCP, pcap: pst}
	l.closedMu.Lock()
	fr.closed, l.closed = l.closed, nil
	l.closedMu.Unlock()
	return fr
}
