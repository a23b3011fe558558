package main

// IPFIX export judged by a real collector: nfdump's nfcapd receives what
// tcptrack read exports for the whole kernel corpus, and nfdump reads it
// back: every connection is there, with tcptrack's own --acct counters in
// each direction (ended flows included). TestIPFIXFile checks the fields
// nfdump does not show (state text, flags, end reasons) with our decoder.

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/ipfix"
	"github.com/tcptrack/tcptrack/output"
)

// requireTools skips when a tool the test judges with is missing, except
// in CI, where a skipped proof would pass silently.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("needs %s (see .ci/deps) (CI=true: this test must run)", tool)
			}
			t.Skipf("needs %s (see .ci/deps)", tool)
		}
	}
}

// freeUDPPort finds a UDP port nobody listens on at the moment.
func freeUDPPort(t *testing.T) int {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// nfcapd is a running collector writing into dir.
type nfcapd struct {
	dir  string
	addr string
	proc *bgProc
}

// startNfcapd starts nfcapd on host (127.0.0.1 unless in a namespace, see
// ns); cmd wraps the command line (e.g. ip netns exec), or is nil.
func startNfcapd(t *testing.T, wrap func(args ...string) *exec.Cmd) *nfcapd {
	t.Helper()
	dir := t.TempDir()
	port := freeUDPPort(t)
	args := []string{"nfcapd", "-b", "127.0.0.1", "-p", strconv.Itoa(port), "-w", dir, "-t", "3600", "-B", "8388608"}
	var cmd *exec.Cmd
	if wrap != nil {
		cmd = wrap(args...)
	} else {
		cmd = exec.Command(args[0], args[1:]...)
	}
	n := &nfcapd{dir: dir, addr: fmt.Sprintf("127.0.0.1:%d", port)}
	n.proc = startBG(t, t.TempDir(), "nfcapd", cmd)
	n.proc.waitFor(t, false, "Startup", 10*time.Second)
	return n
}

// stop ends nfcapd (it writes its file on SIGTERM) and returns what
// nfdump reads back.
func (n *nfcapd) stop(t *testing.T) []nfRecord {
	t.Helper()
	// nfcapd does not drain its socket on SIGTERM: give it the last
	// datagrams first.
	time.Sleep(time.Second)
	if err := n.proc.stop(t, syscall.SIGTERM, 10*time.Second); err != nil {
		t.Fatalf("nfcapd: %v: %s", err, n.proc.errb.String())
	}
	t.Logf("nfcapd: %s", lastLine(n.proc.errb.String(), "Flows:"))
	out, err := exec.Command("nfdump", "-R", n.dir, "-o", "csv").Output()
	if err != nil {
		t.Fatalf("nfdump -R %s: %v", n.dir, err)
	}
	return parseNfdumpCSV(t, out)
}

func lastLine(s, with string) string {
	line := ""
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, with) {
			line = strings.TrimSpace(l)
		}
	}
	return line
}

// nfRecord is one record as nfdump prints it.
type nfRecord struct {
	tuple   string // "src dst sport dport", as ctLine.orig
	packets [2]int64
	bytes   [2]int64
	flags   string
}

// parseNfdumpCSV reads nfdump -o csv: a header, the records, then a blank
// line and the summary.
func parseNfdumpCSV(t *testing.T, out []byte) []nfRecord {
	t.Helper()
	var recs []nfRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
	var col map[string]int
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line == "Summary" {
			break
		}
		f, err := csv.NewReader(strings.NewReader(line)).Read()
		if err != nil {
			t.Fatalf("nfdump csv: %q: %v", line, err)
		}
		if col == nil {
			col = map[string]int{}
			for i, name := range f {
				col[name] = i
			}
			for _, want := range []string{"sa", "da", "sp", "dp", "pr", "ipkt", "ibyt", "opkt", "obyt", "flg"} {
				if _, ok := col[want]; !ok {
					t.Fatalf("nfdump csv header lacks %s: %q", want, line)
				}
			}
			continue
		}
		num := func(name string) int64 {
			n, err := strconv.ParseInt(strings.TrimSpace(f[col[name]]), 10, 64)
			if err != nil {
				t.Fatalf("nfdump csv %s: %q: %v", name, line, err)
			}
			return n
		}
		sa, err1 := netip.ParseAddr(strings.TrimSpace(f[col["sa"]]))
		da, err2 := netip.ParseAddr(strings.TrimSpace(f[col["da"]]))
		if err1 != nil || err2 != nil || strings.TrimSpace(f[col["pr"]]) != "TCP" {
			t.Fatalf("nfdump csv: %q: addresses %v %v, protocol %q", line, err1, err2, f[col["pr"]])
		}
		recs = append(recs, nfRecord{
			tuple:   fmt.Sprintf("%s %s %d %d", sa, da, num("sp"), num("dp")),
			packets: [2]int64{num("ipkt"), num("opkt")},
			bytes:   [2]int64{num("ibyt"), num("obyt")},
			flags:   f[col["flg"]],
		})
	}
	return recs
}

// acctTotals sums, per tuple, the counters tcptrack printed: DESTROY
// events (ended flows) and the final table. conns counts the flows.
type acctTotals struct {
	conns   int
	packets [2]int64
	bytes   [2]int64
}

func addAcct(t *testing.T, into map[string]*acctTotals, lines []ctLine) int {
	t.Helper()
	n := 0
	for _, l := range lines {
		if l.event != "" && l.event != "DESTROY" {
			continue
		}
		if l.counters[0][0] < 0 {
			t.Fatalf("no counters in %v (want --acct)", l)
		}
		a := into[l.orig]
		if a == nil {
			a = &acctTotals{}
			into[l.orig] = a
		}
		a.conns++
		for d := range 2 {
			a.packets[d] += l.counters[d][0]
			a.bytes[d] += l.counters[d][1]
		}
		n++
	}
	return n
}

// compareCollected: nfdump holds one record per connection (more for a
// connection reported by the active timeout) and the per-tuple sums equal
// tcptrack's --acct counters.
func compareCollected(t *testing.T, want map[string]*acctTotals, got []nfRecord, active bool) {
	t.Helper()
	sums := map[string]*acctTotals{}
	for _, r := range got {
		a := sums[r.tuple]
		if a == nil {
			a = &acctTotals{}
			sums[r.tuple] = a
		}
		a.conns++
		for d := range 2 {
			a.packets[d] += r.packets[d]
			a.bytes[d] += r.bytes[d]
		}
	}
	bad := 0
	for tuple, w := range want {
		g := sums[tuple]
		switch {
		case g == nil:
			t.Errorf("connection %s (%d flows) missing from nfdump", tuple, w.conns)
		case g.packets != w.packets || g.bytes != w.bytes:
			t.Errorf("%s: nfdump packets %v bytes %v; tcptrack --acct packets %v bytes %v", tuple, g.packets, g.bytes, w.packets, w.bytes)
		case g.conns < w.conns || (!active && g.conns != w.conns):
			t.Errorf("%s: %d records in nfdump for %d flows", tuple, g.conns, w.conns)
		default:
			continue
		}
		if bad++; bad > 20 {
			t.Fatal("too many differences")
		}
	}
	for tuple := range sums {
		if want[tuple] == nil {
			t.Errorf("nfdump has %s, tcptrack does not", tuple)
		}
	}
}

func TestIPFIXNfcapd(t *testing.T) {
	requireTools(t, "nfcapd", "nfdump")
	col := startNfcapd(t, nil)
	want := map[string]*acctTotals{}
	flows, records := 0, 0
	for i, dir := range corpusDirs(t) {
		m := loadMeta(t, dir)
		args := append([]string{"read"}, corpusFlags(t, m)...)
		// Each replay is an exporter of its own (nfcapd tells exporters
		// apart by address and observation domain).
		args = append(args, "--acct", "-e", "-o", "conntrack", "--ipfix", col.addr, "--ipfix-domain", strconv.Itoa(i+1),
			filepath.Join(dir, "capture.pcap"))
		out := runTool(t, args...)
		flows += addAcct(t, want, parseCTText(t, filepath.Base(dir), out))
	}
	got := col.stop(t)
	records = len(got)
	t.Logf("kernel corpus: %d flows (ended ones included) in %d tuples; nfdump read %d records", flows, len(want), records)
	if flows < 100 {
		t.Errorf("only %d flows in the corpus: is it all there?", flows)
	}
	compareCollected(t, want, got, false)
	if records != flows {
		t.Errorf("nfdump has %d records for %d flows", records, flows)
	}
}

// TestIPFIXFile: the file written with --ipfix-file decodes to one record
// per flow with the state text, flags and counters of -o json's view.
func TestIPFIXFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows.ipfix")
	sample := filepath.Join("..", "..", "testdata", "pcaps", "sample.pcap")
	out := runTool(t, "read", "-o", "json", "--ipfix-file", path, sample)
	var lines []output.JSONFlow
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var j output.JSONFlow
		if err := dec.Decode(&j); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, j)
	}
	recs := readIPFIXFile(t, path)
	byTuple := map[string]ipfix.Record{}
	for _, r := range recs {
		byTuple[fmt.Sprintf("%s %s %d %d", r.Src, r.Dst, r.SrcPort, r.DstPort)] = r
	}
	if len(recs) < len(lines) || len(lines) == 0 {
		t.Fatalf("%d records for %d flows still open", len(recs), len(lines))
	}
	for _, j := range lines {
		key := fmt.Sprintf("%s %s %d %d", j.Original.Src, j.Original.Dst, j.Original.Sport, j.Original.Dport)
		r, ok := byTuple[key]
		if !ok {
			t.Errorf("no record for %s", key)
			continue
		}
		st, err := ipfix.ParseState(r.State)
		if err != nil {
			t.Error(err)
			continue
		}
		wantSt := ipfix.State{Conntrack: j.State, Assured: j.Assured, Unreplied: j.Unreplied,
			Sockets: [2]string{j.Sockets.Original, j.Sockets.Reply}}
		if st != wantSt || r.EndReason != ipfix.ForcedEnd ||
			r.Packets != [2]uint64{j.Original.Packets, j.Reply.Packets} || r.Octets != [2]uint64{j.Original.Bytes, j.Reply.Bytes} {
			t.Errorf("%s: record %+v (state %+v), -o json says %+v", key, r, st, j)
		}
		first, _ := time.Parse(time.RFC3339Nano, j.FirstSeen)
		last, _ := time.Parse(time.RFC3339Nano, j.LastSeen)
		if r.Start != first.UnixMilli() || r.End != last.UnixMilli() {
			t.Errorf("%s: record times %d..%d, flow %s..%s", key, r.Start, r.End, j.FirstSeen, j.LastSeen)
		}
		if r.TCPFlags[0]&0x02 == 0 && j.State != "ESTABLISHED" {
			t.Errorf("%s: no SYN among the initiator's flags %#x", key, r.TCPFlags[0])
		}
	}
	// Ended flows have records too, with the reason they ended.
	reasons := map[ipfix.EndReason]int{}
	for _, r := range recs {
		reasons[r.EndReason]++
	}
	if reasons[ipfix.EndDetected] == 0 || len(recs) == len(lines) {
		t.Errorf("no record of an ended flow: reasons %v", reasons)
	}
}

func readIPFIXFile(t *testing.T, path string) []ipfix.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := ipfix.NewDecoder()
	var recs []ipfix.Record
	var buf []byte
	for {
		buf, err = ipfix.ReadMessage(f, buf)
		if errors.Is(err, io.EOF) {
			return recs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if _, recs, err = d.Decode(buf, recs); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
}

// TestIPFIXFlags: bad targets and values are usage errors naming the flag.
func TestIPFIXFlags(t *testing.T) {
	sample := filepath.Join("..", "..", "testdata", "pcaps", "sample.pcap")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"read", "--ipfix", "sctp://127.0.0.1:4739", sample}, exitUsage, "--ipfix"},
		{[]string{"read", "--ipfix", "nohostport", sample}, exitUsage, "HOST:PORT"},
		{[]string{"read", "--ipfix-file", "/nonexistent/dir/f.ipfix", sample}, exitInput, "--ipfix-file"},
		{[]string{"live", "-i", "lo", "--ipfix-active", "10ms"}, exitUsage, "--ipfix-active"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, nil, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
	}
}
