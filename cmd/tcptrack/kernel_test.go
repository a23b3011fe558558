package main

// Differential test against the Linux kernel: every scenario directory under
// testdata/pcaps/kernel (or $TCPTRACK_CORPUS) holds a capture taken on a
// namespace router together with that router's own `conntrack -L` and
// `conntrack -E` output (see tools/corpusgen). Replaying the capture must give
// the kernel's answer, flow for flow.

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/internal/kernelcorpus"
)

// ctLine is one parsed conntrack-tools line (-L or -E).
type ctLine struct {
	ts        float64 // events only
	event     string  // NEW, UPDATE, DESTROY; "" for -L
	timeout   int64   // -1 when absent
	state     string
	orig      string // "src dst sport dport"
	reply     string
	counters  [2][2]int64 // [dir]{packets, bytes}; -1 when absent
	unreplied bool
	assured   bool
}

func (l ctLine) String() string {
	var b strings.Builder
	if l.event != "" {
		fmt.Fprintf(&b, "[%.6f] %s ", l.ts, l.event)
	}
	fmt.Fprintf(&b, "%d %s {%s} pk/by=%v", l.timeout, l.state, l.orig, l.counters)
	if l.unreplied {
		b.WriteString(" UNREPLIED")
	}
	if l.assured {
		b.WriteString(" ASSURED")
	}
	return b.String()
}

// parseCTLine reads the conntrack-tools default format, with or without
// the -o extended prefix, the -o timestamp prefix and the event tag.
func parseCTLine(s string) (ctLine, error) {
	l := ctLine{timeout: -1, counters: [2][2]int64{{-1, -1}, {-1, -1}}}
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if ts, err := strconv.ParseFloat(s[1:end], 64); err == nil {
			l.ts = ts
			s = strings.TrimLeft(s[end+1:], "\t ")
		}
	}
	f := strings.Fields(s)
	if len(f) > 0 && strings.HasPrefix(f[0], "[") {
		l.event = strings.Trim(f[0], "[]")
		f = f[1:]
	}
	if len(f) > 2 && (f[0] == "ipv4" || f[0] == "ipv6") {
		f = f[2:]
	}
	if len(f) < 2 || f[0] != "tcp" || f[1] != "6" {
		return l, fmt.Errorf("not a tcp conntrack line: %q", s)
	}
	f = f[2:]
	if len(f) > 0 {
		if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
			l.timeout = n
			f = f[1:]
		}
	}
	if len(f) > 0 && !strings.Contains(f[0], "=") && !strings.HasPrefix(f[0], "[") {
		l.state = f[0]
		f = f[1:]
	}
	tuple := -1
	var parts [2][]string
	for _, tok := range f {
		switch {
		case tok == "[UNREPLIED]":
			l.unreplied = true
		case tok == "[ASSURED]":
			l.assured = true
		case strings.HasPrefix(tok, "src="):
			tuple++
			if tuple > 1 {
				return l, fmt.Errorf("three tuples in %q", s)
			}
			parts[tuple] = append(parts[tuple], tok[4:])
		case strings.HasPrefix(tok, "dst="), strings.HasPrefix(tok, "sport="), strings.HasPrefix(tok, "dport="):
			if tuple >= 0 {
				parts[tuple] = append(parts[tuple], tok[strings.Index(tok, "=")+1:])
			}
		case strings.HasPrefix(tok, "packets="), strings.HasPrefix(tok, "bytes="):
			v, _ := strconv.ParseInt(tok[strings.Index(tok, "=")+1:], 10, 64)
			i := 0
			if strings.HasPrefix(tok, "bytes=") {
				i = 1
			}
			if tuple >= 0 {
				l.counters[tuple][i] = v
			}
		}
	}
	if tuple != 1 {
		return l, fmt.Errorf("want two tuples in %q", s)
	}
	l.orig, l.reply = strings.Join(parts[0], " "), strings.Join(parts[1], " ")
	return l, nil
}

func parseCTFile(t *testing.T, path string) []ctLine {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseCTText(t, path, data)
}

func parseCTText(t *testing.T, name string, data []byte) []ctLine {
	t.Helper()
	var out []ctLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "conntrack v") || strings.HasPrefix(s, "tcptrack ") {
			continue
		}
		l, err := parseCTLine(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, l)
	}
	return out
}

// corpusFlags turns the router's sysctls into the matching tcptrack flags.
func corpusFlags(t *testing.T, m *kernelcorpus.Meta) []string {
	args := []string{"--now", strconv.FormatFloat(m.ListAt, 'f', 6, 64), "--extended"}
	keys := make([]string, 0, len(m.Sysctl))
	for k := range m.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m.Sysctl[k]
		name := strings.TrimPrefix(k, "net.netfilter.nf_conntrack_")
		switch {
		case name == "acct":
			if v != "0" {
				args = append(args, "--acct")
			}
		case name == "checksum":
			if v == "0" {
				args = append(args, "--no-checksum")
			}
		case name == "tcp_loose":
			if v == "0" {
				args = append(args, "--no-loose")
			}
		case name == "tcp_be_liberal":
			if v != "0" {
				args = append(args, "--liberal")
			}
		case name == "tcp_max_retrans":
			args = append(args, "--max-retrans", v)
		case name == "tcp_ignore_invalid_rst":
			if v != "0" {
				args = append(args, "--ignore-invalid-rst")
			}
		case strings.HasPrefix(name, "tcp_timeout_"):
			args = append(args, "--timeout", strings.TrimPrefix(name, "tcp_timeout_")+"="+v)
		}
	}
	return args
}

// corpusDirs lists the scenarios of testdata/pcaps/kernel, or of
// $TCPTRACK_CORPUS (make difftest's fresh corpus).
func corpusDirs(t *testing.T) []string {
	root := os.Getenv("TCPTRACK_CORPUS")
	if root == "" {
		root = filepath.Join("..", "..", "testdata", "pcaps", "kernel")
	}
	dirs, err := kernelcorpus.Dirs(root)
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no kernel corpus under %s (generate it with make corpus): %v", root, err)
	}
	return dirs
}

func loadMeta(t *testing.T, dir string) *kernelcorpus.Meta {
	m, err := kernelcorpus.ReadMeta(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func runTool(t *testing.T, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(args, nil, &stdout, &stderr); code != exitOK {
		t.Fatalf("tcptrack %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
	}
	return stdout.Bytes()
}

// TestKernelList: the table at the instant conntrack -L ran equals it.
func TestKernelList(t *testing.T) {
	for _, dir := range corpusDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m := loadMeta(t, dir)
			want := parseCTFile(t, filepath.Join(dir, kernelcorpus.ConntrackFile))
			args := append([]string{"read"}, corpusFlags(t, m)...)
			args = append(args, "--shards", "2", filepath.Join(dir, kernelcorpus.CaptureFile))
			out := runTool(t, args...)
			got := parseCTText(t, "tcptrack", out)
			edge := expiringDuringList(t, dir, m)
			compareListsEdge(t, want, got, edge)
			compareBytesEdge(t, filepath.Join(dir, kernelcorpus.ConntrackFile), out, edge)
		})
	}
}

// expiringDuringList: the flows tcptrack holds when conntrack -L starts
// and has expired by the time it returns. The dump reads each entry at some
// instant in between, so such an entry may or may not be listed.
func expiringDuringList(t *testing.T, dir string, m *kernelcorpus.Meta) map[string]bool {
	t.Helper()
	at := func(now float64) map[string]bool {
		args := append([]string{"read"}, corpusFlags(t, m)...)
		args[2] = strconv.FormatFloat(now, 'f', 6, 64) // --now's value
		args = append(args, filepath.Join(dir, kernelcorpus.CaptureFile))
		set := map[string]bool{}
		for _, l := range parseCTText(t, "tcptrack", runTool(t, args...)) {
			set[l.orig] = true
		}
		return set
	}
	edge := at(m.ListBefore)
	for orig := range at(m.ListAfter) {
		delete(edge, orig)
	}
	return edge
}

func compareLists(t *testing.T, want, got []ctLine) {
	t.Helper()
	compareListsEdge(t, want, got, nil)
}

// compareListsEdge is compareLists where a flow of edge (expiring while the
// list ran) may be missing from either side.
func compareListsEdge(t *testing.T, want, got []ctLine, edge map[string]bool) {
	t.Helper()
	byOrig := map[string]ctLine{}
	for _, g := range got {
		if _, dup := byOrig[g.orig]; dup {
			t.Errorf("tcptrack lists %s twice", g.orig)
		}
		byOrig[g.orig] = g
	}
	for _, w := range want {
		g, ok := byOrig[w.orig]
		if !ok {
			if !edge[w.orig] {
				t.Errorf("kernel has, tcptrack lacks: %v", w)
			}
			continue
		}
		delete(byOrig, w.orig)
		if g.state != w.state || g.unreplied != w.unreplied || g.assured != w.assured ||
			g.reply != w.reply || g.counters != w.counters || math.Abs(float64(g.timeout-w.timeout)) > 1 {
			t.Errorf("flow differs\n  kernel:   %v\n  tcptrack: %v", w, g)
		}
	}
	for _, g := range byOrig {
		if !edge[g.orig] {
			t.Errorf("tcptrack has, kernel lacks: %v", g)
		}
	}
}

// compareBytes: our lines are the kernel's byte for byte, but for the
// timeout, which may differ by the kernel's jiffy rounding (at most 1 s).
func compareBytes(t *testing.T, kernelFile string, ours []byte) {
	t.Helper()
	compareBytesEdge(t, kernelFile, ours, nil)
}

// compareBytesEdge is compareBytes where the line of a flow of edge may be
// missing from ours (see expiringDuringList).
func compareBytesEdge(t *testing.T, kernelFile string, ours []byte, edge map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(kernelFile)
	if err != nil {
		t.Fatal(err)
	}
	key := func(line string) (string, string, int64) {
		f := strings.Split(line, " ")
		// "ipv4     2 tcp      6 TIMEOUT ..." split on single spaces
		for i, w := range f {
			if n, err := strconv.ParseInt(w, 10, 64); err == nil && i > 0 && f[i-1] == "6" {
				f[i] = "T"
				return strings.Join(f, " "), "", n
			}
		}
		return line, "", -1
	}
	mine := map[string]int64{}
	for _, l := range strings.Split(strings.TrimSpace(string(ours)), "\n") {
		if l == "" {
			continue
		}
		k, _, n := key(l)
		mine[k] = n
	}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l == "" {
			continue
		}
		k, _, n := key(l)
		m, ok := mine[k]
		if !ok && len(edge) > 0 {
			if c, err := parseCTLine(l); err == nil && edge[c.orig] {
				continue
			}
		}
		if !ok || m-n > 1 || n-m > 1 {
			t.Errorf("kernel line not reproduced byte for byte:\n  %s", l)
		}
	}
}

// TestKernelEvents: replaying with --events yields, flow by flow, the
// kernel's sequence of [NEW]/[UPDATE]/[DESTROY] with the same states/flags.
func TestKernelEvents(t *testing.T) {
	for _, dir := range corpusDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m := loadMeta(t, dir)
			if _, err := os.Stat(filepath.Join(dir, kernelcorpus.EventsFile)); err != nil {
				t.Fatalf("no events.txt: %v", err)
			}
			kernel := parseCTFile(t, filepath.Join(dir, kernelcorpus.EventsFile))
			args := append([]string{"read", "-e"}, corpusFlags(t, m)...)
			args = append(args, "--shards", "2", filepath.Join(dir, kernelcorpus.CaptureFile))
			ours := parseCTText(t, "tcptrack", runTool(t, args...))
			// And the live table, to judge flows that expire right at the edge.
			args = append([]string{"read"}, corpusFlags(t, m)...)
			args = append(args, filepath.Join(dir, kernelcorpus.CaptureFile))
			table := map[string]ctLine{}
			for _, l := range parseCTText(t, "tcptrack", runTool(t, args...)) {
				table[l.orig] = l
			}
			compareEvents(t, m, kernel, ours, table)
		})
	}
}

func groupByOrig(ls []ctLine) (map[string][]ctLine, []string) {
	g := map[string][]ctLine{}
	var order []string
	for _, l := range ls {
		if _, ok := g[l.orig]; !ok {
			order = append(order, l.orig)
		}
		g[l.orig] = append(g[l.orig], l)
	}
	return g, order
}

func compareEvents(t *testing.T, m *kernelcorpus.Meta, kernel, ours []ctLine, table map[string]ctLine) {
	t.Helper()
	kg, korder := groupByOrig(kernel)
	og, oorder := groupByOrig(ours)
	seen := map[string]bool{}
	for _, o := range append(korder, oorder...) {
		if seen[o] {
			continue
		}
		seen[o] = true
		k, u := kg[o], og[o]
		// The kernel's recording runs a little past -L; a flow that
		// expires within a second of it may have its [DESTROY] on one
		// side only.
		if len(k) == len(u)+1 && k[len(k)-1].event == "DESTROY" && k[len(k)-1].ts >= m.ListAt-1 {
			if l, ok := table[o]; ok && l.timeout <= 1 {
				k = k[:len(k)-1]
			}
		}
		if len(u) == len(k)+1 && u[len(u)-1].event == "DESTROY" && u[len(u)-1].ts >= m.ListAt-1 {
			u = u[:len(u)-1]
		}
		if !alignEvents(k, u) {
			t.Errorf("flow %s: events differ\n  kernel:   %s\n  tcptrack: %s", o, fmtEvents(k), fmtEvents(u))
		}
	}
}

// raceWindow bounds two things the kernel does with events of packets that
// are processed close together (on this 2-CPU box, both directions of a
// flow are handled on different CPUs at once). The kernel caches a flow's
// event bits per packet and fills the netlink message only when it delivers
// them (at POSTROUTING for forwarded packets), reading the entry as it is
// then. So (a) an event can show the state and flags that a packet handled
// meanwhile set, and (b) when the second packet's bits were cached before
// the first delivery, both go out as one message. Either is accepted only
// when our events concerned happened within raceWindow of each other.
const raceWindow = 0.002

// alignEvents reports whether the kernel's sequence k is our sequence u up
// to (a) and (b).
func alignEvents(k, u []ctLine) bool {
	memo := map[[2]int]bool{}
	var align func(i, j int) bool
	align = func(i, j int) bool {
		if i == len(k) || j == len(u) {
			return i == len(k) && j == len(u)
		}
		key := [2]int{i, j}
		if v, ok := memo[key]; ok {
			return v
		}
		ok := false
		if sameEvent(&k[i], &u[j]) {
			ok = align(i+1, j+1)
		}
		for n := j + 1; !ok && n < len(u) && u[n].ts-u[j].ts <= raceWindow && k[i].event == "UPDATE" && u[n].event == "UPDATE" && u[j].event == "UPDATE"; n++ {
			if !sameFlagsAndState(&k[i], &u[n]) {
				continue
			}
			ok = align(i+1, j+1) || align(i+1, n+1) // (a) or (b)
		}
		memo[key] = ok
		return ok
	}
	return align(0, 0)
}

func sameFlagsAndState(k, u *ctLine) bool {
	return (k.state == "" || u.state == "" || k.state == u.state) &&
		k.unreplied == u.unreplied && k.assured == u.assured && k.reply == u.reply
}

func sameEvent(k, u *ctLine) bool {
	if k.event != u.event || k.state != u.state || k.unreplied != u.unreplied || k.assured != u.assured || k.reply != u.reply {
		return false
	}
	if k.event == "DESTROY" && k.counters != u.counters {
		return false
	}
	if k.event != "DESTROY" && k.timeout >= 0 && math.Abs(float64(k.timeout-u.timeout)) > 1 {
		return false
	}
	return true
}

func fmtEvents(ls []ctLine) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString("\n    ")
		b.WriteString(l.String())
	}
	return b.String()
}
