package fsm

import (
	"strings"
	"testing"
)

// Socket-state sequences. Conntrack columns are wildcarded where they are
// not the point; see conn_test.go for those.
var endpointScenarios = []scenario{
	{name: "server SYN-ACK then client ACK", steps: []string{
		"> S 1000 0                 | * * * * SYN_SENT -",
		"< S. 5000 1001             | * * * * ESTABLISHED SYN_RECV",
		"> . 1001 5001              | * * * * ESTABLISHED ESTABLISHED",
	}},
	{name: "SYN-ACK acknowledging something else does not establish", steps: []string{
		"> S 1000 0                 | * * * * SYN_SENT -",
		"< S. 5000 900              | * SYN_RECV * * SYN_SENT SYN_RECV",
	}},
	{name: "handshake ACK lost: data from the client establishes the server", steps: []string{
		"> S 1000 0                 | * * * * SYN_SENT -",
		"< S. 5000 1001             | * * * * ESTABLISHED SYN_RECV",
		"> P. 1001 5001 len=10      | * ESTABLISHED * * ESTABLISHED ESTABLISHED",
	}},
	{name: "FIN retransmits do not double-advance", steps: open(
		"> F. 1001 5001             | accept FIN_WAIT * * FIN_WAIT1 CLOSE_WAIT",
		// conntrack moves on (FIN seen twice = both FINs for it), the sockets do not
		"> F. 1001 5001             | accept LAST_ACK * * FIN_WAIT1 CLOSE_WAIT",
		"< . 5001 1002              | accept TIME_WAIT * * FIN_WAIT2 CLOSE_WAIT",
		"> F. 1001 5001             | accept TIME_WAIT * * FIN_WAIT2 CLOSE_WAIT",
		"< F. 5001 1002             | * * * * TIME_WAIT LAST_ACK",
		"< F. 5001 1002             | * * * * TIME_WAIT LAST_ACK",
		"> . 1002 5002              | * * * * TIME_WAIT CLOSE",
	)},
	{name: "ACK from the FIN sender itself does not half-close the peer", steps: open(
		"> F. 1001 5001             | accept FIN_WAIT * * FIN_WAIT1 CLOSE_WAIT",
		"> . 1002 5001              | accept CLOSE_WAIT * * FIN_WAIT1 CLOSE_WAIT",
	)},
	{name: "out-of-window FIN moves nobody", steps: open(
		"> F. 900000 5001           | invalid ESTABLISHED - * ESTABLISHED ESTABLISHED",
	)},
	{name: "ACK below the acked range does not complete a close", steps: open(
		"> P. 1001 5001 len=100     | * * * * ESTABLISHED ESTABLISHED",
		"> F. 1101 5001             | * FIN_WAIT * * FIN_WAIT1 CLOSE_WAIT",
		"< . 5001 1101              | * CLOSE_WAIT * * FIN_WAIT1 CLOSE_WAIT",
		"< . 5001 1102              | * CLOSE_WAIT * * FIN_WAIT2 CLOSE_WAIT",
	)},
	{name: "LAST_ACK needs the ACK of its own FIN", steps: open(
		"< F. 5001 1001             | * * * * CLOSE_WAIT FIN_WAIT1",
		"> F. 1001 5002             | * * * * LAST_ACK TIME_WAIT",
		"< . 5002 1001              | * * * * LAST_ACK TIME_WAIT",
		"< . 5002 1002              | * * * * CLOSE TIME_WAIT",
	)},
	{name: "RST from the server answers a data segment", steps: open(
		"< R 5001 0                 | accept CLOSE 10 * CLOSE CLOSE",
	)},
	{name: "pickup then close from the reply side", steps: []string{
		"> . 1000 5000              | * ESTABLISHED * - ESTABLISHED ESTABLISHED",
		"< F. 5000 1000             | * FIN_WAIT * * CLOSE_WAIT FIN_WAIT1",
		"> F. 1000 5001             | * LAST_ACK * * LAST_ACK TIME_WAIT",
		"< . 5001 1001              | * TIME_WAIT * * CLOSE TIME_WAIT",
	}},
	{name: "simultaneous open, ACKs after SYN-ACKs", steps: []string{
		"> S 1000 0                 | * * * * SYN_SENT -",
		"< S 5000 0                 | * SYN_SENT2 * * SYN_RECV SYN_RECV",
		"< S. 5000 1001             | accept SYN_RECV * * ESTABLISHED SYN_RECV",
		"> . 1001 5001              | accept ESTABLISHED * * ESTABLISHED ESTABLISHED",
	}},
}

func TestEndpointScenarios(t *testing.T) {
	var out []string
	for _, sc := range endpointScenarios {
		out = append(out, "== "+sc.name)
		out = append(out, runScenario(t, sc, nil)...)
	}
	golden(t, "endpoints.golden", strings.Join(out, "\n")+"\n")
}

func TestEndpointTable(t *testing.T) {
	for ev := epEvent(0); ev < numEpEvents; ev++ {
		for st := SockUnknown; st < numSockStates; st++ {
			e := endpoint{state: st}
			e.apply(ev)
			if e.state >= numSockStates {
				t.Errorf("event %d from %v gives invalid %d", ev, st, e.state)
			}
			if st != SockUnknown && e.state == SockUnknown {
				t.Errorf("event %d from %v forgets the state", ev, st)
			}
			// Applying an event twice equals applying it once, except
			// where a state legitimately chains (none here).
			once := e.state
			e.apply(ev)
			if e.state != once {
				t.Errorf("event %d from %v is not idempotent: %v then %v", ev, st, once, e.state)
			}
		}
	}
	// CLOSE is left only by a new SYN.
	for ev := epEvent(0); ev < numEpEvents; ev++ {
		e := endpoint{state: SockClose}
		e.apply(ev)
		if e.state != SockClose && ev != epSendSYN {
			t.Errorf("event %d leaves CLOSE for %v", ev, e.state)
		}
	}
}
