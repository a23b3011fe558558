package assemble

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/internal/testutil"
)

// corpusDir is the shared developer corpus beside the repository: real
// captures from zeek, suricata-verify and tcpdump, described in its
// SOURCES.md. Tests that are about that corpus skip without it.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir, ok := testutil.Shared(t, "pcaps", "the whole test (it checks that corpus)")
	if !ok {
		t.SkipNow()
	}
	return dir
}

// corpusEntry is one row of SOURCES.md's table.
type corpusEntry struct {
	file  string
	link  string // LT column
	pkts  int
	conns int
}

func loadSources(t *testing.T) []corpusEntry {
	t.Helper()
	f, err := os.Open(filepath.Join(corpusDir(t), "SOURCES.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []corpusEntry
	row := regexp.MustCompile("^\\| `([^`]+)` \\| (\\d+) \\| ([^|]+) \\| (\\d+) \\| (\\d+) \\|")
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := row.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		pkts, _ := strconv.Atoi(m[4])
		conns, _ := strconv.Atoi(m[5])
		out = append(out, corpusEntry{file: m[1], link: strings.TrimSpace(m[3]), pkts: pkts, conns: conns})
	}
	if len(out) == 0 {
		t.Fatal("SOURCES.md: no table rows found")
	}
	return out
}

// TestCorpus reads every shared capture: record counts and link types as
// SOURCES.md lists them, no reader errors, TCP segments wherever tshark
// found TCP conversations, and per-file decode statistics against a golden
// file.
func TestCorpus(t *testing.T) {
	entries := loadSources(t)
	var golden strings.Builder
	listed := map[string]bool{}
	for _, e := range entries {
		listed[e.file] = true
		t.Run(e.file, func(t *testing.T) {
			r, err := Open(filepath.Join(corpusDir(t), e.file))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			d := NewDecoder(DecoderConfig{})
			var p flowtable.Packet
			for {
				rec, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("after %d records: %v", r.Count(), err)
				}
				d.Decode(&rec, &p)
			}
			if r.Count() != e.pkts {
				t.Errorf("%d records, SOURCES.md says %d", r.Count(), e.pkts)
			}
			var links []string
			for _, ifc := range r.Interfaces() {
				if s := ifc.LinkType.String(); !slices.Contains(links, s) {
					links = append(links, s)
				}
			}
			if !linkMatches(e.link, links) {
				t.Errorf("link types %v, SOURCES.md says %s", links, e.link)
			}
			s := d.Stats()
			switch {
			case e.conns > 0 && s.TCP == 0:
				t.Errorf("no TCP segment decoded, SOURCES.md lists %d TCP conversations (stats %+v)", e.conns, s)
			case e.conns == 0 && s.TCP != 0:
				t.Errorf("%d TCP segments decoded, SOURCES.md lists no TCP conversation", s.TCP)
			}
			fmt.Fprintf(&golden, "%s records=%d tcp=%d nottcp=%d fragment=%d malformed=%d truncated=%d unsupported=%d rejected=%d frag_completed=%d frag_dropped=%d frag_held=%d\n",
				e.file, r.Count(), s.TCP, s.NotTCP, s.Fragment, s.Malformed, s.Truncated, s.Unsupported, s.Rejected, s.FragCompleted, s.FragDropped, s.FragHeld)
		})
	}
	files, _ := filepath.Glob(filepath.Join(corpusDir(t), "*.pcap*"))
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s is not in SOURCES.md", filepath.Base(f))
		}
	}
	testutil.Golden(t, filepath.Join("testdata", "corpus_stats.golden"), []byte(golden.String()))
}

// linkMatches compares SOURCES.md's LT column ("EN10MB", "SLL",
// "EN10MB+SLL+274(mPackets)") with the link types found.
func linkMatches(col string, found []string) bool {
	alias := map[string]string{"SLL": "LINUX_SLL", "SLL2": "LINUX_SLL2", "274(mPackets)": "MPACKETS"}
	var want []string
	for _, part := range strings.Split(col, "+") {
		if a, ok := alias[part]; ok {
			part = a
		}
		want = append(want, part)
	}
	slices.Sort(want)
	found = slices.Clone(found)
	slices.Sort(found)
	return slices.Equal(want, found)
}

// TestCorpusTcpdump compares every record's timestamp with what tcpdump
// prints at nanosecond precision: the same number of records, the same
// times (this checks pcapng if_tsresol handling on real files).
func TestCorpusTcpdump(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("no tcpdump")
	}
	entries := loadSources(t)
	tsLine := regexp.MustCompile(`^(\d+)\.(\d{9}) `)
	for _, e := range entries {
		t.Run(e.file, func(t *testing.T) {
			path := filepath.Join(corpusDir(t), e.file)
			cmd := exec.Command(tcpdump, "-nn", "-q", "-tt", "--time-stamp-precision=nano", "-r", path)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				if strings.Contains(stderr.String(), "different from") {
					// libpcap reads only pcapng files whose interfaces all
					// share one link type and snaplen.
					t.Skipf("libpcap cannot read it: %s", strings.TrimSpace(stderr.String()))
				}
				t.Fatalf("tcpdump: %v: %s", err, stderr.String())
			}
			var want []int64
			for _, line := range strings.Split(string(out), "\n") {
				if m := tsLine.FindStringSubmatch(line); m != nil {
					sec, _ := strconv.ParseInt(m[1], 10, 64)
					ns, _ := strconv.ParseInt(m[2], 10, 64)
					want = append(want, sec*1e9+ns)
				}
			}
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var got []int64
			for {
				rec, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, rec.TS)
			}
			if len(got) != len(want) {
				t.Fatalf("%d records, tcpdump prints %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("record %d: TS %d, tcpdump %d", i+1, got[i], want[i])
				}
			}
		})
	}
}
