package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/flowtable"
)

const liveUsage = `Usage: tcptrack live -i IFACE [flags] [BPF expression]

Sniffs an interface with libpcap and tracks every TCP connection through
Linux's conntrack TCP state machine, as a Linux box receiving those packets
would. Flows expire on the wall clock, as in the kernel. SIGINT or SIGTERM
stops the capture: the final table is printed (and exported), then the
packet accounting on stderr. Anything after the flags is a BPF filter
expression compiled by libpcap and run in the kernel (default "tcp").

Capture:
  -i, --interface IFACE    interface to sniff; "any" for all of them (required)
  -Q, --direction DIR      in, out or inout (default): which way packets must travel, as
                           tcpdump -Q (a router sees each forwarded packet once with -i any -Q in)
  -f, --filter EXPR        BPF filter expression (alternative to trailing arguments)
      --snaplen N          bytes kept per packet (default %d: the headers conntrack needs)
      --promisc / --no-promisc  promiscuous mode (default on; ignored on "any")
      --buffer-size SIZE   kernel capture buffer: bytes with an optional K, M or G suffix
                           (default %s); a bare number is KiB, as tcpdump -B
  -w FILE                  also save the captured packets as a pcap file (replay it with read)
  -c, --count N            stop after N captured packets
      --duration D         stop after D (e.g. 30s, 5m)

Output:
  (stdout a terminal)      a view refreshed like top: one row per connection with both
                           endpoints and their socket states, the conntrack state, packets,
                           bytes and rate per direction, idle time; keys: s next sort key,
                           S previous, r reverse, q quit
      --sort KEY           rate (default), bytes, packets, idle, age, state, client, server
      --refresh D          view refresh interval (default 1s)
      --linger D           how long closed flows stay in the view (default 3s)
      --once               no view: capture until stopped, then print the table (-o)
  -o, --output FORMAT      conntrack (default), table or json: what is printed at exit when
                           stdout is not a terminal or with --once
      --extended           conntrack lines with the "ipv4     2 " prefix (conntrack -o extended)
      --acct               packets=N bytes=N after each tuple (nf_conntrack_acct=1)
  -e, --events             stream conntrack -E style [NEW]/[UPDATE]/[DESTROY] lines, one write
                           per line (the final table is then printed only if -o is given); with
                           -o json, one JSON object per event (the -o json fields, "event", "time",
                           "reason" for DESTROY)
      --event-timestamps   prefix events with [seconds.micros] like conntrack -E -o timestamp (default true)
      --export FILE        write the state table to FILE atomically (temporary file, rename)
                           every --every and at exit; format from -o, else from the extension:
                           .txt table, .csv CSV, .json JSON lines
      --every D            export interval (default 5s)

%s
Exit status: 0 success, 1 capture error (no such interface, no permission, bad filter),
2 usage error.
`

const (
	defaultLiveSnaplen = 256
	defaultLiveBuffer  = 64 << 20
	liveReadTimeout    = 100 * time.Millisecond
	// liveTickSlack keeps wall-clock ticks a little behind now: a packet
	// stamped just before a read timed out may still be on its way into
	// the ring, and its flow must not be expired ahead of it.
	liveTickSlack = 10 * time.Millisecond
)

type liveOptions struct {
	iface       string
	direction   string
	filter      string
	snaplen     int
	promisc     bool
	bufferBytes int
	write       string
	count       uint64
	duration    time.Duration

	output    string
	outputSet bool
	lineFlags
	once      bool
	sortKey   sortKey
	refresh   time.Duration
	linger    time.Duration
	export    string
	exportFmt string
	every     time.Duration

	tracking
	scaleFlags
}

func parseLiveFlags(args []string, stderr io.Writer) (*liveOptions, error) {
	o := &liveOptions{direction: "inout", snaplen: defaultLiveSnaplen, promisc: true, bufferBytes: defaultLiveBuffer,
		refresh: time.Second, linger: 3 * time.Second, every: 5 * time.Second}
	fs := flag.NewFlagSet("live", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.iface, "i", "", "")
	fs.StringVar(&o.iface, "interface", "", "")
	direction := func(v string) error {
		switch v {
		case "in", "out", "inout":
			o.direction = v
			return nil
		}
		return fmt.Errorf("direction must be in, out or inout, not %q", v)
	}
	fs.Func("Q", "", direction)
	fs.Func("direction", "", direction)
	fs.StringVar(&o.filter, "f", "", "")
	fs.StringVar(&o.filter, "filter", "", "")
	fs.IntVar(&o.snaplen, "snaplen", defaultLiveSnaplen, "")
	noPromisc := false
	fs.BoolVar(&o.promisc, "promisc", true, "")
	fs.BoolVar(&noPromisc, "no-promisc", false, "")
	fs.Func("buffer-size", "", func(v string) error {
		n, err := parseSize(v)
		if err != nil {
			return err
		}
		o.bufferBytes = n
		return nil
	})
	fs.StringVar(&o.write, "w", "", "")
	fs.Uint64Var(&o.count, "c", 0, "")
	fs.Uint64Var(&o.count, "count", 0, "")
	fs.DurationVar(&o.duration, "duration", 0, "")

	output := func(v string) error {
		switch v {
		case "conntrack", "table", "json":
			o.output, o.outputSet = v, true
			return nil
		}
		return fmt.Errorf("unknown output format %q (conntrack, table or json)", v)
	}
	fs.Func("o", "", output)
	fs.Func("output", "", output)
	addLineFlags(fs, &o.lineFlags)
	fs.BoolVar(&o.once, "once", false, "")
	fs.Func("sort", "", func(v string) error {
		k, ok := parseSortKey(v)
		if !ok {
			return fmt.Errorf("--sort takes %s, not %q", strings.Join(sortKeyNames[:], ", "), v)
		}
		o.sortKey = k
		return nil
	})
	fs.DurationVar(&o.refresh, "refresh", time.Second, "")
	fs.DurationVar(&o.linger, "linger", 3*time.Second, "")
	fs.StringVar(&o.export, "export", "", "")
	fs.DurationVar(&o.every, "every", 5*time.Second, "")
	finishTracking := addTrackingFlags(fs, &o.tracking)
	addScaleFlags(fs, &o.scaleFlags)
	help := false
	fs.BoolVar(&help, "h", false, "")
	fs.BoolVar(&help, "help", false, "")

	if err := fs.Parse(args); err != nil {
		return nil, usagef("live: %v (see tcptrack live --help)", err)
	}
	if help {
		fmt.Fprintf(stderr, liveUsage, defaultLiveSnaplen, "64M", trackingUsage()+"\n"+ipfixUsage+ipfixActiveUsage+"\n"+scaleUsage)
		return nil, errHelp
	}
	finishTracking()
	if err := o.scaleFlags.check(); err != nil {
		return nil, err
	}
	if noPromisc {
		o.promisc = false
	}
	if words := fs.Args(); len(words) > 0 {
		if o.filter != "" {
			return nil, usagef("live: a filter given both with --filter and as arguments")
		}
		o.filter = strings.Join(words, " ")
	}
	if o.filter == "" {
		o.filter = "tcp"
	}
	switch {
	case o.iface == "":
		return nil, usagef("live: no interface given: -i IFACE (or -i any)")
	case o.snaplen < 64 || o.snaplen > 262144:
		return nil, usagef("live: --snaplen must be 64..262144, not %d", o.snaplen)
	case o.bufferBytes < 1<<16:
		return nil, usagef("live: --buffer-size must be at least 64K")
	case o.duration < 0:
		return nil, usagef("live: --duration must not be negative")
	case o.refresh < 50*time.Millisecond:
		return nil, usagef("live: --refresh must be at least 50ms")
	case o.linger < 0:
		return nil, usagef("live: --linger must not be negative")
	case o.every < 50*time.Millisecond:
		return nil, usagef("live: --every must be at least 50ms")
	case o.shards < 1 || o.shards > 1024:
		return nil, usagef("live: --shards must be 1..1024, not %d", o.shards)
	case o.maxFlows < 0:
		return nil, usagef("live: --max-flows must not be negative")
	}
	if o.export != "" {
		f, err := exportFormat(o.export, o.output)
		if err != nil {
			return nil, usagef("live: %v", err)
		}
		o.exportFmt = f
	}
	if o.output == "" {
		o.output = "conntrack"
	}
	return o, nil
}

// parseSize reads a byte count: a bare number is KiB (tcpdump -B), or a
// number with a K, M or G suffix (powers of 1024).
func parseSize(v string) (int, error) {
	mult := 1 << 10
	num := v
	if n := len(v); n > 0 {
		switch v[n-1] {
		case 'k', 'K':
			num = v[:n-1]
		case 'm', 'M':
			mult, num = 1<<20, v[:n-1]
		case 'g', 'G':
			mult, num = 1<<30, v[:n-1]
		}
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || n > (1<<31-1)/mult {
		return 0, fmt.Errorf("--buffer-size %q: want a size such as 65536 (KiB), 64M or 1G, below 2G", v)
	}
	return n * mult, nil
}

// liveStats accounts for every frame captured: the kinds add up to Captured.
type liveStats struct {
	Captured    uint64
	Bytes       uint64 // on the wire
	TCP         uint64
	NotTCP      uint64
	Fragments   uint64
	Malformed   uint64
	Truncated   uint64
	Unsupported uint64
}

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

// liveLoop is one capture session: it owns the decoder and the table (the
// table's single producer), and hands snapshots to the view and exporter.
type liveLoop struct {
	o     *liveOptions
	src   captureSource
	dec   *assemble.Decoder
	table *flowtable.Table
	dump  *pcapWriter
	clock func() time.Time
	stop  *stopSignal

	st       liveStats
	pkt      assemble.Packet
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
	l := &liveLoop{o: o, src: src, clock: clock, stop: stop, dec: assemble.NewDecoder(assemble.DecoderConfig{})}
	l.start = clock()
	if o.duration > 0 {
		l.deadline = l.start.Add(o.duration).UnixNano()
	}
	viewOn := !o.events && !o.once && isTerminal(stdout)

	lo := lineOpts{acct: o.acct, extended: o.extended}
	cfg := flowtable.Config{FSM: o.fsm, Shards: o.shards, MaxFlows: o.maxFlows, TickEvery: int64(liveReadTimeout), Acct: true, Hosts: &o.hosts}
	switch {
	case o.events:
		// One write per line: a pipe reader sees each change at once.
		var line []byte
		cfg.OnEvents = func(evs []flowtable.Event) {
			for i := range evs {
				line = appendEventLine(line[:0], &evs[i], o.output, lo, o.eventStamps)
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
		l.exp = &exporter{path: o.export, format: o.exportFmt, lo: lo, done: make(chan struct{})}
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
	} else if !o.events || o.outputSet {
		out := bufio.NewWriterSize(stdout, 1<<16)
		ro := &readOptions{output: o.output, lineFlags: o.lineFlags}
		outErr = writeFlows(out, stderr, ro, flows, endNow)
		if ferr := out.Flush(); outErr == nil {
			outErr = ferr
		}
	}
	if l.exp != nil {
		if eerr := l.exp.write(flows, endNow); eerr != nil && outErr == nil {
			outErr = eerr
		}
	}
	writeLiveStats(stderr, o, &l.st, pst, pstErr, &res.Stats, l.dec)
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
			if l.o.count > 0 && l.st.Captured >= l.o.count {
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

// packet is the per-packet path: save, decode, track. It allocates nothing.
func (l *liveLoop) packet(rec *assemble.Record) {
	l.st.Captured++
	if l.dump != nil && l.dumpErr == nil {
		if err := l.dump.write(rec); err != nil {
			l.dumpErr = err
		}
	}
	l.st.Bytes += uint64(rec.OrigLen)
	switch l.dec.Decode(rec, &l.pkt) {
	case assemble.TCP:
		l.st.TCP++
		l.table.Add(&l.pkt)
	case assemble.NotTCP:
		l.st.NotTCP++
	case assemble.Fragment:
		l.st.Fragments++
	case assemble.Malformed:
		l.st.Malformed++
	case assemble.Truncated:
		l.st.Truncated++
	default:
		l.st.Unsupported++
	}
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
	fr := &viewFrame{now: now, flows: flows, captured: l.st.Captured, bytes: l.st.Bytes, tcp: l.st.TCP, pcap: pst}
	l.closedMu.Lock()
	fr.closed, l.closed = l.closed, nil
	l.closedMu.Unlock()
	return fr
}

// writeLiveStats is the accounting printed when the capture stops.
func writeLiveStats(w io.Writer, o *liveOptions, st *liveStats, pst captureStats, pstErr error, ft *flowtable.Stats, dec *assemble.Decoder) {
	if pstErr != nil {
		fmt.Fprintf(w, "tcptrack: warning: %v\n", pstErr)
	}
	fmt.Fprintf(w, "%d packets received by filter\n", pst.Received)
	fmt.Fprintf(w, "%d packets dropped by kernel\n", pst.Dropped)
	fmt.Fprintf(w, "%d packets dropped by interface\n", pst.IfDropped)
	fmt.Fprintf(w, "%d packets captured\n", st.Captured)
	fmt.Fprintf(w, "  tcp:               %d (tracked: accepted %d, ignored %d, invalid %d, dropped table full %d)\n",
		st.TCP, ft.Accepted, ft.Ignored, ft.Invalid, ft.Dropped)
	ds := dec.Stats()
	fmt.Fprintf(w, "  not tcp:           %d\n", st.NotTCP)
	fmt.Fprintf(w, "  fragments held:    %d (datagrams reassembled %d, expired %d)\n", st.Fragments, ds.FragCompleted, ds.FragExpired)
	fmt.Fprintf(w, "  malformed:         %d\n", st.Malformed)
	fmt.Fprintf(w, "  truncated:         %d (raise --snaplen, now %d, if this grows)\n", st.Truncated, o.snaplen)
	fmt.Fprintf(w, "  unsupported link:  %d\n", st.Unsupported)
	fmt.Fprintf(w, "flows created:       %d (expired %d, killed by RST %d, reopened %d, evicted %d, active %d)\n",
		ft.Created, ft.Expired, ft.Killed, ft.Reopened, ft.Evicted, ft.Active)
}
