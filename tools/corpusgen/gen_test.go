package main

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/kernelcorpus"
	"github.com/tcptrack/tcptrack/internal/testutil"
)

var (
	testMACa = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	testMACb = net.HardwareAddr{2, 0, 0, 0, 0, 2}
)

func TestBuildFrameChecksums(t *testing.T) {
	opts, err := tcpOptions("mss,sackok,ws7,ts")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		src, dst string
		n        int
		flags    byte
	}{
		{"v4 syn", "10.1.0.100", "10.2.0.100", 0, 0x02},
		{"v4 data odd length", "10.1.0.100", "10.2.0.100", 101, 0x18},
		{"v6 fin", "fd00:1::100", "fd00:2::100", 0, 0x11},
		{"v6 data", "fd00:1::100", "fd00:2::100", 1400, 0x18},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tcpHeader{sport: 30001, dport: 80, seq: 0xfffffff0, ack: 7, flags: tc.flags, win: 64240, opts: opts}
			src, dst := net.ParseIP(tc.src), net.ParseIP(tc.dst)
			f := buildFrame(testMACa, testMACb, src, dst, 9, h, payload(tc.n))
			fi := parseFrame(f)
			if !fi.tcp || fi.payload != tc.n || fi.flags != tc.flags {
				t.Fatalf("parseFrame = %+v, want tcp payload %d flags %#x", fi, tc.n, tc.flags)
			}
			ip := f[14:]
			var pseudo, seg []byte
			if src.To4() != nil {
				if checksum(0, ip[:20]) != 0 {
					t.Fatal("bad IPv4 header checksum")
				}
				seg = ip[20:]
				pseudo = append(append(append([]byte{}, ip[12:20]...), 0, 6), byte(len(seg)>>8), byte(len(seg)))
			} else {
				seg = ip[40:]
				pseudo = append(append([]byte{}, ip[8:40]...), 0, 0, byte(len(seg)>>8), byte(len(seg)), 0, 0, 0, 6)
			}
			if checksum(sum16(0, pseudo), seg) != 0 {
				t.Fatal("bad TCP checksum")
			}
			if got := binary.BigEndian.Uint32(seg[4:]); got != h.seq {
				t.Fatalf("seq %d, want %d", got, h.seq)
			}
		})
	}
}

func TestTCPOptions(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		wantLen int
		wantErr bool
	}{
		{"", 0, false},
		{"mss", 4, false},
		{"mss,sackok,ws7", 12, false},
		{"ts", 12, false},
		{"wsX", 0, true},
		{"bogus", 0, true},
	} {
		b, err := tcpOptions(tc.spec)
		if (err != nil) != tc.wantErr || len(b) != tc.wantLen || len(b)%4 != 0 {
			t.Errorf("tcpOptions(%q) = %d bytes, %v; want %d bytes, error %v", tc.spec, len(b), err, tc.wantLen, tc.wantErr)
		}
	}
}

// pcapBytes builds a LINUX_SLL2 pcap with the given packets (timestamps in µs).
func pcapBytes(pkts map[int64][]byte, order []int64) []byte {
	var b bytes.Buffer
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr, 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 2048)
	binary.LittleEndian.PutUint32(hdr[20:], 276)
	b.Write(hdr)
	for _, ts := range order {
		data := append(make([]byte, 20), pkts[ts]...)
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec, uint32(ts/1e6))
		binary.LittleEndian.PutUint32(rec[4:], uint32(ts%1e6))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(data)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(data)))
		b.Write(rec)
		b.Write(data)
	}
	return b.Bytes()
}

func TestVerifyCapture(t *testing.T) {
	a, c := []byte("packet-a"), []byte("packet-c")
	// A bare IPv4 RST as a host without the socket sends it (ID 0), and
	// the same in IPv6.
	rst4 := []byte{0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 1, 0, 2, 10, 2, 0, 2,
		0xa0, 0x2a, 0x1f, 0x71, 1, 2, 3, 4, 0, 0, 0, 0, 0x50, 0x04, 0, 0, 0, 0, 0, 0}
	rst6 := append([]byte{0x60, 0, 0, 0, 0, 20, 6, 64}, make([]byte, 32)...)
	rst6 = append(rst6, rst4[20:]...)
	data4 := append([]byte(nil), rst4...)
	data4[33] = 0x18 // PSH ACK
	for _, tc := range []struct {
		name    string
		pkts    map[int64][]byte
		order   []int64
		dupOK   bool
		wantErr string
	}{
		{"distinct", map[int64][]byte{1: a, 2: c}, []int64{1, 2}, false, ""},
		{"same packet 500us apart", map[int64][]byte{1000: a, 1500: a}, []int64{1000, 1500}, false, "captured twice"},
		{"same packet 500us apart, duplicates expected", map[int64][]byte{1000: a, 1500: a}, []int64{1000, 1500}, true, ""},
		{"retransmission 200ms later", map[int64][]byte{1000: a, 201000: a}, []int64{1000, 201000}, false, ""},
		{"empty", map[int64][]byte{}, nil, false, "no packets"},
		{"identical RSTs answering a burst", map[int64][]byte{1000: rst4, 1007: rst4}, []int64{1000, 1007}, false, ""},
		{"identical IPv6 RSTs", map[int64][]byte{1000: rst6, 1007: rst6}, []int64{1000, 1007}, false, ""},
		{"the same data segment twice", map[int64][]byte{1000: data4, 1007: data4}, []int64{1000, 1007}, false, "captured twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.pcap")
			if err := os.WriteFile(p, pcapBytes(tc.pkts, tc.order), 0o644); err != nil {
				t.Fatal(err)
			}
			err := verifyCapture(p, tc.dupOK)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("verifyCapture = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestParsePcapRejects(t *testing.T) {
	good := pcapBytes(map[int64][]byte{1: []byte("x")}, []int64{1})
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"short", good[:10]},
		{"bad magic", append([]byte{1, 2, 3, 4}, good[4:]...)},
		{"truncated record", good[:len(good)-3]},
		{"ethernet link type", append(append(append([]byte{}, good[:20]...), 1, 0, 0, 0), good[24:]...)},
	} {
		if _, err := parsePcap(tc.name, tc.b); err == nil {
			t.Errorf("%s: parsePcap accepted it", tc.name)
		}
	}
}

// Lines as this kernel and conntrack-tools print them; the expectation
// helpers must match them.
const (
	sampleList    = "ipv4     2 tcp      6 119 TIME_WAIT src=10.1.0.2 dst=10.2.0.2 sport=40001 dport=8001 packets=6 bytes=520 src=10.2.0.2 dst=10.1.0.2 sport=8001 dport=40001 packets=4 bytes=1216 [ASSURED] mark=0 use=1\n"
	sampleNew     = "[1795239098.568430]\t    [NEW] tcp      6 120 SYN_SENT src=10.1.0.2 dst=10.2.0.2 sport=40001 dport=8001 [UNREPLIED] src=10.2.0.2 dst=10.1.0.2 sport=8001 dport=40001\n"
	sampleExpired = "[1795239202.191945]\t[DESTROY] tcp      6 CLOSE src=10.1.0.2 dst=10.2.0.2 sport=40113 dport=8011 packets=5 bytes=368 src=10.2.0.2 dst=10.1.0.2 sport=8011 dport=40113 packets=4 bytes=316 [ASSURED]\n"
	sampleKilled  = "[1795239178.754620]\t[DESTROY] tcp      6 120 CLOSE src=10.1.0.2 dst=10.2.0.2 sport=40031 dport=8099 packets=1 bytes=60 [UNREPLIED] src=10.2.0.2 dst=10.1.0.2 sport=8099 dport=40031 packets=1 bytes=40\n"
)

func TestCheckPatterns(t *testing.T) {
	for _, tc := range []struct {
		c    check
		text string
		want bool
	}{
		{listed("TIME_WAIT", 40001, ""), sampleList, true},
		{listed("TIME_WAIT", 8001, ""), sampleList, false}, // reply tuple does not count
		{listed("ESTABLISHED", 40001, ""), sampleList, false},
		{notListed(40001, ""), sampleList, true},
		{evented("NEW", "SYN_SENT", 40001, ""), sampleNew, true},
		{evented("DESTROY", "", 40113, ""), sampleExpired, true},
		{evented("DESTROY", "", 40031, ""), sampleKilled, true},
		{evented("DESTROY", "", 40001, ""), sampleNew, false},
	} {
		re := regexp.MustCompile("(?m)" + tc.c.pattern)
		if got := re.MatchString(tc.text); got != tc.want {
			t.Errorf("%q on %q = %v, want %v", tc.c.pattern, tc.text, got, tc.want)
		}
	}
}

func TestRunChecks(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, kernelcorpus.ConntrackFile), []byte(sampleList), 0o644)
	os.WriteFile(filepath.Join(dir, kernelcorpus.EventsFile), []byte(sampleNew), 0o644)
	miss := runChecks(dir, []check{
		listed("TIME_WAIT", 40001, "ok"),
		evented("NEW", "SYN_SENT", 40001, "ok"),
		notListed(40001, "present, so this one misses"),
		evented("UPDATE", "FIN_WAIT", 40001, "absent, so this one misses"),
	})
	if len(miss) != 2 {
		t.Fatalf("runChecks misses = %q, want 2", miss)
	}
}

func TestPlanMixDeterministic(t *testing.T) {
	a := planMix(scenarioRNG(5, "random"), 200)
	b := planMix(scenarioRNG(5, "random"), 200)
	c := planMix(scenarioRNG(6, "random"), 200)
	same := func(x, y []connPlan) bool {
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Fatal("same seed, different plans")
	}
	if same(a, c) {
		t.Fatal("different seeds, same plans")
	}
	kinds := map[connKind]bool{}
	for _, p := range a {
		kinds[p.kind] = true
		if p.start < 0 || p.start >= 3*time.Second || p.req <= 0 || p.resp <= 0 {
			t.Fatalf("bad plan %+v", p)
		}
	}
	if len(kinds) != int(numKinds) {
		t.Fatalf("200 connections cover %d of %d kinds", len(kinds), numKinds)
	}
}

func TestRandomPolicyDeterministic(t *testing.T) {
	tcp := frameInfo{tcp: true, payload: 10, flags: 0x18}
	run := func(seed uint64) []verdict {
		p := newRandomPolicy(rand.New(rand.NewPCG(seed, 1)))
		var v []verdict
		for range 2000 {
			v = append(v, p.decide(tcp))
		}
		return v
	}
	a, b := run(1), run(1)
	var drops, dups, delays, holds int
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("verdict %d differs for the same seed", i)
		}
		switch {
		case a[i].drop:
			drops++
		case a[i].dup:
			dups++
		case a[i].delay > 0:
			delays++
		case a[i].hold:
			holds++
		}
	}
	if drops == 0 || dups == 0 || delays == 0 || holds == 0 || drops > 100 {
		t.Fatalf("implausible mix: %d drops %d dups %d delays %d holds of 2000", drops, dups, delays, holds)
	}
	if v := newRandomPolicy(rand.New(rand.NewPCG(1, 1))).decide(frameInfo{}); v != (verdict{}) {
		t.Fatalf("non-TCP frame impaired: %+v", v)
	}
}

func TestDropNthData(t *testing.T) {
	p := &dropNthData{n: 2}
	in := []frameInfo{{tcp: true}, {tcp: true, payload: 5}, {tcp: true}, {tcp: true, payload: 5}, {tcp: true, payload: 5}}
	want := []bool{false, false, false, true, false}
	for i, f := range in {
		if got := p.decide(f).drop; got != want[i] {
			t.Fatalf("frame %d: drop %v, want %v", i, got, want[i])
		}
	}
}

func TestScenarioNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, sc := range allScenarios(&options{randomConns: 10}) {
		if seen[sc.name] {
			t.Fatalf("duplicate scenario %s", sc.name)
		}
		seen[sc.name] = true
		if sc.description == "" || len(sc.checks) == 0 || sc.traffic == nil {
			t.Fatalf("scenario %s lacks a description, checks or traffic", sc.name)
		}
		for _, c := range sc.checks {
			if _, err := regexp.Compile(c.pattern); err != nil {
				t.Fatalf("%s: %v", sc.name, err)
			}
		}
	}
}

func FuzzParseFrame(f *testing.F) {
	h := tcpHeader{sport: 1, dport: 2, flags: 0x12, win: 100}
	f.Add(buildFrame(testMACa, testMACb, net.ParseIP("10.0.0.1"), net.ParseIP("10.0.0.2"), 1, h, payload(3)))
	f.Add(buildFrame(testMACa, testMACb, net.ParseIP("fd00::1"), net.ParseIP("fd00::2"), 1, h, nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		fi := parseFrame(b)
		if fi.payload < 0 || (!fi.tcp && fi != frameInfo{}) {
			t.Fatalf("parseFrame(%x) = %+v", b, fi)
		}
	})
}

func FuzzParsePcap(f *testing.F) {
	f.Add(pcapBytes(map[int64][]byte{1: []byte("abc"), 2: []byte("de")}, []int64{1, 2}))
	f.Add([]byte{0xd4, 0xc3, 0xb2, 0xa1})
	f.Fuzz(func(t *testing.T, b []byte) {
		pkts, err := parsePcap("fuzz", b)
		if err == nil {
			for _, p := range pkts {
				if len(p.ip) > len(b) {
					t.Fatal("packet longer than the file")
				}
			}
		}
	})
}

// TestCommittedCorpus: the committed corpus (make corpus, seed 1) still
// passes the generator's own checks: each scenario's capture is clean and
// its recorded conntrack output shows what the scenario expects.
func TestCommittedCorpus(t *testing.T) {
	dirs, err := kernelcorpus.Dirs(filepath.Join(testutil.Root(t), "testdata", "pcaps", "kernel"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no committed corpus: %v", err)
	}
	byName := map[string]*scenario{}
	for _, sc := range allScenarios(&options{randomConns: 200}) {
		byName[sc.name] = sc
	}
	for _, dir := range dirs {
		sc := byName[filepath.Base(dir)]
		if sc == nil {
			t.Errorf("%s: no such scenario", dir)
			continue
		}
		if err := verifyCapture(filepath.Join(dir, kernelcorpus.CaptureFile), sc.duplicatesExpected); err != nil {
			t.Errorf("%s: %v", sc.name, err)
		}
		if miss := runChecks(dir, sc.checks); len(miss) > 0 {
			t.Errorf("%s: expectations not met: %s", sc.name, strings.Join(miss, "; "))
		}
	}
}

func TestPlanBig(t *testing.T) {
	b := bigOpts{conns: 5000, rate: 1000}
	maxIdle := 100
	plans := planBig(scenarioRNG(1, "random-big"), b, maxIdle)
	again := planBig(scenarioRNG(1, "random-big"), b, maxIdle)
	if len(plans) != b.conns {
		t.Fatalf("%d plans, want %d", len(plans), b.conns)
	}
	idle := 0
	for i, p := range plans {
		if p != again[i] {
			t.Fatalf("plan %d differs between runs with one seed: %+v, %+v", i, p, again[i])
		}
		if i > 0 && p.start < plans[i-1].start {
			t.Fatalf("plan %d starts before plan %d", i, i-1)
		}
		if p.start < 0 || p.start >= 5*time.Second {
			t.Fatalf("plan %d starts at %v, outside the 5 s window", i, p.start)
		}
		if p.port < bigPortBase || p.port >= bigPortBase+bigPorts {
			t.Fatalf("plan %d on server port %d", i, p.port)
		}
		if p.kind == kindIdle {
			idle++
		}
	}
	if idle != maxIdle {
		t.Fatalf("%d idle connections, want the cap %d", idle, maxIdle)
	}
	if want := (connPlan{kind: kindRefused, port: bigPortBase}).serverPort(); want != randomClosedPort {
		t.Fatalf("a refused connection dials port %d, want the closed port %d", want, randomClosedPort)
	}
}

func TestBigScenarioOptIn(t *testing.T) {
	has := func(o *options) bool {
		for _, sc := range allScenarios(o) {
			if sc.name == "random-big" {
				return true
			}
		}
		return false
	}
	if has(&options{randomConns: 10}) {
		t.Fatal("random-big is in the default corpus")
	}
	if !has(&options{randomConns: 10, big: bigOpts{conns: 1000, rate: 100}}) {
		t.Fatal("-big-conns does not add random-big")
	}
}

func TestToEthernet(t *testing.T) {
	ip := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 10, 1, 0, 2, 10, 2, 0, 2}
	in := pcapBytes(map[int64][]byte{1: ip, 2: ip}, []int64{1, 2})
	// Fill the SLL2 headers: IPv4 on ifindex 7 from 02:00:00:00:00:01.
	for off, n := 24, 0; n < 2; n++ {
		sll := in[off+16 : off+36]
		sll[0], sll[1] = 0x08, 0x00
		binary.BigEndian.PutUint32(sll[4:], 7)
		sll[11] = 6
		copy(sll[12:], []byte{2, 0, 0, 0, 0, 1})
		off += 16 + 20 + len(ip)
	}
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "sll2.pcap"), filepath.Join(dir, "eth.pcap")
	if err := os.WriteFile(src, in, 0o644); err != nil {
		t.Fatal(err)
	}
	mac := net.HardwareAddr{2, 0, 0, 0, 0, 9}
	n, err := toEthernet(src, dst, map[uint32]net.HardwareAddr{7: mac})
	if err != nil || n != 2 {
		t.Fatalf("toEthernet = %d, %v; want 2 records", n, err)
	}
	out, _ := os.ReadFile(dst)
	if lt := binary.LittleEndian.Uint32(out[20:]); lt != 1 {
		t.Fatalf("link type %d, want 1", lt)
	}
	rec := out[24:]
	if incl := binary.LittleEndian.Uint32(rec[8:]); incl != 14+20 {
		t.Fatalf("record length %d, want 34", incl)
	}
	want := append(append(append([]byte{}, mac...), 2, 0, 0, 0, 0, 1, 0x08, 0x00), ip...)
	if got := rec[16 : 16+34]; !bytes.Equal(got, want) {
		t.Fatalf("frame\n% x\nwant\n% x", got, want)
	}
	if _, err := toEthernet(dst, filepath.Join(dir, "again.pcap"), nil); err == nil {
		t.Fatal("an Ethernet capture was taken as SLL2")
	}
}
