package main

import (
	"time"
)

// Crafted scenarios: sequences a real stack will not produce on demand.
// Unless noted both endpoints are crafted (fake addresses, see craft.go) and
// talk to server port 80; each flow has its own client port so the checks
// can name it. ISNs come from the seeded stream.

// craftedScenario wraps the common setup: one crafter, flows sent in order.
func craftedScenario(name string, fam family, description string, checks []check, flows func(r *run, cr *crafter) error) *scenario {
	return &scenario{
		name:        name + fam.suffix(),
		family:      fam,
		description: description,
		checks:      checks,
		traffic: func(r *run) error {
			cr, err := newCrafter(r.t)
			if err != nil {
				return err
			}
			defer cr.Close()
			return flows(r, cr)
		},
	}
}

// fakeFlow is a fully crafted flow from client port cport to server port 80.
func (r *run) fakeFlow(cr *crafter, cport uint16) *flow {
	return cr.flow(r.fam.fakeClientIP(), r.fam.fakeServerIP(), cport, 80, r.rng.Uint32(), r.rng.Uint32())
}

// handshake is SYN, SYN-ACK, ACK with the given SYN options.
func handshake(opts string) []seg {
	return []seg{
		{from: cli, flags: "S", opts: opts},
		{from: srv, flags: "SA", ack: 1, opts: opts},
		{from: cli, flags: "A", seq: 1, ack: 1},
	}
}

// sendAll sends each flow's segments in turn.
func sendAll(r *run, cr *crafter, flows map[uint16][]seg, order []uint16) error {
	for _, p := range order {
		if err := r.fakeFlow(cr, p).send(flows[p]...); err != nil {
			return err
		}
	}
	return nil
}

func cat(parts ...[]seg) []seg {
	var out []seg
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func craftedRST() *scenario {
	return craftedScenario("crafted-rst", ipv4,
		"RST validation after a handshake and 100 bytes client->server (acknowledged): "+
			"30001 RST far outside the window; 30002 RST inside the window but not at the expected sequence; 30003 RST from the server at exactly the expected sequence; "+
			"30004 RST with a sequence number below what the server already acknowledged; 30005 SYN answered by a bare RST with sequence 0; "+
			"30006 SYN answered by RST+ACK with a wrong ack, then by a correct RST+ACK.",
		[]check{
			listed("ESTABLISHED", 30001, "out-of-window RST is invalid: still ESTABLISHED [ASSURED]"),
			listed("ESTABLISHED", 30002, "in-window but inexact RST on an assured flow: state kept (ESTABLISHED), timer cut to the close timeout"),
			listed("CLOSE", 30003, "exact RST: CLOSE"),
			listed("ESTABLISHED", 30004, "RST below the acknowledged sequence is invalid: ESTABLISHED"),
			evented("DESTROY", "", 30005, "bare RST with seq 0 answering a SYN kills the unreplied entry"),
			evented("DESTROY", "", 30006, "the correct RST+ACK kills the entry"),
		},
		func(r *run, cr *crafter) error {
			data := []seg{{from: cli, flags: "PA", seq: 1, ack: 1, n: 100}, {from: srv, flags: "A", seq: 1, ack: 101}}
			flows := map[uint16][]seg{
				30001: cat(handshake("mss"), data, []seg{{from: cli, flags: "R", seq: 101 + 3_000_000}}),
				30002: cat(handshake("mss"), data, []seg{{from: cli, flags: "R", seq: 101 + 1000}}),
				30003: cat(handshake("mss"), data, []seg{{from: srv, flags: "R", seq: 1}}),
				30004: cat(handshake("mss"), data, []seg{{from: cli, flags: "R", seq: 50}}),
				30005: {{from: cli, flags: "S", opts: "mss"}, {from: srv, flags: "R", abs: true}},
				30006: {{from: cli, flags: "S", opts: "mss"}, {from: srv, flags: "RA", ack: 12345}, {from: srv, flags: "RA", ack: 1}},
			}
			return sendAll(r, cr, flows, []uint16{30001, 30002, 30003, 30004, 30005, 30006})
		})
}

func craftedWindow() *scenario {
	return craftedScenario("crafted-window", ipv4,
		"Window tracking after a handshake without window scaling (windows 64240): "+
			"30011 client data 5,000,000 bytes beyond the window, then in-window data; 30012 server data starting 70,000 bytes ahead (beyond the client's window); "+
			"30013 client ACKs 5000 bytes the server never sent; 30014 client offers window scaling, the server does not (scaling off both ways), 3000 bytes follow; "+
			"30015 client data never acknowledged and retransmitted 4 times.",
		[]check{
			listed("ESTABLISHED", 30011, "out-of-window data is invalid; the flow stays ESTABLISHED [ASSURED]"),
			listed("ESTABLISHED", 30012, "server data beyond the window: ESTABLISHED"),
			listed("ESTABLISHED", 30013, "ACK of unsent data: ESTABLISHED"),
			listed("ESTABLISHED", 30014, "asymmetric window-scale option: ESTABLISHED [ASSURED]"),
			inList(`^ipv4 +2 tcp +6 ([0-2]\d\d|300|\d\d|\d) ESTABLISHED src=\S+ dst=\S+ sport=30015 `, "unacknowledged, retransmitted data caps the ESTABLISHED timeout at 300"),
		},
		func(r *run, cr *crafter) error {
			hs := handshake("mss,sackok")
			flows := map[uint16][]seg{
				30011: cat(hs, []seg{
					{from: cli, flags: "PA", seq: 1 + 5_000_000, ack: 1, n: 100},
					{from: cli, flags: "PA", seq: 1, ack: 1, n: 100},
					{from: srv, flags: "A", seq: 1, ack: 101},
				}),
				30012: cat(hs, []seg{
					{from: srv, flags: "PA", seq: 1 + 70_000, ack: 1, n: 100},
					{from: srv, flags: "PA", seq: 1, ack: 1, n: 100},
					{from: cli, flags: "A", seq: 1, ack: 101},
				}),
				30013: cat(hs, []seg{
					{from: cli, flags: "A", seq: 1, ack: 5001},
					{from: cli, flags: "PA", seq: 1, ack: 1, n: 10},
					{from: srv, flags: "A", seq: 1, ack: 11},
				}),
				30014: {
					{from: cli, flags: "S", opts: "mss,sackok,ws7"},
					{from: srv, flags: "SA", ack: 1, opts: "mss"},
					{from: cli, flags: "A", seq: 1, ack: 1},
					{from: cli, flags: "PA", seq: 1, ack: 1, n: 1400},
					{from: cli, flags: "PA", seq: 1401, ack: 1, n: 1400},
					{from: srv, flags: "A", seq: 1, ack: 2801},
					{from: cli, flags: "PA", seq: 2801, ack: 1, n: 200},
					{from: srv, flags: "A", seq: 1, ack: 3001},
				},
				30015: cat(hs, []seg{
					{from: cli, flags: "PA", seq: 1, ack: 1, n: 100},
					{from: cli, flags: "PA", seq: 1, ack: 1, n: 100},
					{from: cli, flags: "PA", seq: 1, ack: 1, n: 100},
					{from: cli, flags: "PA", seq: 1, ack: 1, n: 100},
					{from: cli, flags: "PA", seq: 1, ack: 1, n: 100},
				}),
			}
			return sendAll(r, cr, flows, []uint16{30011, 30012, 30013, 30014, 30015})
		})
}

func craftedSYN() *scenario {
	return craftedScenario("crafted-syn", ipv4,
		"SYN variants: 30021 SYN retransmitted with another sequence number (+1,000,000), the SYN-ACK answers the second; "+
			"30022 the same, but the SYN-ACK answers the first SYN; 30023 SYN carrying 32 bytes (like TCP Fast Open), then a normal close; "+
			"30024 a SYN-ACK with no SYN before it; 30025 a plain SYN retransmission (same sequence) then the handshake; 30026 SYN+FIN.",
		[]check{
			listed("ESTABLISHED", 30021, "SYN with a new ISN re-initialises the entry; the handshake completes: ESTABLISHED [ASSURED]"),
			evented("NEW", "SYN_SENT", 30022, "[NEW] SYN_SENT for the first SYN"),
			listed("TIME_WAIT", 30023, "SYN with data: handshake and close complete, TIME_WAIT"),
			notInList(`port=30024 `, "a SYN-ACK cannot create an entry"),
			listed("ESTABLISHED", 30025, "retransmitted SYN, then ESTABLISHED [ASSURED]"),
			notInList(`port=30026 `, "SYN+FIN is an invalid flag combination: no entry"),
		},
		func(r *run, cr *crafter) error {
			flows := map[uint16][]seg{
				30021: {
					{from: cli, flags: "S", opts: "mss"},
					{from: cli, flags: "S", seq: 1_000_000, opts: "mss"},
					{from: srv, flags: "SA", ack: 1_000_001, opts: "mss"},
					{from: cli, flags: "A", seq: 1_000_001, ack: 1},
				},
				30022: {
					{from: cli, flags: "S", opts: "mss"},
					{from: cli, flags: "S", seq: 1_000_000, opts: "mss"},
					{from: srv, flags: "SA", ack: 1, opts: "mss"},
					{from: cli, flags: "A", seq: 1, ack: 1},
				},
				30023: {
					{from: cli, flags: "S", n: 32, opts: "mss"},
					{from: srv, flags: "SA", ack: 33, opts: "mss"},
					{from: cli, flags: "A", seq: 33, ack: 1},
					{from: cli, flags: "FA", seq: 33, ack: 1},
					{from: srv, flags: "FA", seq: 1, ack: 34},
					{from: cli, flags: "A", seq: 34, ack: 2},
				},
				30024: {{from: srv, flags: "SA", ack: 1, opts: "mss"}},
				30025: {
					{from: cli, flags: "S", opts: "mss", gap: 200 * time.Millisecond},
					{from: cli, flags: "S", opts: "mss"},
					{from: srv, flags: "SA", ack: 1, opts: "mss"},
					{from: cli, flags: "A", seq: 1, ack: 1},
				},
				30026: {{from: cli, flags: "SF", opts: "mss"}},
			}
			return sendAll(r, cr, flows, []uint16{30021, 30022, 30023, 30024, 30025, 30026})
		})
}

func craftedFIN() *scenario {
	return craftedScenario("crafted-fin", ipv4,
		"FIN variants: 30031 FIN+ACK with no handshake, then the server's ACK (which picks the flow up with the server as originator); "+
			"30032 a bare FIN (no ACK) with no handshake; 30033 a bare FIN in the middle of an established flow; "+
			"30034 simultaneous close (both FINs cross, neither acknowledges the other's); 30035 FIN retransmitted, then the close completes; "+
			"30036 FIN carrying data, acknowledged separately, server FIN later.",
		[]check{
			notListed(30031, "FIN as first packet creates no entry"),
			listed("ESTABLISHED", 80, "the server's ACK is picked up (loose) as a new flow from the server"),
			notInList(`port=30032 `, "bare FIN creates no entry"),
			listed("ESTABLISHED", 30033, "bare FIN (no ACK) is invalid: stays ESTABLISHED"),
			listed("TIME_WAIT", 30034, "simultaneous close: TIME_WAIT"),
			listed("TIME_WAIT", 30035, "retransmitted FIN: TIME_WAIT"),
			evented("UPDATE", "CLOSE_WAIT", 30036, "CLOSE_WAIT after the ACK of a FIN with data"),
			listed("LAST_ACK", 30036, "server FIN last, final ACK never sent: LAST_ACK at -L"),
		},
		func(r *run, cr *crafter) error {
			hs := handshake("mss")
			flows := map[uint16][]seg{
				30031: {
					{from: cli, flags: "FA", seq: 1, ack: 1},
					{from: srv, flags: "A", seq: 1, ack: 2},
				},
				30032: {{from: cli, flags: "F", seq: 1}},
				30033: cat(hs, []seg{{from: cli, flags: "F", seq: 1}}),
				30034: cat(hs, []seg{
					{from: cli, flags: "FA", seq: 1, ack: 1},
					{from: srv, flags: "FA", seq: 1, ack: 1},
					{from: cli, flags: "A", seq: 2, ack: 2},
					{from: srv, flags: "A", seq: 2, ack: 2},
				}),
				30035: cat(hs, []seg{
					{from: cli, flags: "FA", seq: 1, ack: 1, gap: 200 * time.Millisecond},
					{from: cli, flags: "FA", seq: 1, ack: 1},
					{from: srv, flags: "FA", seq: 1, ack: 2},
					{from: cli, flags: "A", seq: 2, ack: 2},
				}),
				30036: cat(hs, []seg{
					{from: cli, flags: "FPA", seq: 1, ack: 1, n: 50},
					{from: srv, flags: "A", seq: 1, ack: 52},
					{from: srv, flags: "PA", seq: 1, ack: 52, n: 70},
					{from: cli, flags: "A", seq: 52, ack: 71},
					{from: srv, flags: "FA", seq: 71, ack: 52},
				}),
			}
			return sendAll(r, cr, flows, []uint16{30031, 30032, 30033, 30034, 30035, 30036})
		})
}

func craftedReopen(fam family) *scenario {
	return craftedScenario("crafted-reopen", fam,
		"New SYNs on a closed 4-tuple: 30041 TIME_WAIT, new SYN from the client with a higher ISN (reopen); "+
			"30042 TIME_WAIT, new SYN from the server towards the client's port (reopen with swapped roles); "+
			"30043 closed by the client's RST, new SYN from the client (same direction as the RST: reopen); "+
			"30044 closed by the server's RST, new SYN from the client (no FIN seen, RST came the other way: ignored); "+
			"30045 TIME_WAIT, new SYN from the client with a lower ISN.",
		[]check{
			evented("DESTROY", "", 30041, "[DESTROY] of the TIME_WAIT entry (reopen)"),
			listed("ESTABLISHED", 30041, "reopened flow ESTABLISHED [ASSURED]"),
			listed("ESTABLISHED", 80, "SYN from the server reopens with the server as originator"),
			listed("SYN_RECV", 30043, "reopen after the client's own RST: SYN_RECV (the SYN-ACK answered)"),
			listed("CLOSE", 30044, "SYN after the peer's RST is ignored: still CLOSE"),
			evented("DESTROY", "", 30045, "lower-ISN SYN in TIME_WAIT reopens too"),
		},
		func(r *run, cr *crafter) error {
			const lowISN = uint32(1<<32 - 100_000) // 100,000 below the first ISN
			hs := handshake("mss,sackok")
			closeC := []seg{
				{from: cli, flags: "PA", seq: 1, ack: 1, n: 100},
				{from: srv, flags: "A", seq: 1, ack: 101},
				{from: cli, flags: "FA", seq: 101, ack: 1},
				{from: srv, flags: "FA", seq: 1, ack: 102},
				{from: cli, flags: "A", seq: 102, ack: 2},
			}
			flows := map[uint16][]seg{
				30041: cat(hs, closeC, []seg{
					{from: cli, flags: "S", seq: 100_000, opts: "mss,sackok"},
					{from: srv, flags: "SA", seq: 300_000, ack: 100_001, opts: "mss,sackok"},
					{from: cli, flags: "A", seq: 100_001, ack: 300_001},
				}),
				30042: cat(hs, closeC, []seg{
					{from: srv, flags: "S", seq: 100_000, opts: "mss,sackok"},
					{from: cli, flags: "SA", seq: 300_000, ack: 100_001, opts: "mss,sackok"},
					{from: srv, flags: "A", seq: 100_001, ack: 300_001},
				}),
				30043: cat(hs, []seg{
					{from: cli, flags: "PA", seq: 1, ack: 1, n: 100},
					{from: srv, flags: "A", seq: 1, ack: 101},
					{from: cli, flags: "R", seq: 101},
					{from: cli, flags: "S", seq: 200_000, opts: "mss,sackok"},
					{from: srv, flags: "SA", seq: 400_000, ack: 200_001, opts: "mss,sackok"},
				}),
				30044: cat(hs, []seg{
					{from: cli, flags: "PA", seq: 1, ack: 1, n: 100},
					{from: srv, flags: "A", seq: 1, ack: 101},
					{from: srv, flags: "R", seq: 1},
					{from: cli, flags: "S", seq: 200_000, opts: "mss,sackok"},
				}),
				30045: cat(hs, closeC, []seg{
					{from: cli, flags: "S", seq: lowISN, opts: "mss,sackok"},
					{from: srv, flags: "SA", seq: 500_000, ack: lowISN + 1, opts: "mss,sackok"},
					{from: cli, flags: "A", seq: lowISN + 1, ack: 500_001},
				}),
			}
			return sendAll(r, cr, flows, []uint16{30041, 30042, 30043, 30044, 30045})
		})
}

func craftedSimultaneousOpen() *scenario {
	return craftedScenario("crafted-simopen", ipv4,
		"Crafted simultaneous open: 30051 both SYNs cross, both sides send SYN-ACK, then both ACK; "+
			"30052 both SYNs cross, only the server sends SYN-ACK, the client ACKs it.",
		[]check{
			evented("UPDATE", "SYN_SENT2", 30051, "[UPDATE] SYN_SENT2 on the server's SYN"),
			listed("ESTABLISHED", 30051, "ESTABLISHED [ASSURED] after the SYN-ACKs and ACKs"),
			evented("UPDATE", "SYN_SENT2", 30052, "[UPDATE] SYN_SENT2"),
		},
		func(r *run, cr *crafter) error {
			flows := map[uint16][]seg{
				30051: {
					{from: cli, flags: "S", opts: "mss"},
					{from: srv, flags: "S", opts: "mss"},
					{from: cli, flags: "SA", ack: 1, opts: "mss"},
					{from: srv, flags: "SA", ack: 1, opts: "mss"},
					{from: cli, flags: "A", seq: 1, ack: 1},
					{from: srv, flags: "A", seq: 1, ack: 1},
				},
				30052: {
					{from: cli, flags: "S", opts: "mss"},
					{from: srv, flags: "S", opts: "mss"},
					{from: srv, flags: "SA", ack: 1, opts: "mss"},
					{from: cli, flags: "A", seq: 1, ack: 1},
				},
			}
			return sendAll(r, cr, flows, []uint16{30051, 30052})
		})
}

func craftedChallenge() *scenario {
	return craftedScenario("crafted-challenge", ipv4,
		"Challenge ACKs: 30061 the server answers a SYN with a bare ACK (as a stack with a stale connection does), the client answers that with an RST at the ACK's number, "+
			"then SYNs again and the handshake completes; 30062 in LAST_ACK a new SYN arrives, the server answers with a challenge ACK, "+
			"the client sends RST at the challenged sequence, then SYNs again.",
		[]check{
			evented("NEW", "SYN_SENT", 30061, "[NEW] SYN_SENT"),
			listed("ESTABLISHED", 30061, "the retried handshake ends ESTABLISHED"),
			evented("UPDATE", "LAST_ACK", 30062, "LAST_ACK before the new SYN"),
		},
		func(r *run, cr *crafter) error {
			stale := uint32(777_777)
			f := r.fakeFlow(cr, 30061)
			if err := f.send(
				seg{from: cli, flags: "S", opts: "mss"},
				seg{from: srv, flags: "A", seq: stale, ack: stale},
				seg{from: cli, flags: "R", seq: stale, abs: false},
				seg{from: cli, flags: "S", seq: 50_000, opts: "mss", gap: 100 * time.Millisecond},
				seg{from: srv, flags: "SA", ack: 50_001, opts: "mss"},
				seg{from: cli, flags: "A", seq: 50_001, ack: 1},
			); err != nil {
				return err
			}
			// The stale ACK acknowledges client sequence stale: the RST
			// above used the same relative offset, so it matches it exactly.
			f = r.fakeFlow(cr, 30062)
			return f.send(cat(handshake("mss"), []seg{
				{from: cli, flags: "FA", seq: 1, ack: 1},
				{from: srv, flags: "FA", seq: 1, ack: 2},
				{from: cli, flags: "S", seq: 10_000, opts: "mss"},
				{from: srv, flags: "A", seq: 2, ack: 2},
				{from: cli, flags: "R", seq: 2},
				{from: cli, flags: "S", seq: 20_000, opts: "mss", gap: 100 * time.Millisecond},
				{from: srv, flags: "SA", seq: 90_000, ack: 20_001, opts: "mss"},
				{from: cli, flags: "A", seq: 20_001, ack: 90_001},
			})...)
		})
}

// synRecv uses a crafted client against the real server: the server's
// SYN-ACKs go to an address nobody owns, so the handshake never completes.
func synRecv() *scenario {
	return &scenario{
		name: "syn-recv",
		description: "A crafted SYN from an address nobody owns reaches the real server (IPv4 port 30071, IPv6 port 30072), which answers with SYN-ACK " +
			"and retransmits it; the ACK never comes.",
		checks: []check{
			evented("UPDATE", "SYN_RECV", 30071, "[UPDATE] SYN_RECV on the SYN-ACK"),
			listed("SYN_RECV", 30071, "SYN_RECV (neither UNREPLIED nor ASSURED) at -L"),
			listed("SYN_RECV", 30072, "IPv6: SYN_RECV at -L"),
		},
		traffic: func(r *run) error {
			for _, fam := range []family{ipv4, ipv6} {
				ln, err := r.t.server.listen(hostPort(fam.serverIP(), 8020))
				if err != nil {
					return err
				}
				r.keep(ln)
			}
			cr, err := newCrafter(r.t)
			if err != nil {
				return err
			}
			defer cr.Close()
			for i, fam := range []family{ipv4, ipv6} {
				f := cr.flow(fam.fakeClientIP(), fam.serverIP(), uint16(30071+i), 8020, r.rng.Uint32(), 0)
				if err := f.send(seg{from: cli, flags: "S", opts: "mss,sackok,ws7"}); err != nil {
					return err
				}
			}
			return r.sleep(1500 * time.Millisecond)
		},
	}
}

// rstAnswersSynAck crafts a SYN from the real client address: the client
// kernel has no socket for it and answers the server's SYN-ACK with RST.
func rstAnswersSynAck() *scenario {
	return &scenario{
		name:        "rst-answers-synack",
		description: "A crafted SYN from the real client address (port 30081) to the real server; the client kernel, which has no such socket, answers the SYN-ACK with RST.",
		crafted:     []string{clientV4 + ":30081"},
		checks: []check{
			evented("UPDATE", "SYN_RECV", 30081, "[UPDATE] SYN_RECV on the SYN-ACK"),
			evented("UPDATE", "CLOSE", 30081, "[UPDATE] CLOSE on the client kernel's RST"),
			listed("CLOSE", 30081, "CLOSE at -L (not ASSURED)"),
		},
		traffic: func(r *run) error {
			ln, err := r.listen(8021)
			if err != nil {
				return err
			}
			_ = ln
			cr, err := newCrafter(r.t)
			if err != nil {
				return err
			}
			defer cr.Close()
			f := cr.flow(r.fam.clientIP(), r.fam.serverIP(), 30081, 8021, r.rng.Uint32(), 0)
			if err := f.send(seg{from: cli, flags: "S", opts: "mss,sackok"}); err != nil {
				return err
			}
			return r.sleep(300 * time.Millisecond)
		},
	}
}
