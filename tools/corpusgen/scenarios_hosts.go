package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Scenarios for the endpoint view: what each host's own socket does where
// it differs from conntrack's one state per flow — its acceptance rules
// (RFC 5961 RSTs, a FIN after a hole), its own timers (TIME_WAIT, an
// orphaned FIN_WAIT2, SYN_SENT and SYN_RECV giving up) and connections
// picked up mid-way. The hosts' ss and netstat, taken right after -L, judge.

// seqWatch follows, per client port, the ACK of the last segment the
// server sent to the client: the server's rcv_nxt. It sniffs the client's
// veth (an AF_PACKET socket sees frames before the firewall does, so also
// those the client namespace then drops).
type seqWatch struct {
	fd      int
	mu      sync.Mutex
	lastAck map[uint16]uint32
	stop    atomic.Bool
	done    chan struct{}
}

func newSeqWatch(n node, sport int) (*seqWatch, error) {
	fd, _, err := n.packetSocket("eth0", syscall.ETH_P_ALL, 100*time.Millisecond)
	if err != nil {
		return nil, err
	}
	w := &seqWatch{fd: fd, lastAck: map[uint16]uint32{}, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		buf := make([]byte, 65536)
		for !w.stop.Load() {
			n, _, err := syscall.Recvfrom(fd, buf, 0)
			if err != nil {
				continue
			}
			tcp, ok := tcpOf(buf[:n])
			if !ok || int(binary.BigEndian.Uint16(tcp[0:2])) != sport || tcp[13]&0x10 == 0 {
				continue
			}
			dport := binary.BigEndian.Uint16(tcp[2:4])
			w.mu.Lock()
			w.lastAck[dport] = binary.BigEndian.Uint32(tcp[8:12])
			w.mu.Unlock()
		}
	}()
	return w, nil
}

// rcvNxt is the server's rcv_nxt on the connection from client port cport.
func (w *seqWatch) rcvNxt(cport int) (uint32, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v, ok := w.lastAck[uint16(cport)]
	return v, ok
}

func (w *seqWatch) Close() error {
	w.stop.Store(true)
	<-w.done
	return syscall.Close(w.fd)
}

// tcpOf returns the TCP header and payload of an Ethernet frame (IPv4 or
// IPv6 without extension headers).
func tcpOf(b []byte) ([]byte, bool) {
	if len(b) < 14 {
		return nil, false
	}
	ip := b[14:]
	switch binary.BigEndian.Uint16(b[12:14]) {
	case 0x0800:
		if len(ip) < 20 || ip[9] != 6 {
			return nil, false
		}
		ihl := int(ip[0]&0x0f) * 4
		if ihl < 20 || len(ip) < ihl+20 {
			return nil, false
		}
		return ip[ihl:], true
	case 0x86dd:
		if len(ip) < 60 || ip[6] != 6 {
			return nil, false
		}
		return ip[40:], true
	}
	return nil, false
}

// rstClosing sends crafted RSTs "from the client" to real server sockets
// in every closing state: at the server's rcv_nxt (exact), 1000 bytes
// beyond it (inside the window) and 50 MB beyond it (outside). The client
// sockets never sent those RSTs, so they are crafted endpoints here.
func rstClosing() *scenario {
	type state struct {
		name  string
		sport int
		// setup takes a connection with data exchanged to the state.
		setup func(r *run, c, s *net.TCPConn) error
	}
	states := []state{
		{"FIN_WAIT1", 8031, func(r *run, c, s *net.TCPConn) error { return s.CloseWrite() }},
		{"FIN_WAIT2", 8032, func(r *run, c, s *net.TCPConn) error { return s.CloseWrite() }},
		{"FIN_WAIT2 orphaned", 8033, func(r *run, c, s *net.TCPConn) error { return s.Close() }},
		{"CLOSING", 8034, func(r *run, c, s *net.TCPConn) error {
			if err := s.CloseWrite(); err != nil {
				return err
			}
			time.Sleep(50 * time.Millisecond)
			return c.CloseWrite()
		}},
		{"CLOSE_WAIT", 8035, func(r *run, c, s *net.TCPConn) error { return c.CloseWrite() }},
		{"LAST_ACK", 8036, func(r *run, c, s *net.TCPConn) error {
			if err := c.CloseWrite(); err != nil {
				return err
			}
			if err := readEOF(s); err != nil {
				return err
			}
			return s.CloseWrite()
		}},
		{"TIME_WAIT", 8037, func(r *run, c, s *net.TCPConn) error {
			if err := s.Close(); err != nil {
				return err
			}
			if err := readEOF(c); err != nil {
				return err
			}
			return c.Close()
		}},
	}
	variants := []struct {
		name  string
		delta uint32
	}{{"exact", 0}, {"inexact", 1000}, {"outside", 50_000_000}}
	var crafted []string
	desc := "Real client and server sockets; the server's socket is brought to each closing state, then a RST crafted as if from the client arrives " +
		"at the server's rcv_nxt (exact), 1000 bytes beyond (in window: a challenge ACK) and 50 MB beyond (out of window: dropped). " +
		"The server drops nothing; the client namespace drops the server's FINs where the state needs its FIN unacknowledged. Ports:"
	for i, st := range states {
		desc += fmt.Sprintf(" %s %d-%d;", st.name, 40300+10*i, 40300+10*i+2)
		for v := range variants {
			crafted = append(crafted, fmt.Sprintf("%s:%d", clientV4, 40300+10*i+v))
		}
	}
	return &scenario{
		name:        "rst-closing",
		description: desc + " the variants in the order exact, inexact, outside.",
		topo:        topoOpts{endpointSysctl: []string{"net.ipv4.tcp_fin_timeout=30"}},
		crafted:     crafted,
		checks: []check{
			listed("CLOSE", 40300, "exact RST in FIN_WAIT1: conntrack CLOSE"),
			listed("CLOSE", 40361, "conntrack takes any RST in its closing states (no sequence check); the host's TIME_WAIT takes only the exact one"),
		},
		traffic: func(r *run) error {
			if _, err := dropRule(r.ctx, r.t.client, "dropfin", "tcp sport { 8031, 8034, 8036 } tcp flags & fin == fin"); err != nil {
				return err
			}
			cr, err := newCrafter(r.t)
			if err != nil {
				return err
			}
			defer cr.Close()
			for i, st := range states {
				ln, err := r.listen(st.sport)
				if err != nil {
					return err
				}
				watch, err := newSeqWatch(r.t.client, st.sport)
				if err != nil {
					return err
				}
				r.keep(watch)
				for v := range variants {
					cport := 40300 + 10*i + v
					c, s, err := r.exchanged(ln, cport, 100)
					if err != nil {
						return err
					}
					if err := st.setup(r, c, s); err != nil {
						return fmt.Errorf("%s port %d: %w", st.name, cport, err)
					}
				}
				if err := r.sleep(300 * time.Millisecond); err != nil {
					return err
				}
				for v, vr := range variants {
					cport := 40300 + 10*i + v
					nxt, ok := watch.rcvNxt(cport)
					if !ok {
						return fmt.Errorf("%s port %d: no segment from the server seen", st.name, cport)
					}
					f := cr.flow(clientV4, serverV4, uint16(cport), uint16(st.sport), 0, 0)
					if err := f.send(seg{from: cli, flags: "R", seq: nxt + vr.delta, abs: true}); err != nil {
						return err
					}
				}
			}
			return r.sleep(500 * time.Millisecond)
		},
	}
}

// rstCrossing: both ends send data at once, then one aborts (SO_LINGER 0,
// with data unread): its RST crosses the other's data.
func rstCrossing() *scenario {
	return &scenario{
		name: "rst-crossing",
		description: "Both ends write 3000 bytes at the same time; then the server aborts (port 41001) or the client aborts (port 41002) at once, " +
			"with the other side's data unread: the RST crosses data in flight, which the aborting host then answers with RSTs.",
		checks: []check{evented("UPDATE", "CLOSE", 41001, "the server's RST closes the flow")},
		traffic: func(r *run) error {
			ln, err := r.listen(8041)
			if err != nil {
				return err
			}
			for i, serverAborts := range []bool{true, false} {
				c, s, err := r.connect(ln, 41001+i, dialOpts{})
				if err != nil {
					return err
				}
				r.keep(c)
				r.keep(s)
				aborter, other := s, c
				if !serverAborts {
					aborter, other = c, s
				}
				err = both(func() error {
					if err := writeN(other, 3000); err != nil {
						return err
					}
					readUntilError(other)
					return nil
				}, func() error {
					if err := writeN(aborter, 3000); err != nil {
						return err
					}
					return abort(aborter)
				})
				if err != nil {
					return err
				}
				if err := r.sleep(200 * time.Millisecond); err != nil {
					return err
				}
			}
			return nil
		},
		settle: 500 * time.Millisecond,
	}
}

// dropPayloadOnce drops the first frame carrying exactly size payload bytes.
type dropPayloadOnce struct {
	size int
	done bool
}

func (p *dropPayloadOnce) decide(f frameInfo) verdict {
	if !f.tcp || p.done || f.payload != p.size {
		return verdict{}
	}
	p.done = true
	return verdict{drop: true}
}

// finAfterHole: the server gets the client's FIN before the data in front
// of it: it must not take the FIN (no CLOSE_WAIT) until the hole fills.
func finAfterHole() *scenario {
	return &scenario{
		name: "fin-after-hole",
		description: "The client writes 100 bytes, then 200 bytes with its FIN in one segment; the first segment is lost after the router. " +
			"41101: lost once (a bridge drops it), the retransmission fills the hole and the server then takes the FIN (CLOSE_WAIT); " +
			"41102: lost for good (the server namespace drops every copy, 120 bytes there), so the server holds the FIN out of order and stays ESTABLISHED.",
		topo: topoOpts{impairServerSide: true},
		impair: func(*rand.Rand) (c, s [2]impairPolicy) {
			s[1] = &dropPayloadOnce{size: 100} // frames from the router towards the server
			return c, s
		},
		checks: []check{listed("CLOSE_WAIT", 41101, "conntrack takes the FIN at once"), listed("CLOSE_WAIT", 41102, "conntrack takes the FIN although the server cannot")},
		traffic: func(r *run) error {
			// IPv4 total length of a 120-byte segment with the timestamp option.
			if _, err := dropRule(r.ctx, r.t.server, "hole", "tcp dport 8042 ip length 172"); err != nil {
				return err
			}
			ln, err := r.listen(8042)
			if err != nil {
				return err
			}
			for i, first := range []int{100, 120} {
				c, s, err := r.connect(ln, 41101+i, dialOpts{})
				if err != nil {
					return err
				}
				r.keep(c)
				r.keep(s)
				if err := writeN(c, first); err != nil {
					return err
				}
				// The 200 bytes and the FIN in one segment, sent before
				// the loss is noticed: corked, written, shut down,
				// uncorked. (Once in loss recovery the FIN would wait
				// behind the retransmissions: FIN_WAIT1 with no FIN on
				// the wire, which no observer can see.)
				if err := setCork(c, true); err != nil {
					return err
				}
				if err := writeN(c, 200); err != nil {
					return err
				}
				if err := c.CloseWrite(); err != nil {
					return err
				}
				if err := setCork(c, false); err != nil {
					return err
				}
				if err := r.sleep(100 * time.Millisecond); err != nil {
					return err
				}
			}
			return r.sleep(time.Second)
		},
	}
}

// setCork sets TCP_CORK: segments are held until full or uncorked.
func setCork(c *net.TCPConn, on bool) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	v := 0
	if on {
		v = 1
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK, v)
	}); err != nil {
		return err
	}
	return serr
}

// pickupFINs: established connections, then conntrack -F; the first
// packets captured are FINs, which create no conntrack entry.
func pickupFINs() *scenario {
	return &scenario{
		name: "pickup-fins",
		description: "Three connections exchange data, then conntrack -F and only then the capture starts: the first packets captured are FINs. " +
			"41201: the client closes, then the server; 41202: the server closes first, then the client; " +
			"41203: the client only shuts down writing, the server keeps sending (FIN_WAIT2 that still reads, CLOSE_WAIT).",
		before: func(r *run) error {
			ln, err := r.listen(8043)
			if err != nil {
				return err
			}
			for i := range 3 {
				if _, _, err := r.exchanged(ln, 41201+i, 60); err != nil {
					return err
				}
			}
			if err := r.sleep(300 * time.Millisecond); err != nil {
				return err
			}
			_, err = r.t.router.run(r.ctx, "", "conntrack", "-F")
			return err
		},
		checks: []check{inEvents(`\[NEW\] tcp +6 \d+ ESTABLISHED src=\S+ dst=\S+ sport=8043 `, "the FIN creates no entry; the server's answer is picked up as a flow from the server")},
		traffic: func(r *run) error {
			conns := r.keptConns()
			if len(conns) != 6 {
				return fmt.Errorf("pickup-fins: %d kept connections, want 6", len(conns))
			}
			c1, s1, c2, s2, c3, s3 := conns[0], conns[1], conns[2], conns[3], conns[4], conns[5]
			err := both(func() error { c1.Close(); return nil }, func() error { readEOF(s1); return s1.Close() })
			if err != nil {
				return err
			}
			err = both(func() error { readEOF(c2); return c2.Close() }, func() error { return s2.Close() })
			if err != nil {
				return err
			}
			if err := c3.CloseWrite(); err != nil {
				return err
			}
			if err := readEOF(s3); err != nil {
				return err
			}
			return both(func() error { return readN(c3, 200) }, func() error { return writeN(s3, 200) })
		},
	}
}

// pickupHalfClosed: the client half-closed before the capture began.
func pickupHalfClosed() *scenario {
	return &scenario{
		name: "pickup-half-closed",
		description: "The client shuts down writing (its FIN acknowledged), then conntrack -F, then the capture starts: the server keeps sending " +
			"(41301), or sends and then closes (41302). Nothing captured shows the client's FIN: where the wire cannot tell, the states are unknown.",
		checks: []check{inEvents(`\[NEW\] tcp +6 \d+ ESTABLISHED src=\S+ dst=\S+ sport=8044 dport=41301 `, "picked up from the server's data")},
		before: func(r *run) error {
			ln, err := r.listen(8044)
			if err != nil {
				return err
			}
			for i := range 2 {
				c, s, err := r.exchanged(ln, 41301+i, 60)
				if err != nil {
					return err
				}
				if err := c.CloseWrite(); err != nil {
					return err
				}
				if err := readEOF(s); err != nil {
					return err
				}
			}
			if err := r.sleep(300 * time.Millisecond); err != nil {
				return err
			}
			_, err = r.t.router.run(r.ctx, "", "conntrack", "-F")
			return err
		},
		traffic: func(r *run) error {
			conns := r.keptConns()
			if len(conns) != 4 {
				return fmt.Errorf("pickup-half-closed: %d kept connections, want 4", len(conns))
			}
			c1, s1, c2, s2 := conns[0], conns[1], conns[2], conns[3]
			for range 2 {
				if err := both(func() error { return readN(c1, 100) }, func() error { return writeN(s1, 100) }); err != nil {
					return err
				}
			}
			if err := both(func() error { return readN(c2, 100) }, func() error { return writeN(s2, 100) }); err != nil {
				return err
			}
			return s2.Close()
		},
	}
}

// hostTimeWait: TIME_WAIT lasts 60 s on the host (TCP_TIMEWAIT_LEN,
// fixed), 120 s in conntrack.
func hostTimeWait() *scenario {
	return &scenario{
		name: "host-time-wait",
		description: "TIME_WAIT on the hosts is 60 s (fixed in Linux), conntrack's 120 s: 41401 closes (client first) at 0 s and is gone from the client at -L (63 s) " +
			"while conntrack still lists TIME_WAIT; 41402 closes at 20 s (client TIME_WAIT, ~17 s left); 41403 closes server first at 40 s (server TIME_WAIT, ~37 s left).",
		runTime: 65 * time.Second,
		checks: []check{
			listed("TIME_WAIT", 41401, "conntrack keeps TIME_WAIT for 120 s while the host's is over"),
			listed("TIME_WAIT", 41403, "TIME_WAIT in conntrack"),
		},
		traffic: func(r *run) error {
			ln, err := r.listen(8045)
			if err != nil {
				return err
			}
			start := time.Now()
			for i, at := range []time.Duration{0, 20 * time.Second, 40 * time.Second} {
				if err := r.sleep(time.Until(start.Add(at))); err != nil {
					return err
				}
				c, s, err := r.connect(ln, 41401+i, dialOpts{})
				if err != nil {
					return err
				}
				serverFirst := i == 2
				err = both(func() error {
					if err := request(c, 50, 50); err != nil {
						return err
					}
					if serverFirst {
						readEOF(c)
					}
					return c.Close()
				}, func() error {
					if err := serveRequest(s, 50, 50); err != nil {
						return err
					}
					if !serverFirst {
						readEOF(s)
					}
					return s.Close()
				})
				if err != nil {
					return err
				}
			}
			return r.sleep(time.Until(start.Add(63 * time.Second)))
		},
	}
}

// hostFinWait2: an orphaned FIN_WAIT2 leaves after tcp_fin_timeout.
func hostFinWait2() *scenario {
	return &scenario{
		name: "host-fin-wait2",
		description: "tcp_fin_timeout 5 on the hosts. The client closes (close(): orphaned) while the server keeps its socket in CLOSE_WAIT: " +
			"41501 at 0 s (its FIN_WAIT2 gone at -L, 7 s), 41502 at 4 s (FIN_WAIT2 with ~2 s left).",
		topo:    topoOpts{endpointSysctl: []string{"net.ipv4.tcp_fin_timeout=5"}},
		runTime: 8 * time.Second,
		checks:  []check{listed("CLOSE_WAIT", 41501, "conntrack's CLOSE_WAIT (60 s) outlives the client's FIN_WAIT2")},
		traffic: func(r *run) error {
			ln, err := r.listen(8046)
			if err != nil {
				return err
			}
			start := time.Now()
			for i, at := range []time.Duration{0, 4 * time.Second} {
				if err := r.sleep(time.Until(start.Add(at))); err != nil {
					return err
				}
				c, s, err := r.connect(ln, 41501+i, dialOpts{})
				if err != nil {
					return err
				}
				r.keep(s)
				if err := exchange(c, s, 50); err != nil {
					return err
				}
				if err := c.Close(); err != nil {
					return err
				}
			}
			return r.sleep(time.Until(start.Add(7 * time.Second)))
		},
	}
}

// hostSynSent: connect() gives up after tcp_syn_retries (plus the linear
// ones of Linux 6.x).
func hostSynSent() *scenario {
	return &scenario{
		name: "host-syn-sent",
		description: "The server namespace drops SYNs to port 8047; tcp_syn_retries 2 (and 4 linear): SYNs at 0 1 2 3 4 5 7 s, connect() gives up at 11 s. " +
			"41601 starts at 0 s (gone at -L, 12.5 s); 41602 at 9 s (SYN_SENT, third retransmission done, next at 13 s).",
		runTime: 13 * time.Second,
		checks:  []check{listed("SYN_SENT", 41602, "SYN_SENT [UNREPLIED]")},
		traffic: func(r *run) error {
			if _, err := dropRule(r.ctx, r.t.server, "dropsyn", "tcp dport 8047 tcp flags & (syn | ack) == syn"); err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(r.ctx)
			r.keep(closerFunc(cancel))
			start := time.Now()
			for i, at := range []time.Duration{0, 9 * time.Second} {
				if err := r.sleep(time.Until(start.Add(at))); err != nil {
					return err
				}
				port := 41601 + i
				r.background(func() {
					c, err := r.t.client.dial(ctx, hostPort(r.fam.serverIP(), 8047), dialOpts{local: hostPort(r.fam.clientIP(), port), timeout: 30 * time.Second})
					if err == nil {
						c.Close()
					} else if !errors.Is(err, syscall.ETIMEDOUT) && ctx.Err() == nil {
						r.note("connect from %d: %v", port, err)
					}
				})
			}
			return r.sleep(time.Until(start.Add(12500 * time.Millisecond)))
		},
	}
}

// hostSynRecv: a request gives up after tcp_synack_retries; a SYN sent
// again restarts its timer.
func hostSynRecv() *scenario {
	return &scenario{
		name: "host-syn-recv",
		description: "Crafted SYNs from an address nobody owns to the real server (tcp_synack_retries 2: SYN-ACKs at 0 1 3 s, the request dropped at 7 s): " +
			"30401 at 0 s (gone at -L, 8.5 s); 30402 at 4 s (SYN_RECV, ~2.5 s left); 30403 at 0.5 s with its SYN sent again at 3 s, which restarts the request's timer " +
			"(dropped at 9 s instead of 7.5 s).",
		runTime: 9 * time.Second,
		checks:  []check{listed("SYN_RECV", 30402, "SYN_RECV in conntrack")},
		traffic: func(r *run) error {
			ln, err := r.t.server.listen(hostPort(serverV4, 8048))
			if err != nil {
				return err
			}
			r.keep(ln)
			cr, err := newCrafter(r.t)
			if err != nil {
				return err
			}
			defer cr.Close()
			flows := map[uint16]*flow{}
			for _, p := range []uint16{30401, 30402, 30403} {
				flows[p] = cr.flow(fakeClientV4, serverV4, p, 8048, r.rng.Uint32(), 0)
			}
			syn := seg{from: cli, flags: "S", opts: "mss,sackok,ts"}
			start := time.Now()
			for _, step := range []struct {
				at   time.Duration
				port uint16
			}{{0, 30401}, {500 * time.Millisecond, 30403}, {3 * time.Second, 30403}, {4 * time.Second, 30402}} {
				if err := r.sleep(time.Until(start.Add(step.at))); err != nil {
					return err
				}
				if err := flows[step.port].send(syn); err != nil {
					return err
				}
			}
			return r.sleep(time.Until(start.Add(8200 * time.Millisecond)))
		},
	}
}
