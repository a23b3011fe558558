package main

// Tests of tcptrack live that need neither root nor a network: the capture
// loop is driven by recorded captures played back on a fake clock (frames
// at their timestamps, read timeouts while the link is quiet, a stop
// "signal" at a chosen instant), then checked against the kernel corpus.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/testutil"
	"github.com/tcptrack/tcptrack/output"

	"github.com/tcptrack/tcptrack/internal/kernelcorpus"

	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// replaySource plays a capture file the way a live interface delivers it.
type replaySource struct {
	rd     *assemble.Reader
	next   assemble.Record
	have   bool
	done   bool
	now    atomic.Int64 // the fake wall clock, Unix ns
	stopAt int64        // 0: io.EOF after the last frame
	stop   *stopSignal
	read   uint64
}

func newReplaySource(t testing.TB, path string, stopAt int64, stop *stopSignal) *replaySource {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	rd, err := assemble.NewReader(f, path)
	if err != nil {
		t.Fatal(err)
	}
	s := &replaySource{rd: rd, stopAt: stopAt, stop: stop}
	if err := s.fill(); err != nil {
		t.Fatal(err)
	}
	if s.have {
		s.now.Store(s.next.TS - int64(time.Millisecond))
	}
	return s
}

func (s *replaySource) fill() error {
	if s.have || s.done {
		return nil
	}
	rec, err := s.rd.Next()
	if err == io.EOF {
		s.done = true
		return nil
	}
	if err != nil {
		return err
	}
	s.next, s.have = rec, true
	return nil
}

func (s *replaySource) Read(rec *assemble.Record) error {
	if err := s.fill(); err != nil {
		return err
	}
	step := int64(liveReadTimeout)
	now := s.now.Load()
	if s.have && (s.stopAt == 0 || s.next.TS <= s.stopAt) {
		if s.next.TS-now > step {
			s.now.Store(now + step) // a quiet link: the read times out
			return errReadTimeout
		}
		*rec = s.next
		s.have = false
		s.now.Store(max(now, rec.TS))
		s.read++
		return nil
	}
	if s.stopAt == 0 {
		return io.EOF
	}
	if now+step >= s.stopAt {
		s.now.Store(s.stopAt)
		s.stop.set(time.Unix(0, s.stopAt))
		return errReadTimeout
	}
	s.now.Store(now + step)
	return errReadTimeout
}

func (s *replaySource) clock() time.Time            { return time.Unix(0, s.now.Load()) }
func (s *replaySource) LinkType() assemble.LinkType { return s.rd.LinkType() }
func (s *replaySource) SnapLen() int                { return 65535 }
func (s *replaySource) Close()                      {}
func (s *replaySource) Stats() (captureStats, error) {
	return captureStats{Received: s.read}, nil
}

func mustLiveFlags(t testing.TB, args ...string) *liveOptions {
	t.Helper()
	o, err := parseLiveFlags(append([]string{"-i", "replay"}, args...), io.Discard)
	if err != nil {
		t.Fatalf("live %s: %v", strings.Join(args, " "), err)
	}
	return o
}

func splitEvents(ls []ctLine) (events, list []ctLine) {
	for _, l := range ls {
		if l.event != "" {
			events = append(events, l)
		} else {
			list = append(list, l)
		}
	}
	return events, list
}

// TestLiveLoopKernelCorpus plays every kernel-corpus capture through the
// live loop, stopped at the instant the router ran conntrack -L: expiry
// rides on read timeouts alone (the wall clock), and the result must be the
// kernel's list and event stream.
func TestLiveLoopKernelCorpus(t *testing.T) {
	for _, dir := range corpusDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m := loadMeta(t, dir)
			stopAt, err := parseTime(strconv.FormatFloat(m.ListAt, 'f', 6, 64))
			if err != nil {
				t.Fatal(err)
			}
			flags := corpusFlags(t, m)[2:] // all but --now: the stop instant is the list's
			o := mustLiveFlags(t, append([]string{"-e", "-o", "conntrack", "--shards", "2"}, flags...)...)
			var stop stopSignal
			src := newReplaySource(t, filepath.Join(dir, kernelcorpus.CaptureFile), stopAt, &stop)
			var out, errb bytes.Buffer
			if err := runLive(o, src, src.clock, &stop, nil, &out, &errb); err != nil {
				t.Fatalf("runLive: %v\n%s", err, errb.String())
			}
			events, list := splitEvents(parseCTText(t, "tcptrack live", out.Bytes()))
			compareLists(t, parseCTFile(t, filepath.Join(dir, kernelcorpus.ConntrackFile)), list)
			table := map[string]ctLine{}
			for _, l := range list {
				table[l.orig] = l
			}
			compareEvents(t, m, parseCTFile(t, filepath.Join(dir, kernelcorpus.EventsFile)), events, table)
		})
	}
}

// clockedWriter notes the fake clock whenever a [DESTROY] line is written.
type clockedWriter struct {
	bytes.Buffer
	src      *replaySource
	destroys []int64
}

func (w *clockedWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("[DESTROY]")) {
		w.destroys = append(w.destroys, w.src.now.Load())
	}
	return w.Buffer.Write(p)
}

// TestLiveExpiresOnWallClock: after the last packet nothing arrives; the
// flows' timeouts run out on the clock alone and each [DESTROY] is written
// while the capture still runs, soon after its instant.
func TestLiveExpiresOnWallClock(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "pcaps", "kernel", "abort-rst")
	o := mustLiveFlags(t, "-e", "--duration", "40s")
	var stop stopSignal
	src := newReplaySource(t, filepath.Join(dir, kernelcorpus.CaptureFile), 1<<62, &stop)
	start := src.now.Load()
	w := &clockedWriter{src: src}
	var errb bytes.Buffer
	if err := runLive(o, src, src.clock, &stop, nil, w, &errb); err != nil {
		t.Fatal(err)
	}
	if got, want := stop.when(), start+int64(40*time.Second); got != want {
		t.Errorf("stopped at %d, want --duration's deadline %d", got, want)
	}
	events, _ := splitEvents(parseCTText(t, "live", w.Bytes()))
	var destroys []ctLine
	for _, e := range events {
		if e.event == "DESTROY" {
			destroys = append(destroys, e)
		}
	}
	if len(destroys) == 0 || len(destroys) != len(w.destroys) {
		t.Fatalf("%d DESTROY events, %d writes noted; output:\n%s", len(destroys), len(w.destroys), w.String())
	}
	for i, e := range destroys {
		at := int64(e.ts*1e6) * 1e3
		// The fake clock runs ahead of the table's goroutines by as many
		// ticks as its batch pipeline holds (about 8 here), never more.
		late := time.Duration(w.destroys[i] - at)
		if late < 0 || late > 2*time.Second {
			t.Errorf("%v written %v after its instant, want within the table's pipeline of ticks", e, late)
		}
		if w.destroys[i] >= stop.when() {
			t.Errorf("%v written only at the stop", e)
		}
	}
	if !strings.Contains(errb.String(), "expired 2") {
		t.Errorf("want both flows expired: %s", errb.String())
	}
}

// TestLiveCountAndWrite: --count stops after N frames, -w saves exactly
// those, and read on the saved file prints the table live printed.
func TestLiveCountAndWrite(t *testing.T) {
	in := filepath.Join("..", "..", "testdata", "pcaps", "kernel", "random", kernelcorpus.CaptureFile)
	saved := filepath.Join(t.TempDir(), "saved.pcap")
	const n = 500
	o := mustLiveFlags(t, "-c", strconv.Itoa(n), "-w", saved, "--acct")
	var stop stopSignal
	src := newReplaySource(t, in, 0, &stop)
	var out, errb bytes.Buffer
	if err := runLive(o, src, src.clock, &stop, nil, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errb.String(), strconv.Itoa(n)+" packets captured") {
		t.Errorf("accounting: %s", errb.String())
	}
	orig := readAllRecords(t, in)
	got := readAllRecords(t, saved)
	if len(got) != n {
		t.Fatalf("-w saved %d records, want %d", len(got), n)
	}
	for i := range got {
		if got[i].TS != orig[i].TS || got[i].OrigLen != orig[i].OrigLen || !bytes.Equal(got[i].Data, orig[i].Data) || got[i].LinkType != orig[i].LinkType {
			t.Fatalf("record %d differs after -w", i+1)
		}
	}
	again := runTool(t, "read", "--acct", saved)
	if !bytes.Equal(again, out.Bytes()) {
		t.Errorf("read of the -w file differs from live's table\nlive:\n%s\nread:\n%s", out.String(), again)
	}
}

func readAllRecords(t *testing.T, path string) []assemble.Record {
	t.Helper()
	rd, err := assemble.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	recs, err := testutil.ReadAll(rd.Next, func(r assemble.Record) assemble.Record { r.Data = slices.Clone(r.Data); return r })
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestLiveExport: each format by extension (and -o), written atomically:
// the file parses, no temporary file stays behind.
func TestLiveExport(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "pcaps", "kernel", "random")
	m := loadMeta(t, dir)
	stopAt, _ := parseTime(strconv.FormatFloat(m.ListAt, 'f', 6, 64))
	want := len(parseCTFile(t, filepath.Join(dir, kernelcorpus.ConntrackFile)))
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, data []byte)
	}{
		{"state.json", nil, func(t *testing.T, data []byte) {
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			for _, l := range lines {
				var j output.JSONFlow
				if err := json.Unmarshal([]byte(l), &j); err != nil {
					t.Fatalf("%v: %q", err, l)
				}
			}
			if len(lines) != want {
				t.Errorf("%d JSON flows, want %d", len(lines), want)
			}
		}},
		{"state.csv", nil, func(t *testing.T, data []byte) {
			lines := strings.Split(strings.TrimSpace(string(data)), "\n")
			if lines[0] != strings.Join(output.CSVHeader(), ",") || len(lines) != want+1 {
				t.Errorf("CSV: header %q, %d rows, want %d", lines[0], len(lines)-1, want)
			}
		}},
		{"state.txt", nil, func(t *testing.T, data []byte) {
			if !bytes.Contains(data, []byte("Client state")) || bytes.Count(data, []byte("\n")) < want {
				t.Errorf("table:\n%s", data)
			}
		}},
		{"state.out", []string{"-o", "conntrack", "--acct"}, func(t *testing.T, data []byte) {
			if got := len(parseCTText(t, "export", data)); got != want {
				t.Errorf("%d conntrack lines, want %d", got, want)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			path := filepath.Join(out, tc.name)
			o := mustLiveFlags(t, append([]string{"--export", path, "--every", "1s"}, tc.args...)...)
			var stop stopSignal
			src := newReplaySource(t, filepath.Join(dir, kernelcorpus.CaptureFile), stopAt, &stop)
			var stdout, errb bytes.Buffer
			if err := runLive(o, src, src.clock, &stop, nil, &stdout, &errb); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, data)
			ents, _ := os.ReadDir(out)
			if len(ents) != 1 {
				t.Errorf("left behind: %v", ents)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
				t.Errorf("mode %v, want 0644", fi.Mode().Perm())
			}
		})
	}
}

func TestLiveExportError(t *testing.T) {
	e := &exporter{path: filepath.Join(t.TempDir(), "missing", "state.txt"), opts: output.Options{Format: output.FormatTable}}
	err := e.write(nil, 0)
	if err == nil || !strings.Contains(err.Error(), "--export ") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("want a wrapped not-exist error naming --export, got %v", err)
	}
}

func TestParseLiveFlags(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		err   string // substring of a usage error; "" for success
		check func(o *liveOptions) bool
	}{
		{[]string{}, "no interface", nil},
		{[]string{"-i", "eth0"}, "", func(o *liveOptions) bool {
			return o.filter == "tcp" && o.direction == "inout" && o.promisc && o.snaplen == defaultLiveSnaplen &&
				o.bufferBytes == defaultLiveBuffer && o.output == "conntrack" && !o.outputSet && o.sortKey == sortRate
		}},
		{[]string{"-i", "any", "-Q", "in", "tcp", "port", "80"}, "", func(o *liveOptions) bool {
			return o.direction == "in" && o.filter == "tcp port 80"
		}},
		{[]string{"-i", "any", "-f", "port 1", "port", "2"}, "both", nil},
		{[]string{"-i", "any", "-Q", "sideways"}, "direction", nil},
		{[]string{"-i", "any", "--buffer-size", "1024"}, "", func(o *liveOptions) bool { return o.bufferBytes == 1<<20 }},
		{[]string{"-i", "any", "--buffer-size", "128M"}, "", func(o *liveOptions) bool { return o.bufferBytes == 128<<20 }},
		{[]string{"-i", "any", "--buffer-size", "lots"}, "buffer-size", nil},
		{[]string{"-i", "any", "--buffer-size", "1"}, "at least", nil},
		{[]string{"-i", "any", "--snaplen", "10"}, "snaplen", nil},
		{[]string{"-i", "any", "--no-promisc"}, "", func(o *liveOptions) bool { return !o.promisc }},
		{[]string{"-i", "any", "--sort", "bytes"}, "", func(o *liveOptions) bool { return o.sortKey == sortBytes }},
		{[]string{"-i", "any", "--sort", "colour"}, "--sort", nil},
		{[]string{"-i", "any", "--export", "x.xml"}, "cannot tell the format", nil},
		{[]string{"-i", "any", "--export", "x.xml", "-o", "json"}, "", func(o *liveOptions) bool { return o.exportFmt == "json" }},
		{[]string{"-i", "any", "--export", "x.CSV"}, "", func(o *liveOptions) bool { return o.exportFmt == "csv" }},
		{[]string{"-i", "any", "--every", "1ms"}, "--every", nil},
		{[]string{"-i", "any", "--duration", "-1s"}, "--duration", nil},
		{[]string{"-i", "any", "-c", "5", "-w", "x.pcap", "-e", "--acct", "--extended"}, "", func(o *liveOptions) bool {
			return o.count == 5 && o.write == "x.pcap" && o.events && o.acct && o.extended
		}},
		{[]string{"-i", "any", "--no-loose", "--liberal", "--timeout", "close=3", "--shards", "3"}, "", func(o *liveOptions) bool {
			return !o.fsm.Loose && o.fsm.Liberal && o.fsm.Timeouts[fsm.Close] == 3*time.Second && o.shards == 3
		}},
		{[]string{"-i", "any", "--shards", "0"}, "--shards", nil},
		{[]string{"-i", "any", "--bogus"}, "flag provided but not defined", nil},
	} {
		o, err := parseLiveFlags(tc.args, io.Discard)
		var ue *usageError
		switch {
		case tc.err != "" && (err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: want usage error with %q, got %v", tc.args, tc.err, err)
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.err == "" && !tc.check(o):
			t.Errorf("%q: options %+v", tc.args, *o)
		}
	}
}

func TestLiveHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"live", "--help"}, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"-i, --interface", "--direction", "--export", "--every", "-w FILE", "--buffer-size", "--snaplen", "--linger", "--sort", "--max-retrans"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
	if strings.Contains(stderr.String(), "%!") {
		t.Errorf("help has a formatting error:\n%s", stderr.String())
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"0", 0, true}, {"1", 1024, true}, {"64K", 64 << 10, true}, {"64k", 64 << 10, true},
		{"32M", 32 << 20, true}, {"1G", 1 << 30, true}, {"1g", 1 << 30, true},
		{"", 0, false}, {"M", 0, false}, {"-1", 0, false}, {"2G", 0, false}, {"1.5M", 0, false}, {"10T", 0, false},
		{"99999999999999999999", 0, false},
	} {
		got, err := parseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1", "64M", "1G", "2047M", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			return
		}
		if n < 0 || n > 1<<31-1 {
			t.Fatalf("parseSize(%q) = %d: out of range", s, n)
		}
		if n%1024 != 0 {
			t.Fatalf("parseSize(%q) = %d: not whole KiB", s, n)
		}
	})
}

// corpusFlows replays a kernel-corpus capture and returns its table at now.
func corpusFlows(t *testing.T, scenario string, now int64) []flowtable.Flow {
	t.Helper()
	recs := readAllRecords(t, filepath.Join("..", "..", "testdata", "pcaps", "kernel", scenario, kernelcorpus.CaptureFile))
	hcfg := fsm.DefaultHostConfig()
	table := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), Shards: 1, Acct: true, Hosts: &hcfg})
	dec := assemble.NewDecoder(assemble.DecoderConfig{})
	var pkt flowtable.Packet
	for i := range recs {
		if recs[i].TS <= now && dec.Decode(&recs[i], &pkt) == assemble.TCP {
			table.Add(&pkt)
		}
	}
	res := table.Close(now)
	return res.Flows()
}

// TestLiveViewRender: the screen for a known table (golden), rates from
// the byte counts between frames, closed flows lingering then leaving.
func TestLiveViewRender(t *testing.T) {
	// Flows of a few scenarios, each taken at its own -L instant and moved
	// in time to a common one.
	now := int64(1_700_000_000e9)
	var flows []flowtable.Flow
	for _, sc := range []string{"abort-rst", "idle-established-v6", "close-client-first", "syn-no-answer"} {
		m := loadMeta(t, filepath.Join("..", "..", "testdata", "pcaps", "kernel", sc))
		at, _ := parseTime(strconv.FormatFloat(m.ListAt, 'f', 6, 64))
		for _, f := range corpusFlows(t, sc, at) {
			f.Start += now - at
			f.Last += now - at
			f.Expires += now - at
			f.Hosts.Shift(now - at)
			flows = append(flows, f)
		}
	}
	if len(flows) < 6 {
		t.Fatalf("only %d flows", len(flows))
	}
	o := &liveOptions{iface: "eth0", direction: "in", filter: "tcp", linger: 3 * time.Second}
	v := newLiveView(o, now-int64(65*time.Second))
	v.loc = time.UTC
	v.update(&viewFrame{now: now - int64(time.Second), flows: flows, captured: 1000, bytes: 100000, tcp: 990})

	// A second later one flow moved 3000 bytes out and 1000 back, and the
	// first one has left the table.
	next := slices.Clone(flows[1:])
	next[1].Bytes[fsm.Original] += 3000
	next[1].Bytes[fsm.Reply] += 1000
	v.update(&viewFrame{now: now, flows: next, closed: flows[:1], captured: 1500, bytes: 160000, tcp: 1480,
		pcap: captureStats{Received: 1500, Dropped: 2, IfDropped: 1}})
	if v.rows[0].f.ID != next[1].ID || v.rows[0].rate != [2]float64{3000, 1000} {
		t.Errorf("top row %v rate %v; want the busy flow at 3000/1000 B/s", v.rows[0].f.Key, v.rows[0].rate)
	}
	var buf bytes.Buffer
	v.render(&buf, 0, 0, false)
	testutil.Golden(t, filepath.Join("testdata", "live_view.golden"), buf.Bytes())

	// The screen size bounds what is drawn.
	buf.Reset()
	v.render(&buf, 60, 7, true)
	lines := strings.Split(buf.String(), "\n")
	if len(lines) != 7 {
		t.Errorf("%d lines on a 7-line screen", len(lines))
	}
	for _, l := range lines {
		plain := strings.NewReplacer("\033[7m", "", "\033[0m", "", "\033[2m", "", "\033[K", "").Replace(l)
		if n := len([]rune(plain)); n > 60 {
			t.Errorf("line of %d columns on a 60-column screen: %q", n, plain)
		}
	}

	// After the linger time the closed flow is gone.
	v.update(&viewFrame{now: now + int64(4*time.Second), flows: next})
	for _, r := range v.rows {
		if r.gone {
			t.Errorf("closed flow %v still shown after --linger", r.f.Key)
		}
	}
}

// TestLiveViewSort: every key orders the rows as it says; r reverses.
func TestLiveViewSort(t *testing.T) {
	now := int64(1_700_000_000e9)
	flows := corpusFlows(t, "random", now+int64(time.Hour))
	v := newLiveView(&liveOptions{linger: time.Second}, now)
	v.update(&viewFrame{now: now, flows: flows})
	for k := sortKey(0); k < numSortKeys; k++ {
		for _, rev := range []bool{false, true} {
			v.sortKey, v.reverse = k, rev
			v.sortRows()
			for i := 1; i < len(v.rows); i++ {
				c := v.compare(&v.rows[i-1], &v.rows[i])
				if rev {
					c = -c
				}
				if c > 0 {
					t.Fatalf("sort %v reverse %v: rows %d and %d out of order", k, rev, i-1, i)
				}
			}
		}
		if got, ok := parseSortKey(k.String()); !ok || got != k {
			t.Errorf("sort key %v does not parse back", k)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{{0, "0"}, {1023, "1023"}, {1024, "1.0K"}, {1536, "1.5K"}, {10 << 10, "10K"}, {5 << 20, "5.0M"}, {3 << 30, "3.0G"}, {1 << 50, "1024T"}} {
		if got := humanBytes(tc.in); got != tc.want {
			t.Errorf("humanBytes(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// loopedRecords serves the records of a capture over and over, each round
// later than the last, as a long capture would.
type loopedRecords struct {
	recs  []assemble.Record
	i     int
	shift int64
	span  int64
}

func newLoopedRecords(t testing.TB, path string) *loopedRecords {
	rd, err := assemble.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	l := &loopedRecords{}
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rec.Data = slices.Clone(rec.Data)
		l.recs = append(l.recs, rec)
	}
	l.span = l.recs[len(l.recs)-1].TS - l.recs[0].TS + int64(time.Second)
	return l
}

func (l *loopedRecords) next(rec *assemble.Record) {
	*rec = l.recs[l.i]
	rec.TS += l.shift
	if l.i++; l.i == len(l.recs) {
		l.i = 0
		l.shift += l.span
	}
}

func newBenchLoop(t testing.TB, dump bool) *liveLoop {
	o := mustLiveFlags(t, "--shards", "2")
	l := &liveLoop{o: o, table: flowtable.New(flowtable.Config{FSM: o.fsm, Shards: o.shards, TickEvery: int64(liveReadTimeout)})}
	l.pl = assemble.NewPipeline(l.table, assemble.DecoderConfig{})
	if dump {
		w, err := createPcap(os.DevNull, 65535, assemble.LinkSLL)
		if err != nil {
			t.Fatal(err)
		}
		l.dump = w
	}
	return l
}

// BenchmarkLivePacket is the live per-packet path (save with -w, decode,
// track); one op is one packet and it must not allocate.
func BenchmarkLivePacket(b *testing.B) {
	for _, dump := range []bool{false, true} {
		name := "track"
		if dump {
			name = "track+w"
		}
		b.Run(name, func(b *testing.B) {
			src := newLoopedRecords(b, filepath.Join("..", "..", "testdata", "pcaps", "kernel", "random", kernelcorpus.CaptureFile))
			l := newBenchLoop(b, dump)
			defer l.table.Close(0)
			var rec assemble.Record
			for range 20000 {
				src.next(&rec)
				l.packet(&rec)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				src.next(&rec)
				l.packet(&rec)
			}
		})
	}
}

// TestLivePacketAllocs guards the zero-allocation per-packet path.
func TestLivePacketAllocs(t *testing.T) {
	src := newLoopedRecords(t, filepath.Join("..", "..", "testdata", "pcaps", "kernel", "random", kernelcorpus.CaptureFile))
	l := newBenchLoop(t, true)
	defer l.table.Close(0)
	var rec assemble.Record
	for range 20000 {
		src.next(&rec)
		l.packet(&rec)
	}
	if n := testing.AllocsPerRun(20000, func() {
		src.next(&rec)
		l.packet(&rec)
	}); n != 0 {
		t.Errorf("%v allocations per packet, want 0", n)
	}
}

// TestLiveCaptureErrors: a missing interface, a bad filter, no permission:
// one line on stderr and exit status 1.
func TestLiveCaptureErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"live", "-i", "nosuchif0"}, "capture on nosuchif0: no such interface"},
	}
	if os.Geteuid() == 0 {
		cases = append(cases, struct {
			args []string
			want string
		}{[]string{"live", "-i", "lo", "--duration", "1ms", "tcp", "port"}, `capture on lo: bad filter "tcp port"`})
	} else {
		cases = append(cases, struct {
			args []string
			want string
		}{[]string{"live", "-i", "lo"}, "capture on lo: permission denied"})
	}
	for _, tc := range cases {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, nil, &stdout, &stderr)
		msg := stderr.String()
		if code != exitInput || !strings.Contains(msg, tc.want) || strings.Count(msg, "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want exit 1 and one line with %q", tc.args, code, msg, tc.want)
		}
	}
}

// TestLiveClampsTimeSteppingBack: as read does, live takes a frame stamped
// before the one captured before it as arriving at the latest time seen
// (the kernel saw it after the others, on a monotonic clock).
func TestLiveClampsTimeSteppingBack(t *testing.T) {
	recs := handshake(40000, t0)
	recs[1].ts = t0 - 2e9 // the SYN-ACK's stamp is 2 s before the SYN's
	path := filepath.Join(t.TempDir(), "back.pcap")
	if err := os.WriteFile(path, pcapFile(1, 65535, recs...), 0o644); err != nil {
		t.Fatal(err)
	}
	var stop stopSignal
	src := newReplaySource(t, path, 0, &stop)
	var stdout, errb bytes.Buffer
	if err := runLive(mustLiveFlags(t, "-e"), src, src.clock, &stop, nil, &stdout, &errb); err != nil {
		t.Fatal(err)
	}
	want := "[1700000000.000000]\t [UPDATE] tcp      6 60 SYN_RECV src=10.0.0.1 dst=10.0.0.2 sport=40000 dport=80 src=10.0.0.2 dst=10.0.0.1 sport=80 dport=40000\n"
	if !strings.Contains(stdout.String(), want) {
		t.Errorf("want the SYN-ACK's event at the SYN's time:\n%s\ngot:\n%s", want, stdout.String())
	}
}
