package main

import (
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
	"github.com/tcptrack/tcptrack/internal/testutil"
)

// TestTraceGolden draws ladders of kernel-judged captures, as text and SVG.
func TestTraceGolden(t *testing.T) {
	pcaps := filepath.Join("..", "..", "testdata", "pcaps")
	sample, invalid := filepath.Join(pcaps, "sample.pcap"), filepath.Join(pcaps, "invalid.pcap")
	for _, c := range []struct {
		name string
		args []string
	}{
		// A normal close and a refused connection (the entry deleted).
		{"close.txt", []string{"trace", sample, "port 40001 or port 40031"}},
		// Out-of-window RST, RST below the acknowledged data, the FIN
		// exchange that lowers the timer, a data segment with a bad checksum.
		{"invalid.txt", []string{"trace", invalid, "port 30001 or port 30004 or port 30094 or port 30102"}},
		{"absolute.txt", []string{"trace", "--absolute", invalid, "port 30001"}},
		// An ignored SYN in LAST_ACK, the challenge ACK, RST, a new entry.
		{"challenge.txt", []string{"trace", invalid, "port 30062"}},
		// Unanswered SYNs whose entries expire in between.
		{"expiry.txt", []string{"trace", "--timeout", "syn_sent=0.5", sample, "port 40041"}},
		{"invalid.svg", []string{"trace", "-o", "svg", invalid, "port 30094 or port 30062"}},
		{"expiry.svg", []string{"trace", "-o", "svg", "--timeout", "syn_sent=0.5", sample, "port 40041"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := runTool(t, c.args...)
			if strings.HasSuffix(c.name, ".svg") {
				checkSVG(t, out)
			}
			testutil.Golden(t, filepath.Join("testdata", "trace", c.name), out)
		})
	}
}

// checkSVG requires well-formed XML with an svg root.
func checkSVG(t *testing.T, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	root := ""
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
}

func TestFuzzTraceSeeds(t *testing.T) {
	// A handshake, data, an out-of-window RST, a FIN each way, a bad
	// checksum; and a SYN on the other port answered by RST.
	step := func(d0, flags byte, dseq int16, dack int8, win, n, dt byte) []byte {
		return []byte{d0, flags, byte(uint16(dseq) >> 8), byte(dseq), byte(dack), win, n, 0, dt}
	}
	var hs []byte
	for _, st := range [][]byte{
		step(0, byte(fsm.SYN), 0, 0, 250, 0, 1), step(1, byte(fsm.SYN|fsm.ACK), 0, 1, 250, 0, 1),
		step(0, byte(fsm.ACK), 0, 0, 250, 0, 1), step(0, byte(fsm.PSH|fsm.ACK), 0, 0, 250, 100, 1),
		step(0, byte(fsm.RST), 20000, 0, 0, 0, 1), step(8, byte(fsm.ACK), 0, 0, 250, 0, 1),
		step(0, byte(fsm.FIN|fsm.ACK), 0, 0, 250, 0, 1), step(1, byte(fsm.FIN|fsm.ACK), 0, 1, 250, 0, 1),
		step(0x80, byte(fsm.SYN), 0, 0, 250, 0, 200), step(0x81, byte(fsm.RST|fsm.ACK), 0, 1, 0, 0, 1),
	} {
		hs = append(hs, st...)
	}
	v4 := append([]byte(nil), hs...)
	v4[0] |= 2
	testutil.SeedCorpus(t, "FuzzTrace", []testutil.Seed{{Name: "v6", Data: hs}, {Name: "v4", Data: v4}})
}

func TestTraceUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"trace"}, "no capture file"},
		{[]string{"trace", "-o", "png", "x.pcap"}, "unknown output format"},
		{[]string{"trace", "--max-packets", "0", filepath.Join("..", "..", "testdata", "pcaps", "sample.pcap")}, "--max-packets"},
	} {
		var out, errb bytes.Buffer
		if code := run(c.args, nil, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want usage error mentioning %q", c.args, code, errb.String(), c.want)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"trace", "--max-packets", "3", filepath.Join("..", "..", "testdata", "pcaps", "sample.pcap")}, nil, &out, &errb); code != exitOK ||
		!strings.Contains(errb.String(), "stops after 3 packets") || strings.Count(out.String(), "\n") > 3+2 {
		t.Errorf("--max-packets 3: exit %d, stderr %q, %d lines", code, errb.String(), strings.Count(out.String(), "\n"))
	}
}

// FuzzTrace: any sequence of segments between two hosts, through the flow
// table with every packet reported, draws as text and SVG without
// panicking, and the SVG is well-formed.
func FuzzTrace(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		ls := fuzzLadders(data)
		var b bytes.Buffer
		if err := writeLaddersText(&b, ls, len(data) > 0 && data[0]&1 != 0); err != nil {
			t.Fatal(err)
		}
		b.Reset()
		if err := writeLaddersSVG(&b, ls); err != nil {
			t.Fatal(err)
		}
		checkSVG(t, b.Bytes())
	})
}

// fuzzLadders turns bytes into segments (9 bytes each: direction and
// options, flags, seq and ack deltas, window, payload, time step) between
// two hosts on two 4-tuples, tracked by a shard that reports every packet
// (short timeouts, so entries expire in between too).
func fuzzLadders(data []byte) *ladderSet {
	cfg := fsm.DefaultConfig()
	cfg.Timeouts.SynSent, cfg.Timeouts.Established, cfg.Timeouts.Close = 2e9, 5e9, 1e9
	s := flowtable.NewShard(&cfg, 4, true)
	s.ReportPackets(flowtable.PacketsAll)
	a, b := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	if len(data) > 0 && data[0]&2 != 0 {
		a, b = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	}
	next := [2]uint32{1000, 5000}
	ts := int64(1e18)
	ls := newLadderSet(len(data) > 0 && data[0]&1 != 0, 200)
	seq := uint64(0)
	for len(data) >= 9 {
		d := data[:9]
		data = data[9:]
		from := int(d[0] & 1)
		port := uint16(40000 + int(d[0]>>7))
		src, dst, sp, dp := a, b, port, uint16(80)
		if from == 1 {
			src, dst, sp, dp = b, a, 80, port
		}
		seg := fsm.Segment{SrcPort: sp, DstPort: dp, Flags: fsm.Flags(d[1]),
			Seq: next[from] + uint32(int16(binary.BigEndian.Uint16(d[2:]))), Ack: next[1-from] + uint32(int8(d[4])),
			Window: uint16(d[5]) << 8, PayloadLen: uint32(d[6]), HasWScale: d[0]&2 != 0, WScale: d[7] & 15, SackPerm: d[0]&4 != 0}
		if end := seg.End(); int32(end-next[from]) > 0 {
			next[from] = end
		}
		ts += int64(d[8]) * 1e7
		seq++
		p := flowtable.Segment{Key: flowtable.MakeKey(src, dst, sp, dp), TS: ts, IPLen: 40 + seg.PayloadLen, TCP: seg}
		if d[0]&8 != 0 {
			r := fsm.Reason{Code: fsm.ReasonBadChecksum}
			if d[0]&16 != 0 {
				r.Code = fsm.ReasonTruncated
			}
			s.Sweep(ts)
			s.Refuse(&p, seq, r)
		} else {
			s.Sweep(ts)
			s.Process(&p, seq, p.Key.Hash())
		}
		for _, e := range s.TakeEvents(nil) {
			ls.add(&e)
		}
	}
	return ls
}
