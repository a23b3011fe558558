package fsm

import (
	"strings"
	"testing"
	"time"
)

// Host scenarios: each endpoint's own socket, as its kernel holds it. A is
// the client (ISN 1000), B the server (ISN 5000). Conntrack's columns are
// wildcarded; see conn_test.go for them. "?" marks an unconfirmed state.
var hostScenarios = []scenario{
	{name: "handshake: each side confirmed by what it sends next", steps: []string{
		"> S 1000 0                       | * * * * SYN_SENT -",
		"< S. 5000 1001                   | * * * * ESTABLISHED? SYN_RECV",
		"> . 1001 5001                    | * * * * ESTABLISHED ESTABLISHED?",
		"< P. 5001 1001 len=10            | * * * * ESTABLISHED ESTABLISHED",
		"> . 1001 5011                    | * * * * ESTABLISHED ESTABLISHED",
	}},
	{name: "close, client first: TIME_WAIT for the client, GONE for the server", steps: open(
		"> F. 1001 5001                   | * * * * FIN_WAIT1 CLOSE_WAIT?",
		"< . 5001 1002                    | * * * * FIN_WAIT2? CLOSE_WAIT",
		"< F. 5001 1002 t=0.3             | * * * * TIME_WAIT? LAST_ACK",
		"> . 1002 5002                    | * * * * TIME_WAIT GONE?",
		"> . 1002 5002 t=1                | * * * * TIME_WAIT GONE",
	)},
	{name: "the peer's FIN retransmitted restarts TIME_WAIT; an ACK from the gone side undoes GONE", steps: open(
		"> F. 1001 5001                   | * * * * FIN_WAIT1 CLOSE_WAIT?",
		"< F. 5001 1002                   | * * * * TIME_WAIT? LAST_ACK",
		"> . 1002 5002                    | * * * * TIME_WAIT GONE?",
		"< F. 5001 1002 t=0.5             | * * * * TIME_WAIT LAST_ACK",
		"> . 1002 5002                    | * * * * TIME_WAIT GONE?",
	)},
	{name: "RST: exact ends it, inexact in window draws a challenge ACK, out of window is dropped", steps: open(
		"> R 1500 0                       | * * * * GONE ESTABLISHED",
		"< . 5001 1001                    | * * * * GONE ESTABLISHED",
		"> R 900000 0                     | * * * * GONE ESTABLISHED",
		"> R 1001 0                       | * * * * GONE GONE?",
	)},
	{name: "RST, then an ACK its sender sent before it, delayed on the way: the server's silence proves nothing", steps: open(
		"< P. 5001 1001 len=449           | * * * * ESTABLISHED ESTABLISHED",
		"> R. 1001 5450                   | * * * * GONE GONE?",
		"> . 1001 5450 t=0.03             | * * * * GONE GONE?",
		"> . 1001 5450 t=5                | * * * * GONE GONE?",
	)},
	{name: "RST taking the only ACK of the server's data: its silence confirms it", steps: open(
		"< P. 5001 1001 len=449           | * * * * ESTABLISHED ESTABLISHED",
		"> R. 1001 5450                   | * * * * GONE GONE?",
		"> R. 1001 5450 t=5               | * * * * GONE GONE",
	)},
	{name: "RST at rcv_nxt - 1 is taken in CLOSE_WAIT", steps: open(
		"> F. 1001 5001                   | * * * * FIN_WAIT1 CLOSE_WAIT?",
		"< . 5001 1002                    | * * * * FIN_WAIT2? CLOSE_WAIT",
		"> R 1001 0                       | * * * * GONE GONE?",
	)},
	{name: "RST to TIME_WAIT: only the exact one ends it", steps: open(
		"> F. 1001 5001                   | * * * * FIN_WAIT1 CLOSE_WAIT?",
		"< F. 5001 1002                   | * * * * TIME_WAIT? LAST_ACK",
		"> . 1002 5002                    | * * * * TIME_WAIT GONE?",
		"< R 5010 0                       | * * * * TIME_WAIT GONE",
		"< R 5002 0                       | * * * * GONE? GONE",
	)},
	{name: "FIN after a hole: the server's SACK shows it holds the FIN out of order", steps: open(
		"> P. 1001 5001 len=100           | * * * * ESTABLISHED ESTABLISHED?",
		"> FP. 1101 5001 len=100          | * * * * FIN_WAIT1 CLOSE_WAIT?",
		"< . 5001 1001 sack=1202          | * * * * FIN_WAIT1 ESTABLISHED",
		"> P. 1001 5001 len=100 t=0.3     | * * * * FIN_WAIT1 ESTABLISHED",
		"< . 5001 1202                    | * * * * FIN_WAIT2? CLOSE_WAIT",
	)},
	{name: "pickup: FINs first still tell both sides", steps: []string{
		"> F. 1001 5001                   | * * * * - -",
		"< . 5001 1002                    | * * * * - -",
		"< F. 5001 1002                   | * * * * TIME_WAIT? LAST_ACK",
		"> . 1002 5002                    | * * * * TIME_WAIT GONE?",
	}},
	{name: "pickup mid-stream: unknown until both sides are seen sending", steps: []string{
		"> . 1001 5001                    | * * * * - -",
		"< P. 5001 1001 len=10            | * * * * - -",
		"> P. 1001 5011 len=10            | * * * * ESTABLISHED ESTABLISHED",
	}},
	{name: "pickup of a half-closed connection: the wire cannot tell", steps: []string{
		"< P. 5001 1002 len=100           | * * * * - -",
		"> . 1002 5101                    | * * * * - -",
		"< P. 5101 1002 len=100           | * * * * - -",
		"> . 1002 5201                    | * * * * - -",
	}},
	{name: "SYN-ACK with the wrong ACK: the client stays in SYN_SENT and resets it", steps: []string{
		"> S 1000 0                       | * * * * SYN_SENT -",
		"< S. 5000 777                    | * * * * SYN_SENT SYN_RECV",
		"> R 777 0                        | * * * * SYN_SENT GONE?",
	}},
	{name: "refused: RST+ACK to the SYN", steps: []string{
		"> S 1000 0                       | * * * * SYN_SENT -",
		"< R. 0 1001                      | * * * * GONE? GONE",
		"< R. 0 1001 t=5                  | * * * * GONE GONE",
	}},
	{name: "data to an orphaned FIN_WAIT2 gets a RST", steps: open(
		"> F. 1001 5001                   | * * * * FIN_WAIT1 CLOSE_WAIT?",
		"< . 5001 1002                    | * * * * FIN_WAIT2? CLOSE_WAIT",
		"< P. 5001 1002 len=10            | * * * * FIN_WAIT2? CLOSE_WAIT",
		"> R 1002 0                       | * * * * GONE GONE?",
	)},
	{name: "a half-closed client still reads: FIN_WAIT2 without a timer", steps: open(
		"> F. 1001 5001                   | * * * * FIN_WAIT1 CLOSE_WAIT?",
		"< . 5001 1002                    | * * * * FIN_WAIT2? CLOSE_WAIT",
		"< P. 5001 1002 len=10            | * * * * FIN_WAIT2? CLOSE_WAIT",
		"> . 1002 5011                    | * * * * FIN_WAIT2 CLOSE_WAIT",
		"< P. 5011 1002 len=10 t=100      | * * * * FIN_WAIT2 CLOSE_WAIT",
	)},
}

func TestHostScenarios(t *testing.T) {
	var out []string
	for _, sc := range hostScenarios {
		out = append(out, "== "+sc.name)
		out = append(out, runScenario(t, sc, nil)...)
	}
	golden(t, "hosts.golden", strings.Join(out, "\n")+"\n")
}

// TestHostTimers checks each host timer against the schedules measured on
// Linux 6.18 (the kernel corpus judges the same with real sockets).
func TestHostTimers(t *testing.T) {
	cfg := DefaultHostConfig()
	sec := func(s float64) int64 { return int64(s * 1e9) }
	type probe struct {
		at    float64 // seconds
		state SockState
		left  float64 // seconds, -1: no timer
		conf  bool
	}
	cases := []struct {
		name  string
		cfg   func(*HostConfig)
		side  Dir
		steps []struct {
			at  float64
			dir Dir
			seg Segment
		}
		probes []probe
	}{
		{
			name: "SYN_SENT: retransmissions 1 s apart, then doubling, gone after syn_retries+linear",
			cfg:  func(c *HostConfig) { c.SynRetries = 2 },
			steps: []struct {
				at  float64
				dir Dir
				seg Segment
			}{
				{0, Original, Segment{Flags: SYN, Seq: 1000}},
				{1, Original, Segment{Flags: SYN, Seq: 1000}},
				{2, Original, Segment{Flags: SYN, Seq: 1000}},
				{3, Original, Segment{Flags: SYN, Seq: 1000}},
				{4, Original, Segment{Flags: SYN, Seq: 1000}},
				{5, Original, Segment{Flags: SYN, Seq: 1000}},
				{7, Original, Segment{Flags: SYN, Seq: 1000}},
			},
			probes: []probe{{0.5, SockSynSent, 0.5, true}, {6, SockSynSent, 1, true}, {10.5, SockSynSent, 0.5, true},
				{11.01, SockSynSent, 0, false}, {12, SockGone, -1, true}},
		},
		{
			name: "SYN_SENT: a missing retransmission means the application gave up",
			steps: []struct {
				at  float64
				dir Dir
				seg Segment
			}{
				{0, Original, Segment{Flags: SYN, Seq: 1000}},
				{1, Original, Segment{Flags: SYN, Seq: 1000}},
			},
			probes: []probe{{1.9, SockSynSent, 0.1, true}, {2.5, SockGone, -1, false}},
		},
		{
			name: "SYN_RECV: SYN-ACK at 0, 1, 3 s, dropped at 7 s with synack_retries 2",
			cfg:  func(c *HostConfig) { c.SynackRetries = 2 },
			side: Reply,
			steps: []struct {
				at  float64
				dir Dir
				seg Segment
			}{
				{0, Original, Segment{Flags: SYN, Seq: 1000}},
				{0.001, Reply, Segment{Flags: SYN | ACK, Seq: 5000, Ack: 1001}},
				{1.001, Reply, Segment{Flags: SYN | ACK, Seq: 5000, Ack: 1001}},
				{3.001, Reply, Segment{Flags: SYN | ACK, Seq: 5000, Ack: 1001}},
			},
			probes: []probe{{0.5, SockSynRecv, 0.501, true}, {2, SockSynRecv, 1.001, true}, {6, SockSynRecv, 1.001, true},
				{7.1, SockSynRecv, 0, false}, {9, SockGone, -1, true}},
		},
		{
			// The final ACK was seen, but the host spoke after it (before
			// it arrived: a bridge delayed it): back in LAST_ACK, and its
			// FIN, never sent again, says the ACK arrived after all.
			name: "LAST_ACK: the host speaks after its final ACK was seen; its FIN does not come again: gone",
			steps: []struct {
				at  float64
				dir Dir
				seg Segment
			}{
				{0, Original, Segment{Flags: SYN, Seq: 1000}},
				{0.0001, Reply, Segment{Flags: SYN | ACK, Seq: 5000, Ack: 1001}},
				{0.0002, Original, Segment{Flags: ACK, Seq: 1001, Ack: 5001}},
				{0.001, Reply, Segment{Flags: FIN | ACK, Seq: 5001, Ack: 1001}},
				{0.0012, Original, Segment{Flags: ACK, Seq: 1001, Ack: 5002}},
				{0.002, Original, Segment{Flags: FIN | ACK, Seq: 1001, Ack: 5002}},
				{0.0022, Reply, Segment{Flags: ACK, Seq: 5002, Ack: 1002}},
				{0.009, Original, Segment{Flags: ACK, Seq: 1002, Ack: 5002}},
			},
			probes: []probe{{0.01, SockLastAck, -1, false}, {2, SockGone, -1, true}},
		},
		{
			name: "LAST_ACK: the host speaks after its final ACK was seen, then sends its FIN again: the ACK was lost",
			steps: []struct {
				at  float64
				dir Dir
				seg Segment
			}{
				{0, Original, Segment{Flags: SYN, Seq: 1000}},
				{0.0001, Reply, Segment{Flags: SYN | ACK, Seq: 5000, Ack: 1001}},
				{0.0002, Original, Segment{Flags: ACK, Seq: 1001, Ack: 5001}},
				{0.001, Reply, Segment{Flags: FIN | ACK, Seq: 5001, Ack: 1001}},
				{0.0012, Original, Segment{Flags: ACK, Seq: 1001, Ack: 5002}},
				{0.002, Original, Segment{Flags: FIN | ACK, Seq: 1001, Ack: 5002}},
				{0.0022, Reply, Segment{Flags: ACK, Seq: 5002, Ack: 1002}},
				{0.009, Original, Segment{Flags: ACK, Seq: 1002, Ack: 5002}},
				{0.25, Original, Segment{Flags: FIN | ACK, Seq: 1001, Ack: 5002}},
			},
			probes: []probe{{0.26, SockLastAck, -1, true}, {5, SockLastAck, -1, true}},
		},
		{
			name: "TIME_WAIT: 60 s, then gone once the timer wheel fired",
			steps: []struct {
				at  float64
				dir Dir
				seg Segment
			}{
				{0, Original, Segment{Flags: SYN, Seq: 1000}},
				{0, Reply, Segment{Flags: SYN | ACK, Seq: 5000, Ack: 1001}},
				{0, Original, Segment{Flags: ACK, Seq: 1001, Ack: 5001}},
				{1, Original, Segment{Flags: FIN | ACK, Seq: 1001, Ack: 5001}},
				{1, Reply, Segment{Flags: FIN | ACK, Seq: 5001, Ack: 1002}},
				{1, Original, Segment{Flags: ACK, Seq: 1002, Ack: 5002}},
			},
			probes: []probe{{2, SockTimeWait, 59, true}, {60.5, SockTimeWait, 0.5, true}, {61.5, SockTimeWait, 0, false},
				{64, SockGone, -1, true}},
		},
		{
			name: "orphaned FIN_WAIT2: tcp_fin_timeout, unconfirmed (close() or shutdown()?)",
			cfg:  func(c *HostConfig) { c.FinTimeout = 10 * time.Second },
			steps: []struct {
				at  float64
				dir Dir
				seg Segment
			}{
				{0, Original, Segment{Flags: SYN, Seq: 1000}},
				{0, Reply, Segment{Flags: SYN | ACK, Seq: 5000, Ack: 1001}},
				{0, Original, Segment{Flags: ACK, Seq: 1001, Ack: 5001}},
				{1, Original, Segment{Flags: FIN | ACK, Seq: 1001, Ack: 5001}},
				{1, Reply, Segment{Flags: ACK, Seq: 5001, Ack: 1002}},
			},
			probes: []probe{{5, SockFinWait2, 6, false}, {12, SockGone, -1, false}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			if tc.cfg != nil {
				tc.cfg(&c)
			}
			var h Hosts
			next := 0
			for _, p := range tc.probes {
				for ; next < len(tc.steps) && tc.steps[next].at <= p.at; next++ {
					st := tc.steps[next]
					seg := st.seg
					h.Update(&c, st.dir, &seg, sec(st.at))
				}
				so := h.Socket(&c, tc.side, sec(p.at))
				left := -1.0
				if so.Timer != TimerNone {
					left = so.Left.Seconds()
				}
				if so.State != p.state || so.Confirmed != p.conf || (left < 0) != (p.left < 0) || left-p.left > 0.01 || p.left-left > 0.01 {
					t.Errorf("at %.3f s: %v confirmed=%v timer %.3f s, want %v confirmed=%v timer %.3f s", p.at, so.State, so.Confirmed, left, p.state, p.conf, p.left)
				}
			}
		})
	}
}
