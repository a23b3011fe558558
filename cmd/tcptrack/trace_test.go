package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

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
				testutil.SVG(t, out)
			}
			testutil.Golden(t, filepath.Join("testdata", "trace", c.name), out)
		})
	}
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
