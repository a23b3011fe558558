package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/testutil"
)

type bytesBuffer = bytes.Buffer

// TestReadGolden replays the shipped sample in every output format and
// compares with golden files (regenerate with go test -update).
func TestReadGolden(t *testing.T) {
	sample := filepath.Join("..", "..", "testdata", "pcaps", "sample.pcap")
	invalidSample := filepath.Join("..", "..", "testdata", "pcaps", "invalid.pcap")
	cases := []struct {
		name string
		args []string
	}{
		{"conntrack", []string{"read", sample}},
		{"conntrack-acct-extended", []string{"read", "--acct", "--extended", sample}},
		{"events", []string{"read", "-e", "--acct", sample}},
		{"table", []string{"read", "-o", "table", sample}},
		{"json", []string{"read", "-o", "json", sample}},
		{"filtered", []string{"read", sample, "ip6"}},
		{"now", []string{"read", "--now", "1795239470.5", sample}},
		{"invalid", []string{"read", "--invalid", invalidSample}},
		{"invalid-json", []string{"read", "--invalid", "-o", "json", invalidSample}},
		{"invalid-events", []string{"read", "--invalid", "-e", "--event-timestamps=false", invalidSample, "port 30094 or port 30102"}},
		{"netstat", []string{"read", "-o", "netstat", sample}},
		{"netstat-host-timers", []string{"read", "-o", "netstat", "--timers", "--host", "10.1.0.2", "--host-timeout", "fin_timeout=3,syn_retries=2,synack_retries=2", sample}},
		{"sockets", []string{"read", "-o", "sockets", "--host-timeout", "fin_timeout=3,syn_retries=2,synack_retries=2", sample}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(c.args, nil, &out, &errb); code != exitOK {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			testutil.Golden(t, filepath.Join("testdata", "golden", c.name+".txt"), out.Bytes())
		})
	}
}

// TestShardsDoNotChangeOutput: 1 or 7 shards, the same lines.
func TestShardsDoNotChangeOutput(t *testing.T) {
	sample := filepath.Join("..", "..", "testdata", "pcaps", "kernel", "random", "capture.pcap")
	var first string
	for _, n := range []string{"1", "7"} {
		var out, errb bytes.Buffer
		if code := run([]string{"read", "-e", "--acct", "--shards", n, sample}, nil, &out, &errb); code != exitOK {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
		if first == "" {
			first = out.String()
		} else if out.String() != first {
			t.Errorf("--shards %s changes the event stream", n)
		}
	}
}

func TestTruncatedLastRecordWarnsExitZero(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pcaps", "sample.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(cut, data[:len(data)-10], 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"read", cut}, nil, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "warning") || !strings.Contains(errb.String(), "cut.pcap") || !strings.Contains(errb.String(), "offset") {
		t.Errorf("warning should name the file and offset: %q", errb.String())
	}
	if n := strings.Count(out.String(), "\n"); n < 15 {
		t.Errorf("want the table of what was read, got %d lines", n)
	}
}

func TestStdinAndNotACapture(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "pcaps", "sample.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"read", "-"}, bytes.NewReader(data), &out, &errb); code != exitOK || out.Len() == 0 {
		t.Fatalf("stdin: exit %d, %d bytes: %s", code, out.Len(), errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"read", "-"}, strings.NewReader("hello world, not a pcap"), &out, &errb); code != exitInput {
		t.Fatalf("text on stdin: exit %d", code)
	}
	if !strings.Contains(errb.String(), "not a pcap") {
		t.Errorf("error should say what is wrong: %q", errb.String())
	}
}

func TestProgressOnlyWhenAsked(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, "auto", 100)
	p.last = p.last.Add(-time1s)
	p.update(50, 1000, 3)
	if b.Len() != 0 {
		t.Errorf("auto on a non-terminal printed %q", b.String())
	}
	p = newProgress(&b, "always", 100)
	p.last = p.last.Add(-time1s)
	p.update(50, 1000, 3)
	p.done()
	if !strings.Contains(b.String(), "(50%)") || !strings.Contains(b.String(), "3 flows") {
		t.Errorf("progress line: %q", b.String())
	}
}

const time1s = time.Second
