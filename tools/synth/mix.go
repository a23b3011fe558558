package main

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Address plan: clients in 10.1.0.0/16 (fd00:1::/64), servers in
// 10.2.0.0/22 (fd00:2::/64), all behind one gateway MAC, as a capture on a
// router's inside link shows them.
const (
	numClients  = 65534
	numServers  = 1023
	portFirst   = 32768 // Linux ephemeral range
	portLast    = 60999
	poolSize    = 1 << 18
	dnsServerIP = 53
)

// gatewayMAC is read-only.
var gatewayMAC = [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}

// mixConfig holds the traffic mix: weights are per started connection.
type mixConfig struct {
	concurrency int
	weights     [numKinds]float64
	v6          float64 // share of connections over IPv6
	vlan        float64 // share of connections 802.1Q-tagged
	other       float64 // share of packets that are UDP or ARP
	retrans     float64 // chance a data segment is sent twice
}

func defaultMix() mixConfig {
	return mixConfig{
		concurrency: 10000,
		// Tuned so bulk segments are ~1/6 of the packets and the file
		// averages ~100 bytes per packet (10 M packets ≈ 1 GB).
		weights: [numKinds]float64{
			kindShort: 60, kindBulk: 0.04, kindInteractive: 8, kindHalfClose: 4,
			kindAborted: 6, kindRefused: 8, kindUnanswered: 3,
		},
		v6: 0.10, vlan: 0.05, other: 0.02, retrans: 0.01,
	}
}

// parseWeights reads "short=60,bulk=0.1,..." over the defaults.
func parseWeights(s string, w *[numKinds]float64) error {
	if s == "" {
		return nil
	}
	for _, kv := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return fmt.Errorf("-mix: %q is not KIND=WEIGHT", kv)
		}
		f, err := strconv.ParseFloat(val, 64)
		if err != nil || f < 0 {
			return fmt.Errorf("-mix: weight %q for %s is not a number ≥ 0", val, name)
		}
		k := connKind(0)
		for ; k < numKinds; k++ {
			if k.String() == name {
				break
			}
		}
		if k == numKinds {
			return fmt.Errorf("-mix: unknown kind %q (one of %s)", name, strings.Join(kindNames[:], ", "))
		}
		w[k] = f
	}
	var sum float64
	for _, f := range w {
		sum += f
	}
	if sum == 0 {
		return fmt.Errorf("-mix: all weights are zero")
	}
	return nil
}

// mixStats counts what was generated, for the summary line.
type mixStats struct {
	started [numKinds]int64
	v6      int64
	vlan    int64
	other   int64
}

// mixGen interleaves many concurrent connections into one packet stream.
type mixGen struct {
	r        *rand.Rand
	cfg      mixConfig
	cum      [numKinds]float64 // cumulative weights
	slots    []conn            // slots[:active] are open connections
	active   int
	nextPort []uint16 // per client: next ephemeral port, so 4-tuples never repeat
	fb       frameBuilder
	pool     []byte // random payload bytes; segments are windows into it
	clock    clock
	stats    mixStats
}

func newMixGen(r *rand.Rand, cfg mixConfig, clk clock) *mixGen {
	g := &mixGen{r: r, cfg: cfg, clock: clk}
	var sum float64
	for k, w := range cfg.weights {
		sum += w
		g.cum[k] = sum
	}
	for k := range g.cum {
		g.cum[k] /= sum
	}
	g.slots = make([]conn, cfg.concurrency)
	g.nextPort = make([]uint16, numClients+1)
	for i := range g.nextPort {
		g.nextPort[i] = uint16(portFirst + r.IntN(portLast-portFirst))
	}
	g.pool = randomPool(r, poolSize)
	return g
}

func randomPool(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b
}

// run writes n packets.
func (g *mixGen) run(pw *pcapWriter, n int64) error {
	r := g.r
	ts, stamped := int64(0), false
	for pw.packets < n {
		if !stamped {
			ts, stamped = g.clock.tick(r), true
		}
		var frame []byte
		switch {
		case r.Float64() < g.cfg.other:
			frame = g.otherFrame()
			g.stats.other++
		case g.active < len(g.slots) && r.IntN(len(g.slots)) >= g.active:
			// Open more connections the fewer are open: the count settles
			// just under the concurrency target.
			c := &g.slots[g.active]
			g.active++
			g.start(c)
			a, _ := c.next(r)
			frame = c.emit(&g.fb, a, ts, g.pool, r.IntN(poolSize-maxFrame))
		default:
			i := r.IntN(g.active)
			c := &g.slots[i]
			a, ok := c.next(r)
			if !ok {
				g.active--
				g.slots[i] = g.slots[g.active]
				continue
			}
			frame = c.emit(&g.fb, a, ts, g.pool, r.IntN(poolSize-maxFrame))
		}
		if err := pw.write(ts, frame); err != nil {
			return err
		}
		stamped = false
	}
	return nil
}

func (g *mixGen) pickKind() connKind {
	x := g.r.Float64()
	for k, c := range g.cum {
		if x < c {
			return connKind(k)
		}
	}
	return kindShort
}

// serverPorts lists plausible service ports per kind.
var serverPorts = [numKinds][]uint16{
	kindShort:       {80, 443, 443, 443, 8080},
	kindBulk:        {443, 80, 873, 22, 445},
	kindInteractive: {22, 5432, 6379, 3306, 443},
	kindHalfClose:   {80, 443, 25},
	kindAborted:     {443, 80, 8443},
	kindRefused:     {81, 8081, 23, 3389, 9000},
	kindUnanswered:  {443, 135, 139, 1433},
}

func clientAddr(i int, v6 bool) (a [16]byte) {
	if v6 {
		a[0], a[1], a[3] = 0xfd, 0x00, 0x01
		binary.BigEndian.PutUint32(a[12:], uint32(i))
		return a
	}
	a[0], a[1], a[2], a[3] = 10, 1, byte(i>>8), byte(i)
	return a
}

func serverAddr(i int, v6 bool) (a [16]byte) {
	if v6 {
		a[0], a[1], a[3] = 0xfd, 0x00, 0x02
		binary.BigEndian.PutUint32(a[12:], uint32(i))
		return a
	}
	a[0], a[1], a[2], a[3] = 10, 2, byte(i>>8), byte(i)
	return a
}

func clientMAC(i int) [6]byte {
	return [6]byte{0x02, 0x00, 0x0a, 0x01, byte(i >> 8), byte(i)}
}

// start resets c to a fresh connection.
func (g *mixGen) start(c *conn) {
	r := g.r
	kind := g.pickKind()
	g.stats.started[kind]++
	ci, si := 1+r.IntN(numClients), 1+r.IntN(numServers)
	v6 := r.Float64() < g.cfg.v6
	var vlan uint16
	if r.Float64() < g.cfg.vlan {
		vlan = uint16(10 + r.IntN(10))
		g.stats.vlan++
	}
	if v6 {
		g.stats.v6++
	}
	var opts uint8
	switch x := r.IntN(20); {
	case x < 15:
		opts = optTS | optWS | optSACK // Linux, macOS
	case x < 18:
		opts = optWS | optSACK // Windows
	case x < 19:
		opts = optTS | optSACK
	}
	mss := 1460
	if v6 {
		mss = 1440
	}
	if opts&optTS != 0 {
		mss -= 12
	}
	port := g.nextPort[ci]
	g.nextPort[ci]++
	if g.nextPort[ci] > portLast {
		g.nextPort[ci] = portFirst
	}
	sp := serverPorts[kind]
	*c = conn{
		kind:    kind,
		opts:    opts,
		mss:     uint16(mss),
		retrans: g.cfg.retrans,
		closer:  side(r.IntN(2)),
	}
	cl, sv := &c.ep[client], &c.ep[server]
	cl.l2 = l2{srcMAC: clientMAC(ci), dstMAC: gatewayMAC, vlan: vlan, v6: v6,
		src: clientAddr(ci, v6), dst: serverAddr(si, v6), ipID: uint16(r.Uint32())}
	sv.l2 = l2{srcMAC: gatewayMAC, dstMAC: cl.l2.srcMAC, vlan: vlan, v6: v6,
		src: cl.l2.dst, dst: cl.l2.src, ipID: uint16(r.Uint32())}
	cl.port, sv.port = port, sp[r.IntN(len(sp))]
	cl.synWin, sv.synWin = 64240, 65160
	if opts&optTS == 0 {
		cl.synWin = 65535
	}
	for _, e := range []*endpoint{cl, sv} {
		e.nxt = r.Uint32()
		e.tsBase = r.Uint32()
		if opts&optWS != 0 {
			e.wscale = uint8(7 + r.IntN(3))
			e.win = uint16(500 + r.IntN(8000))
		} else {
			e.win = uint16(16384 + r.IntN(65535-16384))
		}
	}
}

// otherFrame is a non-TCP packet: DNS-like UDP or ARP.
func (g *mixGen) otherFrame() []byte {
	r := g.r
	ci := 1 + r.IntN(numClients)
	v6 := r.Float64() < g.cfg.v6
	h := l2{srcMAC: clientMAC(ci), dstMAC: gatewayMAC, v6: v6,
		src: clientAddr(ci, v6), dst: serverAddr(dnsServerIP, v6), ipID: uint16(r.Uint32())}
	off := r.IntN(poolSize - maxFrame)
	switch r.IntN(5) {
	case 0, 1:
		return g.fb.udp(&h, uint16(portFirst+r.IntN(portLast-portFirst)), 53, g.pool[off:off+30+r.IntN(50)])
	case 2, 3:
		h.srcMAC, h.dstMAC = h.dstMAC, h.srcMAC
		h.src, h.dst = h.dst, h.src
		return g.fb.udp(&h, 53, uint16(portFirst+r.IntN(portLast-portFirst)), g.pool[off:off+60+r.IntN(400)])
	}
	h.v6 = false
	h.src, h.dst = clientAddr(ci, false), serverAddr(1, false)
	if r.IntN(2) == 0 {
		h.dstMAC = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
		return g.fb.arp(&h, false)
	}
	return g.fb.arp(&h, true)
}

func (s *mixStats) String() string {
	var b strings.Builder
	for k := connKind(0); k < numKinds; k++ {
		fmt.Fprintf(&b, "%s=%d ", k, s.started[k])
	}
	fmt.Fprintf(&b, "(ipv6=%d vlan=%d) non-tcp packets=%d", s.v6, s.vlan, s.other)
	return b.String()
}
