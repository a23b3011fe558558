package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/fsm"
)

func TestParseReadFlagsFilesAndFilter(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.pcap")
	b := filepath.Join(dir, "b.pcapng")
	for _, f := range []string{a, b} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name       string
		args       []string
		files      []string
		filter     string
		output     string
		acct, ev   bool
		shards     int
		wantErr    bool
		wantUsage  bool
		wantLoose  bool
		wantTimout time.Duration // SYN_SENT timeout
	}{
		{name: "one file", args: []string{a}, files: []string{a}, output: "conntrack", wantLoose: true, wantTimout: 120 * time.Second},
		{name: "files then filter", args: []string{a, b, "tcp", "port", "80"}, files: []string{a, b}, filter: "tcp port 80", output: "conntrack", wantLoose: true, wantTimout: 120 * time.Second},
		{name: "flags between files", args: []string{"--acct", a, "-o", "table", b, "-e"}, files: []string{a, b}, output: "table", acct: true, ev: true, wantLoose: true, wantTimout: 120 * time.Second},
		{name: "stdin", args: []string{"-", "host", "10.0.0.1"}, files: []string{"-"}, filter: "host 10.0.0.1", output: "conntrack", wantLoose: true, wantTimout: 120 * time.Second},
		{name: "filter flag", args: []string{"-f", "tcp", a}, files: []string{a}, filter: "tcp", output: "conntrack", wantLoose: true, wantTimout: 120 * time.Second},
		{name: "sysctls", args: []string{"--no-loose", "--timeout", "syn_sent=5", "--shards", "3", a}, files: []string{a}, output: "conntrack", shards: 3, wantTimout: 5 * time.Second},
		{name: "missing file is a file", args: []string{filepath.Join(dir, "nope.pcap")}, files: []string{filepath.Join(dir, "nope.pcap")}, output: "conntrack", wantLoose: true, wantTimout: 120 * time.Second},
		{name: "no file", args: []string{"-o", "json"}, wantErr: true, wantUsage: true},
		{name: "bad output", args: []string{"-o", "xml", a}, wantErr: true, wantUsage: true},
		{name: "bad timeout name", args: []string{"--timeout", "bogus=3", a}, wantErr: true, wantUsage: true},
		{name: "bad timeout value", args: []string{"--timeout", "close=x", a}, wantErr: true, wantUsage: true},
		{name: "filter twice", args: []string{"-f", "tcp", a, "udp"}, wantErr: true, wantUsage: true},
		{name: "zero shards", args: []string{"--shards", "0", a}, wantErr: true, wantUsage: true},
		{name: "unknown flag", args: []string{"--bogus", a}, wantErr: true, wantUsage: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, err := parseReadFlags(c.args, io.Discard)
			if c.wantErr {
				var ue *usageError
				if err == nil || (c.wantUsage && !errors.As(err, &ue)) {
					t.Fatalf("want usage error, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o.files, c.files) || o.filter != c.filter || o.output != c.output || o.acct != c.acct || o.events != c.ev {
				t.Errorf("got files=%v filter=%q output=%s acct=%v events=%v", o.files, o.filter, o.output, o.acct, o.events)
			}
			if c.shards != 0 && o.shards != c.shards {
				t.Errorf("shards %d, want %d", o.shards, c.shards)
			}
			if o.fsm.Loose != c.wantLoose || o.fsm.Timeouts[fsm.SynSent] != c.wantTimout {
				t.Errorf("loose=%v syn_sent=%v", o.fsm.Loose, o.fsm.Timeouts[fsm.SynSent])
			}
		})
	}
}

func TestHelpExitsZero(t *testing.T) {
	var out, errb bytesBuffer
	if code := run([]string{"read", "--help"}, nil, &out, &errb); code != exitOK {
		t.Fatalf("read --help: exit %d", code)
	}
	if code := run([]string{"bogus"}, nil, &out, &errb); code != exitUsage {
		t.Fatalf("unknown command: exit %d", code)
	}
	if code := run(nil, nil, &out, &errb); code != exitUsage {
		t.Fatalf("no command: exit %d", code)
	}
}

func TestParseTime(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "1700000000", want: 1700000000e9},
		{in: "1700000000.25", want: 1700000000e9 + 250e6},
		{in: "1700000000.123456789", want: 1700000000e9 + 123456789},
		{in: "2023-11-14T22:13:20Z", want: 1700000000e9},
		{in: "2023-11-14T23:13:20.5+01:00", want: 1700000000e9 + 500e6},
		{in: "yesterday", bad: true},
		{in: "1700000000.x", bad: true},
	}
	for _, c := range cases {
		got, err := parseTime(c.in)
		if c.bad != (err != nil) || (!c.bad && got != c.want) {
			t.Errorf("parseTime(%q) = %d, %v; want %d (bad=%v)", c.in, got, err, c.want, c.bad)
		}
	}
}
