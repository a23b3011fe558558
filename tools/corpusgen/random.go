package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sort"
	"strings"
	"sync"
	"time"
)

// The random scenario: many concurrent connections of mixed behaviour whose
// packets pass impairing bridges on both sides of the router. The seed picks
// the mix, the sizes, the start times and every forwarder decision.

type connKind byte

const (
	kindCloseClient connKind = iota // request/response, client closes first
	kindCloseServer                 // server closes first
	kindRefused                     // SYN to a closed port
	kindAbortClient                 // client RST mid-stream
	kindAbortServer                 // server RST mid-stream
	kindHalfClose                   // client shuts down writing, server streams, then closes
	kindIdle                        // exchange, then idle through -L
	kindBulk                        // larger upload, client closes first
	numKinds
)

func (k connKind) String() string {
	return [...]string{"close-client", "close-server", "refused", "abort-client", "abort-server", "half-close", "idle", "bulk"}[k]
}

// connPlan is one connection of the mix, decided up front from the seed.
type connPlan struct {
	kind  connKind
	fam   family
	start time.Duration
	req   int
	resp  int
}

const (
	randomConnTimeout = 6 * time.Second
	randomPort        = 9000
	randomClosedPort  = 9001
	headerLen         = 9 // kind, request length, response length
)

func planMix(rng *rand.Rand, n int) []connPlan {
	// Weights: mostly ordinary closes, a fair share of everything else.
	weights := []int{kindCloseClient: 25, kindCloseServer: 20, kindRefused: 8, kindAbortClient: 8, kindAbortServer: 8, kindHalfClose: 10, kindIdle: 11, kindBulk: 10}
	total := 0
	for _, w := range weights {
		total += w
	}
	plans := make([]connPlan, n)
	for i := range plans {
		x := rng.IntN(total)
		k := connKind(0)
		for x >= weights[k] {
			x -= weights[k]
			k++
		}
		p := connPlan{kind: k, fam: rng.IntN(5) == 0, start: time.Duration(rng.IntN(3000)) * time.Millisecond,
			req: 20 + rng.IntN(1500), resp: 20 + rng.IntN(3000)}
		if k == kindBulk {
			p.req = 4096 + rng.IntN(12*1024)
		}
		plans[i] = p
	}
	return plans
}

func randomScenario(conns int) *scenario {
	return &scenario{
		name: "random",
		description: fmt.Sprintf("Seeded random mix of %d concurrent connections (IPv4 and IPv6; closes from either side, refused, aborts from either side, "+
			"half-closes, idle, bulk uploads) through userspace bridges on both sides of the router that drop, duplicate, delay and reorder TCP frames "+
			"before the router sees them.", conns),
		topo:               topoOpts{impairClientSide: true, impairServerSide: true},
		duplicatesExpected: true,
		impair: func(rng *rand.Rand) (c, s [2]impairPolicy) {
			return [2]impairPolicy{newRandomPolicy(rng), newRandomPolicy(rng)}, [2]impairPolicy{newRandomPolicy(rng), newRandomPolicy(rng)}
		},
		checks: []check{
			inList(`ESTABLISHED .*\[ASSURED\]`, "idle connections ESTABLISHED [ASSURED] at -L"),
			inList(`TIME_WAIT`, "closed connections in TIME_WAIT"),
			inEvents(`\[DESTROY\]`, "refused connections destroyed by RST"),
		},
		traffic: func(r *run) error { return runMix(r, planMix(r.rng, conns)) },
		settle:  2 * time.Second,
	}
}

// runMix starts the servers and all planned clients and waits for every
// connection that is meant to finish.
func runMix(r *run, plans []connPlan) error {
	for _, fam := range []family{ipv4, ipv6} {
		ln, err := r.t.server.listen(hostPort(fam.serverIP(), randomPort))
		if err != nil {
			return err
		}
		r.keep(ln)
		r.background(func() { acceptLoop(r, ln) })
	}
	var mu sync.Mutex
	var slow []string
	failures := map[string]int{}
	counts := map[connKind]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for _, p := range plans {
		counts[p.kind]++
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Until(start.Add(p.start)))
			t0 := time.Now()
			err := runClient(r, p)
			if d := time.Since(t0); d > 4*time.Second {
				mu.Lock()
				slow = append(slow, fmt.Sprintf("%s %.1fs", p.kind, d.Seconds()))
				mu.Unlock()
			}
			if err != nil {
				mu.Lock()
				failures[p.kind.String()]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var mix []string
	for k := connKind(0); k < numKinds; k++ {
		mix = append(mix, fmt.Sprintf("%s %d", k, counts[k]))
	}
	r.note("mix: %s", strings.Join(mix, ", "))
	if len(slow) > 0 {
		sort.Strings(slow)
		r.note("slow connections: %s", strings.Join(slow, ", "))
	}
	if len(failures) > 0 {
		var fs []string
		for k, n := range failures {
			fs = append(fs, fmt.Sprintf("%s %d", k, n))
		}
		sort.Strings(fs)
		// Impairment can legitimately break a connection (e.g. a lost
		// final segment); the kernel's view is recorded either way.
		r.note("client roles that ended with an error: %s", strings.Join(fs, ", "))
	}
	return r.ctx.Err()
}

func acceptLoop(r *run, ln *net.TCPListener) {
	for {
		c, err := ln.AcceptTCP()
		if err != nil {
			return
		}
		r.keep(c)
		r.background(func() { serveMix(c) })
	}
}

// serveMix reads the client's header and plays the server side of its kind.
func serveMix(c *net.TCPConn) {
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	hdr := make([]byte, headerLen)
	if _, err := readFull(c, hdr); err != nil {
		c.Close()
		return
	}
	kind := connKind(hdr[0])
	req := int(binary.BigEndian.Uint32(hdr[1:5]))
	resp := int(binary.BigEndian.Uint32(hdr[5:9]))
	switch kind {
	case kindCloseClient, kindBulk:
		if serveRequest(c, req, resp) == nil {
			_ = readEOF(c)
		}
		c.Close()
	case kindCloseServer:
		_ = serveRequest(c, req, resp)
		c.Close()
	case kindAbortClient:
		_ = serveRequest(c, req, resp)
		readUntilError(c)
		c.Close()
	case kindAbortServer:
		if readN(c, req) == nil {
			_ = writeN(c, resp/2)
			time.Sleep(50 * time.Millisecond)
		}
		_ = abort(c)
	case kindHalfClose:
		if readEOF(c) == nil {
			for range 3 {
				if writeN(c, resp/3) != nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		c.Close()
	case kindIdle:
		_ = serveRequest(c, req, resp)
		// stays open; closed when the run ends
	default:
		c.Close()
	}
}

func readFull(c *net.TCPConn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := c.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// runClient plays the client side of one planned connection.
func runClient(r *run, p connPlan) error {
	port := randomPort
	if p.kind == kindRefused {
		port = randomClosedPort
	}
	c, err := r.t.client.dial(r.ctx, hostPort(p.fam.serverIP(), port), dialOpts{timeout: 8 * time.Second})
	if p.kind == kindRefused {
		if err == nil {
			c.Close()
			return errors.New("refused connection was accepted")
		}
		return nil
	}
	if err != nil {
		return err
	}
	r.track(c)
	// A lost RST is never retransmitted, so a role waiting for one would
	// wait forever: every client role is bounded.
	_ = c.SetDeadline(time.Now().Add(randomConnTimeout))
	hdr := make([]byte, headerLen)
	hdr[0] = byte(p.kind)
	binary.BigEndian.PutUint32(hdr[1:5], uint32(p.req))
	binary.BigEndian.PutUint32(hdr[5:9], uint32(p.resp))
	if _, err := c.Write(hdr); err != nil {
		c.Close()
		return err
	}
	switch p.kind {
	case kindCloseClient, kindBulk:
		err = request(c, p.req, p.resp)
		c.Close()
	case kindCloseServer:
		err = request(c, p.req, p.resp)
		if err == nil {
			err = readEOF(c)
		}
		c.Close()
	case kindAbortClient:
		err = writeN(c, p.req)
		if err == nil {
			err = readN(c, p.resp/2)
		}
		_ = abort(c)
	case kindAbortServer:
		err = writeN(c, p.req)
		// If the server's RST is lost the client gives up after a while
		// and closes normally; the server's kernel then answers with RST.
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		readUntilError(c)
		c.Close()
	case kindHalfClose:
		err = writeN(c, p.req)
		if err == nil {
			err = c.CloseWrite()
		}
		if err == nil {
			err = readEOF(c)
		}
		c.Close()
	case kindIdle:
		err = request(c, p.req, p.resp)
		r.keep(c)
	}
	return err
}
