package main

// Flags read and live share: the conntrack-line and event flags, and the
// tracking flags (kernel sysctl equivalents, the table's shape).

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/tcptrack/tcptrack/fsm"
)

var errHelp = errors.New("help shown")

// trackingUsage is the help for the flags addTrackingFlags registers.
func trackingUsage() string {
	return fmt.Sprintf(`Tracking (kernel sysctl equivalents, kernel defaults):
      --loose / --no-loose pick up connections mid-stream (nf_conntrack_tcp_loose, default on)
      --liberal            accept out-of-window packets (nf_conntrack_tcp_be_liberal)
      --ignore-invalid-rst accept RSTs below what the peer acknowledged ("invalid rst";
                           nf_conntrack_tcp_ignore_invalid_rst; RSTs past the window stay invalid)
      --checksum / --no-checksum  verify TCP checksums, a wrong one makes the packet invalid
                           (nf_conntrack_checksum, default on); not failed: segments cut by the
                           snapshot length, outgoing packets of cooked captures, and checksums
                           holding the pseudo-header sum that offload/GRO leave (the capturing host's)
      --max-retrans N      retransmissions before the 300 s timeout (nf_conntrack_tcp_max_retrans, default 3)
      --timeout NAME=SECS  override a timeout; repeatable. NAME: %s
      --host-timeout NAME=VALUE[,...]
                           the endpoint hosts' own timers (net.ipv4.tcp_* on the hosts; repeatable):
                           fin_timeout=SECS (60), syn_retries=N (6), syn_linear_timeouts=N (4),
                           synack_retries=N (5), time_wait=SECS (60, fixed in Linux),
                           rto_min_us=N (200000), rfc1337=0|1 (0), hz=N (250, the kernel's CONFIG_HZ)
      --max-flows N        table size limit; when full, flows that are not ASSURED are evicted
                           first, as the kernel's early drop (default %d; %d when the
                           output keeps summaries: -o json, zeek, zeek-json); also bounds
                           the connections Zeek's model holds for -o zeek
      --shards N           table shards, one goroutine each beside the reader; 1 = the reader
                           tracks too, on one core (default GOMAXPROCS = %d)
`, strings.Join(fsm.TimeoutNames(), " "), defaultMaxFlows, defaultMaxFlowsSummaries, runtime.GOMAXPROCS(0))
}

// The default --max-flows keeps a full table near 1 GiB of peak RSS: a flow
// costs about 190 bytes all told (160-byte entry, index, output order), 40
// more with counters; -o json keeps a 672-byte summary per flow too, and -o
// zeek runs Zeek's own model beside the table (about 1 KiB a connection).
const (
	defaultMaxFlows          = 1 << 22
	defaultMaxFlowsSummaries = 1 << 20
)

// lineFlags are the conntrack-line and event flags read and live share.
type lineFlags struct {
	extended    bool
	acct        bool
	events      bool
	eventStamps bool
	invalid     bool // --invalid: the kernel's log lines for invalid and ignored packets
}

// addLineFlags registers --extended, --acct, -e/--events and
// --event-timestamps (default true).
func addLineFlags(fs *flag.FlagSet, o *lineFlags) {
	fs.BoolVar(&o.extended, "extended", false, "")
	fs.BoolVar(&o.acct, "acct", false, "")
	fs.BoolVar(&o.events, "e", false, "")
	fs.BoolVar(&o.events, "events", false, "")
	fs.BoolVar(&o.eventStamps, "event-timestamps", true, "")
	fs.BoolVar(&o.invalid, "invalid", false, "")
}

// checkInvalid validates --invalid against the output flags: it replaces
// the table, in text (conntrack) or JSON.
func (o *lineFlags) checkInvalid(cmd, output string, outputSet bool) error {
	if o.invalid && outputSet && output != "conntrack" && output != "json" {
		return usagef("%s: --invalid prints text or -o json, not -o %s", cmd, output)
	}
	return nil
}

// tracking holds the flags read and live share: the kernel sysctl
// equivalents and the table's shape.
type tracking struct {
	fsm         fsm.Config
	hosts       fsm.HostConfig // the endpoint hosts' settings (--host-timeout)
	maxFlows    int
	maxFlowsSet bool
	shards      int
	checksum    bool // verify TCP checksums (nf_conntrack_checksum)
}

// addTrackingFlags registers --loose/--no-loose, --liberal, --max-retrans,
// --timeout, --max-flows and --shards; call the returned func after Parse.
func addTrackingFlags(fs *flag.FlagSet, o *tracking) func() {
	o.fsm = fsm.DefaultConfig()
	o.hosts = fsm.DefaultHostConfig()
	o.maxFlows = defaultMaxFlows
	o.shards = runtime.GOMAXPROCS(0)
	loose, noLoose := true, false
	fs.BoolVar(&loose, "loose", true, "")
	fs.BoolVar(&noLoose, "no-loose", false, "")
	checksum, noChecksum := true, false
	fs.BoolVar(&checksum, "checksum", true, "")
	fs.BoolVar(&noChecksum, "no-checksum", false, "")
	fs.BoolVar(&o.fsm.Liberal, "liberal", false, "")
	fs.BoolVar(&o.fsm.IgnoreInvalidRST, "ignore-invalid-rst", false, "")
	fs.Func("max-retrans", "", func(v string) error {
		n, err := strconv.ParseUint(v, 10, 8)
		if err != nil {
			return fmt.Errorf("--max-retrans takes a number 0-255, not %q", v)
		}
		o.fsm.MaxRetrans = uint8(n)
		return nil
	})
	fs.Func("timeout", "", func(v string) error {
		name, secs, ok := strings.Cut(v, "=")
		if !ok {
			return fmt.Errorf("--timeout takes NAME=SECONDS, not %q", v)
		}
		s, err := strconv.ParseFloat(secs, 64)
		if err != nil || s < 0 || math.IsInf(s, 0) || math.IsNaN(s) {
			return fmt.Errorf("--timeout %s: %q is not a number of seconds", name, secs)
		}
		return o.fsm.Timeouts.Set(name, time.Duration(s*float64(time.Second)))
	})
	fs.Func("host-timeout", "", func(v string) error { return parseHostTimeouts(&o.hosts, v) })
	fs.Func("max-flows", "", func(v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("--max-flows takes a number, not %q", v)
		}
		o.maxFlows, o.maxFlowsSet = n, true
		return nil
	})
	fs.IntVar(&o.shards, "shards", o.shards, "")
	return func() {
		if noLoose {
			loose = false
		}
		o.fsm.Loose = loose
		o.checksum = checksum && !noChecksum
	}
}
