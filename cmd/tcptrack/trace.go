package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/output"
)

const traceUsage = `Usage: tcptrack trace [flags] FILE... [BPF expression]

Draws a ladder of the selected connections: one line per packet with its
time (seconds since the connection's first packet), direction (─▶ client to
server, ◀─ back), flags, sequence and acknowledgement numbers (relative to
each side's first sequence number; "*" marks an ack still absolute because
the other side has not been seen yet), payload length and window, then what
conntrack holds after it (state and flags, "-" for no entry), each host's
own socket state (as -o table shows it: "?" while unconfirmed, GONE once the
host holds none, "-" unknown), and the verdict with the kernel's reason when
conntrack did not simply accept the packet. Use a BPF filter to pick
connections, as tcpdump takes it (e.g. "port 40001").

Flags:
  -o, --output FORMAT      text (default) or svg: the same ladder drawn, a vertical line per host,
                           an arrow per packet, each host's state written where it changes
      --absolute           absolute sequence and acknowledgement numbers
      --max-packets N      stop drawing after N packets (default %d); narrow the filter instead
  -f, --filter EXPR        BPF filter expression (alternative to trailing arguments)

%s
Exit status: 0 success, 1 input error, 2 usage error.
`

const defaultTracePackets = 10000

type traceOptions struct {
	output     string
	absolute   bool
	maxPackets int
	filter     string
	tracking
	files []string
}

func parseTraceFlags(args []string, stderr io.Writer) (*traceOptions, error) {
	o := &traceOptions{output: "text", maxPackets: defaultTracePackets}
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	output := func(v string) error {
		switch v {
		case "text", "svg":
			o.output = v
			return nil
		}
		return fmt.Errorf("unknown output format %q (text or svg)", v)
	}
	fs.Func("o", "", output)
	fs.Func("output", "", output)
	fs.BoolVar(&o.absolute, "absolute", false, "")
	fs.IntVar(&o.maxPackets, "max-packets", defaultTracePackets, "")
	fs.StringVar(&o.filter, "f", "", "")
	fs.StringVar(&o.filter, "filter", "", "")
	finishTracking := addTrackingFlags(fs, &o.tracking)
	help := false
	fs.BoolVar(&help, "h", false, "")
	fs.BoolVar(&help, "help", false, "")
	var filterWords []string
	if err := parseFilesAndFilter(fs, "trace", args, &o.files, &filterWords); err != nil {
		return nil, err
	}
	if help {
		fmt.Fprintf(stderr, traceUsage, defaultTracePackets, trackingUsage())
		return nil, errHelp
	}
	finishTracking()
	var err error
	if o.filter, err = joinFilter(o.filter, filterWords, "trace"); err != nil {
		return nil, err
	}
	switch {
	case len(o.files) == 0:
		return nil, usagef("trace: no capture file given (see tcptrack trace --help)")
	case o.maxPackets < 1:
		return nil, usagef("trace: --max-packets must be at least 1")
	}
	return o, nil
}

// cmdTrace replays the files through the pipeline into a one-shard table
// that reports every packet, and draws the ladders (package output) at the
// end.
func cmdTrace(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	o, err := parseTraceFlags(args, stderr)
	if err != nil {
		return err
	}
	src, closeAll, _, err := openSources(o.files, stdin)
	if err != nil {
		return err
	}
	defer closeAll()
	var filter *assemble.Filter
	if o.filter != "" {
		if filter, err = assemble.NewFilter(o.filter); err != nil {
			return usagef("trace: %v", err)
		}
	}
	ls := output.NewLadders(o.absolute, o.maxPackets)
	table := flowtable.New(flowtable.Config{FSM: o.fsm, Shards: 1, MaxFlows: o.maxFlows, Packets: flowtable.PacketsAll, Hosts: &o.hosts,
		OnEvents: func(evs []flowtable.Event) {
			for i := range evs {
				ls.Add(&evs[i])
			}
		}})
	pl := assemble.NewPipeline(table, assemble.DecoderConfig{VerifyTCPChecksum: o.checksum})
	var n uint64 // records read, the filtered ones too: the packets' numbers
	var warnings []error
	for {
		rec, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, assemble.ErrTruncated) {
				warnings = append(warnings, err)
				if _, merged := src.(*mergedSource); merged {
					continue
				}
				break
			}
			table.Close(pl.Now())
			return err
		}
		n++
		if filter != nil && !filter.Match(&rec) {
			continue
		}
		pl.AddNumbered(&rec, n)
	}
	table.Close(pl.Now())
	for _, w := range warnings {
		fmt.Fprintf(stderr, "tcptrack: warning: %v (the trace covers what was read)\n", w)
	}
	if ls.Overflowed() {
		fmt.Fprintf(stderr, "tcptrack: warning: the trace stops after %d packets (--max-packets); narrow it with a BPF filter\n", o.maxPackets)
	}
	if ls.Len() == 0 {
		fmt.Fprintln(stderr, "tcptrack: no TCP packet selected")
	}
	out := bufio.NewWriterSize(stdout, 1<<16)
	if o.output == "svg" {
		err = ls.WriteSVG(out)
	} else {
		err = ls.WriteText(out)
	}
	if err != nil {
		return err
	}
	return out.Flush()
}
