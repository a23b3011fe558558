package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/internal/testutil"
)

func gen(t testing.TB, args ...string) []byte {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(append([]string{"-out", "-", "-q"}, args...), &out, &errb); err != nil {
		t.Fatalf("synth %v: %v\n%s", args, err, errb.String())
	}
	return out.Bytes()
}

// record is one pcap record as the tests read it back.
type record struct {
	tsMicros int64
	frame    []byte
}

// readPcap reads back what synth wrote, strictly: a classic little-endian
// microsecond pcap of Ethernet frames, each record whole.
func readPcap(t testing.TB, b []byte) []record {
	t.Helper()
	if len(b) < 24 || binary.LittleEndian.Uint32(b) != pcapMagicMicros {
		t.Fatalf("bad pcap file header % x", b[:min(24, len(b))])
	}
	r, err := assemble.NewReader(bytes.NewReader(b), "synth")
	if err != nil {
		t.Fatal(err)
	}
	if ifc := r.Interfaces(); len(ifc) != 1 || ifc[0].SnapLen != pcapSnaplen || ifc[0].LinkType != linkEthernet {
		t.Fatalf("file header: interfaces %+v", ifc)
	}
	recs, err := testutil.ReadAll(r.Next, func(rec assemble.Record) assemble.Record { rec.Data = bytes.Clone(rec.Data); return rec })
	if err != nil {
		t.Fatalf("record %d: %v", len(recs)+1, err)
	}
	out := make([]record, len(recs))
	for i, rec := range recs {
		if rec.CapLen != rec.OrigLen || rec.TS%1000 != 0 {
			t.Fatalf("record %d: caplen %d origlen %d ts %d ns", i+1, rec.CapLen, rec.OrigLen, rec.TS)
		}
		out[i] = record{rec.TS / 1000, rec.Data}
	}
	return out
}

func TestDeterministicGolden(t *testing.T) {
	cases := []struct{ name, args string }{
		{"mix-seed1", "-seed 1 -packets 20000"},
		{"mix-seed2", "-seed 2 -packets 20000"},
		{"mix-small-conc", "-seed 7 -packets 20000 -flows 50 -ipv6 0.5 -vlan 0.5"},
		{"synflood", "-kind synflood -seed 1 -packets 20000"},
		{"garbage", "-kind garbage -seed 1 -packets 20000"},
	}
	var got strings.Builder
	seen := map[string]string{}
	for _, tc := range cases {
		args := strings.Fields(tc.args)
		a, b := gen(t, args...), gen(t, args...)
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: two runs with the same flags differ", tc.name)
		}
		sum := sha256.Sum256(a)
		h := hex.EncodeToString(sum[:])
		if other, dup := seen[h]; dup {
			t.Errorf("%s: same output as %s", tc.name, other)
		}
		seen[h] = tc.name
		fmt.Fprintf(&got, "%s %s\n", tc.name, h)
	}
	testutil.Golden(t, filepath.Join("testdata", "hashes.golden"), []byte(got.String()))
}

func TestPacketCountsAndTimestamps(t *testing.T) {
	for _, tc := range []struct {
		args    string
		packets int
	}{
		{"-packets 1", 1},
		{"-packets 12345", 12345},
		{"-packets 3000 -flows 1", 3000},
		{"-size small", 100000},
		{"-kind synflood -packets 5000", 5000},
		{"-kind garbage -packets 5000", 5000},
	} {
		t.Run(tc.args, func(t *testing.T) {
			recs := readPcap(t, gen(t, strings.Fields(tc.args)...))
			if len(recs) != tc.packets {
				t.Fatalf("%d records, want %d", len(recs), tc.packets)
			}
			first, last := recs[0].tsMicros, recs[len(recs)-1].tsMicros
			for i := 1; i < len(recs); i++ {
				if recs[i].tsMicros < recs[i-1].tsMicros {
					t.Fatalf("record %d goes back in time", i+1)
				}
			}
			// Mean rate 1 M packets/s: the span is about one microsecond a packet.
			if span := last - first; tc.packets > 1000 && (span < int64(tc.packets)/2 || span > int64(tc.packets)*2) {
				t.Errorf("%d packets span %d µs, want about %d", tc.packets, span, tc.packets)
			}
		})
	}
}

func TestFlagErrors(t *testing.T) {
	for _, args := range []string{"", "-out x -size huge", "-out x -kind nope", "-out x -flows 0",
		"-out x -mix short=x", "-out x -mix nosuch=1", "-out x -mix short=0,bulk=0,interactive=0,halfclose=0,aborted=0,refused=0,unanswered=0",
		"-out x -ipv6 2", "-out x -rate 0", "-out x extra"} {
		if err := run(strings.Fields(args), io.Discard, io.Discard); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

func TestWritesFileAtomically(t *testing.T) {
	out := filepath.Join(t.TempDir(), "x.pcap")
	if err := run([]string{"-out", out, "-q", "-packets", "1000"}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, gen(t, "-packets", "1000")) {
		t.Error("file differs from stdout output")
	}
	if _, err := os.Stat(out + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

// TestTcpdumpReads has tcpdump parse the small mix and check every TCP/UDP
// checksum (-vv prints "incorrect" for a bad one).
func TestTcpdumpReads(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed")
	}
	for _, kind := range []string{"mix", "synflood"} {
		t.Run(kind, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), kind+".pcap")
			if err := run([]string{"-out", file, "-q", "-kind", kind, "-size", "small"}, io.Discard, io.Discard); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(tcpdump, "-r", file, "-nn", "-vv", "-tt")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			packets, bad := 0, 0
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				line := sc.Text()
				if len(line) > 0 && line[0] >= '0' && line[0] <= '9' {
					packets++ // -tt lines start with the timestamp; continuation lines are indented
				}
				if strings.Contains(line, "incorrect") {
					if bad++; bad <= 3 {
						t.Errorf("tcpdump: %s", line)
					}
				}
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("tcpdump: %v\n%s", err, stderr.String())
			}
			if packets != 100000 {
				t.Errorf("tcpdump printed %d packets, want 100000", packets)
			}
			if bad > 0 {
				t.Errorf("%d bad checksums", bad)
			}
		})
	}
}

type failingWriter struct{ left int }

func (w *failingWriter) Write(b []byte) (int, error) {
	if len(b) > w.left {
		return 0, errors.New("disk full")
	}
	w.left -= len(b)
	return len(b), nil
}

// TestWriteErrorReported: a failing write stops generation with an error
// that says where, instead of being lost in the writer goroutine.
func TestWriteErrorReported(t *testing.T) {
	err := run([]string{"-out", "-", "-q", "-packets", "200000"}, &failingWriter{left: 5 << 20}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "offset") {
		t.Fatalf("got %v, want a wrapped disk full error with the offset", err)
	}
}
