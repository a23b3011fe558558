package main

// The kernel judges --invalid: each corpus scenario holds the router's own
// conntrack log (invalid.log, net.netfilter.nf_conntrack_log_invalid=6).
// Replaying the capture with --invalid must name the same packets with the
// same reasons, one for one, down to the bytes of the packet description.

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
	"github.com/tcptrack/tcptrack/internal/kernelcorpus"
	"github.com/tcptrack/tcptrack/internal/kmsg"
	"github.com/tcptrack/tcptrack/internal/testutil"
)

// logLine is one conntrack log line reduced to what both sides print.
type logLine struct {
	reason string // the tracker's message
	packet string // "SRC=… URGP=0 …"
}

// parseOurLine takes "#N nf_ct_proto_6: REASON SRC=…" apart.
func parseOurLine(s string) (logLine, bool) {
	_, rest, ok := strings.Cut(s, " "+kmsg.Prefix)
	if !ok {
		return logLine{}, false
	}
	i := strings.Index(rest, " SRC=")
	if i < 0 {
		return logLine{}, false
	}
	return logLine{reason: rest[:i], packet: rest[i+1:]}, true
}

// invalidFigures adds up, over the corpus, the kernel lines matched per
// message (the reason code's name), for the log of the test.
type invalidFigures struct {
	mu      sync.Mutex
	matched map[string]int
	tail    int
}

func TestKernelInvalid(t *testing.T) {
	fig := &invalidFigures{matched: map[string]int{}}
	t.Run("corpus", func(t *testing.T) {
		for _, dir := range corpusDirs(t) {
			t.Run(filepath.Base(dir), func(t *testing.T) {
				t.Parallel()
				checkInvalid(t, dir, fig)
			})
		}
	})
	var names []string
	total := 0
	for n, c := range fig.matched {
		names = append(names, fmt.Sprintf("%s %d", n, c))
		total += c
	}
	sort.Strings(names)
	t.Logf("%d kernel log lines matched one for one (%s); %d logged after the capture ended", total, strings.Join(names, ", "), fig.tail)
}

func checkInvalid(t *testing.T, dir string, fig *invalidFigures) {
	logPath := filepath.Join(dir, kernelcorpus.InvalidLogFile)
	if _, err := os.Stat(logPath); os.IsNotExist(err) {
		t.Fatalf("no %s: the corpus generator records the router's kernel log for every scenario (regenerate the corpus: make corpus)", kernelcorpus.InvalidLogFile)
	}
	m := loadMeta(t, dir)
	flags := dropFlag(corpusFlags(t, m), "--now", true)
	flags = dropFlag(flags, "--extended", false)
	flags = dropFlag(flags, "--acct", false)
	compareInvalid(t, filepath.Join(dir, kernelcorpus.CaptureFile), logPath, flags, fig)
}

// TestInvalidSample: testdata/pcaps/invalid.pcap gathers the crafted
// scenarios that make the router log every message, invalid.log their
// kernel lines; a copy kept apart from the corpus, which is regenerated.
func TestInvalidSample(t *testing.T) {
	fig := &invalidFigures{matched: map[string]int{}}
	dir := filepath.Join("..", "..", "testdata", "pcaps")
	compareInvalid(t, filepath.Join(dir, "invalid.pcap"), filepath.Join(dir, "invalid.log"), nil, fig)
	if len(fig.matched) != len(reasonPatterns) {
		t.Errorf("the sample shows %d of the %d messages: %v", len(fig.matched), len(reasonPatterns), fig.matched)
	}
}

// compareInvalid replays capture with --invalid and flags and compares
// with the kernel's lines in logPath.
func compareInvalid(t *testing.T, capture, logPath string, flags []string, fig *invalidFigures) {
	kernelText, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	var kernel []logLine
	for _, s := range strings.Split(strings.TrimSpace(string(kernelText)), "\n") {
		if s == "" {
			continue
		}
		e, ok := kmsg.Parse(s)
		if !ok {
			t.Fatalf("%s: not a conntrack log line: %q", logPath, s)
		}
		kernel = append(kernel, logLine{reason: e.Reason, packet: e.Packet})
	}

	args := append([]string{"read", "--invalid", "--event-timestamps=false", "--shards", "2"}, flags...)
	out := runTool(t, append(args, capture)...)
	var ours []logLine
	for _, s := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if s == "" {
			continue
		}
		l, ok := parseOurLine(s)
		if !ok {
			t.Fatalf("tcptrack wrote %q", s)
		}
		if strings.HasPrefix(l.reason, "not picked up") {
			continue // a reason the kernel does not log (--no-loose)
		}
		ours = append(ours, l)
	}

	// One for one: each of our lines takes a kernel line with the same
	// packet and reason. A packet the kernel logged more often than the
	// capture holds it (it may log one packet twice) counts once.
	left := map[logLine]int{}
	for _, l := range kernel {
		left[l]++
	}
	var missing []string
	for _, l := range ours {
		if left[l] == 0 {
			missing = append(missing, fmt.Sprintf("  ours, not the kernel's: %s %s", l.reason, l.packet))
			continue
		}
		left[l]--
	}
	ourCount := map[logLine]int{}
	for _, l := range ours {
		ourCount[l]++
	}
	lastMatched := -1
	seen := map[logLine]int{}
	for i, l := range kernel {
		seen[l]++
		if seen[l] <= ourCount[l] {
			lastMatched = i
		}
	}
	var pkts *captureIndex
	seen = map[logLine]int{}
	tail := 0
	for i, l := range kernel {
		seen[l]++
		if ourCount[l] > 0 {
			continue // matched, or the same packet logged again
		}
		// Not ours at all: only a packet that reached the router after the
		// capture had stopped (at the end of the log) may be missing.
		if pkts == nil {
			pkts = indexCapture(t, capture)
		}
		if i > lastMatched && !pkts.has(l.packet) {
			tail++
			continue
		}
		missing = append(missing, fmt.Sprintf("  kernel's, not ours: %s %s", l.reason, l.packet))
	}
	if len(missing) > 0 {
		t.Errorf("--invalid differs from the kernel's log %s:\n%s", logPath, strings.Join(missing, "\n"))
	}
	fig.mu.Lock()
	defer fig.mu.Unlock()
	fig.tail += tail
	for l, n := range ourCount {
		fig.matched[reasonName(l.reason)] += n
	}
}

// dropFlag removes a flag (and its value) from args.
func dropFlag(args []string, name string, value bool) []string {
	for i := 0; i < len(args); i++ {
		if args[i] == name {
			n := 1
			if value {
				n = 2
			}
			return append(args[:i:i], args[i+n:]...)
		}
	}
	return args
}

// reasonName maps a kernel message to fsm's short name for its code.
func reasonName(msg string) string {
	for _, p := range reasonPatterns {
		if p.re.MatchString(msg) {
			return p.code.String()
		}
	}
	return "other"
}

var reasonPatterns = []struct {
	re   *regexp.Regexp
	code fsm.ReasonCode
}{
	{regexp.MustCompile(`^truncated packet$`), fsm.ReasonTruncated},
	{regexp.MustCompile(`^bad checksum$`), fsm.ReasonBadChecksum},
	{regexp.MustCompile(`^invalid tcp flag combination$`), fsm.ReasonBadFlags},
	{regexp.MustCompile(`^invalid new$`), fsm.ReasonInvalidNew},
	{regexp.MustCompile(`^packet \(index \d\) in dir \d ignored, state \S+$`), fsm.ReasonIgnored},
	{regexp.MustCompile(`^packet \(index \d\) in dir \d invalid, state \S+$`), fsm.ReasonInvalidState},
	{regexp.MustCompile(`^challenge-ack ignored$`), fsm.ReasonChallengeAck},
	{regexp.MustCompile(`^invalid rst$`), fsm.ReasonInvalidRST},
	{regexp.MustCompile(`^\d+ bytes more than expected$`), fsm.ReasonOverWindow},
	{regexp.MustCompile(`^SEQ is over upper bound`), fsm.ReasonSeqOver},
	{regexp.MustCompile(`^ACK is over upper bound`), fsm.ReasonAckOver},
	{regexp.MustCompile(`^SEQ is under lower bound`), fsm.ReasonSeqUnder},
	{regexp.MustCompile(`^ignored ACK under lower bound`), fsm.ReasonAckUnder},
	{regexp.MustCompile(`^packet \(index \d, dir \d\) response for index \d lower timeout to \d+$`), fsm.ReasonLowerTimeout},
}

// captureIndex holds the (src, dst, sport, dport, seq, ack) of every TCP
// packet of a capture, to tell a packet the capture missed from one it
// holds.
type captureIndex struct{ keys map[string]bool }

func indexCapture(t *testing.T, path string) *captureIndex {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := assemble.NewReader(f, path)
	if err != nil {
		t.Fatal(err)
	}
	d := assemble.NewDecoder(assemble.DecoderConfig{})
	idx := &captureIndex{keys: map[string]bool{}}
	var p flowtable.Packet
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if k := d.Decode(&rec, &p); k == assemble.TCP || k == assemble.Rejected {
			idx.keys[fmt.Sprint(p.Src, p.Dst, p.TCP.SrcPort, p.TCP.DstPort, p.TCP.Seq, p.TCP.Ack)] = true
		}
	}
	return idx
}

// has looks a logged packet description up.
func (c *captureIndex) has(packet string) bool {
	e := kmsg.Entry{Packet: packet}
	src, dst := e.Field("SRC"), e.Field("DST")
	if strings.Contains(src, ":") {
		src, dst = compactIPv6(src), compactIPv6(dst)
	}
	return c.keys[fmt.Sprint(src, " ", dst, " ", e.Field("SPT"), " ", e.Field("DPT"), " ", e.Field("SEQ"), " ", e.Field("ACK"))]
}

// compactIPv6 turns the kernel's full IPv6 form into Go's.
func compactIPv6(s string) string {
	var b [16]byte
	groups := strings.Split(s, ":")
	if len(groups) != 8 {
		return s
	}
	for i, g := range groups {
		var v uint16
		fmt.Sscanf(g, "%x", &v)
		b[2*i], b[2*i+1] = byte(v>>8), byte(v)
	}
	return netip.AddrFrom16(b).String()
}

// TestKernelChecksumOffload: in the checksum-offload scenarios every packet
// reaches the router with the pseudo-header sum in its checksum field (the
// hosts' NICs would fill it in); the kernel tracks them (TestKernelList
// compares the table), and tcptrack's default must take each for the
// offload pattern, none for a bad checksum.
func TestKernelChecksumOffload(t *testing.T) {
	seen := 0
	for _, dir := range corpusDirs(t) {
		if !strings.HasPrefix(filepath.Base(dir), "checksum-offload") {
			continue
		}
		seen++
		var out, errb strings.Builder
		if code := run([]string{"read", "--stats=json", filepath.Join(dir, kernelcorpus.CaptureFile)}, nil, &out, &errb); code != exitOK {
			t.Fatalf("%s: exit %d: %s", dir, code, errb.String())
		}
		r := parseStatsJSON(t, errb.String())
		if r.Checksum.Offload == 0 || r.Checksum.Offload != r.TCP || r.Verdicts.BadChecksum != 0 {
			t.Errorf("%s: %d TCP segments, %d with the offload pattern, %d failed: want all of them the pattern, none failed",
				filepath.Base(dir), r.TCP, r.Checksum.Offload, r.Verdicts.BadChecksum)
		}
	}
	if seen == 0 {
		t.Skip("no checksum-offload scenario in this corpus (make corpus)")
	}
}

// TestLiveInvalid: live --invalid over a replayed capture streams the same
// lines as read --invalid (text and JSON), and no table.
func TestLiveInvalid(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "pcaps", "invalid.pcap")
	for _, format := range []string{"conntrack", "json"} {
		want := runTool(t, "read", "--invalid", "-o", format, path)
		o := mustLiveFlags(t, "--invalid", "-o", format, "--shards", "2")
		var stop stopSignal
		src := newReplaySource(t, path, 0, &stop) // EOF ends the capture
		var out, errb strings.Builder
		if err := runLive(o, src, src.clock, &stop, nil, &out, &errb); err != nil {
			t.Fatalf("runLive: %v\n%s", err, errb.String())
		}
		if out.String() != string(want) {
			t.Errorf("-o %s: live --invalid differs from read --invalid:\n%s", format, testutil.LineDiff(string(want), out.String()))
		}
	}
}
