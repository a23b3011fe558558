package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
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
      --invalid            stream one line per packet conntrack marks invalid or ignores, as the
                           kernel logs it (nf_conntrack_log_invalid); -o json: one object per packet
                           (no view; the final table is not printed)
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

	setOutput := func(v string) error {
		switch v {
		case "conntrack", "table", "json":
			o.output, o.outputSet = v, true
			return nil
		}
		return fmt.Errorf("unknown output format %q (conntrack, table or json)", v)
	}
	fs.Func("o", "", setOutput)
	fs.Func("output", "", setOutput)
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
	if err := o.checkInvalid("live", o.output, o.outputSet); err != nil {
		return nil, err
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
