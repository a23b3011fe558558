package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"
)

// Real-socket scenarios: both endpoints are ordinary kernel TCP sockets
// created in the client and server namespaces. Client ports are bound
// explicitly so every expectation can name its flow by source port.

// dial connects client port cport to the server's sport.
func (r *run) dial(cport, sport int) (*net.TCPConn, error) {
	return r.dialWith(cport, sport, dialOpts{})
}

func (r *run) dialWith(cport, sport int, o dialOpts) (*net.TCPConn, error) {
	if o.local == "" && cport != 0 {
		o.local = hostPort(r.fam.clientIP(), cport)
	}
	c, err := r.t.client.dial(r.ctx, hostPort(r.fam.serverIP(), sport), o)
	if err != nil {
		return nil, err
	}
	r.track(c)
	return c, c.SetDeadline(time.Now().Add(ioTimeout))
}

// listen opens the server's listener on port; it is closed with the run.
func (r *run) listen(port int) (*net.TCPListener, error) {
	ln, err := r.t.server.listen(hostPort(r.fam.serverIP(), port))
	if err != nil {
		return nil, err
	}
	r.keep(ln)
	return ln, nil
}

// connect dials and accepts one connection and returns both ends.
// exchanged connects from client port cport to ln, keeps both ends open
// until the run ends, and exchanges one request and reply of n bytes.
func (r *run) exchanged(ln *net.TCPListener, cport, n int) (client, server *net.TCPConn, err error) {
	c, s, err := r.connect(ln, cport, dialOpts{})
	if err != nil {
		return nil, nil, err
	}
	r.keep(c)
	r.keep(s)
	return c, s, exchange(c, s, n)
}

func (r *run) connect(ln *net.TCPListener, cport int, o dialOpts) (client, server *net.TCPConn, err error) {
	port := ln.Addr().(*net.TCPAddr).Port
	type res struct {
		c   *net.TCPConn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := acceptOne(ln)
		if c != nil {
			r.track(c)
		}
		ch <- res{c, err}
	}()
	client, err = r.dialWith(cport, port, o)
	a := <-ch
	if err != nil || a.err != nil {
		if client != nil {
			client.Close()
		}
		if a.c != nil {
			a.c.Close()
		}
		return nil, nil, errors.Join(err, a.err)
	}
	return client, a.c, nil
}

// closerFunc adapts a function to io.Closer for run.keep.
type closerFunc func()

func (f closerFunc) Close() error { f(); return nil }

// dropRule installs an nft input rule in a namespace and returns a function
// that removes it again. Packets it drops have already passed the router.
func dropRule(ctx context.Context, n node, table, match string) (func() error, error) {
	rules := fmt.Sprintf("table inet %s {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\t%s counter drop\n\t}\n}\n", table, match)
	if err := n.nft(ctx, rules); err != nil {
		return nil, err
	}
	return func() error {
		_, err := n.run(ctx, "", "nft", "delete", "table", "inet", table)
		return err
	}, nil
}

func closeClientFirst(fam family) *scenario {
	return &scenario{
		name:        "close-client-first" + fam.suffix(),
		family:      fam,
		description: "Normal close, client closes first. Port 40001: server closes right after reading EOF (FIN+ACK can combine); port 40002: server waits 300ms, so its ACK and FIN are separate.",
		checks: []check{
			evented("NEW", "SYN_SENT", 40001, "[NEW] SYN_SENT [UNREPLIED] on the SYN"),
			evented("UPDATE", "SYN_RECV", 40001, "[UPDATE] SYN_RECV on the SYN-ACK"),
			evented("UPDATE", "ESTABLISHED", 40001, "[UPDATE] ESTABLISHED ... [ASSURED] on the handshake's ACK"),
			evented("UPDATE", "FIN_WAIT", 40002, "[UPDATE] FIN_WAIT on the client's FIN"),
			evented("UPDATE", "CLOSE_WAIT", 40002, "[UPDATE] CLOSE_WAIT when the server ACKs the FIN on its own"),
			evented("UPDATE", "LAST_ACK", 40002, "[UPDATE] LAST_ACK on the server's FIN"),
			evented("UPDATE", "TIME_WAIT", 40002, "[UPDATE] TIME_WAIT on the client's last ACK"),
			listed("TIME_WAIT", 40001, "both flows in TIME_WAIT [ASSURED] at -L"),
			listed("TIME_WAIT", 40002, "both flows in TIME_WAIT [ASSURED] at -L"),
		},
		traffic: func(r *run) error {
			ln, err := r.listen(8001)
			if err != nil {
				return err
			}
			for i, wait := range []time.Duration{0, 300 * time.Millisecond} {
				c, s, err := r.connect(ln, 40001+i, dialOpts{})
				if err != nil {
					return err
				}
				err = both(func() error {
					if err := request(c, 200, 1000); err != nil {
						return err
					}
					return c.Close()
				}, func() error {
					if err := serveRequest(s, 200, 1000); err != nil {
						return err
					}
					if err := readEOF(s); err != nil {
						return err
					}
					time.Sleep(wait)
					return s.Close()
				})
				if err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func closeServerFirst(fam family) *scenario {
	return &scenario{
		name:        "close-server-first" + fam.suffix(),
		family:      fam,
		description: "Normal close, server closes first (the server ends in TIME_WAIT). Port 40011: client closes right after EOF; port 40012: client waits 300ms.",
		checks: []check{
			evented("UPDATE", "FIN_WAIT", 40012, "[UPDATE] FIN_WAIT on the server's FIN (reply direction)"),
			evented("UPDATE", "CLOSE_WAIT", 40012, "[UPDATE] CLOSE_WAIT when the client ACKs it"),
			evented("UPDATE", "LAST_ACK", 40012, "[UPDATE] LAST_ACK on the client's FIN"),
			evented("UPDATE", "TIME_WAIT", 40012, "[UPDATE] TIME_WAIT on the server's last ACK"),
			listed("TIME_WAIT", 40011, "TIME_WAIT [ASSURED] at -L"),
			listed("TIME_WAIT", 40012, "TIME_WAIT [ASSURED] at -L"),
		},
		traffic: func(r *run) error {
			ln, err := r.listen(8002)
			if err != nil {
				return err
			}
			for i, wait := range []time.Duration{0, 300 * time.Millisecond} {
				c, s, err := r.connect(ln, 40011+i, dialOpts{})
				if err != nil {
					return err
				}
				err = both(func() error {
					if err := request(c, 300, 800); err != nil {
						return err
					}
					if err := readEOF(c); err != nil {
						return err
					}
					time.Sleep(wait)
					return c.Close()
				}, func() error {
					if err := serveRequest(s, 300, 800); err != nil {
						return err
					}
					return s.Close()
				})
				if err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func halfClose() *scenario {
	return &scenario{
		name:        "half-close",
		description: "Client sends a request and shuts down its write side; the server keeps sending 500 bytes every 100ms for 1.5s and is still open at -L.",
		checks: []check{
			evented("UPDATE", "FIN_WAIT", 40021, "[UPDATE] FIN_WAIT on the client's FIN"),
			evented("UPDATE", "CLOSE_WAIT", 40021, "[UPDATE] CLOSE_WAIT on the server's ACK"),
			listed("CLOSE_WAIT", 40021, "CLOSE_WAIT [ASSURED] at -L while the server still sends"),
		},
		traffic: func(r *run) error {
			ln, err := r.listen(8003)
			if err != nil {
				return err
			}
			c, s, err := r.connect(ln, 40021, dialOpts{})
			if err != nil {
				return err
			}
			r.keep(c)
			r.keep(s)
			return both(func() error {
				if err := writeN(c, 120); err != nil {
					return err
				}
				if err := c.CloseWrite(); err != nil {
					return err
				}
				return readN(c, 15*500)
			}, func() error {
				if err := readEOF(s); err != nil {
					return err
				}
				for range 15 {
					if err := writeN(s, 500); err != nil {
						return err
					}
					time.Sleep(100 * time.Millisecond)
				}
				return nil
			})
		},
	}
}

func refused(fam family) *scenario {
	return &scenario{
		name:        "refused" + fam.suffix(),
		family:      fam,
		description: "Connection refused: SYN to a closed port, answered by RST+ACK (ports 40031 and 40032).",
		checks: []check{
			evented("NEW", "SYN_SENT", 40031, "[NEW] SYN_SENT [UNREPLIED]"),
			evented("DESTROY", "", 40031, "[DESTROY] at once on the RST (an unreplied entry is deleted, never CLOSE)"),
			evented("DESTROY", "", 40032, "[DESTROY] for the second attempt too"),
			notInList(`port=4003[12] `, "no entry left at -L"),
		},
		traffic: func(r *run) error {
			for _, p := range []int{40031, 40032} {
				c, err := r.dial(p, 8099)
				if err == nil {
					c.Close()
					return errors.New("connect to a closed port succeeded")
				}
				if !errors.Is(err, syscall.ECONNREFUSED) {
					return err
				}
				time.Sleep(100 * time.Millisecond)
			}
			return nil
		},
	}
}

func synNoAnswer() *scenario {
	return &scenario{
		name:        "syn-no-answer",
		description: "The server namespace drops incoming SYNs (after the router forwarded them); the client retransmits its SYN (this kernel: once a second, tcp_syn_linear_timeouts). Still unanswered at -L, 3.4s after the first SYN.",
		checks: []check{
			evented("NEW", "SYN_SENT", 40041, "[NEW] SYN_SENT [UNREPLIED]"),
			listed("SYN_SENT", 40041, "SYN_SENT [UNREPLIED] at -L; retransmitted SYNs do not refresh the timer"),
		},
		traffic: func(r *run) error {
			if _, err := dropRule(r.ctx, r.t.server, "dropsyn", "tcp dport 8004 tcp flags & (syn | ack) == syn"); err != nil {
				return err
			}
			ctx, cancel := context.WithCancel(r.ctx)
			r.keep(closerFunc(cancel))
			r.background(func() {
				if c, err := r.t.client.dial(ctx, hostPort(r.fam.serverIP(), 8004), dialOpts{local: hostPort(r.fam.clientIP(), 40041), timeout: 10 * time.Second}); err == nil {
					c.Close()
				}
			})
			return r.sleep(3400 * time.Millisecond)
		},
	}
}

func abortRST(fam family) *scenario {
	return &scenario{
		name:        "abort-rst" + fam.suffix(),
		family:      fam,
		description: "Abort by RST mid-stream (SO_LINGER 0). Port 40051: the client aborts with 2000 unread bytes; port 40052: the server aborts after its reply.",
		checks: []check{
			evented("UPDATE", "CLOSE", 40051, "[UPDATE] CLOSE on the client's RST"),
			evented("UPDATE", "CLOSE", 40052, "[UPDATE] CLOSE on the server's RST"),
			listed("CLOSE", 40051, "CLOSE [ASSURED] at -L (10s timer)"),
			listed("CLOSE", 40052, "CLOSE [ASSURED] at -L (10s timer)"),
		},
		traffic: func(r *run) error {
			ln, err := r.listen(8005)
			if err != nil {
				return err
			}
			c, s, err := r.connect(ln, 40051, dialOpts{})
			if err != nil {
				return err
			}
			err = both(func() error {
				if err := request(c, 100, 1000); err != nil {
					return err
				}
				time.Sleep(200 * time.Millisecond) // the rest arrives unread
				return abort(c)
			}, func() error {
				defer s.Close()
				if err := serveRequest(s, 100, 3000); err != nil {
					return err
				}
				readUntilError(s)
				return nil
			})
			if err != nil {
				return err
			}
			c, s, err = r.connect(ln, 40052, dialOpts{})
			if err != nil {
				return err
			}
			return both(func() error {
				defer c.Close()
				if err := request(c, 100, 500); err != nil {
					return err
				}
				readUntilError(c)
				return nil
			}, func() error {
				if err := serveRequest(s, 100, 500); err != nil {
					return err
				}
				time.Sleep(100 * time.Millisecond)
				return abort(s)
			})
		},
	}
}

func idleEstablished(fam family) *scenario {
	return &scenario{
		name:        "idle-established" + fam.suffix(),
		family:      fam,
		description: "Three connections exchange a little data and stay open, idle, through -L (ports 40061-40063).",
		checks: []check{
			listed("ESTABLISHED", 40061, "ESTABLISHED [ASSURED] at -L with a timeout near 432000"),
			listed("ESTABLISHED", 40062, "ESTABLISHED [ASSURED] at -L"),
			listed("ESTABLISHED", 40063, "ESTABLISHED [ASSURED] at -L"),
		},
		traffic: func(r *run) error {
			ln, err := r.listen(8006)
			if err != nil {
				return err
			}
			for i := range 3 {
				c, s, err := r.connect(ln, 40061+i, dialOpts{})
				if err != nil {
					return err
				}
				r.keep(c)
				r.keep(s)
				if err := both(func() error { return request(c, 64+i, 256) }, func() error { return serveRequest(s, 64+i, 256) }); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func simultaneousOpen() *scenario {
	return &scenario{
		name: "simultaneous-open",
		description: "Simultaneous open: client 40071 and server 8007 connect to each other. The server namespace drops the client's SYN after the router saw it, " +
			"then the server's own SYN crosses it; the client answers with SYN-ACK. Data both ways, then the client closes first.",
		checks: []check{
			evented("NEW", "SYN_SENT", 40071, "[NEW] SYN_SENT on the client's SYN"),
			evented("UPDATE", "SYN_SENT2", 40071, "[UPDATE] SYN_SENT2 on the server's SYN (reply direction)"),
			evented("UPDATE", "SYN_RECV", 40071, "[UPDATE] SYN_RECV on the client's SYN-ACK"),
			evented("UPDATE", "ESTABLISHED", 40071, "[UPDATE] ESTABLISHED [ASSURED] on the server's ACK"),
			listed("TIME_WAIT", 40071, "TIME_WAIT [ASSURED] at -L"),
		},
		traffic: func(r *run) error {
			remove, err := dropRule(r.ctx, r.t.server, "simopen",
				fmt.Sprintf("tcp sport 40071 tcp dport 8007 tcp flags & (syn | ack) == syn"))
			if err != nil {
				return err
			}
			type res struct {
				c   *net.TCPConn
				err error
			}
			cc := make(chan res, 1)
			go func() {
				c, err := r.t.client.dial(r.ctx, hostPort(r.fam.serverIP(), 8007), dialOpts{local: hostPort(r.fam.clientIP(), 40071), timeout: 8 * time.Second})
				cc <- res{c, err}
			}()
			time.Sleep(150 * time.Millisecond)
			s, serr := r.t.server.dial(r.ctx, hostPort(r.fam.clientIP(), 40071), dialOpts{local: hostPort(r.fam.serverIP(), 8007), timeout: 8 * time.Second})
			cr := <-cc
			rerr := remove()
			if err := errors.Join(cr.err, serr, rerr); err != nil {
				if cr.c != nil {
					cr.c.Close()
				}
				if s != nil {
					s.Close()
				}
				return err
			}
			c := cr.c
			c.SetDeadline(time.Now().Add(ioTimeout))
			s.SetDeadline(time.Now().Add(ioTimeout))
			return both(func() error {
				if err := request(c, 100, 200); err != nil {
					return err
				}
				if err := c.Close(); err != nil {
					return err
				}
				return nil
			}, func() error {
				if err := serveRequest(s, 100, 200); err != nil {
					return err
				}
				if err := readEOF(s); err != nil {
					return err
				}
				return s.Close()
			})
		},
	}
}

func simultaneousClose() *scenario {
	return &scenario{
		name: "simultaneous-close",
		description: "Simultaneous close: the server namespace drops the client's first FIN (after the router saw it); the server then sends its own FIN, " +
			"so the client goes FIN-WAIT-1 -> CLOSING; the client's retransmitted FIN completes the close.",
		checks: []check{
			evented("UPDATE", "FIN_WAIT", 40081, "[UPDATE] FIN_WAIT on the client's FIN"),
			evented("UPDATE", "LAST_ACK", 40081, "[UPDATE] LAST_ACK on the server's FIN"),
			evented("UPDATE", "TIME_WAIT", 40081, "[UPDATE] TIME_WAIT once the FINs are acknowledged"),
			listed("TIME_WAIT", 40081, "TIME_WAIT [ASSURED] at -L"),
		},
		traffic: func(r *run) error {
			ln, err := r.listen(8008)
			if err != nil {
				return err
			}
			c, s, err := r.connect(ln, 40081, dialOpts{})
			if err != nil {
				return err
			}
			defer c.Close()
			defer s.Close()
			if err := exchange(c, s, 100); err != nil {
				return err
			}
			time.Sleep(100 * time.Millisecond) // let delayed ACKs go out
			remove, err := dropRule(r.ctx, r.t.server, "dropfin", "tcp sport 40081 tcp flags & fin == fin")
			if err != nil {
				return err
			}
			if err := c.CloseWrite(); err != nil {
				return err
			}
			time.Sleep(50 * time.Millisecond)
			if err := s.CloseWrite(); err != nil {
				return err
			}
			time.Sleep(50 * time.Millisecond)
			if err := remove(); err != nil {
				return err
			}
			return both(func() error { return readEOF(c) }, func() error { return readEOF(s) })
		},
		settle: time.Second,
	}
}

func pickup() *scenario {
	return &scenario{
		name: "pickup",
		description: "Mid-stream pickup: three connections are established, then conntrack -F empties the router's table, and only then do capture and -E start. " +
			"40091 exchanges data and closes (client first); on 40092 the server speaks first after the flush (so the entry's original direction is server->client); " +
			"on 40093 the client sends one segment and the server only ACKs it.",
		checks: []check{
			inEvents(`\[NEW\] tcp +6 \d+ ESTABLISHED src=\S+ dst=\S+ sport=40091 .*\[UNREPLIED\]`, "[NEW] ESTABLISHED [UNREPLIED] for a picked-up flow"),
			evented("UPDATE", "TIME_WAIT", 40091, "picked-up flow closes normally to TIME_WAIT"),
			inEvents(`\[NEW\] tcp +6 \d+ ESTABLISHED src=\S+ dst=\S+ sport=8009 dport=40092 `, "server-first pickup: original tuple is server -> client"),
			listed("ESTABLISHED", 8009, "server-first pickup listed ESTABLISHED with the server as source"),
			listed("ESTABLISHED", 40093, "one data segment and its ACK: ESTABLISHED, not yet [ASSURED]"),
		},
		before: func(r *run) error {
			ln, err := r.listen(8009)
			if err != nil {
				return err
			}
			for i := range 3 {
				if _, _, err := r.exchanged(ln, 40091+i, 50); err != nil {
					return err
				}
			}
			if err := r.sleep(300 * time.Millisecond); err != nil { // delayed ACKs out before the flush
				return err
			}
			_, err = r.t.router.run(r.ctx, "", "conntrack", "-F")
			return err
		},
		traffic: func(r *run) error {
			conns := r.keptConns()
			if len(conns) != 6 {
				return fmt.Errorf("pickup: %d kept connections, want 6", len(conns))
			}
			c1, s1, c2, s2, c3, s3 := conns[0], conns[1], conns[2], conns[3], conns[4], conns[5]
			if err := both(func() error { return writeN(s2, 77) }, func() error { return readN(c2, 77) }); err != nil {
				return err
			}
			if err := both(func() error { return writeN(c3, 33) }, func() error { return readN(s3, 33) }); err != nil {
				return err
			}
			return both(func() error {
				if err := request(c1, 300, 700); err != nil {
					return err
				}
				return c1.Close()
			}, func() error {
				if err := serveRequest(s1, 300, 700); err != nil {
					return err
				}
				if err := readEOF(s1); err != nil {
					return err
				}
				return s1.Close()
			})
		},
	}
}

// keptConns returns the TCP connections registered with keep, in order.
func (r *run) keptConns() []*net.TCPConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*net.TCPConn
	for _, c := range r.closers {
		if tc, ok := c.(*net.TCPConn); ok {
			out = append(out, tc)
		}
	}
	return out
}

func reopenTimeWait() *scenario {
	return &scenario{
		name: "reopen-time-wait",
		description: "Port reuse within TIME_WAIT with real sockets: the server closes first, the flow reaches TIME_WAIT in the router; " +
			"the client then connects again from the same port 40101 (SO_REUSEADDR) and the server's TIME_WAIT socket accepts the new SYN.",
		checks: []check{
			evented("UPDATE", "TIME_WAIT", 40101, "first connection reaches TIME_WAIT"),
			evented("DESTROY", "", 40101, "[DESTROY] of the TIME_WAIT entry when the new SYN arrives (reopen)"),
			inEvents(`\[DESTROY\] tcp +6 (\d+ \S+ )?src=\S+ dst=\S+ sport=40101 .*\n.*\[NEW\] tcp +6 \d+ SYN_SENT src=\S+ dst=\S+ sport=40101 `, "[NEW] SYN_SENT right after that [DESTROY]"),
			listed("ESTABLISHED", 40101, "the second connection is ESTABLISHED [ASSURED] at -L"),
		},
		traffic: func(r *run) error {
			ln, err := r.listen(8010)
			if err != nil {
				return err
			}
			o := dialOpts{reuse: true}
			c, s, err := r.connect(ln, 40101, o)
			if err != nil {
				return err
			}
			err = both(func() error {
				if err := request(c, 100, 400); err != nil {
					return err
				}
				if err := readEOF(c); err != nil {
					return err
				}
				return c.Close()
			}, func() error {
				if err := serveRequest(s, 100, 400); err != nil {
					return err
				}
				return s.Close()
			})
			if err != nil {
				return err
			}
			if err := r.sleep(500 * time.Millisecond); err != nil {
				return err
			}
			c, s, err = r.connect(ln, 40101, o)
			if err != nil {
				return err
			}
			r.keep(c)
			r.keep(s)
			return exchange(c, s, 100)
		},
	}
}

func expiry() *scenario {
	return &scenario{
		name: "expiry",
		description: "Short router timeouts (syn_sent 5, syn_recv 5, established 7, fin_wait/close_wait/last_ack/time_wait 4, close 3) so flows expire before -L (taken ~9.5s after the first SYN): " +
			"40111 unanswered SYN (the client gives up after 4.5s), 40112 normal close, 40113 abort, 40114 idle established, 40115 half-closed, 40116 kept busy (one byte per second).",
		topo: topoOpts{routerSysctl: []string{
			"net.netfilter.nf_conntrack_tcp_timeout_syn_sent=5",
			"net.netfilter.nf_conntrack_tcp_timeout_syn_recv=5",
			"net.netfilter.nf_conntrack_tcp_timeout_established=7",
			"net.netfilter.nf_conntrack_tcp_timeout_fin_wait=4",
			"net.netfilter.nf_conntrack_tcp_timeout_close_wait=4",
			"net.netfilter.nf_conntrack_tcp_timeout_last_ack=4",
			"net.netfilter.nf_conntrack_tcp_timeout_time_wait=4",
			"net.netfilter.nf_conntrack_tcp_timeout_close=3",
		}},
		checks: []check{
			evented("DESTROY", "", 40111, "[DESTROY] by expiry of the unanswered SYN_SENT entry (5s)"),
			evented("DESTROY", "", 40112, "[DESTROY] by expiry of TIME_WAIT (4s)"),
			evented("DESTROY", "", 40113, "[DESTROY] by expiry of CLOSE (3s)"),
			evented("DESTROY", "", 40114, "[DESTROY] by expiry of the idle ESTABLISHED entry (7s)"),
			evented("DESTROY", "", 40115, "[DESTROY] by expiry of CLOSE_WAIT (4s)"),
			listed("ESTABLISHED", 40116, "the busy flow is still ESTABLISHED with a timeout of at most 7"),
			notInList(`port=4011[1-5] `, "expired flows are gone at -L"),
		},
		traffic: func(r *run) error {
			if _, err := dropRule(r.ctx, r.t.server, "dropsyn", "tcp dport 8012 tcp flags & (syn | ack) == syn"); err != nil {
				return err
			}
			start := time.Now()
			ctx, cancel := context.WithCancel(r.ctx)
			r.keep(closerFunc(cancel))
			// The client gives up after 4.5s (closing a SYN_SENT socket sends
			// nothing), so no later SYN re-creates the entry after it expires.
			r.background(func() {
				if c, err := r.t.client.dial(ctx, hostPort(r.fam.serverIP(), 8012), dialOpts{local: hostPort(r.fam.clientIP(), 40111), timeout: 4500 * time.Millisecond}); err == nil {
					c.Close()
				}
			})
			ln, err := r.listen(8011)
			if err != nil {
				return err
			}
			conns := map[int][2]*net.TCPConn{}
			for p := 40112; p <= 40116; p++ {
				c, s, err := r.exchanged(ln, p, 100)
				if err != nil {
					return err
				}
				conns[p] = [2]*net.TCPConn{c, s}
			}
			c, s := conns[40112][0], conns[40112][1]
			if err := both(func() error { c.Close(); return nil }, func() error { readEOF(s); return s.Close() }); err != nil {
				return err
			}
			if err := abort(conns[40113][0]); err != nil {
				return err
			}
			if err := conns[40115][0].CloseWrite(); err != nil {
				return err
			}
			busyC, busyS := conns[40116][0], conns[40116][1]
			for time.Since(start) < 9500*time.Millisecond {
				if err := both(func() error { return writeN(busyC, 1) }, func() error { return readN(busyS, 1) }); err != nil {
					return err
				}
				if err := r.sleep(time.Second); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func retransmittedFIN() *scenario {
	return &scenario{
		name:        "retransmitted-fin",
		description: "The server namespace drops the client's FIN for 400ms (after the router saw it), so the router sees the FIN retransmitted before the close completes.",
		checks: []check{
			evented("UPDATE", "FIN_WAIT", 40121, "[UPDATE] FIN_WAIT on the first FIN; retransmissions change nothing"),
			listed("TIME_WAIT", 40121, "TIME_WAIT [ASSURED] at -L"),
		},
		traffic: func(r *run) error {
			ln, err := r.listen(8013)
			if err != nil {
				return err
			}
			c, s, err := r.connect(ln, 40121, dialOpts{})
			if err != nil {
				return err
			}
			defer s.Close()
			if err := exchange(c, s, 100); err != nil {
				return err
			}
			time.Sleep(100 * time.Millisecond)
			remove, err := dropRule(r.ctx, r.t.server, "dropfin", "tcp sport 40121 tcp flags & fin == fin")
			if err != nil {
				return err
			}
			if err := c.Close(); err != nil {
				return err
			}
			time.Sleep(400 * time.Millisecond)
			if err := remove(); err != nil {
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

func zeroWindow() *scenario {
	return &scenario{
		name: "zero-window",
		description: "The server's receive buffer is tiny and it does not read: its window closes and the client sends zero-window probes. " +
			"40131 recovers (the server reads after 1.5s, then both close); 40132 is still stuck at -L.",
		checks: []check{
			listed("TIME_WAIT", 40131, "the recovered flow closes to TIME_WAIT"),
			inList(`^ipv4 +2 tcp +6 ([0-2]\d\d|300|\d\d|\d) ESTABLISHED src=\S+ dst=\S+ sport=40132 `, "the stuck flow is ESTABLISHED with a timeout capped at 300 (window 0 / unacknowledged data)"),
		},
		traffic: func(r *run) error {
			var ln net.Listener
			err := r.t.server.do(func() error {
				lc := net.ListenConfig{KeepAlive: -1, Control: func(_, _ string, rc syscall.RawConn) error {
					var serr error
					err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
					return errors.Join(err, serr)
				}}
				var err error
				ln, err = lc.Listen(r.ctx, "tcp", hostPort(r.fam.serverIP(), 8014))
				return err
			})
			if err != nil {
				return err
			}
			r.keep(ln)
			const total = 48 * 1024
			var wg sync.WaitGroup
			var errs [2]error
			for i, p := range []int{40131, 40132} {
				c, s, err := r.connect(ln.(*net.TCPListener), p, dialOpts{})
				if err != nil {
					return err
				}
				r.keep(c)
				r.keep(s)
				wg.Add(1)
				go func() {
					defer wg.Done()
					if i == 1 {
						r.background(func() { _ = writeN(c, total) })
						return
					}
					errs[i] = both(func() error {
						if err := writeN(c, total); err != nil {
							return err
						}
						return c.Close()
					}, func() error {
						time.Sleep(1500 * time.Millisecond)
						if err := readEOF(s); err != nil {
							return err
						}
						return s.Close()
					})
				}()
			}
			wg.Wait()
			if err := errors.Join(errs[:]...); err != nil {
				return err
			}
			return r.sleep(time.Second)
		},
	}
}

func optionsOff() *scenario {
	return &scenario{
		name:        "options-off",
		description: "The client disables window scaling, SACK and timestamps (sysctls), so its SYN carries only MSS; 16KB from the server, client closes first.",
		topo: topoOpts{clientSysctl: []string{
			"net.ipv4.tcp_window_scaling=0", "net.ipv4.tcp_sack=0", "net.ipv4.tcp_timestamps=0",
		}},
		checks: []check{listed("TIME_WAIT", 40141, "TIME_WAIT [ASSURED] at -L")},
		traffic: func(r *run) error {
			ln, err := r.listen(8015)
			if err != nil {
				return err
			}
			c, s, err := r.connect(ln, 40141, dialOpts{})
			if err != nil {
				return err
			}
			return both(func() error {
				if err := request(c, 100, 16*1024); err != nil {
					return err
				}
				return c.Close()
			}, func() error {
				if err := serveRequest(s, 100, 16*1024); err != nil {
					return err
				}
				if err := readEOF(s); err != nil {
					return err
				}
				return s.Close()
			})
		},
	}
}

func sackLoss() *scenario {
	return &scenario{
		name: "sack-loss",
		description: "A bridge namespace between router and server drops the 4th data segment from the client after the router saw it: " +
			"the server answers with SACK blocks and the client retransmits. 16KB upload, client closes first.",
		topo: topoOpts{impairServerSide: true},
		impair: func(*rand.Rand) (c, s [2]impairPolicy) {
			s[1] = &dropNthData{n: 4} // frames from the router towards the server
			return c, s
		},
		checks: []check{listed("TIME_WAIT", 40151, "TIME_WAIT [ASSURED] at -L despite the loss")},
		traffic: func(r *run) error {
			ln, err := r.listen(8016)
			if err != nil {
				return err
			}
			c, s, err := r.connect(ln, 40151, dialOpts{})
			if err != nil {
				return err
			}
			return both(func() error {
				if err := request(c, 16*1024, 100); err != nil {
					return err
				}
				return c.Close()
			}, func() error {
				if err := serveRequest(s, 16*1024, 100); err != nil {
					return err
				}
				if err := readEOF(s); err != nil {
					return err
				}
				return s.Close()
			})
		},
		settle: 500 * time.Millisecond,
	}
}
