// Command synth writes large, deterministic, realistic pcap captures for
// benchmarking tcptrack: go run ./tools/synth -out FILE [flags].
//
// The same flags and seed always give the same file, byte for byte. The
// capture is streamed to disk (FILE.tmp, renamed when complete) so any size
// fits in a few MiB of memory.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"time"
)

// startUnix is the first timestamp (2023-11-14T22:13:20Z): fixed so a seed
// fully determines the file.
const startUnix = 1700000000

type options struct {
	out     string
	seed    uint64
	packets int64
	size    string
	kind    string
	rate    float64
	mixSpec string
	mix     mixConfig
	quiet   bool
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{mix: defaultMix()}
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./tools/synth [flags] -out FILE\n\n"+
			"Writes a deterministic Ethernet pcap (microsecond, snaplen 262144).\n"+
			"Kinds: mix (realistic TCP mix + some IPv6, VLAN, UDP, ARP), synflood\n"+
			"(-packets SYNs from distinct sources: that many half-open flows),\n"+
			"garbage (random bytes as Ethernet frames).\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&o.out, "out", "", "output file (\"-\" for stdout)")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed")
	fs.Int64Var(&o.packets, "packets", 0, "packets to write (default by -size)")
	fs.StringVar(&o.size, "size", "default", "default (10 M packets) or small (100 K packets)")
	fs.StringVar(&o.kind, "kind", "mix", "mix, synflood or garbage")
	fs.Float64Var(&o.rate, "rate", 1e6, "mean packets per second of capture time")
	fs.IntVar(&o.mix.concurrency, "flows", o.mix.concurrency, "connections open at once (mix)")
	fs.IntVar(&o.mix.concurrency, "concurrency", o.mix.concurrency, "same as -flows")
	fs.StringVar(&o.mixSpec, "mix", "", "connection weights, e.g. short=60,bulk=0.04,interactive=8,halfclose=4,aborted=6,refused=8,unanswered=3")
	fs.Float64Var(&o.mix.v6, "ipv6", o.mix.v6, "share of connections over IPv6")
	fs.Float64Var(&o.mix.vlan, "vlan", o.mix.vlan, "share of connections with an 802.1Q tag")
	fs.Float64Var(&o.mix.other, "other", o.mix.other, "share of packets that are UDP/ARP")
	fs.Float64Var(&o.mix.retrans, "retrans", o.mix.retrans, "chance a data segment is duplicated")
	fs.BoolVar(&o.quiet, "q", false, "no summary on stderr")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.out == "" {
		return nil, errors.New("-out FILE is required")
	}
	if o.packets == 0 {
		switch o.size {
		case "default":
			o.packets = 10_000_000
		case "small":
			o.packets = 100_000
		default:
			return nil, fmt.Errorf("-size %q: want default or small", o.size)
		}
	}
	if o.packets < 0 {
		return nil, fmt.Errorf("-packets %d: want a positive count", o.packets)
	}
	switch o.kind {
	case "mix", "synflood", "garbage":
	default:
		return nil, fmt.Errorf("-kind %q: want mix, synflood or garbage", o.kind)
	}
	if !(o.rate > 0 && o.rate <= 1e9) {
		return nil, fmt.Errorf("-rate %v: want 0 < rate ≤ 1e9", o.rate)
	}
	if o.mix.concurrency < 1 {
		return nil, fmt.Errorf("-flows %d: want at least 1", o.mix.concurrency)
	}
	for name, f := range map[string]float64{"ipv6": o.mix.v6, "vlan": o.mix.vlan, "other": o.mix.other, "retrans": o.mix.retrans} {
		if !(f >= 0 && f <= 1) {
			return nil, fmt.Errorf("-%s %v: want a share between 0 and 1", name, f)
		}
	}
	if err := parseWeights(o.mixSpec, &o.mix.weights); err != nil {
		return nil, err
	}
	return o, nil
}

// generate writes the capture described by o to w.
func generate(o *options, w io.Writer) (*pcapWriter, *mixStats, error) {
	pw, err := newPcapWriter(w)
	if err != nil {
		return nil, nil, err
	}
	// The seed picks the stream; the second word only separates this
	// program's streams from other PCG users of the same seed.
	r := rand.New(rand.NewPCG(o.seed, 0x73796e7468))
	clk := newClock(startUnix, o.rate)
	var stats *mixStats
	switch o.kind {
	case "mix":
		g := newMixGen(r, o.mix, clk)
		err = g.run(pw, o.packets)
		stats = &g.stats
	case "synflood":
		err = synFlood(pw, r, clk, o.packets)
	case "garbage":
		err = garbage(pw, r, clk, o.packets)
	}
	// Flush even after an error so the writer goroutine ends.
	if ferr := pw.flush(); err == nil {
		err = ferr
	}
	return pw, stats, err
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	began := time.Now()
	var pw *pcapWriter
	var stats *mixStats
	if o.out == "-" {
		pw, stats, err = generate(o, stdout)
		if err != nil {
			return fmt.Errorf("stdout: %w", err)
		}
	} else {
		tmp := o.out + ".tmp"
		f, err := os.Create(tmp)
		if err != nil {
			return fmt.Errorf("create output: %w", err)
		}
		pw, stats, err = generate(o, f)
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close: %w", cerr)
		}
		if err != nil {
			os.Remove(tmp)
			return fmt.Errorf("%s: %w", o.out, err)
		}
		// Renaming only a complete file lets callers cache by file name.
		if err := os.Rename(tmp, o.out); err != nil {
			return fmt.Errorf("rename %s: %w", tmp, err)
		}
	}
	if !o.quiet {
		secs := time.Since(began).Seconds()
		fmt.Fprintf(stderr, "synth: %s: %d packets, %d bytes (%.0f B/packet), kind %s, seed %d, %.2f s (%.2f M packets/s)\n",
			o.out, pw.packets, pw.bytes, float64(pw.bytes)/float64(max(pw.packets, 1)), o.kind, o.seed, secs, float64(pw.packets)/secs/1e6)
		if stats != nil {
			fmt.Fprintf(stderr, "synth: connections started: %s\n", stats)
		}
	}
	return nil
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "synth:", err)
		os.Exit(2)
	}
}
