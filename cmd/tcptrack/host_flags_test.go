package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/fsm"
)

func TestParseHostTimeouts(t *testing.T) {
	cfg := fsm.DefaultHostConfig()
	if err := parseHostTimeouts(&cfg, "fin_timeout=10, syn_retries=2,net.ipv4.tcp_synack_retries=1,hz=1000,rfc1337=1,rto_min_us=50000"); err != nil {
		t.Fatal(err)
	}
	want := fsm.DefaultHostConfig()
	want.FinTimeout, want.SynRetries, want.SynackRetries, want.HZ, want.RFC1337, want.RTOMin = 10*time.Second, 2, 1, 1000, true, 50*time.Millisecond
	if cfg != want {
		t.Errorf("got %+v, want %+v", cfg, want)
	}
	for _, bad := range []string{"fin_timeout", "fin_timeout=x", "syn_retries=1.5", "nope=1", "hz=0", "rfc1337=2", "fin_timeout=-1"} {
		c := fsm.DefaultHostConfig()
		if err := parseHostTimeouts(&c, bad); err == nil {
			t.Errorf("%q: no error", bad)
		} else if !strings.Contains(err.Error(), "host") {
			t.Errorf("%q: error %q does not say what it is about", bad, err)
		}
	}
}
