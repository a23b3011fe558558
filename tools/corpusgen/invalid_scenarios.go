package main

import (
	"math/rand/v2"
	"time"
)

// Scenarios for conntrack's invalid-packet log (kernellog.go): together
// with the others they make the router log every message its TCP tracker
// has that a capture can show. Each message is named in the description.

// invalidScenarios are appended to the default corpus.
func invalidScenarios() []*scenario {
	return []*scenario{craftedInvalid(ipv4), craftedInvalid(ipv6), craftedChecksum(), staleDuplicate(), checksumOffload(ipv4), checksumOffload(ipv6)}
}

// echoNthData sends the nth TCP segment carrying payload (1-based) on
// time and a copy of it later, once: a stale duplicate, as a path that
// duplicates and delays packets delivers them.
type echoNthData struct {
	n, seen int
	after   time.Duration
}

func (p *echoNthData) decide(f frameInfo) verdict {
	if !f.tcp || f.payload == 0 {
		return verdict{}
	}
	p.seen++
	if p.seen == p.n {
		return verdict{echo: p.after}
	}
	return verdict{}
}

// staleDuplicate is real TCP whose path delivers one data segment twice,
// the copy 300 ms late: by then the connection has moved on by more than
// the receiver's window, and conntrack logs the copy (SEQ is under lower
// bound … already ACKed data retransmitted) and lets it through untracked.
func staleDuplicate() *scenario {
	return &scenario{
		name: "stale-duplicate",
		description: "A bridge namespace between client and router sends the client's 3rd data segment on time and again 300 ms later; " +
			"the server's receive buffer is 4 KB, so its window is small and the 256 KB upload is past it long before the copy arrives. " +
			"Port 40161, client closes first.",
		topo: topoOpts{impairClientSide: true, serverSysctl: []string{"net.ipv4.tcp_rmem=4096 4096 4096"}},
		impair: func(*rand.Rand) (c, s [2]impairPolicy) {
			c[0] = &echoNthData{n: 3, after: 300 * time.Millisecond}
			return c, s
		},
		checks: []check{listed("TIME_WAIT", 40161, "the stale copy changes nothing: TIME_WAIT [ASSURED]")},
		traffic: func(r *run) error {
			ln, err := r.listen(8017)
			if err != nil {
				return err
			}
			c, s, err := r.connect(ln, 40161, dialOpts{})
			if err != nil {
				return err
			}
			err = both(func() error {
				if err := request(c, 256*1024, 100); err != nil {
					return err
				}
				return r.sleep(400 * time.Millisecond) // the copy arrives while the connection is open
			}, func() error {
				return serveRequest(s, 256*1024, 100)
			})
			if err != nil {
				return err
			}
			if err := c.Close(); err != nil {
				return err
			}
			if err := readEOF(s); err != nil {
				return err
			}
			return s.Close()
		},
		settle: 500 * time.Millisecond,
	}
}

func craftedInvalid(fam family) *scenario {
	return craftedScenario("crafted-invalid", fam,
		"Packets the router's conntrack logs as invalid or ignored, after a handshake and 100 bytes each way unless noted: "+
			"30091 a header whose data offset (15 words) runs past the segment and 30092 one whose data offset (4) is below the header size (truncated packet); "+
			"30093 a segment with no flags at all (invalid tcp flag combination); "+
			"30094 a FIN far beyond the server's window from the client, then one from the server far beyond the client's: "+
			"both SEQ is over upper bound, and the second answers the first, so the kernel shortens the ESTABLISHED timer (lower timeout); "+
			"30095 the same with RSTs, the server's first (the RST rules keep the state, the window check rejects it); "+
			"30096 a SYN from the server in ESTABLISHED (invalid in state, reply direction); "+
			"30097 a client retransmitting the first of its 8 segments after the server acknowledged all, with windows of 1000 bytes (SEQ is under lower bound).",
		[]check{
			listed("ESTABLISHED", 30091, "a truncated header is invalid: the flow stays ESTABLISHED [ASSURED]"),
			listed("ESTABLISHED", 30092, "data offset below 5: invalid, ESTABLISHED"),
			listed("ESTABLISHED", 30093, "no flags: invalid, ESTABLISHED"),
			inList(`^ipv[46] +\d+ tcp +6 (2\d\d|300) ESTABLISHED src=\S+ dst=\S+ sport=30094 `, "out-of-window FINs both ways: the timer is cut to 300 s"),
			inList(`^ipv[46] +\d+ tcp +6 (2\d\d|300) ESTABLISHED src=\S+ dst=\S+ sport=30095 `, "out-of-window RSTs both ways: the timer is cut to 300 s"),
			listed("ESTABLISHED", 30096, "a SYN from the server in ESTABLISHED is invalid"),
			listed("ESTABLISHED", 30097, "an old retransmission is ignored"),
		},
		func(r *run, cr *crafter) error {
			hs := handshake("mss")
			data := []seg{{from: cli, flags: "PA", seq: 1, ack: 1, n: 100}, {from: srv, flags: "PA", seq: 1, ack: 101, n: 100}, {from: cli, flags: "A", seq: 101, ack: 101}}
			const far = 50_000_000
			small := []seg{
				{from: cli, flags: "S", opts: "mss", win: 1000},
				{from: srv, flags: "SA", ack: 1, opts: "mss", win: 1000},
				{from: cli, flags: "A", seq: 1, ack: 1, win: 1000},
			}
			for i := uint32(0); i < 8; i++ {
				small = append(small,
					seg{from: cli, flags: "PA", seq: 1 + 250*i, ack: 1, n: 250, win: 1000},
					seg{from: srv, flags: "A", seq: 1, ack: 1 + 250*(i+1), win: 1000})
			}
			flows := map[uint16][]seg{
				30091: cat(hs, data, []seg{{from: cli, flags: "PA", seq: 101, ack: 101, n: 10, doff: 15}}),
				30092: cat(hs, data, []seg{{from: cli, flags: "A", seq: 101, ack: 101, doff: 4}}),
				30093: cat(hs, data, []seg{{from: cli, flags: "", seq: 101, ack: 101}}),
				30094: cat(hs, data, []seg{
					{from: cli, flags: "FA", seq: 101 + far, ack: 101},
					{from: srv, flags: "FA", seq: 101 + far, ack: 101},
				}),
				30095: cat(hs, data, []seg{
					{from: srv, flags: "R", seq: 101 + far},
					{from: cli, flags: "R", seq: 101 + far},
				}),
				30096: cat(hs, data, []seg{{from: srv, flags: "S", seq: 7_000_000, opts: "mss"}}),
				30097: cat(small, []seg{{from: cli, flags: "PA", seq: 1, ack: 1, n: 250, win: 1000}}),
			}
			return sendAll(r, cr, flows, []uint16{30091, 30092, 30093, 30094, 30095, 30096, 30097})
		})
}

// craftedChecksum has the router judge segments with wrong TCP checksums
// (nf_conntrack_checksum=1, the default: verified at PRE_ROUTING).
func craftedChecksum() *scenario {
	return craftedScenario("crafted-checksum", ipv4,
		"Wrong TCP checksums (bad checksum: invalid, counted nowhere): 30101 a SYN with a bad checksum (no entry), then the good SYN and the handshake; "+
			"30102 after the handshake, 100 bytes with a bad checksum, then the same 100 bytes intact and the server's ACK; "+
			"30103 after the handshake, a RST with a bad checksum (the flow stays ESTABLISHED), then a FIN+ACK with a bad checksum (no FIN_WAIT).",
		[]check{
			evented("NEW", "SYN_SENT", 30101, "[NEW] SYN_SENT on the good SYN only"),
			listed("ESTABLISHED", 30101, "the handshake completes: ESTABLISHED [ASSURED]"),
			inList(`^ipv4 +2 tcp +6 \d+ ESTABLISHED src=\S+ dst=\S+ sport=30102 dport=80 packets=3 bytes=224 `, "the corrupted segment is in no counter: 3 packets, 224 bytes from the client"),
			listed("ESTABLISHED", 30103, "corrupted RST and FIN change nothing: ESTABLISHED"),
		},
		func(r *run, cr *crafter) error {
			hs := handshake("mss")
			flows := map[uint16][]seg{
				30101: cat([]seg{{from: cli, flags: "S", opts: "mss", badSum: true}}, hs),
				30102: cat(hs, []seg{
					{from: cli, flags: "PA", seq: 1, ack: 1, n: 100, badSum: true},
					{from: cli, flags: "PA", seq: 1, ack: 1, n: 100},
					{from: srv, flags: "A", seq: 1, ack: 101},
				}),
				30103: cat(hs, []seg{
					{from: cli, flags: "R", seq: 1, badSum: true},
					{from: cli, flags: "FA", seq: 1, ack: 1, badSum: true},
				}),
			}
			return sendAll(r, cr, flows, []uint16{30101, 30102, 30103})
		})
}

// checksumOffload is real TCP from hosts whose (veth) NICs fill checksums
// in: the router receives, captures and tracks packets whose checksum
// field holds the pseudo-header sum. The kernel takes them as good
// (CHECKSUM_PARTIAL), and so must tcptrack's default checksum rule.
func checksumOffload(fam family) *scenario {
	return &scenario{
		name:   "checksum-offload" + fam.suffix(),
		family: fam,
		description: "TX checksum offload on at the client's and the server's interfaces: every packet reaches the router with the pseudo-header sum " +
			"in its TCP checksum field. Port 40171: 20 KB up, 5 KB down, client closes first; port 40172 stays open.",
		topo: topoOpts{endpointChecksumOffload: true},
		checks: []check{
			listed("TIME_WAIT", 40171, "tracked as usual: TIME_WAIT [ASSURED]"),
			listed("ESTABLISHED", 40172, "ESTABLISHED [ASSURED]"),
		},
		traffic: func(r *run) error {
			ln, err := r.listen(8018)
			if err != nil {
				return err
			}
			for _, port := range []int{40171, 40172} {
				c, s, err := r.connect(ln, port, dialOpts{})
				if err != nil {
					return err
				}
				if err := both(func() error { return request(c, 20*1024, 5*1024) }, func() error { return serveRequest(s, 20*1024, 5*1024) }); err != nil {
					return err
				}
				if port == 40172 {
					r.keep(c)
					r.keep(s)
					continue
				}
				if err := c.Close(); err != nil {
					return err
				}
				if err := readEOF(s); err != nil {
					return err
				}
				if err := s.Close(); err != nil {
					return err
				}
			}
			return nil
		},
	}
}
