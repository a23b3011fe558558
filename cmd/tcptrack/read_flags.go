package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tcptrack/tcptrack/output"
)

const readUsage = `Usage: tcptrack read [flags] FILE... [BPF expression]

Replays pcap/pcapng capture files through Linux's conntrack TCP state machine
and prints every connection the way "conntrack -L" would have on a Linux box
that saw the same packets. "-" reads standard input. Several files are merged
in timestamp order. Anything after the files is a BPF filter expression, as
tcpdump takes it (e.g. "tcp port 443 and host 10.0.0.1").

Output:
  -o, --output FORMAT      conntrack (default): conntrack -L lines;
                           table: netstat-style table with each endpoint's socket state;
                           json: one JSON object per flow per line, with each direction's summary
                           and each endpoint's socket (state, confirmed, timer);
                           netstat: per host, the lines netstat -tn would print on it at --now;
                           sockets: per host, one JSON object per socket (state, confirmed, timer);
                           zeek: Zeek's conn.log (TSV) by Zeek's own connection model;
                           zeek-json: the same records as JSON lines
      --zeek-checksums MODE  -o zeek: verify (default, as Zeek) or ignore (as zeek -C) IP, TCP
                           and UDP checksums
      --zeek-server-ports LIST  -o zeek: Zeek's likely_server_ports for TCP, which orient
                           connections that do not start with a SYN: ports, ranges and analyzer
                           names (http, ssl, ftp ...: their ports), comma-separated, or none;
                           "+LIST" adds to the default, the ports of all of Zeek's base
                           analyzers (what "zeek -r" loads; for a "zeek -b" run, name the
                           analyzers its scripts load)
      --columns LIST       table columns, comma-separated ("+LIST": the defaults and LIST; "all");
                           implies -o table. Defaults:
                           %s
                           from the summary, per direction o/r: seen ip-bytes payload retrans
                           retrans-bytes ooo zerowin dupack missed invalid rtt; also age zeek-state history
      --host ADDR          -o netstat / sockets: only the host with this address
      --timers             -o netstat: add netstat -o's Timer column
      --extended           conntrack lines with the "ipv4     2 " prefix (conntrack -o extended)
      --acct               packets=N bytes=N after each tuple (nf_conntrack_acct=1)
  -e, --events             print conntrack -E style [NEW]/[UPDATE]/[DESTROY] lines while replaying
                           (the final table is then printed only if -o is given); with -o json,
                           one JSON object per event: the -o json fields, "event", "time" and,
                           for DESTROY, "reason"; the final table's objects follow, without "event"
      --event-timestamps   prefix events with [seconds.micros] like conntrack -E -o timestamp (default true)
      --invalid            instead of the table, one line per packet conntrack marks invalid or
                           ignores, as the kernel logs it (nf_conntrack_log_invalid): time, record
                           number, the kernel's reason, the packet; -o json: one object per packet
      --now TIME           take the table at TIME: Unix seconds (fraction allowed) or RFC 3339;
                           packets stamped after it are not applied (default: the last packet's time)
      --stats[=json]       packet accounting on stderr (the counts add up to the packets read);
                           =json: one JSON object instead of text
      --progress MODE      auto (default: when stderr is a terminal), always, never
  -f, --filter EXPR        BPF filter expression (alternative to trailing arguments)
      --no-track           only read the records: no decoding, no tracking (the cost of reading
                           the file, for benchmarks); prints the number of records

%s
Exit status: 0 success (also when the last record was cut short: a warning is printed),
1 input error (unreadable or not a capture file), 2 usage error.
`

type readOptions struct {
	output    string
	outputSet bool
	lineFlags
	now       int64
	nowSet    bool
	stats     bool
	statsJSON bool            // --stats=json
	columns   []output.Column // -o table: nil means the default set
	host      netip.Addr      // -o netstat / sockets: only this host
	timers    bool            // -o netstat: Timer column
	progress  string
	noTrack   bool
	filter    string
	tracking
	zeekFlags
	ipfixFlags
	files []string
}

func parseReadFlags(args []string, stderr io.Writer) (*readOptions, error) {
	o := &readOptions{progress: "auto"}
	fs := flag.NewFlagSet("read", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	setOutput := func(v string) error {
		switch v {
		case "conntrack", "table", "json", "zeek", "zeek-json", "netstat", "sockets":
			o.output, o.outputSet = v, true
			return nil
		}
		return fmt.Errorf("unknown output format %q (conntrack, table, json, zeek, zeek-json, netstat or sockets)", v)
	}
	columns := ""
	fs.StringVar(&columns, "columns", "", "")
	fs.Func("o", "", setOutput)
	fs.Func("output", "", setOutput)
	addLineFlags(fs, &o.lineFlags)
	fs.Func("now", "", func(v string) error {
		t, err := parseTime(v)
		if err != nil {
			return err
		}
		o.now, o.nowSet = t, true
		return nil
	})
	fs.Var(statsFlag{&o.stats, &o.statsJSON}, "stats", "")
	fs.Func("progress", "", func(v string) error {
		switch v {
		case "auto", "always", "never":
			o.progress = v
			return nil
		}
		return fmt.Errorf("--progress takes auto, always or never, not %q", v)
	})
	fs.BoolVar(&o.noTrack, "no-track", false, "")
	fs.Func("host", "", func(v string) error {
		a, err := netip.ParseAddr(v)
		if err != nil {
			return fmt.Errorf("--host takes an IP address, not %q", v)
		}
		o.host = a.Unmap()
		return nil
	})
	fs.BoolVar(&o.timers, "timers", false, "")
	fs.StringVar(&o.filter, "f", "", "")
	fs.StringVar(&o.filter, "filter", "", "")
	finishTracking := addTrackingFlags(fs, &o.tracking)
	addZeekFlags(fs, &o.zeekFlags)
	addIPFIXFlags(fs, &o.ipfixFlags, false)
	help := false
	fs.BoolVar(&help, "h", false, "")
	fs.BoolVar(&help, "help", false, "")

	var filterWords []string
	if err := parseFilesAndFilter(fs, "read", args, &o.files, &filterWords); err != nil {
		return nil, err
	}
	if help {
		fmt.Fprintf(stderr, readUsage, output.DefaultColumns, trackingUsage()+"\n"+ipfixUsage)
		return nil, errHelp
	}
	finishTracking()
	if err := o.ipfixFlags.check("read"); err != nil {
		return nil, err
	}
	var err error
	if o.filter, err = joinFilter(o.filter, filterWords, "read"); err != nil {
		return nil, err
	}
	if len(o.files) == 0 {
		return nil, usagef("read: no capture file given (see tcptrack read --help)")
	}
	if o.shards < 1 || o.shards > 1024 {
		return nil, usagef("read: --shards must be 1..1024, not %d", o.shards)
	}
	if o.maxFlows < 0 {
		return nil, usagef("read: --max-flows must not be negative")
	}
	if !o.maxFlowsSet && (o.wantSummaries() || o.zeekOutput()) {
		o.maxFlows = defaultMaxFlowsSummaries
	}
	if err := o.checkInvalid("read", o.output, o.outputSet); err != nil {
		return nil, err
	}
	if columns != "" {
		if o.invalid {
			return nil, usagef("read: --invalid prints packets, not table --columns")
		}
		cols, err := output.ParseColumns(columns)
		if err != nil {
			return nil, usagef("read: %v", err)
		}
		if o.output != "" && o.output != "table" {
			return nil, usagef("read: --columns is for -o table, not -o %s", o.output)
		}
		o.columns, o.output, o.outputSet = cols, "table", true
	}
	if o.output == "" {
		o.output = "conntrack"
	}
	if (o.host.IsValid() || o.timers) && o.output != "netstat" && o.output != "sockets" {
		return nil, usagef("read: --host and --timers are for -o netstat or -o sockets")
	}
	return o, nil
}

// parseFilesAndFilter parses the flags of command cmd (read, trace) in
// args. Flags may stand between and after the files; the first argument
// after a file that is neither a file nor "-" starts the BPF filter, whose
// words go to filterWords.
func parseFilesAndFilter(fs *flag.FlagSet, cmd string, args []string, files, filterWords *[]string) error {
	for {
		if err := fs.Parse(args); err != nil {
			return usagef("%s: %v (see tcptrack %s --help)", cmd, err, cmd)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return nil
		}
		if len(*files) > 0 && rest[0] != "-" && !isFile(rest[0]) {
			*filterWords = rest
			return nil
		}
		*files = append(*files, rest[0])
		args = rest[1:]
	}
}

// joinFilter is the BPF filter: --filter's or the words given after the
// files, not both.
func joinFilter(flagFilter string, words []string, cmd string) (string, error) {
	if len(words) == 0 {
		return flagFilter, nil
	}
	if flagFilter != "" {
		return "", usagef("%s: a filter given both with --filter and as arguments", cmd)
	}
	return strings.Join(words, " "), nil
}

func isFile(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// parseTime takes Unix seconds with an optional fraction, or RFC 3339.
func parseTime(v string) (int64, error) {
	if sec, frac, ok := strings.Cut(v, "."); ok || isDigits(v) {
		s, err := strconv.ParseInt(sec, 10, 64)
		if err == nil && (frac == "" || isDigits(frac)) {
			ns := int64(0)
			for i, scale := 0, int64(1e8); i < len(frac) && i < 9; i, scale = i+1, scale/10 {
				ns += int64(frac[i]-'0') * scale
			}
			return s*1e9 + ns, nil
		}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return 0, fmt.Errorf("--now %q: want Unix seconds (e.g. 1700000000.25) or RFC 3339 (e.g. 2024-01-02T15:04:05Z)", v)
	}
	return t.UnixNano(), nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// wantHosts reports whether the output shows the hosts' own sockets.
func (o *readOptions) wantHosts() bool {
	if o.invalid {
		return false // no table is printed
	}
	switch o.output {
	case "json", "netstat", "sockets":
		return true
	case "table":
		return output.ColumnsNeedHosts(o.columns)
	}
	return false
}

// wantAcct says whether the output shows per-flow counters or start times.
func (o *readOptions) wantAcct() bool {
	if o.ipfixFlags.on() {
		return true // the IPFIX records carry the counters
	}
	if o.invalid {
		return false // no table is printed
	}
	return o.acct || o.output == "table" || o.output == "json"
}

// wantSummaries reports whether the output needs each flow's summary.
func (o *readOptions) wantSummaries() bool {
	if o.invalid {
		return false
	}
	switch o.output {
	case "json":
		return true
	case "table":
		return output.ColumnsNeedSummaries(o.columns)
	}
	return false
}
