package fsm

import (
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/tcptrack/tcptrack/internal/testutil"
)

// Handshake used by most scenarios: A (ISN 1000) opens to B (ISN 5000).
var handshake = []string{
	"> S 1000 0                       | accept SYN_SENT 120 - SYN_SENT - ev=state",
	"< S. 5000 1001                   | accept SYN_RECV 60 R ESTABLISHED SYN_RECV ev=state,seen-reply",
	"> . 1001 5001                    | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED ev=state,assured",
}

func open(steps ...string) []string { return append(append([]string(nil), handshake...), steps...) }

var scenarios = []scenario{
	{name: "open, data, close by A, B combines FIN+ACK, reopen", steps: open(
		"> P. 1001 5001 len=100           | accept ESTABLISHED 300 RA ESTABLISHED ESTABLISHED ev=none",
		"< . 5001 1101                    | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED ev=none",
		"> F. 1101 5001                   | accept FIN_WAIT 120 RA FIN_WAIT1 CLOSE_WAIT ev=state",
		"< F. 5001 1102                   | accept LAST_ACK 30 RA TIME_WAIT LAST_ACK ev=state",
		"> . 1102 5002                    | accept TIME_WAIT 120 RA TIME_WAIT GONE? ev=state",
		"> . 1102 5002                    | accept TIME_WAIT 120 RA TIME_WAIT GONE? ev=none",
		"> S 9000 0                       | reopen SYN_SENT 120 - SYN_SENT GONE? ev=state",
	)},
	{name: "close by B, ACK and FIN separate", steps: open(
		"< F. 5001 1001                   | accept FIN_WAIT 120 RA CLOSE_WAIT FIN_WAIT1 ev=state",
		"> . 1001 5002                    | accept CLOSE_WAIT 60 RA CLOSE_WAIT FIN_WAIT2 ev=state",
		"> F. 1001 5002                   | accept LAST_ACK 30 RA LAST_ACK TIME_WAIT ev=state",
		"< . 5002 1002                    | accept TIME_WAIT 120 RA GONE? TIME_WAIT ev=state",
		// B's new SYN in TIME_WAIT reopens with the roles swapped.
		"< S 7000 0                       | reopen SYN_SENT 120 - GONE? SYN_SENT ev=state",
		"> S. 3000 7001                   | accept SYN_RECV 60 R SYN_RECV ESTABLISHED ev=state,seen-reply",
	)},
	{name: "half close: B keeps sending after A's FIN", steps: open(
		"> F. 1001 5001                   | accept FIN_WAIT 120 RA FIN_WAIT1 CLOSE_WAIT ev=state",
		"< . 5001 1002                    | accept CLOSE_WAIT 60 RA FIN_WAIT2 CLOSE_WAIT ev=state",
		"< P. 5001 1002 len=50            | accept CLOSE_WAIT 60 RA FIN_WAIT2 CLOSE_WAIT ev=none",
		"> . 1002 5051                    | accept CLOSE_WAIT 60 RA FIN_WAIT2 CLOSE_WAIT ev=none",
		"< F. 5051 1002                   | accept LAST_ACK 30 RA TIME_WAIT LAST_ACK ev=state",
		"< F. 5051 1002                   | accept LAST_ACK 30 RA TIME_WAIT LAST_ACK ev=none",
		"> . 1002 5052                    | accept TIME_WAIT 120 RA TIME_WAIT GONE? ev=state",
	)},
	{name: "simultaneous close", steps: open(
		"> F. 1001 5001                   | accept FIN_WAIT 120 RA FIN_WAIT1 CLOSE_WAIT ev=state",
		"< F. 5001 1001                   | accept LAST_ACK 30 RA CLOSING CLOSING ev=state",
		"> . 1002 5002                    | accept TIME_WAIT 120 RA CLOSING TIME_WAIT ev=state",
		"< . 5002 1002                    | accept TIME_WAIT 120 RA TIME_WAIT TIME_WAIT ev=none",
	)},
	{name: "refused: RST answering SYN kills the entry", steps: []string{
		"> S 1000 0                       | accept SYN_SENT 120 - SYN_SENT - ev=state",
		"< R. 0 1001 w=0                  | kill CLOSE - - GONE? GONE ev=none",
		"> S 1000 0                       | accept SYN_SENT 120 - GONE? GONE ev=state",
	}},
	{name: "SYN without answer, retransmits do not renew the timer", steps: []string{
		"> S 1000 0 mss=1460 ws=7 sp      | accept SYN_SENT 120 - SYN_SENT - ev=state",
		"> S 1000 0 mss=1460 ws=7 sp      | accept SYN_SENT - - SYN_SENT - ev=none",
		"> S 1000 0 mss=1460 ws=7 sp      | accept SYN_SENT - - SYN_SENT - ev=none",
		// A new ISN re-initialises A's window data, still no renewal.
		"> S 4000 0 mss=1460              | accept SYN_SENT - - SYN_SENT - ev=none",
		"< S. 5000 4001 mss=1460          | accept SYN_RECV 60 R ESTABLISHED SYN_RECV ev=state,seen-reply",
	}},
	{name: "abort by RST with exact sequence number", steps: open(
		"> R. 1001 5001                   | accept CLOSE 10 RA GONE GONE? ev=state",
		"< R 5001 0                       | accept CLOSE 10 RA GONE GONE ev=none",
		// last packet was an RST from B: B's SYN may reopen? No: REPLY SYN in CLOSE is invalid.
		"< S 7000 0                       | invalid CLOSE - RA GONE SYN_SENT",
		// A's SYN: no FIN was seen (no CLOSE_INIT) and the last RST came from B: ignored.
		"> S 9000 0                       | ignore CLOSE - RA SYN_RECV? SYN_RECV?",
	)},
	{name: "abort by A then A reopens", steps: open(
		"> R 1001 0                       | accept CLOSE 10 RA GONE GONE? ev=state",
		"> S 9000 0                       | reopen SYN_SENT 120 - SYN_SENT GONE? ev=state",
	)},
	{name: "RST sequence checks in an assured connection", steps: open(
		"> P. 1001 5001 len=100           | accept ESTABLISHED 300 RA ESTABLISHED ESTABLISHED",
		"< . 5001 1101                    | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED",
		// Below what B already acknowledged: invalid rst.
		"> R 1050 0                       | invalid ESTABLISHED - RA GONE ESTABLISHED",
		// In window but not exact: state kept (challenge ACK expected), timer to close.
		"> R 1200 0                       | accept ESTABLISHED 10 RA GONE ESTABLISHED ev=none",
		// That RST's sequence number moved A's td_end past what B acked.
		"< . 5001 1101                    | accept ESTABLISHED 300 RA GONE ESTABLISHED",
		// The exact one closes.
		"> R 1101 0                       | accept CLOSE 10 RA GONE GONE? ev=state",
	)},
	{name: "RST right behind own data closes", steps: open(
		"< . 5001 1001                    | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED",
		"> P. 1001 5001 len=19            | accept ESTABLISHED 300 RA ESTABLISHED ESTABLISHED",
		"> R. 1020 5001                   | accept CLOSE 10 RA GONE GONE? ev=state",
	)},
	{name: "ignore_invalid_rst lets an old RST through to the window check",
		cfg: func(c *Config) { c.IgnoreInvalidRST = true },
		steps: open(
			"> P. 1001 5001 len=100           | accept ESTABLISHED 300 RA ESTABLISHED ESTABLISHED",
			"< . 5001 1101                    | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED",
			"> R 1050 0                       | accept ESTABLISHED 10 RA GONE ESTABLISHED ev=none",
		)},
	{name: "out of window data and FIN/RST, timer shrink", steps: open(
		"> P. 200000 5001 len=10          | invalid ESTABLISHED - RA ESTABLISHED ESTABLISHED",
		"> . 1001 999999                  | invalid ESTABLISHED - RA ESTABLISHED ESTABLISHED",
		"> R 200000 0                     | invalid ESTABLISHED - RA GONE ESTABLISHED?",
		"< F. 900000 1001                 | invalid ESTABLISHED shrink300 RA GONE FIN_WAIT1",
		"< . 5001 1001                    | accept ESTABLISHED 432000 RA GONE FIN_WAIT1",
	)},
	{name: "old retransmission below the window is ignored", steps: open(
		"> P. 1001 5001 len=60000         | accept ESTABLISHED 300 RA ESTABLISHED ESTABLISHED",
		"< . 5001 61001                   | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED",
		"> P. 61001 5001 len=60000        | accept ESTABLISHED 300 RA ESTABLISHED ESTABLISHED",
		"< . 5001 121001                  | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED",
		"> P. 1001 5001 len=100           | ignore ESTABLISHED - RA ESTABLISHED ESTABLISHED ev=none",
	)},
	{name: "SYN-ACK resync after an ignored SYN with a new ISN", steps: open(
		"> S 7000 0 mss=1460              | ignore ESTABLISHED - RA SYN_SENT ESTABLISHED? ev=none",
		"< S. 8000 7001 mss=1460          | accept SYN_RECV 60 RA ESTABLISHED SYN_RECV ev=state",
		"> . 7001 8001                    | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED ev=state",
	)},
	{name: "SYN-ACK resync whose SACK fails the window check, then a good one", steps: []string{
		"> S 1000 0                       | accept SYN_SENT 120 - SYN_SENT - ev=state",
		"< S. 5000 1001                   | accept SYN_RECV 60 R ESTABLISHED SYN_RECV ev=state,seen-reply",
		"> S 9000 0 sp                    | ignore SYN_RECV - R SYN_SENT GONE? ev=none",
		// Rebuilds the window data from the SYN, then its SACK block
		// lies beyond A's data: rejected, the sockets stay.
		"< S. 5000 9001 sack=9100         | invalid SYN_RECV - R ESTABLISHED SYN_RECV",
		"< S. 5000 9001                   | accept SYN_RECV 60 R ESTABLISHED SYN_RECV ev=state",
		"> . 9001 5001                    | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED ev=state,assured",
	}},
	{name: "ignored SYN answered by RST", steps: open(
		"> S 7000 0                       | ignore ESTABLISHED - RA SYN_SENT ESTABLISHED?",
		"< R. 0 7001 w=0                  | accept CLOSE 10 RA GONE? GONE ev=state",
	)},
	{name: "simultaneous open", steps: []string{
		"> S 1000 0                       | accept SYN_SENT 120 - SYN_SENT - ev=state",
		"< S 5000 0                       | accept SYN_SENT2 - R SYN_RECV SYN_RECV ev=state,seen-reply",
		// SEEN_REPLY is set now, so a SYN retransmit renews the timer.
		"> S 1000 0                       | accept SYN_SENT2 120 R SYN_RECV SYN_RECV ev=none",
		"> S. 1000 5001                   | accept SYN_RECV 60 R SYN_RECV ESTABLISHED ev=state",
		"< S. 5000 1001                   | ignore SYN_RECV - R ESTABLISHED ESTABLISHED ev=none",
		"< . 5001 1001                    | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED ev=state,assured",
	}},
	{name: "mid-stream pickup", steps: []string{
		"> P. 1000 5000 len=100           | accept ESTABLISHED 300 - - - ev=state",
		"< . 5000 1100                    | accept ESTABLISHED 300 R - - ev=seen-reply",
		"> . 1100 5000                    | accept ESTABLISHED 432000 RA - - ev=assured",
		"> F. 1100 5000                   | accept FIN_WAIT 120 RA - - ev=state",
		"< F. 5000 1101                   | accept LAST_ACK 30 RA TIME_WAIT LAST_ACK ev=state",
		"> . 1101 5001                    | accept TIME_WAIT 120 RA TIME_WAIT GONE? ev=state",
	}},
	{name: "pickup is liberal: wild numbers pass", steps: []string{
		"> . 1000 5000                    | accept ESTABLISHED 300 - - -",
		"< P. 777777 123 len=10           | accept ESTABLISHED 300 R - -",
		"> . 99 4242                      | accept ESTABLISHED * RA - - ev=assured",
	}},
	{name: "loose off: no pickup", cfg: func(c *Config) { c.Loose = false }, steps: []string{
		"> P. 1000 5000 len=100           | nostart * * * * *",
		"> S 1000 0                       | accept SYN_SENT 120 - SYN_SENT -",
	}},
	{name: "liberal: out of window data accepted", cfg: func(c *Config) { c.Liberal = true }, steps: open(
		"> P. 200000 5001 len=10          | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED ev=none",
		"> . 1001 999999                  | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED",
	)},
	{name: "challenge ACK in LAST_ACK is not the last ACK", steps: open(
		"> F. 1001 5001                   | accept FIN_WAIT 120 RA FIN_WAIT1 CLOSE_WAIT",
		"< F. 5001 1002                   | accept LAST_ACK 30 RA TIME_WAIT LAST_ACK",
		"> S 9000 0                       | ignore LAST_ACK - RA SYN_SENT LAST_ACK",
		"< . 5002 1002                    | ignore LAST_ACK - RA SYN_SENT LAST_ACK ev=none",
		"> R 1002 0                       | accept CLOSE 10 RA SYN_SENT GONE? ev=state",
	)},
	{name: "challenge ACK answering a SYN, then RST and retry", steps: []string{
		"> S 1000 0                       | accept SYN_SENT 120 - SYN_SENT -",
		"< . 5000 77                      | ignore SYN_SENT - R SYN_SENT - ev=seen-reply",
		"> R 77 0                         | accept CLOSE 10 R SYN_SENT GONE? ev=state",
		"> S 1000 0                       | reopen SYN_SENT 120 - SYN_SENT GONE? ev=state",
	}},
	{name: "max_retrans: repeated identical ACKs shorten the timer", steps: open(
		"> . 1001 5001                    | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED",
		"> . 1001 5001                    | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED",
		"> . 1001 5001                    | accept ESTABLISHED 300 RA ESTABLISHED ESTABLISHED",
		"> . 1001 5001                    | accept ESTABLISHED 300 RA ESTABLISHED ESTABLISHED",
		"< . 5001 1001                    | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED",
	)},
	{name: "zero window", steps: open(
		"< . 5001 1001 w=0                | accept ESTABLISHED 300 RA ESTABLISHED ESTABLISHED",
		"> . 1001 5001                    | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED",
	)},
	{name: "bad flag combinations never start and are invalid later", steps: []string{
		"> SF 1000 0                      | nostart * * * * *",
		"> F 1000 0                       | nostart * * * * *",
		"> none 1000 0                    | nostart * * * * *",
		"> FPU 1000 0                     | nostart * * * * *",
		"> FSRPU.EW 1000 0                | nostart * * * * *",
		"> S. 1000 0                      | nostart * * * * *",
		"> R 1000 0                       | nostart * * * * *",
		"> F. 1000 0                      | nostart * * * * *",
		"> S 1000 0                       | accept SYN_SENT 120 - SYN_SENT -",
		"< S. 5000 1001                   | accept SYN_RECV 60 R ESTABLISHED SYN_RECV",
		"> . 1001 5001                    | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED",
		"> SF 1001 5001                   | invalid ESTABLISHED - RA ESTABLISHED ESTABLISHED",
		"> F 1001 0                       | invalid ESTABLISHED - RA ESTABLISHED ESTABLISHED",
		"> none 1001 0                    | invalid ESTABLISHED - RA ESTABLISHED ESTABLISHED",
		"> FPU 1001 0                     | invalid ESTABLISHED - RA ESTABLISHED ESTABLISHED",
		"> RF. 1001 5001                  | invalid ESTABLISHED - RA ESTABLISHED ESTABLISHED",
		"> SR 1001 0                      | invalid ESTABLISHED - RA ESTABLISHED ESTABLISHED",
		"> PEW. 1001 5001                 | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED",
		"> U. 1001 5001                   | accept ESTABLISHED * RA ESTABLISHED ESTABLISHED",
	}},
	{name: "window scaling only when both SYNs carry it", steps: []string{
		"> S 1000 0 mss=1460 ws=7 sp      | accept SYN_SENT 120 - SYN_SENT -",
		"< S. 5000 1001 mss=1460 sp       | accept SYN_RECV 60 R ESTABLISHED SYN_RECV",
		"> . 1001 5001 w=502              | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED",
		"< P. 5001 1001 len=1000          | accept ESTABLISHED 300 RA ESTABLISHED ESTABLISHED",
		// A's window is 502 unscaled: this starts past td_maxend (I fails)
		// but within A's largest window: ignored, td_end moved.
		"< P. 60001 1001 len=100          | ignore ESTABLISHED - RA ESTABLISHED ESTABLISHED",
		"< P. 600001 1001 len=100         | invalid ESTABLISHED - RA ESTABLISHED ESTABLISHED",
	}},
	{name: "window scaling on", steps: []string{
		"> S 1000 0 mss=1460 ws=7 sp      | accept SYN_SENT 120 - SYN_SENT -",
		"< S. 5000 1001 mss=1460 ws=7 sp  | accept SYN_RECV 60 R ESTABLISHED SYN_RECV",
		"> . 1001 5001 w=502              | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED",
		"< P. 5001 1001 len=1000          | accept ESTABLISHED 300 RA ESTABLISHED ESTABLISHED",
		// 502<<7 = 64256 bytes of window.
		"< P. 60001 1001 len=100          | accept ESTABLISHED 300 RA ESTABLISHED ESTABLISHED",
	}},
	{name: "SACK beyond the data seen only counts with SACK permitted", steps: []string{
		"> S 1000 0 mss=1460 sp           | accept SYN_SENT 120 - SYN_SENT -",
		"< S. 5000 1001 mss=1460 sp       | accept SYN_RECV 60 R ESTABLISHED SYN_RECV",
		"> . 1001 5001                    | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED",
		"< P. 5001 1001 len=100           | accept ESTABLISHED 300 RA ESTABLISHED ESTABLISHED",
		// A SACKs data B never sent: the right edge is over the upper bound.
		"> . 1001 5001 sack=6000          | invalid ESTABLISHED - RA ESTABLISHED ESTABLISHED",
		"> . 1001 5001 sack=5101          | accept ESTABLISHED 300 RA ESTABLISHED ESTABLISHED",
	}},
	{name: "TCP Fast Open: SYN carries data", steps: []string{
		"> S 1000 0 len=100 mss=1460      | accept SYN_SENT 120 - SYN_SENT - ev=state",
		"< S. 5000 1101 mss=1460          | accept SYN_RECV 60 R ESTABLISHED SYN_RECV ev=state,seen-reply",
		"> . 1101 5001                    | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED ev=state,assured",
	}},
	{name: "pickup starting from the server's data", steps: []string{
		"< P. 5000 1000 len=10            | accept ESTABLISHED 300 - - - ev=state",
		"> . 1000 5010                    | accept ESTABLISHED 300 R - - ev=seen-reply",
		"< . 5010 1000                    | accept ESTABLISHED 432000 RA - - ev=assured",
	}},
	{name: "RST+ACK with ack 0 from a broken stack", steps: open(
		"< R. 5001 0 w=0                  | accept CLOSE 10 RA GONE? GONE ev=state",
	)},
	{name: "FIN straight from SYN_RECV: never assured", steps: []string{
		"> S 1000 0                       | accept SYN_SENT 120 - SYN_SENT -",
		"< S. 5000 1001                   | accept SYN_RECV 60 R ESTABLISHED SYN_RECV",
		"> F. 1001 5001                   | accept FIN_WAIT 120 R FIN_WAIT1 CLOSE_WAIT ev=state",
		"< F. 5001 1002                   | accept LAST_ACK 30 R TIME_WAIT LAST_ACK ev=state",
		"> . 1002 5002                    | accept TIME_WAIT 120 R TIME_WAIT GONE? ev=state",
	}},
	{name: "SACK ignored without SACK permitted", steps: []string{
		"> S 1000 0 mss=1460              | accept SYN_SENT 120 - SYN_SENT -",
		"< S. 5000 1001 mss=1460          | accept SYN_RECV 60 R ESTABLISHED SYN_RECV",
		"> . 1001 5001                    | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED",
		"> . 1001 5001 sack=6000          | accept ESTABLISHED 432000 RA ESTABLISHED ESTABLISHED",
	}},
}

func TestScenarios(t *testing.T) {
	var out []string
	for _, sc := range scenarios {
		out = append(out, "== "+sc.name)
		out = append(out, runScenario(t, sc, nil)...)
	}
	golden(t, "scenarios.golden", strings.Join(out, "\n")+"\n")
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	testutil.Golden(t, filepath.Join("testdata", name), []byte(got))
}

func TestConnSize(t *testing.T) {
	// A flow-table entry (key 36 B, counters, expiry, Conn) should stay
	// under ~200 bytes.
	if n := unsafe.Sizeof(Conn{}); n > 96 {
		t.Errorf("Conn is %d bytes, want <= 96", n)
	}
}
