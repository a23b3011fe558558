package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tcptrack/tcptrack/internal/kernelcorpus"
)

// scenario is one corpus directory: a topology, optional traffic before the
// recording starts, the recorded traffic, and what the kernel should show.
type scenario struct {
	name        string
	description string
	family      family
	topo        topoOpts
	// impair, when set, returns the forwarder policies for the bridges
	// (client side, server side); each policy slice is [towards router, away from router].
	impair  func(rng *rand.Rand) (clientSide, serverSide [2]impairPolicy)
	before  func(r *run) error // runs before capture and conntrack -E start
	traffic func(r *run) error
	settle  time.Duration // quiet time between the end of traffic and conntrack -L
	checks  []check
	// duplicatesExpected disables the "captured twice" guard (the
	// impairing forwarder duplicates on purpose).
	duplicatesExpected bool
	record             recordOpts
	// prepare runs before anything else (e.g. raising process limits).
	prepare func() error
	// after runs on the finished recording in dir (before the checks).
	after func(r *run, dir string) error
	// crafted lists endpoints (ADDR or ADDR:PORT) of real hosts whose
	// segments were crafted: the endpoint test does not hold their
	// sockets to what the capture shows. The fake addresses are crafted
	// in every scenario.
	crafted []string
	// runTime is how long the scenario runs, when it is long (it starts
	// first).
	runTime time.Duration
}

// check is one expectation on the kernel's output, written to meta.json as
// prose and verified after generation (a miss is reported, not fatal: the
// kernel is the judge, the corpus stays valid).
type check struct {
	file    string // kernelcorpus.ConntrackFile or kernelcorpus.EventsFile
	pattern string // regexp, matched per line
	note    string
	absent  bool // the pattern must not match
}

func inList(pattern, note string) check {
	return check{file: kernelcorpus.ConntrackFile, pattern: pattern, note: note}
}
func inEvents(pattern, note string) check {
	return check{file: kernelcorpus.EventsFile, pattern: pattern, note: note}
}
func notInList(pattern, note string) check {
	return check{file: kernelcorpus.ConntrackFile, pattern: pattern, note: note, absent: true}
}

// notListed says no entry has this source port in its original tuple.
func notListed(sport int, note string) check {
	return notInList(fmt.Sprintf(`^ipv[46] +\d+ tcp +6 \d+ \S+ src=\S+ dst=\S+ sport=%d `, sport), note)
}

// listed matches a conntrack -L line of the flow with this source port in
// state (the original direction's source port identifies the flow).
func listed(state string, sport int, note string) check {
	return inList(fmt.Sprintf(`^ipv[46] +\d+ tcp +6 \d+ %s src=\S+ dst=\S+ sport=%d `, state, sport), note)
}

// evented matches an event line of kind (NEW, UPDATE, DESTROY) for the flow
// with this source port; state "" matches any or none.
func evented(kind, state string, sport int, note string) check {
	// DESTROY lines carry the state, and when the entry was killed
	// (RST, reopen) rather than expired, the remaining timeout too.
	st := `(\d+ )?([A-Z_0-9]+ )?`
	if state != "" {
		st = `\d+ ` + state + " "
	}
	return inEvents(fmt.Sprintf(`\[%s\] tcp +6 %ssrc=\S+ dst=\S+ sport=%d `, kind, st, sport), note)
}

func (c check) String() string {
	where := "conntrack -L"
	if c.file == kernelcorpus.EventsFile {
		where = "conntrack -E"
	}
	if c.absent {
		where += " (absent)"
	}
	return fmt.Sprintf("%s: %s", where, c.note)
}

// run is the state of one scenario while it executes.
type run struct {
	ctx  context.Context
	sc   *scenario
	t    *topology
	fam  family
	rng  *rand.Rand // scenario-private stream derived from the seed
	seed int64
	opts *options
	log  func(format string, a ...any)

	mu      sync.Mutex
	closers []io.Closer // closed after the recording has stopped
	tracked []io.Closer // every socket, closed early on interrupt
	bgWG    sync.WaitGroup
	// notes are appended to the description (e.g. forwarder statistics).
	notes []string
}

// keep registers something to close after the recording has stopped: a
// connection that must still be open at conntrack -L time.
func (r *run) keep(c io.Closer) {
	r.mu.Lock()
	r.closers = append(r.closers, c)
	r.mu.Unlock()
}

// background runs fn until the scenario ends; its error is ignored because
// background roles end by having their sockets closed under them.
func (r *run) background(fn func()) {
	r.bgWG.Add(1)
	go func() {
		defer r.bgWG.Done()
		fn()
	}()
}

// track registers a socket that an interrupt must close so that no role
// waits for its I/O deadline.
func (r *run) track(c io.Closer) {
	r.mu.Lock()
	r.tracked = append(r.tracked, c)
	r.mu.Unlock()
}

// interrupt closes every socket at once; roles then fail fast.
func (r *run) interrupt() {
	r.mu.Lock()
	cs := append(append([]io.Closer{}, r.tracked...), r.closers...)
	r.mu.Unlock()
	for _, c := range cs {
		_ = c.Close()
	}
}

func (r *run) note(format string, a ...any) {
	r.mu.Lock()
	r.notes = append(r.notes, fmt.Sprintf(format, a...))
	r.mu.Unlock()
}

func (r *run) closeAll() {
	r.mu.Lock()
	cs := r.closers
	r.closers = nil
	r.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		_ = cs[i].Close()
	}
	r.bgWG.Wait()
}

// sleep waits d or until the run is cancelled.
func (r *run) sleep(d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

// scenarioRNG derives an independent stream per scenario so that selecting
// scenarios with -run does not change any scenario's random choices.
func scenarioRNG(seed int64, name string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
}

// generate builds the scenario in a scratch directory next to its final
// place and renames it into place only when everything succeeded.
func generate(ctx context.Context, sc *scenario, idx int, o *options, kernel string, logf func(string, ...any)) (warnings []string, err error) {
	if sc.prepare != nil {
		if err := sc.prepare(); err != nil {
			return nil, err
		}
	}
	final := filepath.Join(o.out, sc.name)
	tmp := final + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if err == nil || !o.keepFailed {
			os.RemoveAll(tmp)
		}
	}()

	t, err := newTopology(ctx, idx, sc.topo)
	if err != nil {
		return nil, fmt.Errorf("topology: %w", err)
	}
	defer func() {
		if terr := t.teardown(context.WithoutCancel(ctx)); terr != nil && err == nil {
			err = fmt.Errorf("teardown: %w", terr)
		}
	}()

	r := &run{ctx: ctx, sc: sc, t: t, fam: sc.family, rng: scenarioRNG(o.seed, sc.name), seed: o.seed, opts: o, log: logf}
	defer r.closeAll()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			r.interrupt()
		case <-done:
		}
	}()

	var bridges []*bridge
	defer func() {
		for _, br := range bridges {
			br.stop()
		}
	}()
	if sc.impair != nil {
		cpol, spol := sc.impair(scenarioRNG(o.seed, sc.name+"/forwarder"))
		for _, b := range []struct {
			n   *node
			pol [2]impairPolicy
		}{{t.impC, cpol}, {t.impS, spol}} {
			if b.n == nil {
				continue
			}
			// Port 0 faces the endpoint, port 1 the router: policy 0 acts
			// on frames travelling toward the router.
			endpointSide := "c"
			if b.n == t.impS {
				endpointSide = "s"
			}
			br, err := startBridge(*b.n, endpointSide, "r", b.pol)
			if err != nil {
				return nil, err
			}
			bridges = append(bridges, br)
		}
	}

	if sc.before != nil {
		if err := sc.before(r); err != nil {
			return nil, fmt.Errorf("before recording: %w", err)
		}
	}
	rec, err := startRecording(ctx, t, tmp, sc.record)
	if err != nil {
		return nil, err
	}
	defer rec.abort()
	if err := sc.traffic(r); err != nil {
		return nil, fmt.Errorf("traffic: %w", err)
	}
	settle := sc.settle
	if settle == 0 {
		settle = 300 * time.Millisecond
	}
	if err := r.sleep(settle); err != nil {
		return nil, err
	}
	if err := rec.finish(ctx); err != nil {
		return nil, err
	}
	r.closeAll()

	var dropped []string
	for _, br := range bridges {
		br.stop()
		r.note("%s", br.stats())
		dropped = append(dropped, br.dropped()...)
	}
	for _, l := range rec.lost {
		r.note("%s", l)
		warnings = append(warnings, l)
	}
	if len(bridges) > 0 {
		sort.Strings(dropped)
		data := strings.Join(dropped, "\n")
		if data != "" {
			data += "\n"
		}
		if err := os.WriteFile(filepath.Join(tmp, kernelcorpus.DroppedFile), []byte(data), 0o644); err != nil {
			return nil, err
		}
	}
	m := kernelcorpus.Meta{Scenario: sc.name, Description: sc.description, Seed: o.seed, Kernel: kernel, KernelHZ: o.hz,
		Crafted: append([]string{fakeClientV4, fakeServerV4, fakeClientV6, fakeServerV6}, sc.crafted...)}
	for _, c := range sc.checks {
		m.Expect = append(m.Expect, c.String())
	}
	if len(r.notes) > 0 {
		m.Description += " [" + strings.Join(r.notes, "; ") + "]"
	}
	if err := rec.writeMeta(m); err != nil {
		return nil, err
	}
	if err := verifyCapture(filepath.Join(tmp, kernelcorpus.CaptureFile), sc.duplicatesExpected); err != nil {
		return nil, err
	}
	if sc.after != nil {
		if err := sc.after(r, tmp); err != nil {
			return nil, err
		}
	}
	warnings = append(warnings, runChecks(tmp, sc.checks)...)

	if err := os.RemoveAll(final); err != nil {
		return warnings, err
	}
	if err := os.Rename(tmp, final); err != nil {
		return warnings, err
	}
	return warnings, nil
}

// runChecks returns one message per expectation the kernel output misses.
func runChecks(dir string, checks []check) []string {
	var miss []string
	files := map[string]string{}
	for _, c := range checks {
		if _, ok := files[c.file]; !ok {
			b, _ := os.ReadFile(filepath.Join(dir, c.file))
			files[c.file] = string(b)
		}
		re, err := regexp.Compile("(?m)" + c.pattern)
		if err != nil {
			miss = append(miss, fmt.Sprintf("bad pattern %q: %v", c.pattern, err))
			continue
		}
		if found := re.MatchString(files[c.file]); found == c.absent {
			what := "no line"
			if c.absent {
				what = "a line"
			}
			miss = append(miss, fmt.Sprintf("%s has %s matching %q (%s)", c.file, what, c.pattern, c.note))
		}
	}
	return miss
}
