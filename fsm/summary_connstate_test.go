package fsm

import "testing"

// TestSummaryConnState covers every conn_state value. Each expectation was
// worked out by hand from Zeek's endpoint state machine and the
// conn_state function of base/protocols/conn/main.zeek.
func TestSummaryConnState(t *testing.T) {
	cases := []struct {
		name    string
		steps   []sstep
		state   string
		history string
	}{
		{"S0 lone SYN", []sstep{sSyn}, "S0", "S"},
		{"S0 SYN repeated, same ISN", []sstep{sSyn, sSyn}, "S0", "S"},
		// Zeek re-bases the sequence space on a SYN with a new ISN, so
		// its relative number is again 0: not a new S.
		{"S0 SYN repeated, new ISN", []sstep{sSyn, {dir: O, flags: SYN, seq: 7777}}, "S0", "S"},
		{"S1 handshake only", withHS(), "S1", "ShA"},
		{"S1 with data", withHS(sstep{dir: O, flags: PSH | ACK, seq: 1001, ack: 5001, n: 10}, sstep{dir: R, flags: ACK, seq: 5001, ack: 1011}), "S1", "ShADa"},
		{"SF normal close", withHS(
			sstep{dir: O, flags: PSH | ACK, seq: 1001, ack: 5001, n: 10},
			sstep{dir: R, flags: ACK, seq: 5001, ack: 1011},
			sstep{dir: R, flags: PSH | ACK, seq: 5001, ack: 1011, n: 20},
			sstep{dir: O, flags: ACK, seq: 1011, ack: 5021},
			sstep{dir: O, flags: FIN | ACK, seq: 1011, ack: 5021},
			sstep{dir: R, flags: FIN | ACK, seq: 5021, ack: 1012},
			sstep{dir: O, flags: ACK, seq: 1012, ack: 5022},
		), "SF", "ShADadFf"},
		{"REJ RST answers SYN", []sstep{sSyn, {dir: R, flags: RST | ACK, seq: 0, ack: 1001}}, "REJ", "Sr"},
		{"S2 originator closes alone", withHS(sstep{dir: O, flags: FIN | ACK, seq: 1001, ack: 5001}), "S2", "ShAF"},
		{"S3 responder closes alone", withHS(sstep{dir: R, flags: FIN | ACK, seq: 5001, ack: 1001}), "S3", "ShAf"},
		{"RSTO originator aborts", withHS(sstep{dir: O, flags: RST | ACK, seq: 1001, ack: 5001}), "RSTO", "ShAR"},
		{"RSTR responder aborts", withHS(sstep{dir: R, flags: RST | ACK, seq: 5001, ack: 1001}), "RSTR", "ShAr"},
		{"RSTOS0 SYN then own RST", []sstep{sSyn, {dir: O, flags: RST, seq: 1001}}, "RSTOS0", "SR"},
		{"RSTRH midstream then responder RST", []sstep{
			{dir: O, flags: ACK, seq: 1001, ack: 5001},
			{dir: R, flags: RST, seq: 5001},
		}, "RSTRH", "Ar"},
		{"SH SYN then FIN", []sstep{sSyn, {dir: O, flags: FIN, seq: 1001}}, "SH", "SF"},
		{"SHR midstream then responder FIN", []sstep{
			{dir: O, flags: ACK, seq: 1001, ack: 5001},
			{dir: R, flags: FIN | ACK, seq: 5001, ack: 1001},
		}, "SHR", "Af"},
		{"OTH midstream data", []sstep{
			{dir: O, flags: PSH | ACK, seq: 1001, ack: 5001, n: 5},
			{dir: R, flags: PSH | ACK, seq: 5001, ack: 1006, n: 5},
		}, "OTH", "Dd"},
		{"OTH originator RST midstream", []sstep{
			{dir: O, flags: PSH | ACK, seq: 1001, ack: 5001, n: 5},
			{dir: O, flags: RST, seq: 1006},
		}, "OTH", "DR"},
		{"REJ both reset, nothing sent", withHS(
			sstep{dir: O, flags: RST, seq: 1001},
			sstep{dir: R, flags: RST, seq: 5001},
		), "REJ", "ShARr"},
		{"SF FIN then RST from the peer", withHS(
			sstep{dir: O, flags: FIN | ACK, seq: 1001, ack: 5001},
			sstep{dir: R, flags: FIN | ACK, seq: 5001, ack: 1002},
			sstep{dir: O, flags: RST, seq: 1002},
		), "SF", "ShAFfR"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := runSummary(c.steps)
			if got := s.ConnState().String(); got != c.state {
				t.Errorf("conn_state %s, want %s (history %s)", got, c.state, s.History())
			}
			if got := s.History(); got != c.history {
				t.Errorf("history %q, want %q", got, c.history)
			}
		})
	}
	// Every value of the type is covered above.
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.state] = true
	}
	for z := ZeekOTH; z < numZeekStates; z++ {
		if !seen[z.String()] {
			t.Errorf("no case for %v", z)
		}
	}
}

func TestZeekStateNames(t *testing.T) {
	for z := ZeekOTH; z < numZeekStates; z++ {
		if z.String() == "?" || z.String() == "" {
			t.Errorf("state %d has no name", z)
		}
	}
	if ZeekState(200).String() != "?" {
		t.Errorf("out of range state named")
	}
}
