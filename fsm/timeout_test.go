package fsm

import (
	"strings"
	"testing"
	"time"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if !c.Loose || c.Liberal || c.IgnoreInvalidRST || c.MaxRetrans != 3 {
		t.Errorf("DefaultConfig flags = %+v", c)
	}
	for _, tc := range []struct {
		s    State
		want time.Duration
	}{
		{None, 120 * time.Second}, {SynSent, 120 * time.Second}, {SynRecv, 60 * time.Second},
		{Established, 432000 * time.Second}, {FinWait, 120 * time.Second}, {CloseWait, 60 * time.Second},
		{LastAck, 30 * time.Second}, {TimeWait, 120 * time.Second}, {Close, 10 * time.Second},
		{SynSent2, 120 * time.Second}, {numStates, 0},
	} {
		if got := c.Timeouts.ForState(tc.s); got != tc.want {
			t.Errorf("ForState(%v) = %v, want %v", tc.s, got, tc.want)
		}
	}
	if c.Timeouts[TimeoutMaxRetrans] != 300*time.Second || c.Timeouts[TimeoutUnacknowledged] != 300*time.Second {
		t.Errorf("caps = %v, %v", c.Timeouts[TimeoutMaxRetrans], c.Timeouts[TimeoutUnacknowledged])
	}
}

func TestTimeoutsSet(t *testing.T) {
	for _, tc := range []struct {
		name    string
		d       time.Duration
		get     func(*Timeouts) time.Duration
		wantErr string
	}{
		{"syn_sent", time.Second, func(t *Timeouts) time.Duration { return t[SynSent] }, ""},
		{"SYN_SENT", 2 * time.Second, func(t *Timeouts) time.Duration { return t[SynSent] }, ""},
		{"syn_recv", 3 * time.Second, func(t *Timeouts) time.Duration { return t[SynRecv] }, ""},
		{"ESTABLISHED", 4 * time.Second, func(t *Timeouts) time.Duration { return t[Established] }, ""},
		{"nf_conntrack_tcp_timeout_fin_wait", 5 * time.Second, func(t *Timeouts) time.Duration { return t[FinWait] }, ""},
		{"close_wait", 6 * time.Second, func(t *Timeouts) time.Duration { return t[CloseWait] }, ""},
		{"LAST_ACK", 7 * time.Second, func(t *Timeouts) time.Duration { return t[LastAck] }, ""},
		{"time_wait", 8 * time.Second, func(t *Timeouts) time.Duration { return t[TimeWait] }, ""},
		{"CLOSE", 9 * time.Second, func(t *Timeouts) time.Duration { return t[Close] }, ""},
		{"SYN_SENT2", 10 * time.Second, func(t *Timeouts) time.Duration { return t[SynSent2] }, ""},
		{"max_retrans", 11 * time.Second, func(t *Timeouts) time.Duration { return t[TimeoutMaxRetrans] }, ""},
		{"unacknowledged", 12 * time.Second, func(t *Timeouts) time.Duration { return t[TimeoutUnacknowledged] }, ""},
		{"listen", time.Second, nil, `unknown timeout "listen" (valid: syn_sent, syn_recv,`},
		{"close", -time.Second, nil, "negative"},
	} {
		to := DefaultTimeouts()
		err := to.Set(tc.name, tc.d)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Set(%q) error = %v, want containing %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Set(%q): %v", tc.name, err)
		} else if got := tc.get(&to); got != tc.d {
			t.Errorf("Set(%q, %v) stored %v", tc.name, tc.d, got)
		}
	}
}

func TestTimeoutNamesAllSettable(t *testing.T) {
	names := TimeoutNames()
	if len(names) != 11 {
		t.Fatalf("TimeoutNames() has %d names", len(names))
	}
	for _, n := range names {
		to := DefaultTimeouts()
		if err := to.Set(n, 7*time.Second); err != nil {
			t.Errorf("Set(%q): %v", n, err)
		}
		if to == DefaultTimeouts() {
			t.Errorf("Set(%q) changed nothing", n)
		}
	}
	names[0] = "mutated"
	if TimeoutNames()[0] != "syn_sent" {
		t.Error("TimeoutNames shares its slice")
	}
}

func TestNextExpiry(t *testing.T) {
	const s = int64(time.Second)
	for _, tc := range []struct {
		name         string
		r            Result
		now, expires int64
		want         int64
	}{
		{"refresh", Result{Refresh: true, Timeout: 60 * time.Second}, 100 * s, 500 * s, 160 * s},
		{"no refresh", Result{Verdict: Accept}, 100 * s, 500 * s, 500 * s},
		{"shrink", Result{Verdict: Invalid, Shrink: true, Timeout: 300 * time.Second}, 100 * s, 432100 * s, 400 * s},
		{"shrink: already shorter", Result{Verdict: Invalid, Shrink: true, Timeout: 300 * time.Second}, 100 * s, 350 * s, 350 * s},
		{"shrink: under 120 s left", Result{Verdict: Invalid, Shrink: true, Timeout: 60 * time.Second}, 100 * s, 210 * s, 210 * s},
		{"shrink: 120 s left, longer than timeout", Result{Verdict: Invalid, Shrink: true, Timeout: 60 * time.Second}, 100 * s, 220 * s, 160 * s},
	} {
		if got := tc.r.NextExpiry(tc.now, tc.expires); got != tc.want {
			t.Errorf("%s: NextExpiry = %d s, want %d s", tc.name, got/s, tc.want/s)
		}
	}
}

func TestStrings(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{Events(0).String(), "none"},
		{(EvState | EvAssured).String(), "state|assured"},
		{(EvState | EvSeenReply | EvAssured).String(), "state|seen-reply|assured"},
		{Reopen.String(), "reopen"},
		{Verdict(9).String(), "?"},
		{clsSYNACK.String(), "SYN-ACK"},
		{class(9).String(), "?"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
