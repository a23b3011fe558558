package fsm

import (
	"strings"
	"testing"
)

// TestSummaryHistoryLetters checks the letters beyond the basic ones: the
// once-only ones (I, Q), repeats of S/F/R on new sequence numbers, and
// the logarithmic T/W/G counts.
func TestSummaryHistoryLetters(t *testing.T) {
	data := func(seq uint32, n uint32) sstep {
		return sstep{dir: O, flags: PSH | ACK, seq: seq, ack: 5001, n: n}
	}
	rexmit := func(k int) []sstep {
		out := withHS(data(1001, 100))
		for range k {
			out = append(out, data(1001, 100))
		}
		return out
	}
	zero := func(k int) []sstep {
		out := withHS()
		for range k {
			out = append(out, sstep{dir: R, flags: ACK, seq: 5001, ack: 1001, zeroWin: true})
		}
		return out
	}
	cases := []struct {
		name    string
		steps   []sstep
		history string
	}{
		{"FIN+RST is I", withHS(sstep{dir: O, flags: FIN | RST | ACK, seq: 1001, ack: 5001}), "ShAI"},
		{"SYN+FIN is Q", []sstep{{dir: O, flags: SYN | FIN, seq: 1000}}, "Q"},
		{"Q and I once each", []sstep{{dir: O, flags: SYN | FIN, seq: 1000}, {dir: O, flags: SYN | RST, seq: 1000}, {dir: O, flags: FIN | RST, seq: 1002}, {dir: O, flags: FIN | RST, seq: 1002}}, "QI"},
		{"1 retransmission", rexmit(1), "ShADT"},
		{"9 retransmissions", rexmit(9), "ShADT"},
		{"10 retransmissions", rexmit(10), "ShADTT"},
		{"100 retransmissions", rexmit(100), "ShADTTT"},
		{"zero window x1", zero(1), "ShAaw"},
		{"zero window x10", zero(10), "ShAaww"},
		{"no zero window with RST", withHS(sstep{dir: R, flags: RST, seq: 5001, zeroWin: true}), "ShAr"},
		{"FIN repeated at the same place", withHS(
			sstep{dir: O, flags: FIN | ACK, seq: 1001, ack: 5001},
			sstep{dir: O, flags: FIN | ACK, seq: 1001, ack: 5001},
		), "ShAF"},
		{"FIN repeated further on", withHS(
			sstep{dir: O, flags: FIN | ACK, seq: 1001, ack: 5001},
			sstep{dir: O, flags: FIN | ACK, seq: 1001, ack: 5001, n: 5},
		), "ShAFF"},
		{"RST repeated with new seq", withHS(
			sstep{dir: R, flags: RST, seq: 5001},
			sstep{dir: R, flags: RST, seq: 5002},
		), "ShArr"},
		{"SYN-ACK repeated", []sstep{sSyn, sSynAck, sSynAck, sAck}, "ShA"},
		// After a FIN the numbers are not re-based: a new ISN shows.
		{"SYN after own FIN, new ISN", []sstep{sSyn, {dir: O, flags: FIN, seq: 1001}, {dir: O, flags: SYN, seq: 7777}}, "SFS"},
		{"gap: ACK beyond unseen data", withHS(
			data(1001, 100),
			// 1101..1200 never seen
			data(1201, 100),
			sstep{dir: R, flags: ACK, seq: 5001, ack: 1301},
		), "ShADaG"},
		{"no gap for a midstream pickup", []sstep{
			{dir: O, flags: PSH | ACK, seq: 1001, ack: 5001, n: 10},
			{dir: R, flags: ACK, seq: 5001, ack: 2000},
		}, "Da"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := runSummary(c.steps).History(); got != c.history {
				t.Errorf("history %q, want %q", got, c.history)
			}
		})
	}
}

func TestSummaryHistoryBounded(t *testing.T) {
	// FINs at ever new places each add an F.
	steps := []sstep{sSyn}
	for i := range 200 {
		steps = append(steps, sstep{dir: O, flags: FIN | ACK, seq: uint32(1001 + i*7), ack: 5001})
	}
	h := runSummary(steps).History()
	if len(h) != histCap || h[0] != 'S' || strings.Trim(h[1:], "F") != "" {
		t.Errorf("history %q: want S and %d F", h, histCap-1)
	}
}
