package main

// Robustness: real-world captures from other projects, bad input of every
// kind, floods, and many shards under the race detector. Nothing may panic,
// every record read must be accounted for, and the exit status must say
// what happened (0 success, 1 input error, 2 usage error).

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/internal/testutil"
)

// checkTools re-runs the other tools on the shared corpus (-update
// rewrites their counts in testdata/shared_corpus.golden).
var checkTools = flag.Bool("tools", false, "re-run capinfos, tcpdump and tshark over the shared corpus and compare with the golden file")

// robustRun runs tcptrack in-process.
func robustRun(stdin []byte, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// parseStatsJSON finds the --stats=json object in stderr.
func parseStatsJSON(t *testing.T, stderr string) *statsReport {
	t.Helper()
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "{") {
			var r statsReport
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				t.Fatalf("--stats=json: %v: %s", err, line)
			}
			return &r
		}
	}
	t.Fatalf("no --stats=json object in stderr:\n%s", stderr)
	return nil
}

// checkBalanced fails unless the report's sums hold: recomputed here too, so
// a report that forgot to check would not pass.
func checkBalanced(t *testing.T, name string, r *statsReport) {
	t.Helper()
	if len(r.Unbalanced) > 0 {
		t.Errorf("%s: accounting: %v", name, r.Unbalanced)
	}
	v, f, fl := r.Verdicts, r.Frag, r.Flows
	sums := []struct {
		what       string
		total, sum uint64
	}{
		{"read", r.Read, r.TCP + r.NotTCP + r.Fragments + r.Malformed + r.Truncated + r.Unsupported + r.Filtered + r.AfterNow},
		{"tcp", r.TCP, v.Accepted + v.Ignored + v.Invalid + v.Dropped},
		{"fragments", r.Fragments, f.Joined + f.Lost + f.Waiting + f.Dropped + f.Duplicate},
		{"flows", fl.Created, fl.Expired + fl.Killed + fl.Reopened + fl.Evicted + fl.Active},
	}
	for _, s := range sums {
		if s.total != s.sum {
			t.Errorf("%s: %s %d, parts add up to %d: %+v", name, s.what, s.total, s.sum, r)
		}
	}
}

// sharedCorpusDir is ../shared/pcaps beside the repository; a test about
// that corpus skips without it.
func sharedCorpusDir(t *testing.T) string {
	t.Helper()
	dir, ok := testutil.Shared(t, "pcaps", "the whole test (it replays that corpus)")
	if !ok {
		t.SkipNow()
	}
	return dir
}

func sharedCorpusFiles(t *testing.T, dir string) []string {
	var files []string
	for _, pat := range []string{"*.pcap", "*.pcapng"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		files = append(files, m...)
	}
	slices.Sort(files)
	if len(files) == 0 {
		t.Skipf("no captures in %s", dir)
	}
	return files
}

// corpusCounts is one line of testdata/shared_corpus.golden: what other
// tools say about a shared capture.
type corpusCounts struct {
	packets int // capinfos -c
	tcpdump int // records tcpdump -r prints; -1 when libpcap refuses the file
	conns   int // TCP conversations, tshark -z conv,tcp
}

const corpusGolden = "testdata/shared_corpus.golden"

// flowNotions explains the files where tshark's conversations and the
// flows conntrack creates are different notions. created is tcptrack's
// "flows created" (conntrack NEW events), which the differential test ties
// to the kernel.
var flowNotions = map[string]struct {
	conns, created int
	why            string
}{
	"sv_bug-76.pcap": {8, 2, "two frames carry an IP total length far beyond the frame (tcpdump: truncated-ip, 29440 bytes missing): " +
		"ip_rcv drops them, so they are malformed here; tshark still opens a conversation for each; " +
		"and 34 segments carry wrong TCP checksums, one a data offset past its end: conntrack refuses them, 4 more flows never start"},
	"zeek_get-to-ssh-server_nano.pcap": {1, 0, "all 9 segments carry wrong TCP checksums (an edited capture): conntrack refuses them (nf_conntrack_checksum; --no-checksum: 1 flow)"},
	"zeek_mpls-in-vlan.pcap":           {3, 0, "its 3 segments carry wrong TCP checksums: conntrack refuses them (--no-checksum: 3 flows)"},
	"sv_bug-7657-01_portreuse.pcap": {24, 1, "24 SYNs with fresh ISNs on one 4-tuple and no answer: tshark starts a conversation per ISN, " +
		"conntrack keeps one SYN_SENT entry (a SYN in SYN_SENT is a retransmission)"},
	"sv_tls-subjectaltname.pcap": {68, 77, "8 connections get a stale ACK to their SYN, answer with RST (entry to CLOSE) and retry the SYN: " +
		"conntrack reopens the entry (8 reopened), tshark keeps the same ISN as one stream; " +
		"one more tuple is reused 13 s after its CLOSE entry timed out (10 s), a new entry"},
	"zeek_ipv4-fragmented-4.pcap": {2, 1, "the second conversation is a datagram whose fragments overlap (discarded whole, as Linux does) " +
		"plus a lone FIN, which cannot create an entry; tshark counts the first fragment's TCP header"},
	"zeek_tcp-rst-inject-rae.pcap": {1, 2, "an RST right after the SYN kills the entry before any reply; the client's ACK then " +
		"picks the connection up mid-stream (a second entry); tshark sees one stream"},
}

// badChecksums are the shared captures' TCP segments with a wrong checksum
// that is not the offload pattern (each recomputed from the pseudo-header
// and the whole segment, independently of tcptrack's decoder, with
// gopacket's layers); every other capture has none. Offload patterns are
// common: the outgoing packets of the capturing host (e.g. 262 in
// sv_ftp-all-data-ipv6, 172 in tcpdump_of13_ericsson).
var badChecksums = map[string]uint64{
	"sv_bug-76.pcap":                   34,
	"zeek_get-to-ssh-server_nano.pcap": 9,
	"zeek_mpls-in-vlan.pcap":           3,
	"zeek_tcp-reassembly.pcap":         10,
}

func readCorpusGolden(t *testing.T) map[string]corpusCounts {
	data, err := os.ReadFile(corpusGolden)
	if err != nil {
		t.Fatalf("%v (go test -run TestSharedCorpus -update writes it)", err)
	}
	m := map[string]corpusCounts{}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var name string
		var c corpusCounts
		if _, err := fmt.Sscan(line, &name, &c.packets, &c.tcpdump, &c.conns); err != nil {
			t.Fatalf("%s: %q: %v", corpusGolden, line, err)
		}
		m[name] = c
	}
	return m
}

// toolCounts asks capinfos, tcpdump and tshark about one capture.
func toolCounts(t *testing.T, path string) corpusCounts {
	t.Helper()
	out, err := exec.Command("capinfos", "-c", "-M", "-T", "-r", path).Output()
	if err != nil {
		t.Fatalf("capinfos %s: %v", path, err)
	}
	f := strings.Fields(string(out))
	var c corpusCounts
	if c.packets, err = strconv.Atoi(f[len(f)-1]); err != nil {
		t.Fatalf("capinfos %s: %q", path, out)
	}
	cmd := exec.Command("tcpdump", "-nn", "-q", "-r", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, _ = cmd.Output()
	c.tcpdump = bytes.Count(out, []byte("\n"))
	if strings.Contains(stderr.String(), "pcap_loop:") {
		c.tcpdump = -1
	}
	out, err = exec.Command("tshark", "-n", "-r", path, "-q", "-z", "conv,tcp").Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", path, err)
	}
	c.conns = bytes.Count(out, []byte("<->"))
	return c
}

// TestSharedCorpus replays every capture under ../shared/pcaps with
// --stats=json: exit 0 without warnings, every record accounted for, as
// many records as capinfos counts, and as many flows as tshark finds
// conversations unless flowNotions explains why they differ.
func TestSharedCorpus(t *testing.T) {
	dir := sharedCorpusDir(t)
	files := sharedCorpusFiles(t, dir)
	if testutil.Updating() {
		var b strings.Builder
		b.WriteString("# file, records (capinfos -c), records tcpdump -r prints (-1: libpcap refuses the file), TCP conversations (tshark -z conv,tcp)\n")
		for _, path := range files {
			c := toolCounts(t, path)
			fmt.Fprintf(&b, "%s %d %d %d\n", filepath.Base(path), c.packets, c.tcpdump, c.conns)
		}
		if err := os.WriteFile(corpusGolden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden := readCorpusGolden(t)
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want, ok := golden[name]
			if !ok {
				t.Fatalf("not in %s (go test -run TestSharedCorpus -update rewrites it with the tools' counts)", corpusGolden)
			}
			if *checkTools {
				if got := toolCounts(t, path); got != want {
					t.Errorf("tools now say %+v, golden %+v", got, want)
				}
			}
			code, stdout, stderr := robustRun(nil, "read", "--stats=json", "--shards", "2", path)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if strings.Contains(stderr, "warning") && !(badChecksums[name] > 0 && strings.Contains(stderr, "--no-checksum reads them")) {
				t.Errorf("warnings for a well-formed file:\n%s", stderr)
			}
			r := parseStatsJSON(t, stderr)
			checkBalanced(t, name, r)
			if int(r.Read) != want.packets {
				t.Errorf("read %d records, capinfos counts %d", r.Read, want.packets)
			}
			if want.tcpdump >= 0 && want.tcpdump != want.packets {
				t.Errorf("golden: tcpdump prints %d records, capinfos counts %d", want.tcpdump, want.packets)
			}
			if lines := strings.Count(stdout, "\n"); uint64(lines) != r.Flows.Active {
				t.Errorf("%d lines listed, %d flows active", lines, r.Flows.Active)
			}
			if got, want := r.Verdicts.BadChecksum, badChecksums[name]; got != want {
				t.Errorf("%d segments with a bad TCP checksum, want %d", got, want)
			}
			if n, ok := flowNotions[name]; ok {
				if n.conns != want.conns || int(r.Flows.Created) != n.created {
					t.Errorf("tshark %d conversations (explained for %d), %d flows created (explained for %d): %s",
						want.conns, n.conns, r.Flows.Created, n.created, n.why)
				}
			} else if int(r.Flows.Created) != want.conns {
				t.Errorf("%d flows created, tshark finds %d conversations", r.Flows.Created, want.conns)
			}
		})
	}
}

// TestStatsTextFragments: the text form of --stats carries the same
// numbers as the JSON one (checked on a file with fragments of every fate).
func TestStatsTextFragments(t *testing.T) {
	path := filepath.Join("..", "..", "testdata", "pcaps", "external", "zeek_ipv4-fragmented-4.pcap")
	code, _, stderr := robustRun(nil, "read", "--stats", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{
		"packets read:        6\n",
		"  tcp:               2 (accepted 1, ignored 0, invalid 1, dropped table full 0)\n",
		// The four fragments overlap: one is dropped on arrival and takes
		// the three held with it.
		"  ip fragments:      4 (joined 0, lost with given-up datagrams 3, waiting 0, dropped 1, duplicate 0; datagrams reassembled 0, expired 0)\n",
		"flows created:       1 (expired 0, killed by RST 0, reopened 0, evicted 0, active 1)\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("--stats lacks %q:\n%s", want, stderr)
		}
	}
}

// ---- capture builders --------------------------------------------------

type capRec struct {
	ts   int64 // ns
	data []byte
	orig int // wire length; 0: len(data)
}

// pcapFile builds a little-endian microsecond pcap.
func pcapFile(link, snaplen uint32, recs ...capRec) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = binary.LittleEndian.AppendUint32(b, snaplen)
	b = binary.LittleEndian.AppendUint32(b, link)
	for _, r := range recs {
		orig := r.orig
		if orig == 0 {
			orig = len(r.data)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(r.ts/1e9))
		b = binary.LittleEndian.AppendUint32(b, uint32(r.ts%1e9/1e3))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(r.data)))
		b = binary.LittleEndian.AppendUint32(b, uint32(orig))
		b = append(b, r.data...)
	}
	return b
}

// ngBlock appends one pcapng block, padding the body to 4 bytes.
func ngBlock(b []byte, typ uint32, body []byte) []byte {
	pad := (4 - len(body)%4) % 4
	n := uint32(12 + len(body) + pad)
	b = binary.LittleEndian.AppendUint32(b, typ)
	b = binary.LittleEndian.AppendUint32(b, n)
	b = append(b, body...)
	b = append(b, make([]byte, pad)...)
	return binary.LittleEndian.AppendUint32(b, n)
}

func ngSHBBlock() []byte {
	body := binary.LittleEndian.AppendUint32(nil, 0x1a2b3c4d)
	body = binary.LittleEndian.AppendUint16(body, 1)
	body = binary.LittleEndian.AppendUint16(body, 0)
	body = binary.LittleEndian.AppendUint64(body, ^uint64(0))
	return ngBlock(nil, 0x0a0d0d0a, body)
}

func ngIDBBlock(b []byte, link uint16, snaplen uint32) []byte {
	body := binary.LittleEndian.AppendUint16(nil, link)
	body = binary.LittleEndian.AppendUint16(body, 0)
	body = binary.LittleEndian.AppendUint32(body, snaplen)
	return ngBlock(b, 1, body)
}

func ngEPBBlock(b []byte, iface uint32, r capRec) []byte {
	us := uint64(r.ts / 1e3)
	body := binary.LittleEndian.AppendUint32(nil, iface)
	body = binary.LittleEndian.AppendUint32(body, uint32(us>>32))
	body = binary.LittleEndian.AppendUint32(body, uint32(us))
	body = binary.LittleEndian.AppendUint32(body, uint32(len(r.data)))
	body = binary.LittleEndian.AppendUint32(body, uint32(len(r.data)))
	body = append(body, r.data...)
	return ngBlock(b, 6, body)
}

// tcpFrame is an Ethernet/IPv4/TCP frame (20-byte TCP header, payload of
// zeros) with correct IP and TCP checksums.
func tcpFrame(src, dst string, sport, dport uint16, flags byte, seq, ack uint32, payload int) []byte {
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	f := make([]byte, 14, 14+40+payload)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := make([]byte, 20)
	ip[0], ip[8], ip[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(ip[2:], uint16(40+payload))
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	tcp := make([]byte, 20+payload)
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12], tcp[13] = 5<<4, flags
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	sum = 6 + uint32(len(tcp))
	for _, b := range [][]byte{ip[12:20], tcp} {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(b[i:]))
		}
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(tcp[16:], ^uint16(sum))
	return append(append(f, ip...), tcp...)
}

const (
	tSYN, tRST, tPSH, tACK, tFIN = 0x02, 0x04, 0x08, 0x10, 0x01
	t0                           = int64(1_700_000_000e9)
)

// handshake is a three-way handshake plus one data segment from
// 10.0.0.1:port to 10.0.0.2:80, starting at ts, 1 ms apart.
func handshake(port uint16, ts int64) []capRec {
	c, s := "10.0.0.1", "10.0.0.2"
	return []capRec{
		{ts: ts, data: tcpFrame(c, s, port, 80, tSYN, 1000, 0, 0)},
		{ts: ts + 1e6, data: tcpFrame(s, c, 80, port, tSYN|tACK, 5000, 1001, 0)},
		{ts: ts + 2e6, data: tcpFrame(c, s, port, 80, tACK, 1001, 5001, 0)},
		{ts: ts + 3e6, data: tcpFrame(c, s, port, 80, tPSH|tACK, 1001, 5001, 100)},
	}
}

func established(port uint16) string {
	return fmt.Sprintf("ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=%d dport=80 src=10.0.0.2 dst=10.0.0.1 sport=80 dport=%d [ASSURED]", port, port)
}

// ---- bad input -----------------------------------------------------------

func TestBadInput(t *testing.T) {
	hs := handshake(40000, t0)
	good := pcapFile(1, 65535, hs...)
	recOff := func(i int) int { // byte offset of record i (0-based) in good
		off := 24
		for _, r := range hs[:i] {
			off += 16 + len(r.data)
		}
		return off
	}
	absurd := slices.Clone(good)
	binary.LittleEndian.PutUint32(absurd[recOff(1)+8:], 0x7fffffff)

	// pcapng: the handshake with an unknown block type between its packets.
	ng := ngIDBBlock(ngSHBBlock(), 1, 0)
	for i, r := range hs {
		ng = ngEPBBlock(ng, 0, r)
		if i == 1 {
			ng = ngBlock(ng, 0x00000bad, []byte("a block type nobody defined"))
			ng = ngBlock(ng, 0x40000bad, nil) // and an empty custom-range one
		}
	}
	// pcapng with a second interface of a link type the decoder does not know.
	ngMixed := ngIDBBlock(ngIDBBlock(ngSHBBlock(), 1, 0), 105, 0)
	for _, r := range hs {
		ngMixed = ngEPBBlock(ngMixed, 0, r)
		ngMixed = ngEPBBlock(ngMixed, 1, capRec{ts: r.ts, data: []byte("an 802.11 frame")})
	}
	ngHuge := slices.Clone(ng[:len(ngSHBBlock())])
	ngHuge = binary.LittleEndian.AppendUint32(ngHuge, 6)
	ngHuge = binary.LittleEndian.AppendUint32(ngHuge, 0xfffffff0)
	ngHuge = append(ngHuge, make([]byte, 64)...)

	// Snaplen 40: Ethernet + IP + 6 bytes of the TCP header.
	var cut []capRec
	for _, r := range hs {
		cut = append(cut, capRec{ts: r.ts, data: r.data[:40], orig: len(r.data)})
	}
	// Time going backwards: an hour back in the middle of the handshake.
	back := slices.Clone(hs)
	back[2].ts -= 3600e9
	back[3].ts -= 3600e9

	type tc struct {
		name    string
		file    []byte // written to a file passed as the argument
		args    []string
		stdin   []byte
		code    int
		stdout  []string // substrings
		stderr  []string // substrings
		noOut   bool     // nothing on stdout
		check   func(t *testing.T, r *statsReport)
		noStats bool
	}
	cases := []tc{
		{name: "empty file", file: []byte{}, code: exitInput, noOut: true,
			stderr: []string{"in.cap: not a pcap or pcapng file (empty file)"}},
		{name: "empty stdin", args: []string{"-"}, stdin: []byte{}, code: exitInput, noOut: true,
			stderr: []string{"(stdin): not a pcap or pcapng file (empty file)"}},
		{name: "text file", file: []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), code: exitInput, noOut: true,
			stderr: []string{"in.cap: not a pcap or pcapng file (starts with \"GET \")"}},
		{name: "three bytes", file: []byte{0xd4, 0xc3, 0xb2}, code: exitInput, noOut: true,
			stderr: []string{"not a pcap or pcapng file (only 3 bytes"}},
		{name: "pcap header cut", file: good[:20], code: exitInput, noOut: true,
			stderr: []string{"in.cap: file header at offset 0: truncated: pcap file header needs 24 bytes, file ends after 20"}},
		{name: "last record data cut", file: good[:len(good)-30], code: exitOK,
			stdout: []string{"ESTABLISHED src=10.0.0.1"},
			stderr: []string{fmt.Sprintf("tcptrack: warning: in.cap: record 4 at offset %d: truncated: record data needs", recOff(3)),
				"(the table covers what was read)"},
			check: func(t *testing.T, r *statsReport) {
				if r.Read != 3 || r.TCP != 3 {
					t.Errorf("read %d, tcp %d; want the 3 whole records", r.Read, r.TCP)
				}
			}},
		{name: "last record header cut", file: good[:recOff(3)+10], code: exitOK,
			stdout: []string{"ESTABLISHED"},
			stderr: []string{fmt.Sprintf("warning: in.cap: record 4 at offset %d: truncated: record header needs 16 bytes, file ends after 10", recOff(3))}},
		{name: "absurd record length", file: absurd, code: exitInput, noOut: true,
			stderr: []string{fmt.Sprintf("in.cap: record 2 at offset %d: corrupt: captured length 2147483647 exceeds 262144", recOff(1))}},
		{name: "absurd pcapng block length", file: ngHuge, code: exitInput, noOut: true,
			stderr: []string{fmt.Sprintf("in.cap: record 1 at offset %d: corrupt: block type 0x6 has length 4294967280", len(ngSHBBlock()))}},
		{name: "unsupported link type", file: pcapFile(105, 65535, capRec{ts: t0, data: []byte("an 802.11 frame")}), code: exitInput, noOut: true,
			stderr: []string{"in.cap: link type IEEE802_11 (105) is not supported (tcptrack decodes NULL (0), EN10MB (1)"}},
		{name: "unsupported link type, unnamed", file: pcapFile(4242, 65535), code: exitInput, noOut: true,
			stderr: []string{"link type LINKTYPE_4242 (4242) is not supported"}},
		{name: "pcapng unknown block types skipped", file: ng, code: exitOK,
			stdout: []string{established(40000)},
			check: func(t *testing.T, r *statsReport) {
				if r.Read != 4 || r.Verdicts.Accepted != 4 {
					t.Errorf("read %d, accepted %d; want 4 and 4", r.Read, r.Verdicts.Accepted)
				}
			}},
		{name: "pcapng interface of an unsupported link type", file: ngMixed, code: exitOK,
			stdout: []string{established(40000)},
			stderr: []string{"tcptrack: warning: in.cap: 4 records with link type IEEE802_11 (105) not decoded (counted as unsupported link)"},
			check: func(t *testing.T, r *statsReport) {
				if r.Read != 8 || r.Unsupported != 4 || len(r.UnsupportedLinks) != 1 || r.UnsupportedLinks[0].LinkType != 105 {
					t.Errorf("read %d, unsupported %d %+v", r.Read, r.Unsupported, r.UnsupportedLinks)
				}
			}},
		{name: "tcp header cut by snaplen", file: pcapFile(1, 40, cut...), code: exitOK, noOut: true,
			check: func(t *testing.T, r *statsReport) {
				if r.Truncated != 4 || r.TCP != 0 || r.Malformed != 0 {
					t.Errorf("truncated %d, tcp %d, malformed %d; want 4 truncated", r.Truncated, r.TCP, r.Malformed)
				}
			}},
		{name: "frame shorter than its headers, nothing cut", file: pcapFile(1, 65535, capRec{ts: t0, data: hs[0].data[:40]}), code: exitOK, noOut: true,
			check: func(t *testing.T, r *statsReport) {
				if r.Malformed != 1 {
					t.Errorf("malformed %d, want 1", r.Malformed)
				}
			}},
		{name: "timestamps going backwards", file: pcapFile(1, 65535, back...), code: exitOK,
			// The last two records are stamped an hour early. Applied at
			// the latest time seen, the data segment leaves the flow
			// ESTABLISHED with unacknowledged data (300 s); taken at its
			// stamp, its timer would have run out an hour before the end.
			stdout: []string{"tcp      6 300 " + established(40000)},
			stderr: []string{"tcptrack: warning: 2 records stamped earlier than a record read before them (up to 3599.999000 s back); taken as arriving at the latest time seen before them"},
			check: func(t *testing.T, r *statsReport) {
				if r.Backwards != 2 || r.MaxStepBack != 3599.999 || r.Verdicts.Accepted != 4 || r.Flows.Expired != 0 {
					t.Errorf("backwards %d (%v s), accepted %d, expired %d", r.Backwards, r.MaxStepBack, r.Verdicts.Accepted, r.Flows.Expired)
				}
			}},
		{name: "directory", args: []string{"@dir"}, code: exitInput, noOut: true, stderr: []string{"is a directory, not a capture file"}},
		{name: "missing file", args: []string{"@dir/nope.pcap"}, code: exitInput, noOut: true, stderr: []string{"nope.pcap: no such file or directory"}},
		{name: "read error", args: []string{"/proc/self/mem"}, code: exitInput, noOut: true,
			stderr: []string{"/proc/self/mem: file header at offset 0: read /proc/self/mem: input/output error: reading file header"}},
		{name: "no file", args: []string{}, code: exitUsage, noOut: true, stderr: []string{"no capture file given"}, noStats: true},
		{name: "unknown flag", args: []string{"--frobnicate", "x.pcap"}, code: exitUsage, noOut: true, stderr: []string{"flag provided but not defined"}, noStats: true},
		{name: "bad --stats value", args: []string{"--stats=xml", "x.pcap"}, code: exitUsage, noOut: true, stderr: []string{"--stats takes nothing, =text or =json"}, noStats: true},
		{name: "bad filter", args: []string{"@file", "tcp port banana"}, file: good, code: exitUsage, noOut: true, stderr: []string{"read: "}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "in.cap")
			if c.file != nil {
				if err := os.WriteFile(path, c.file, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := []string{"read"}
			if !c.noStats {
				args = append(args, "--stats=json")
			}
			files := c.args
			if files == nil {
				files = []string{path}
			}
			for _, a := range files {
				a = strings.Replace(a, "@dir", dir, 1)
				a = strings.Replace(a, "@file", path, 1)
				args = append(args, a)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			code, stdout, stderr := robustRun(c.stdin, args...)
			runtime.ReadMemStats(&after)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, stdout, stderr)
			}
			// No input may make tcptrack allocate much (the reader has a
			// 1 MiB buffer; a corrupt length must not become a read).
			if n := after.TotalAlloc - before.TotalAlloc; n > 32<<20 {
				t.Errorf("allocated %d MiB", n>>20)
			}
			for _, w := range c.stdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			if c.noOut && stdout != "" {
				t.Errorf("stdout not empty:\n%s", stdout)
			}
			for _, w := range c.stderr {
				w = strings.ReplaceAll(w, "in.cap", path)
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
				t.Errorf("panic:\n%s", stderr)
			}
			if code == exitOK {
				r := parseStatsJSON(t, stderr)
				checkBalanced(t, c.name, r)
				if c.check != nil {
					c.check(t, r)
				}
			}
		})
	}
}

// TestCutFileAmongSeveral: a cut-short file among several is a warning;
// the other files are read to their end and merged in time order.
func TestCutFileAmongSeveral(t *testing.T) {
	dir := t.TempDir()
	a := pcapFile(1, 65535, handshake(40000, t0)...)
	b := pcapFile(1, 65535, handshake(40001, t0+1e6)...)
	pa, pb := filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcap")
	os.WriteFile(pa, a[:len(a)-50], 0o644)
	os.WriteFile(pb, b, 0o644)
	code, stdout, stderr := robustRun(nil, "read", "--stats=json", pa, pb)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "warning: "+pa+": record 4 at offset") {
		t.Errorf("no warning naming %s:\n%s", pa, stderr)
	}
	r := parseStatsJSON(t, stderr)
	checkBalanced(t, "merge", r)
	if r.Read != 7 || !strings.Contains(stdout, established(40001)) || !strings.Contains(stdout, established(40000)) {
		t.Errorf("read %d records (want 7: 3 of a, 4 of b):\n%s", r.Read, stdout)
	}
}

// TestUnreadableFile: permission denied is an input error naming the file.
// As root, the check runs the binary as nobody.
func TestUnreadableFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret.pcap")
	if err := os.WriteFile(path, pcapFile(1, 65535, handshake(40000, t0)...), 0o000); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		code, _, stderr := robustRun(nil, "read", path)
		if code != exitInput || !strings.Contains(stderr, path+": permission denied") {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		return
	}
	if testing.Short() {
		t.Skip("as root this builds the binary to run it as nobody")
	}
	bin := robustBuild(t, ".", "tcptrack")
	for _, d := range []string{dir, filepath.Dir(bin)} {
		for ; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
			os.Chmod(d, 0o755) // nobody must reach the file and the binary
		}
	}
	cmd := exec.Command(bin, "read", path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInput || !strings.Contains(stderr.String(), path+": permission denied") {
		t.Fatalf("as nobody: %v: %s", err, stderr.String())
	}
}

// TestDecodableMatchesDecoder: LinkType.Decodable, which turns a pcap's
// link type into an error, agrees with what the decoder does.
func TestDecodableMatchesDecoder(t *testing.T) {
	d := assemble.NewDecoder(assemble.DecoderConfig{})
	var p flowtable.Packet
	for lt := assemble.LinkType(0); lt < 1024; lt++ {
		rec := assemble.Record{LinkType: lt}
		if got := d.Decode(&rec, &p) != assemble.Unsupported; got != lt.Decodable() {
			t.Errorf("link type %d (%v): decoder takes it %v, Decodable %v", lt, lt, got, lt.Decodable())
		}
	}
}

// ---- floods --------------------------------------------------------------

// TestEarlyDropOrder: when the table is full, new flows evict flows that
// are not ASSURED, never assured ones; when only assured ones are left the
// new flow's packet is dropped, and both are reported.
func TestEarlyDropOrder(t *testing.T) {
	var recs []capRec
	for i := range 10 {
		recs = append(recs, handshake(uint16(40000+i), t0+int64(i)*10e6)...)
	}
	for i := range 5000 {
		src := fmt.Sprintf("10.%d.%d.%d", 1+i>>16, i>>8&255, i&255)
		recs = append(recs, capRec{ts: t0 + 1e9 + int64(i)*1e3, data: tcpFrame(src, "10.0.0.2", 50000, 443, tSYN, 7, 0, 0)})
	}
	path := filepath.Join(t.TempDir(), "flood.pcap")
	os.WriteFile(path, pcapFile(1, 65535, recs...), 0o644)

	code, stdout, stderr := robustRun(nil, "read", "--stats=json", "--max-flows", "100", "--shards", "1", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := parseStatsJSON(t, stderr)
	checkBalanced(t, "early drop", r)
	for i := range 10 {
		if !strings.Contains(stdout, established(uint16(40000+i))) {
			t.Errorf("assured flow %d was evicted", 40000+i)
		}
	}
	if r.Flows.Active != 100 || r.Flows.Evicted != 5000-90 || r.Verdicts.Dropped != 0 {
		t.Errorf("active %d, evicted %d, dropped %d; want 100, 4910, 0", r.Flows.Active, r.Flows.Evicted, r.Verdicts.Dropped)
	}
	if !strings.Contains(stderr, "warning: table full (--max-flows 100): 4910 flows evicted early, 0 segments dropped") {
		t.Errorf("no table-full warning:\n%s", stderr)
	}

	// Only assured flows: nothing can be evicted, the newcomers are dropped.
	code, stdout, stderr = robustRun(nil, "read", "--stats=json", "--max-flows", "5", "--shards", "1", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r = parseStatsJSON(t, stderr)
	checkBalanced(t, "assured only", r)
	for i := range 5 {
		if !strings.Contains(stdout, established(uint16(40000+i))) {
			t.Errorf("assured flow %d missing", 40000+i)
		}
	}
	if r.Flows.Active != 5 || r.Verdicts.Dropped == 0 || r.Flows.Evicted != 0 {
		t.Errorf("active %d, dropped %d, evicted %d", r.Flows.Active, r.Verdicts.Dropped, r.Flows.Evicted)
	}
}

// robustBuild builds a command of this module into a temporary directory.
func robustBuild(t *testing.T, pkg, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v: %s", pkg, err, out)
	}
	return bin
}

// floodRun pipes a synth capture into the tcptrack binary and returns its
// stats, peak RSS and run time.
func floodRun(t *testing.T, synth, tcptrack string, synthArgs, args []string) (*statsReport, string, int64, time.Duration) {
	t.Helper()
	gen := exec.Command(synth, append(synthArgs, "-out", "-", "-q")...)
	cmd := exec.Command(tcptrack, append(append([]string{"read", "--stats=json"}, args...), "-")...)
	pipe, err := gen.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = pipe
	var stderr bytes.Buffer
	lines := 0
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &stderr
	if err := gen.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		lines++
	}
	err = cmd.Wait()
	took := time.Since(start)
	if gerr := gen.Wait(); gerr != nil {
		t.Fatalf("synth: %v", gerr)
	}
	if err != nil {
		t.Fatalf("tcptrack %v: %v: %s", args, err, stderr.String())
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
	r := parseStatsJSON(t, stderr.String())
	if uint64(lines) != r.Flows.Active {
		t.Errorf("%d lines, %d flows active", lines, r.Flows.Active)
	}
	return r, stderr.String(), rss, took
}

// TestFloods: a SYN flood from random sources runs in memory bounded by
// --max-flows (four times the SYNs, about the same peak RSS) and reports
// its evictions; random garbage frames are counted, quickly. The 10 M SYN
// case is run by hand (see the report in the commit log).
func TestFloods(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries and pipes a million packets")
	}
	synth := robustBuild(t, "../../tools/synth", "synth")
	bin := robustBuild(t, ".", "tcptrack")
	const limit = 50000
	var rss [2]int64
	for i, n := range []int{250_000, 1_000_000} {
		r, stderr, peak, took := floodRun(t, synth, bin,
			[]string{"-kind", "synflood", "-packets", strconv.Itoa(n)},
			[]string{"--max-flows", strconv.Itoa(limit), "--shards", "2"})
		checkBalanced(t, "synflood", r)
		rss[i] = peak
		t.Logf("%d SYNs, --max-flows %d: peak RSS %d MiB, %v, evicted %d", n, limit, peak>>20, took.Round(time.Millisecond), r.Flows.Evicted)
		if r.Read != uint64(n) || r.Flows.Created != uint64(n) || r.Flows.Active != limit || r.Flows.Evicted != uint64(n-limit) {
			t.Errorf("read %d, created %d, active %d, evicted %d", r.Read, r.Flows.Created, r.Flows.Active, r.Flows.Evicted)
		}
		if want := fmt.Sprintf("warning: table full (--max-flows %d): %d flows evicted early", limit, n-limit); !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	// Four times the flows through the same table: the peak must not
	// follow the flood (the whole table is ~50 MiB; allow GC noise).
	if rss[1] > rss[0]+48<<20 || rss[1] > 320<<20 {
		t.Errorf("peak RSS %d MiB for 250 k SYNs, %d MiB for 1 M: not bounded by --max-flows", rss[0]>>20, rss[1]>>20)
	}

	r, _, peak, took := floodRun(t, synth, bin, []string{"-kind", "garbage", "-packets", "1000000"}, nil)
	checkBalanced(t, "garbage", r)
	rate := float64(r.Read) / took.Seconds()
	t.Logf("1 M garbage frames: %v (%.0f k frames/s), peak RSS %d MiB, malformed %d, not tcp %d, tcp %d, fragments %d",
		took.Round(time.Millisecond), rate/1e3, peak>>20, r.Malformed, r.NotTCP, r.TCP, r.Fragments)
	if r.Read != 1_000_000 || r.Malformed+r.NotTCP < 900_000 {
		t.Errorf("garbage: %+v", r)
	}
	// It runs at about 3 M frames/s on an idle 2-core VM; a crawl (say a
	// quadratic fragment table) would be orders of magnitude below this.
	if rate < 100_000 {
		t.Errorf("garbage at %.0f frames/s", rate)
	}
}

// ---- many shards ---------------------------------------------------------

// TestManyShardsAgree replays a large capture with many shards under load
// (go test -race runs it with the race detector) and gets, line for line,
// the events and table of a single shard. The capture is the synthetic mix
// (tools/synth: thousands of flows, port reuse, IPv6, VLANs), made here.
func TestManyShardsAgree(t *testing.T) {
	packets := "150000"
	if testing.Short() {
		packets = "20000"
	}
	path := filepath.Join(t.TempDir(), "mix.pcap")
	synth := robustBuild(t, "../../tools/synth", "synth")
	if out, err := exec.Command(synth, "-kind", "mix", "-seed", "3", "-packets", packets, "-q", "-out", path).CombinedOutput(); err != nil {
		t.Fatalf("synth: %v: %s", err, out)
	}
	outputs := map[string]string{}
	for _, shards := range []string{"1", "7", "32"} {
		code, stdout, stderr := robustRun(nil, "read", "-e", "-o", "conntrack", "--acct", "--stats=json", "--shards", shards, path)
		if code != exitOK {
			t.Fatalf("--shards %s: exit %d: %s", shards, code, stderr)
		}
		r := parseStatsJSON(t, stderr)
		checkBalanced(t, "shards "+shards, r)
		stats, _ := json.Marshal(r)
		outputs[shards] = stdout + string(stats)
	}
	for _, shards := range []string{"7", "32"} {
		if outputs[shards] != outputs["1"] {
			a, b := strings.Split(outputs["1"], "\n"), strings.Split(outputs[shards], "\n")
			for i := 0; i < len(a) && i < len(b); i++ {
				if a[i] != b[i] {
					t.Fatalf("--shards %s differs from 1 at line %d:\n%s\n%s", shards, i+1, a[i], b[i])
				}
			}
			t.Fatalf("--shards %s: %d lines, 1 shard: %d", shards, len(b), len(a))
		}
	}
}
