// Command gen builds the kernel corpus: for each scenario it wires client,
// router and server network namespaces, drives TCP traffic through the
// router, and records what the router's conntrack saw (capture, -E events,
// final -L). See README.md in this directory.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tcptrack/tcptrack/internal/kmsg"
)

// bigDefaultOut is where random-big goes unless -out says otherwise: a
// benchmark capture is not committed (bench.sh's cache directory).
const bigDefaultOut = "/tmp/tcptrack-bench/kernel"

type options struct {
	out         string
	seed        int64
	run         *regexp.Regexp
	randomConns int
	big         bigOpts
	parallel    int
	list        bool
	keepFailed  bool
	strict      bool
	hz          int // the kernel's CONFIG_HZ, for meta.json
}

func main() {
	os.Exit(realMain())
}

func realMain() int {
	o := &options{}
	var runExpr string
	flag.StringVar(&o.out, "out", "testdata/pcaps/kernel", "output directory (one subdirectory per scenario)")
	flag.Int64Var(&o.seed, "seed", 1, "seed for every random choice (ISNs, traffic mix, forwarder)")
	flag.StringVar(&runExpr, "run", "", "only scenarios whose name matches this regexp")
	flag.IntVar(&o.randomConns, "random-conns", 200, "connections in the random scenario")
	flag.IntVar(&o.big.conns, "big-conns", 0, "add the random-big scenario with this many connections (a benchmark capture, not part of the corpus; alone unless -run says otherwise; -out defaults to "+bigDefaultOut+")")
	flag.IntVar(&o.big.rate, "big-rate", 4000, "connections the random-big scenario starts per second")
	flag.IntVar(&o.parallel, "parallel", 6, "scenarios generated at the same time")
	flag.BoolVar(&o.list, "list", false, "list the scenarios and exit")
	flag.BoolVar(&o.strict, "strict", false, "fail when the kernel output misses a scenario's expectation (default: warn)")
	flag.BoolVar(&o.keepFailed, "keep-failed", false, "keep the scratch directory (<name>.tmp) of a failed scenario")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "gen: unexpected arguments %q\n", flag.Args())
		return 2
	}
	if o.big.conns < 0 || o.big.rate < 1 {
		fmt.Fprintln(os.Stderr, "gen: -big-conns must not be negative, -big-rate must be positive")
		return 2
	}
	if o.big.conns > 0 {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["run"] {
			runExpr = "^random-big$"
		}
		if !set["out"] {
			o.out = bigDefaultOut
		}
	}
	re, err := regexp.Compile(runExpr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gen: -run: %v\n", err)
		return 2
	}
	o.run = re
	if o.parallel < 1 || o.randomConns < 1 {
		fmt.Fprintln(os.Stderr, "gen: -parallel and -random-conns must be positive")
		return 2
	}

	var selected []*scenario
	for _, sc := range allScenarios(o) {
		if o.run.MatchString(sc.name) {
			selected = append(selected, sc)
		}
	}
	if o.list {
		for _, sc := range selected {
			fmt.Printf("%-24s %s\n", sc.name, sc.description)
		}
		return 0
	}
	if len(selected) == 0 {
		fmt.Fprintf(os.Stderr, "gen: no scenario matches %q\n", runExpr)
		return 2
	}
	if err := preflight(); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		return 1
	}
	kernel, err := runCmd(context.Background(), "", "uname", "-r")
	if err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		return 1
	}
	kernel = strings.TrimSpace(kernel)
	o.hz = kernelHZ(context.Background(), kernel)
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	cleanStale(ctx)
	// The routers' conntrack log lines reach the kernel log only while
	// nf_log_all_netns=1 in the initial namespace; the original value is
	// put back on the way out (signals included: they cancel ctx and
	// realMain returns through here).
	restoreLog, err := kmsg.EnableAllNetns()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		return 1
	}
	defer func() {
		if err := restoreLog(); err != nil {
			fmt.Fprintf(os.Stderr, "gen: %v\n", err)
		}
	}()

	start := time.Now()
	var mu sync.Mutex
	logf := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(os.Stderr, "%6.1fs "+format+"\n", append([]any{time.Since(start).Seconds()}, a...)...)
	}
	// Longest first: the random and expiry scenarios dominate the wall time.
	order := make([]int, len(selected))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		return selected[order[a]].weight() > selected[order[b]].weight()
	})
	sem := make(chan struct{}, o.parallel)
	var wg sync.WaitGroup
	failed := 0
	var allWarnings []string
	for _, i := range order {
		sc := selected[i]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if ctx.Err() != nil {
				return
			}
			t0 := time.Now()
			warnings, err := generate(ctx, sc, i, o, kernel, logf)
			mu.Lock()
			for _, w := range warnings {
				allWarnings = append(allWarnings, sc.name+": "+w)
			}
			if err != nil {
				failed++
			}
			mu.Unlock()
			if err != nil {
				logf("FAIL %s: %v", sc.name, err)
				return
			}
			logf("ok   %s (%.1fs)", sc.name, time.Since(t0).Seconds())
			for _, w := range warnings {
				logf("WARN %s: %s", sc.name, w)
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		fmt.Fprintln(os.Stderr, "gen: interrupted; namespaces removed")
		return 1
	}
	if left := leftoverNamespaces(context.Background()); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "gen: namespaces left behind: %s\n", strings.Join(left, " "))
		failed++
	}
	if len(selected) == len(allScenarios(o)) {
		for _, miss := range append(coverage(o.out, selected), logCoverage(o.out, selected)...) {
			logf("WARN coverage: %s", miss)
			allWarnings = append(allWarnings, miss)
		}
	}
	logf("done: %d scenarios, %d failed, %d warnings, %.1fs", len(selected), failed, len(allWarnings), time.Since(start).Seconds())
	if failed > 0 || (o.strict && len(allWarnings) > 0) {
		return 1
	}
	return 0
}

// weight is a rough run time used to start long scenarios first.
func (sc *scenario) weight() int {
	switch {
	case sc.name == "random-big":
		return 1000
	case sc.runTime > 20*time.Second:
		return 200
	case sc.name == "random":
		return 100
	case sc.runTime > 0:
		return 50 + int(sc.runTime/time.Second)
	case sc.name == "expiry":
		return 50
	case sc.impair != nil:
		return 10
	}
	return 1
}

// preflight fails early with a clear message when the run cannot work.
func preflight() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("must run as root (network namespaces, nftables, packet sockets)")
	}
	var missing []string
	for _, tool := range []string{"ip", "nft", "tcpdump", "conntrack", "ethtool", "sysctl", "uname", "ss", "netstat"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing tools: %s (install the packages in tools/corpusgen/packages.txt)", strings.Join(missing, ", "))
	}
	if !fileExists("/dev/kmsg") || !fileExists("/proc/sys/net/netfilter/nf_log_all_netns") {
		return fmt.Errorf("no kernel log to read conntrack's invalid-packet lines from (/dev/kmsg, net.netfilter.nf_log_all_netns)")
	}
	if !fileExists("/proc/sys/net/netfilter/nf_conntrack_tcp_loose") {
		return fmt.Errorf("no TCP connection tracking in this kernel (/proc/sys/net/netfilter/nf_conntrack_tcp_loose missing; modprobe nf_conntrack)")
	}
	return nil
}

func leftoverNamespaces(ctx context.Context) []string {
	out, _ := runCmd(ctx, "", "ip", "netns", "list")
	var left []string
	prefix := fmt.Sprintf("%s-%d-", nsPrefix, os.Getpid())
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix) {
			left = append(left, f[0])
		}
	}
	return left
}

// allScenarios is the default corpus, in a stable order.
func allScenarios(o *options) []*scenario {
	var s []*scenario
	for _, fam := range []family{ipv4, ipv6} {
		s = append(s, closeClientFirst(fam), closeServerFirst(fam), refused(fam), abortRST(fam), idleEstablished(fam))
	}
	s = append(s,
		halfClose(), synNoAnswer(), synRecv(), rstAnswersSynAck(), simultaneousOpen(), simultaneousClose(),
		pickup(), reopenTimeWait(), expiry(), retransmittedFIN(), zeroWindow(), optionsOff(), sackLoss(),
		craftedRST(), craftedWindow(), craftedSYN(), craftedFIN(), craftedReopen(ipv4), craftedReopen(ipv6),
		craftedSimultaneousOpen(), craftedChallenge(),
		rstClosing(), rstCrossing(), finAfterHole(), pickupFINs(), pickupHalfClosed(),
		hostTimeWait(), hostFinWait2(), hostSynSent(), hostSynRecv(),
	)
	s = append(s, invalidScenarios()...)
	s = append(s, randomScenario(o.randomConns))
	if o.big.conns > 0 {
		s = append(s, bigRandomScenario(o.big))
	}
	return s
}
