package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tcptrack/tcptrack/internal/testutil"
)

// zeekCaptures lists the captures the conn.log tests run on: ours under
// testdata/pcaps and the shared corpus (when present), as paths and as
// names safe for golden files; shared says whether the shared corpus was
// there.
func zeekCaptures(t *testing.T) (paths, names []string, shared bool) {
	add := func(pattern, prefix string) {
		m, _ := filepath.Glob(pattern)
		slices.Sort(m)
		for _, p := range m {
			paths = append(paths, p)
			n := prefix + filepath.Base(p)
			if filepath.Base(p) == "capture.pcap" {
				n = prefix + filepath.Base(filepath.Dir(p)) + ".pcap"
			}
			names = append(names, n)
		}
	}
	add(filepath.Join("..", "..", "testdata", "pcaps", "*.pcap"), "")
	add(filepath.Join("..", "..", "testdata", "pcaps", "kernel", "*", "capture.pcap"), "kernel-")
	dir, shared := testutil.Shared(t, "pcaps", "the shared captures and their rows of the goldens")
	if shared {
		add(filepath.Join(dir, "*.pcap*"), "shared-")
	}
	return paths, names, shared
}

// zeekRun replays path with -o zeek-json and decodes the records.
func zeekRun(t *testing.T, path string) []map[string]any {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run([]string{"read", "-o", "zeek-json", "--zeek-checksums", "ignore", "--progress", "never", path}, nil, &out, &errb); code != exitOK {
		t.Fatalf("%s: exit %d: %s", path, code, errb.String())
	}
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s: %v in %q", path, err, line)
		}
		recs = append(recs, m)
	}
	return recs
}

// dirCount is what one direction of a conversation carried.
type dirCount struct{ frames, ipBytes uint64 }

// unknownBytes marks IP bytes tshark cannot vouch for: its per-frame
// fields saw other frames than its conv,tcp counted (a TCP header cut by
// the snapshot length, a malformed one, TCP inside ICMP or OpenFlow).
const unknownBytes = ^uint64(0)

// direction is a conversation direction, "src:port>dst:port".
func direction(src string, sport uint16, dst string, dport uint16) string {
	return netip.AddrPortFrom(netip.MustParseAddr(src), sport).String() + ">" +
		netip.AddrPortFrom(netip.MustParseAddr(dst), dport).String()
}

// oursByDirection sums our records per direction of each 4-tuple: a tuple
// may have several records (one per conntrack flow lifetime).
func oursByDirection(recs []map[string]any) map[string]dirCount {
	m := map[string]dirCount{}
	num := func(r map[string]any, k string) uint64 { v, _ := r[k].(float64); return uint64(v) }
	for _, r := range recs {
		oh, _ := r["id.orig_h"].(string)
		rh, _ := r["id.resp_h"].(string)
		op, rp := uint16(num(r, "id.orig_p")), uint16(num(r, "id.resp_p"))
		for _, d := range []struct {
			key   string
			p, ip string
		}{{direction(oh, op, rh, rp), "orig_pkts", "orig_ip_bytes"}, {direction(rh, rp, oh, op), "resp_pkts", "resp_ip_bytes"}} {
			c := m[d.key]
			c.frames += num(r, d.p)
			c.ipBytes += num(r, d.ip)
			m[d.key] = c
		}
	}
	return m
}

// tsharkByDirection runs tshark once on path: -z conv,tcp gives frames per
// direction; the per-frame fields give IP datagram lengths (reassembled
// length for fragments), which conv,tcp does not print (its bytes are
// frame bytes, rounded to kB past 10000). The two must agree on frames.
func tsharkByDirection(path string) (map[string]dirCount, error) {
	cmd := exec.Command("tshark", "-n", "-r", path, "-Y", "tcp", "-z", "conv,tcp",
		"-T", "fields", "-E", "separator=/t", "-E", "occurrence=f",
		"-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
		"-e", "ip.len", "-e", "ip.hdr_len", "-e", "ip.reassembled.length", "-e", "ipv6.plen", "-e", "ipv6.reassembled.length")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("tshark %s: %v: %s", path, err, errb.String())
	}
	fields, conv, _ := strings.Cut(out.String(), "================================================================================\nTCP Conversations")
	m := map[string]dirCount{} // frames here: as the fields saw them
	for _, line := range strings.Split(fields, "\n") {
		f := strings.Split(line, "\t")
		if len(f) < 11 || f[2] == "" {
			continue
		}
		src, dst, ipLen := f[0], f[3], uint64(0)
		atoi := func(s string) uint64 { n, _ := strconv.ParseUint(s, 10, 64); return n }
		switch {
		case src != "" && f[8] != "":
			ipLen = atoi(f[7]) + atoi(f[8]) // header + reassembled payload
		case src != "":
			ipLen = atoi(f[6])
		case f[10] != "":
			src, dst, ipLen = f[1], f[4], 40+atoi(f[10])
		default:
			src, dst, ipLen = f[1], f[4], 40+atoi(f[9])
		}
		k := direction(src, uint16(atoi(f[2])), dst, uint16(atoi(f[5])))
		c := m[k]
		c.frames++
		c.ipBytes += ipLen
		m[k] = c
	}
	frames := map[string]uint64{}
	for _, line := range strings.Split(conv, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || f[1] != "<->" {
			continue
		}
		split := func(s string) (string, uint16) {
			i := strings.LastIndexByte(s, ':')
			p, _ := strconv.ParseUint(s[i+1:], 10, 16)
			return s[:i], uint16(p)
		}
		a, ap := split(f[0])
		b, bp := split(f[2])
		back, _ := strconv.ParseUint(f[3], 10, 64)
		forth, _ := strconv.ParseUint(f[6], 10, 64)
		frames[direction(a, ap, b, bp)] += forth
		frames[direction(b, bp, a, ap)] += back
	}
	res := map[string]dirCount{}
	for k, n := range frames {
		if n == 0 {
			continue
		}
		c := dirCount{frames: n, ipBytes: m[k].ipBytes}
		if m[k].frames != n {
			c.ipBytes = unknownBytes
		}
		res[k] = c
	}
	return res, nil
}

func bytesText(n uint64) string {
	if n == unknownBytes {
		return "?"
	}
	return strconv.FormatUint(n, 10)
}

func formatCounts(m map[string]dirCount) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s frames=%d ip_bytes=%s\n", k, m[k].frames, bytesText(m[k].ipBytes))
	}
	return b.String()
}

func parseCounts(s string) map[string]dirCount {
	m := map[string]dirCount{}
	for _, line := range strings.Split(s, "\n") {
		var k, ip string
		var c dirCount
		if _, err := fmt.Sscanf(line, "%s frames=%d ip_bytes=%s", &k, &c.frames, &ip); err == nil {
			c.ipBytes = unknownBytes
			if n, err := strconv.ParseUint(ip, 10, 64); err == nil {
				c.ipBytes = n
			}
			m[k] = c
		}
	}
	return m
}

// TestZeekMatchesTshark compares, per direction of every TCP conversation
// of every capture, our packet and IP byte counts (summed over the records
// of a 4-tuple, with checksums ignored as tshark does) with tshark's.
// tshark runs when installed (and not -short); its results are kept as
// golden files under testdata/zeek/tshark/ and used when it is not (go
// test -update rewrites them). Zeek counts every packet of a connection,
// so the differences are packets Zeek's packet analysis drops (an IP
// length beyond the frame) and IP lengths it computes differently; we
// never count more than tshark does, and every difference is listed in
// testdata/zeek/tshark-differences.txt, so a new one fails the test until
// reviewed.
func TestZeekMatchesTshark(t *testing.T) {
	paths, names, shared := zeekCaptures(t)
	live := !testing.Short()
	if _, err := exec.LookPath("tshark"); err != nil {
		live = false
	}
	// Without tshark, -update rewrites the list of differences only.
	// tshark is slow to start: run it on all captures at once, a few at a time.
	tsh := make([]map[string]dirCount, len(paths))
	errs := make([]error, len(paths))
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for i := range paths {
		golden := filepath.Join("testdata", "zeek", "tshark", names[i]+".txt")
		if !live {
			b, err := os.ReadFile(golden)
			if err != nil {
				errs[i] = fmt.Errorf("no tshark and %v", err)
				continue
			}
			tsh[i] = parseCounts(string(b))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			tsh[i], errs[i] = tsharkByDirection(paths[i])
			if errs[i] != nil {
				return
			}
			got := formatCounts(tsh[i])
			if testutil.Updating() {
				errs[i] = os.WriteFile(golden, []byte(got), 0o644)
				return
			}
			if want, err := os.ReadFile(golden); err != nil || string(want) != got {
				errs[i] = fmt.Errorf("tshark's counts differ from %s (tshark version? go test -update to accept)", golden)
			}
		}()
	}
	wg.Wait()

	var diffs strings.Builder
	for i, p := range paths {
		if errs[i] != nil {
			t.Errorf("%s: %v", names[i], errs[i])
			continue
		}
		ours := oursByDirection(zeekRun(t, p))
		keys := make([]string, 0, len(tsh[i]))
		for k := range tsh[i] {
			keys = append(keys, k)
		}
		for k := range ours {
			if _, ok := tsh[i][k]; !ok && ours[k].frames > 0 {
				t.Errorf("%s: %s: we count %d packets tshark does not know", names[i], k, ours[k].frames)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			w, g := tsh[i][k], ours[k]
			if g.frames > w.frames {
				t.Errorf("%s: %s: %d packets, tshark %d: more than seen", names[i], k, g.frames, w.frames)
			}
			if g.frames != w.frames || (w.ipBytes != unknownBytes && g.ipBytes != w.ipBytes) {
				why, ok := tsharkDifferenceReasons[names[i]]
				if !ok {
					why = "UNEXPLAINED"
					t.Errorf("%s: %s: tshark %d/%s, ours %d/%d, and no reason known for this capture",
						names[i], k, w.frames, bytesText(w.ipBytes), g.frames, g.ipBytes)
				}
				fmt.Fprintf(&diffs, "%s %s tshark=%d/%s ours=%d/%d # %s\n", names[i], k, w.frames, bytesText(w.ipBytes), g.frames, g.ipBytes, why)
			}
		}
	}
	golden := filepath.Join("testdata", "zeek", "tshark-differences.txt")
	const head = "# capture direction tshark=packets/ip_bytes ours=packets/ip_bytes (see TestZeekMatchesTshark)\n"
	// Without the shared corpus only the rows of our own captures are
	// compared.
	var keep func(string) bool
	if !shared {
		keep = func(line string) bool { return !strings.HasPrefix(line, "shared-") }
	}
	testutil.GoldenLines(t, golden, []byte(head+diffs.String()), keep)
}

// tsharkDifferenceReasons says, per capture, why our counts differ from
// tshark's; each was checked against the packets (tcpdump -v) and Zeek's
// packet analysis.
var tsharkDifferenceReasons = map[string]string{
	"shared-sv_bug-76.pcap":                  "IP total length beyond the frame: Zeek drops the packet (truncated_IP_len)",
	"shared-zeek_ipv6-http-atomic-frag.pcap": "atomic fragments go through Zeek's fragment reassembly, whose datagram leaves out the 8-byte fragment header",
	"shared-zeek_tcp-reassembly.pcap":        "5 frames with IP total length beyond the frame: Zeek drops them (truncated_IP_len)",
}

// zeekTSV replays path with -o zeek and returns the records as field maps
// (by the #fields header), checking the header on the way.
func zeekTSV(t *testing.T, path string, args ...string) []map[string]string {
	t.Helper()
	var out, errb bytes.Buffer
	args = append([]string{"read", "-o", "zeek", "--progress", "never"}, args...)
	if code := run(append(args, path), nil, &out, &errb); code != exitOK {
		t.Fatalf("%s: exit %d: %s", path, code, errb.String())
	}
	var names []string
	var recs []map[string]string
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) < 9 || lines[0] != `#separator \x09` || !strings.HasPrefix(lines[len(lines)-1], "#close\t") {
		t.Fatalf("%s: not a conn.log:\n%s", path, out.String())
	}
	for _, l := range lines {
		f := strings.Split(l, "\t")
		switch {
		case f[0] == "#fields":
			names = f[1:]
		case strings.HasPrefix(l, "#"):
		default:
			if len(f) != len(names) {
				t.Fatalf("%s: %d fields, header has %d: %q", path, len(f), len(names), l)
			}
			r := map[string]string{}
			for i, v := range f {
				r[names[i]] = v
			}
			recs = append(recs, r)
		}
	}
	return recs
}

// pick formats the named fields of a record, space-separated.
func pick(r map[string]string, fields string) string {
	var out []string
	for _, f := range strings.Fields(fields) {
		out = append(out, r[f])
	}
	return strings.Join(out, " ")
}

// TestZeekConnStatesOnCaptures checks conn_state and history on real
// captures. Where Zeek's own test baselines cover the capture
// (testing/btest/Baseline in zeek/zeek), the expectation is theirs and the
// capture is read as Zeek's test read it (-C is --zeek-checksums ignore);
// the others were worked out by hand from the packets (tcpdump) and Zeek's
// TCP analyzer.
func TestZeekConnStatesOnCaptures(t *testing.T) {
	sharedPcaps, shared := testutil.Shared(t, "pcaps", "its cases on shared captures")
	kernel := filepath.Join("..", "..", "testdata", "pcaps", "kernel")
	const f1 = "id.orig_p conn_state history orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes"
	ignore := []string{"--zeek-checksums", "ignore"}
	cases := []struct {
		capture string
		args    []string
		fields  string
		want    []string // one per record, in output order
	}{
		// Zeek baseline core.tcp.fin-retransmit: orig CLOSED, resp RESET,
		// 3 packets/156 bytes and 2/92. SYN, FIN (S F), SYN-ACK (h), FIN
		// again at the same place (no new F), RST (r).
		{"zeek_tcp-fin_retransmission.pcap", nil, f1, []string{"55344 RSTR SFhr 3 156 2 92"}},
		// Zeek baseline core.tcp.tcp-dups (zeek -C): history ShADTadtTtFf.
		{"zeek_tcp-ssh-dups.pcap", ignore, "conn_state history", []string{"SF ShADTadtTtFf"}},
		// Zeek baseline scripts.base.protocols.redis.django-cloud, every
		// field but uid and service.
		{"zeek_redis-django-cloud_midstream.pcapng", nil, "ts duration orig_bytes resp_bytes conn_state missed_bytes history orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes",
			[]string{"1728488976.467415 13.539827 18106 928 OTH 0 DdA 316 34538 158 9144"}},
		// Zeek baseline core.mpls-in-vlan (zeek -C): the second record is
		// flipped by Zeek's port rule (a mid-stream packet from port 80
		// comes from the responder: ^d).
		{"zeek_mpls-in-vlan.pcap", ignore, "ts id.orig_p id.resp_p conn_state history orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes",
			[]string{"1371685686.536606 19244 80 OTH D 1 257 0 0", "1371686961.156859 32828 80 OTH ^d 0 0 1 1500", "1371686961.479321 61193 80 OTH D 1 710 0 0"}},
		// Zeek baseline core.pppoe-over-qinq: one record to the end, the
		// responder's late FINs included (Zeek's inactivity timeout is 5
		// minutes, and the connection is past its handshake).
		{"zeek_pppoe-over-qinq.pcap", nil, "duration orig_bytes resp_bytes conn_state history orig_pkts orig_ip_bytes resp_pkts resp_ip_bytes",
			[]string{"273.626833 11352 4984 SF ShADdtaTTtFf 44 25283 42 13001"}},
		// Zeek baseline core.tcp.rst-after-syn: one connection, the
		// originator SYN_SENT (1), the responder RESET (6): REJ; orig 175
		// bytes, 4/395 packets, resp 5/236. The injected RST does not end
		// it (a reset connection lingers tcp_close_delay), the SYN-ACK and
		// data after it are part of it.
		{"zeek_tcp-rst-inject-rae.pcap", nil, f1 + " orig_bytes",
			[]string{"2527 REJ SrhADa 4 395 5 236 175"}},
		// SYN only: S0. SYN and SYN-ACK: Zeek establishes both sides: S1.
		{"zeek_tcp-syn.pcap", nil, "conn_state history", []string{"S0 S"}},
		{"zeek_tcp-syn-synack.pcap", nil, "conn_state history", []string{"S1 Sh"}},
		// Only the client side captured: SYN, ACK, data, ACK, FIN: SH.
		{"sv_stream-async-cli_onesided.pcap", nil, "conn_state history", []string{"SH SADF"}},
		// Split handshake: the server's own SYN, with another ISN, while
		// the client's SYN is unanswered, is a reuse of the tuple
		// (TCPSessionAdapter::IsReuse): the client's attempt ends (S0) and
		// the server becomes the originator of a new connection: its SYN
		// (S), the client's SYN-ACK (h), ACK (A), client data (d), client
		// RST (r): RSTR.
		{"sv_tcp-split-handshake-4whs.pcap", nil, "conn_state history", []string{"S0 S", "RSTR ShAdr"}},
		// Data until the responder's FIN; the originator never closes: S3.
		{"sv_tls-subjectaltname.pcap", nil, "id.orig_p conn_state history", nil},
		// SYN answered by a challenge ACK (a: the responder stays
		// inactive), then the client's RST: RSTOS0.
		{filepath.Join(kernel, "crafted-challenge", "capture.pcap"), nil, "id.orig_p conn_state history", nil},
	}
	for _, c := range cases {
		path := c.capture
		if !strings.Contains(path, string(filepath.Separator)) {
			path = filepath.Join(sharedPcaps, path)
		}
		t.Run(filepath.Base(c.capture), func(t *testing.T) {
			if !shared && path != c.capture {
				t.SkipNow()
			}
			recs := zeekTSV(t, path, c.args...)
			var got []string
			for _, r := range recs {
				got = append(got, pick(r, c.fields))
			}
			switch filepath.Base(c.capture) {
			case "sv_tls-subjectaltname.pcap":
				if !slices.Contains(got, "60042 S3 ShADadf") {
					t.Errorf("no 60042 S3 ShADadf among %q", got)
				}
				return
			case "capture.pcap":
				if len(got) == 0 || got[0] != "30061 RSTOS0 SaR" {
					t.Errorf("first record %q, want 30061 RSTOS0 SaR", got)
				}
				return
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("records:\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

// TestZeekGolden keeps the full -o zeek and -o zeek-json output of a few
// captures (go test -update rewrites them): format, uid stability, the
// order of records (as Zeek's timers end connections, then those still
// open at the end, oldest first), and that the table's sharding does not
// touch Zeek's view.
func TestZeekGolden(t *testing.T) {
	sample := filepath.Join("..", "..", "testdata", "pcaps", "sample.pcap")
	external := filepath.Join("..", "..", "testdata", "pcaps", "external")
	cases := []struct{ name, path, format string }{
		{"sample", sample, "zeek"},
		{"sample", sample, "zeek-json"},
		{"portreuse", filepath.Join(external, "sv_bug-7657-01_portreuse.pcap"), "zeek"},
		{"rst-unacked", filepath.Join(external, "sv_tcp-rst-unacked-stream-12.pcap"), "zeek"},
	}
	for _, c := range cases {
		t.Run(c.name+"."+c.format, func(t *testing.T) {
			for _, shards := range []string{"1", "3"} {
				var out, errb bytes.Buffer
				if code := run([]string{"read", "-o", c.format, "--shards", shards, c.path}, nil, &out, &errb); code != exitOK {
					t.Fatalf("--shards %s: exit %d: %s", shards, code, errb.String())
				}
				testutil.Golden(t, filepath.Join("testdata", "zeek", c.name+"."+c.format), out.Bytes())
			}
		})
	}
}

// TestZeekWithEvents: with -e the conntrack events come first, the whole
// conn.log after them, not interleaved.
func TestZeekWithEvents(t *testing.T) {
	sample := filepath.Join("..", "..", "testdata", "pcaps", "sample.pcap")
	var out, errb bytes.Buffer
	if code := run([]string{"read", "-e", "-o", "zeek", sample}, nil, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	i := strings.Index(s, "#separator")
	if i < 0 || strings.Contains(s[i:], "[DESTROY]") || !strings.Contains(s[:i], "[DESTROY]") {
		t.Errorf("events and conn.log interleave:\n%s", s)
	}
	golden, _ := os.ReadFile(filepath.Join("testdata", "zeek", "sample.zeek"))
	if s[i:] != string(golden) {
		t.Errorf("conn.log after events differs from sample.zeek")
	}
}

// TestColumnsFlag: --columns picks table columns (and implies -o table),
// rejects unknown names and other outputs; summary columns turn summaries on.
func TestColumnsFlag(t *testing.T) {
	sample := filepath.Join("..", "..", "testdata", "pcaps", "sample.pcap")
	cases := []struct {
		args     []string
		code     int
		contains []string
		absent   []string
	}{
		{[]string{"--columns", "client,server,zeek-state,history,rtt"}, exitOK,
			[]string{"Original (client)", "Reply (server)", "Zeek", "History", "RTT o/r", "RSTO", "ShADadR"}, []string{"Client state", "Idle"}},
		{[]string{"--columns", "+seen,retrans"}, exitOK, []string{"Idle", "Seen o/r", "Retrans o/r", "4/0"}, nil},
		{[]string{"-o", "table", "--columns", "all"}, exitOK, []string{"Age", "DupACK o/r", "Invalid o/r", "Missed o/r"}, nil},
		{[]string{"--columns", "client,nosuch"}, exitUsage, nil, nil},
		{[]string{"-o", "json", "--columns", "client"}, exitUsage, nil, nil},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(append(append([]string{"read"}, c.args...), sample), nil, &out, &errb)
		if code != c.code {
			t.Errorf("%v: exit %d, want %d: %s", c.args, code, c.code, errb.String())
			continue
		}
		for _, s := range c.contains {
			if !strings.Contains(out.String(), s) {
				t.Errorf("%v: output lacks %q:\n%s", c.args, s, out.String())
			}
		}
		for _, s := range c.absent {
			if strings.Contains(out.String(), s) {
				t.Errorf("%v: output has %q", c.args, s)
			}
		}
	}
}
