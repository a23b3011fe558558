package fsm

import (
	"fmt"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		f    Flags
		want class
	}{
		{SYN, clsSYN}, {SYN | ACK, clsSYNACK}, {SYN | URG, clsSYN}, {FIN | ACK, clsFIN},
		{ACK, clsACK}, {ACK | PSH, clsACK}, {RST, clsRST}, {RST | ACK, clsRST},
		{RST | SYN | FIN, clsRST}, {0, clsNone}, {URG, clsNone}, {FIN, clsFIN},
	} {
		if got := classify(tc.f); got != tc.want {
			t.Errorf("classify(%v) = %v, want %v", tc.f, got, tc.want)
		}
	}
}

func TestValidFlags(t *testing.T) {
	valid := map[Flags]bool{
		SYN: true, SYN | URG: true, SYN | ACK: true, RST: true, RST | ACK: true,
		FIN | ACK: true, FIN | ACK | URG: true, ACK: true, ACK | URG: true,
	}
	for f := 0; f < 256; f++ {
		core := Flags(f) &^ (PSH | ECE | CWR)
		if got := validFlags(Flags(f)); got != valid[core] {
			t.Errorf("validFlags(%v) = %v, want %v", Flags(f), got, valid[core])
		}
	}
}

// Probe matrix: from each state, one packet of every (direction, class),
// with the verdict, resulting state and timer worked out from the kernel's
// nf_conntrack_tcp_packet by hand. Sequence numbers are the in-window ones
// for the state, so the outcome shows the table plus its special rules.
var probePrefix = map[State][]string{
	SynSent:     {"> S 1000 0 | * * * * * *"},
	SynRecv:     {"> S 1000 0 | * * * * * *", "< S. 5000 1001 | * * * * * *"},
	Established: handshakeAny,
	FinWait:     append(handshakeAny, "> F. 1001 5001 | * FIN_WAIT * * * *"),
	CloseWait:   append(handshakeAny, "> F. 1001 5001 | * FIN_WAIT * * * *", "< . 5001 1002 | * CLOSE_WAIT * * * *"),
	LastAck:     append(handshakeAny, "> F. 1001 5001 | * FIN_WAIT * * * *", "< . 5001 1002 | * CLOSE_WAIT * * * *", "< F. 5001 1002 | * LAST_ACK * * * *"),
	TimeWait:    append(handshakeAny, "> F. 1001 5001 | * FIN_WAIT * * * *", "< F. 5001 1002 | * LAST_ACK * * * *", "> . 1002 5002 | * TIME_WAIT * * * *"),
	Close:       append(handshakeAny, "> R 1001 0 | * CLOSE * * * *"),
	SynSent2:    {"> S 1000 0 | * * * * * *", "< S 5000 0 | * SYN_SENT2 * * * *"},
}

var handshakeAny = []string{"> S 1000 0 | * * * * * *", "< S. 5000 1001 | * * * * * *", "> . 1001 5001 | * ESTABLISHED * * * *"}

// probes[state] lists "packet | verdict state timeout" for the ten
// (direction, class) pairs: orig SYN, SYN-ACK, FIN, ACK, RST, then reply.
var probes = map[State][10]string{
	SynSent: {
		"> S 1000 0 | accept SYN_SENT -", // retransmit: no renewal before a reply
		"> S. 1000 0 | invalid SYN_SENT -",
		"> F. 1001 0 | invalid SYN_SENT -",
		"> . 1001 0 | invalid SYN_SENT -",
		"> R 1001 0 | kill CLOSE -",
		"< S 5000 0 | accept SYN_SENT2 -", // simultaneous open, still a SYN in SYN_SENT: no renewal
		"< S. 5000 1001 | accept SYN_RECV 60",
		"< F. 5001 1001 | invalid SYN_SENT -",
		"< . 5001 1001 | ignore SYN_SENT -", // possible challenge ACK / half-open
		"< R. 5001 1001 | kill CLOSE -",
	},
	SynRecv: {
		"> S 1000 0 | ignore SYN_RECV -",
		"> S. 1000 5001 | accept SYN_RECV 60", // late SYN-ACK of a simultaneous open
		"> F. 1001 5001 | accept FIN_WAIT 120",
		"> . 1001 5001 | accept ESTABLISHED 432000",
		"> R 1001 0 | accept CLOSE 10",
		"< S 5000 0 | invalid SYN_RECV -",
		"< S. 5000 1001 | ignore SYN_RECV -",
		"< F. 5001 1001 | accept FIN_WAIT 120",
		"< . 5001 1001 | accept SYN_RECV 60",
		"< R 5001 0 | accept CLOSE 10",
	},
	Established: {
		"> S 1000 0 | ignore ESTABLISHED -",
		"> S. 1000 5001 | invalid ESTABLISHED -",
		"> F. 1001 5001 | accept FIN_WAIT 120",
		"> . 1001 5001 | accept ESTABLISHED 432000",
		"> R 1001 0 | accept CLOSE 10",
		"< S 5000 0 | invalid ESTABLISHED -",
		"< S. 5000 1001 | ignore ESTABLISHED -",
		"< F. 5001 1001 | accept FIN_WAIT 120",
		"< . 5001 1001 | accept ESTABLISHED 432000",
		"< R 5001 0 | accept CLOSE 10",
	},
	FinWait: {
		"> S 1000 0 | ignore FIN_WAIT -",
		"> S. 1000 5001 | invalid FIN_WAIT -",
		"> F. 1001 5001 | accept LAST_ACK 30",  // conntrack cannot tell a FIN retransmit
		"> . 1002 5001 | accept CLOSE_WAIT 60", // nor whose ACK it is
		"> R 1002 0 | accept CLOSE 10",
		"< S 5000 0 | invalid FIN_WAIT -",
		"< S. 5000 1001 | ignore FIN_WAIT -",
		"< F. 5001 1002 | accept LAST_ACK 30",
		"< . 5001 1002 | accept CLOSE_WAIT 60",
		"< R 5001 0 | accept CLOSE 10",
	},
	CloseWait: {
		"> S 1000 0 | ignore CLOSE_WAIT -",
		"> S. 1000 5001 | invalid CLOSE_WAIT -",
		"> F. 1001 5001 | accept LAST_ACK 30",
		"> . 1002 5001 | accept CLOSE_WAIT 60",
		"> R 1002 0 | accept CLOSE 10",
		"< S 5000 0 | invalid CLOSE_WAIT -",
		"< S. 5000 1001 | ignore CLOSE_WAIT -",
		"< F. 5001 1002 | accept LAST_ACK 30",
		"< . 5001 1002 | accept CLOSE_WAIT 60",
		"< R 5001 0 | accept CLOSE 10",
	},
	LastAck: {
		"> S 1000 0 | ignore LAST_ACK -",
		"> S. 1000 5002 | invalid LAST_ACK -",
		"> F. 1001 5002 | accept LAST_ACK 30",
		"> . 1002 5002 | accept TIME_WAIT 120",
		"> R 1002 0 | accept CLOSE 10",
		"< S 5000 0 | invalid LAST_ACK -",
		"< S. 5000 1001 | ignore LAST_ACK -",
		"< F. 5001 1002 | accept LAST_ACK 30",
		"< . 5002 1002 | accept TIME_WAIT 120", // same side as the last packet: not a challenge ACK
		"< R 5002 0 | accept CLOSE 10",
	},
	TimeWait: {
		"> S 1000 0 | reopen SYN_SENT 120",
		"> S. 1000 5002 | invalid TIME_WAIT -",
		"> F. 1001 5002 | accept TIME_WAIT 120",
		"> . 1002 5002 | accept TIME_WAIT 120",
		"> R 1002 0 | accept CLOSE 10",
		"< S 5000 0 | reopen SYN_SENT 120",
		"< S. 5000 1002 | ignore TIME_WAIT -",
		"< F. 5001 1002 | accept TIME_WAIT 120",
		"< . 5002 1002 | accept TIME_WAIT 120",
		"< R 5002 0 | accept CLOSE 10",
	},
	Close: {
		"> S 1000 0 | reopen SYN_SENT 120", // the last packet was A's RST
		"> S. 1000 5001 | invalid CLOSE -",
		"> F. 1001 5001 | accept CLOSE 10",
		"> . 1001 5001 | accept CLOSE 10",
		"> R 1001 0 | accept CLOSE 10",
		"< S 5000 0 | invalid CLOSE -",
		"< S. 5000 1001 | ignore CLOSE -",
		"< F. 5001 1001 | accept CLOSE 10",
		"< . 5001 1001 | accept CLOSE 10",
		"< R 5001 0 | accept CLOSE 10",
	},
	SynSent2: {
		"> S 1000 0 | accept SYN_SENT2 120", // seen reply now: renewed
		"> S. 1000 5001 | accept SYN_RECV 60",
		"> F. 1001 5001 | invalid SYN_SENT2 -",
		"> . 1001 5001 | invalid SYN_SENT2 -",
		"> R 1001 0 | accept CLOSE 10",
		"< S 5000 0 | accept SYN_SENT2 120",
		"< S. 5000 1001 | accept SYN_RECV 60",
		"< F. 5001 1001 | invalid SYN_SENT2 -",
		"< . 5001 1001 | ignore SYN_SENT2 -",
		"< R 5001 0 | accept CLOSE 10",
	},
}

var firstPackets = []string{
	"> S 1000 0 | accept SYN_SENT 120 - SYN_SENT -",
	"> S. 1000 1 | nostart * * * * *",
	"> F. 1000 1 | nostart * * * * *",
	"> . 1000 1 | accept ESTABLISHED 300 - - -",
	"> R 1000 0 | nostart * * * * *",
}

// probeScenarios turns firstPackets and the probe matrix into scenarios.
func probeScenarios() []scenario {
	var out []scenario
	for i, p := range firstPackets {
		out = append(out, scenario{name: fmt.Sprintf("first packet %d", i+1), steps: []string{p}})
	}
	for st := SynSent; st < numStates; st++ {
		for i, p := range probes[st] {
			lhs, rhs, _ := strings.Cut(p, "|")
			steps := append(append([]string(nil), probePrefix[st]...), lhs+"|"+rhs+" * * *")
			out = append(out, scenario{name: fmt.Sprintf("%v probe %d", st, i+1), steps: steps})
		}
	}
	return out
}

func TestTransitionCells(t *testing.T) {
	var cells [2][numClasses][numStates]bool
	for _, sc := range scenarios {
		runScenario(t, sc, &cells)
	}
	var out []string
	for _, sc := range probeScenarios() {
		out = append(out, "== "+sc.name)
		out = append(out, runScenario(t, sc, &cells)...)
	}
	golden(t, "probes.golden", strings.Join(out, "\n")+"\n")
	for d := Original; d <= Reply; d++ {
		for c := clsSYN; c < clsNone; c++ { // NONE never passes the flag check
			for s := None; s < numStates; s++ {
				if s == None && d == Reply {
					continue // a first packet is ORIGINAL by definition
				}
				if !cells[d][c][s] {
					t.Errorf("transition cell [%v][%v][%v] not exercised", d, c, s)
				}
			}
		}
	}
}
