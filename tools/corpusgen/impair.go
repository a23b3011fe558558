package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// This kernel has neither sch_netem nor a dummy module, so impairment is
// done in userspace: a namespace between an endpoint and the router bridges
// its two veths with AF_PACKET sockets and drops, duplicates, delays or
// reorders TCP frames on the way. The router therefore captures and tracks
// exactly the already impaired stream.

// frameInfo is what a policy gets to see of a frame.
type frameInfo struct {
	tcp     bool
	payload int  // TCP payload bytes
	flags   byte // TCP flags byte (FIN=0x01 SYN=0x02 RST=0x04 ACK=0x10)
}

// parseFrame decodes just enough of an Ethernet frame for the policies.
func parseFrame(b []byte) frameInfo {
	if len(b) < 14 {
		return frameInfo{}
	}
	et := binary.BigEndian.Uint16(b[12:14])
	ip := b[14:]
	var l4 []byte
	var l4len int
	switch et {
	case 0x0800:
		if len(ip) < 20 || ip[9] != 6 {
			return frameInfo{}
		}
		ihl := int(ip[0]&0x0f) * 4
		tot := int(binary.BigEndian.Uint16(ip[2:4]))
		if ihl < 20 || tot > len(ip) || tot < ihl {
			return frameInfo{}
		}
		l4, l4len = ip[ihl:tot], tot-ihl
	case 0x86dd:
		if len(ip) < 40 || ip[6] != 6 {
			return frameInfo{}
		}
		pl := int(binary.BigEndian.Uint16(ip[4:6]))
		if 40+pl > len(ip) {
			return frameInfo{}
		}
		l4, l4len = ip[40:40+pl], pl
	default:
		return frameInfo{}
	}
	if len(l4) < 20 {
		return frameInfo{}
	}
	doff := int(l4[12]>>4) * 4
	if doff < 20 || doff > l4len {
		return frameInfo{}
	}
	return frameInfo{tcp: true, payload: l4len - doff, flags: l4[13]}
}

// verdict is a policy's decision for one frame.
type verdict struct {
	drop  bool
	dup   bool          // send twice, back to back
	delay time.Duration // send later; later frames overtake it
	hold  bool          // reorder: send right after the next frame
	echo  time.Duration // send now and a copy this much later (a stale duplicate)
}

// impairPolicy decides per frame; each direction has its own instance and
// calls it from a single goroutine.
type impairPolicy interface {
	decide(f frameInfo) verdict
}

// passPolicy forwards everything untouched.
type passPolicy struct{}

func (passPolicy) decide(frameInfo) verdict { return verdict{} }

// randomPolicy impairs TCP frames with seeded probabilities.
type randomPolicy struct {
	rng                       *rand.Rand
	drop, dup, delay, reorder float64
	minDelay, maxDelay        time.Duration
}

func newRandomPolicy(seedRNG *rand.Rand) *randomPolicy {
	return &randomPolicy{
		rng:  rand.New(rand.NewPCG(seedRNG.Uint64(), seedRNG.Uint64())),
		drop: 0.02, dup: 0.02, delay: 0.03, reorder: 0.03,
		minDelay: 5 * time.Millisecond, maxDelay: 60 * time.Millisecond,
	}
}

func (p *randomPolicy) decide(f frameInfo) verdict {
	if !f.tcp {
		return verdict{} // ARP and neighbour discovery pass untouched
	}
	x := p.rng.Float64()
	switch {
	case x < p.drop:
		return verdict{drop: true}
	case x < p.drop+p.dup:
		return verdict{dup: true}
	case x < p.drop+p.dup+p.delay:
		return verdict{delay: p.minDelay + time.Duration(p.rng.Int64N(int64(p.maxDelay-p.minDelay)))}
	case x < p.drop+p.dup+p.delay+p.reorder:
		return verdict{hold: true}
	}
	return verdict{}
}

// dropNthData drops the nth TCP segment carrying payload (1-based), once.
type dropNthData struct {
	n, seen int
}

func (p *dropNthData) decide(f frameInfo) verdict {
	if !f.tcp || f.payload == 0 {
		return verdict{}
	}
	p.seen++
	return verdict{drop: p.seen == p.n}
}

// bridge forwards frames between two interfaces of one namespace.
type bridge struct {
	n        node
	names    [2]string
	fds      [2]int
	dirs     [2]*bridgeDir
	stopping atomic.Bool
	readers  sync.WaitGroup
	once     sync.Once
}

// bridgeDir is one direction: frames read on in are written to out.
type bridgeDir struct {
	in, out int
	pol     impairPolicy
	// toRouter: frames dropped here never reach the capture point; they
	// are listed (droppedLog) for the endpoint test.
	toRouter   bool
	droppedLog []string
	pending    sync.WaitGroup // delayed and held frames not yet sent

	mu        sync.Mutex
	held      []byte
	heldTimer *time.Timer
	closed    bool

	frames, tcp, dropped, duplicated, delayed, reordered, sendErrs int
}

// holdLimit bounds how long a reordered frame waits for a successor.
const holdLimit = 40 * time.Millisecond

// startBridge connects dev a and dev b of namespace n; pol[0] acts on
// frames from a to b, pol[1] on frames from b to a.
func startBridge(n node, a, b string, pol [2]impairPolicy) (*bridge, error) {
	br := &bridge{n: n, names: [2]string{a, b}, fds: [2]int{-1, -1}}
	for i, dev := range br.names {
		fd, _, err := n.packetSocket(dev, syscall.ETH_P_ALL, 100*time.Millisecond)
		if err != nil {
			br.closeFDs()
			return nil, err
		}
		br.fds[i] = fd
	}
	for i := range br.dirs {
		p := pol[i]
		if p == nil {
			p = passPolicy{}
		}
		br.dirs[i] = &bridgeDir{in: br.fds[i], out: br.fds[1-i], pol: p, toRouter: i == 0}
	}
	for _, d := range br.dirs {
		br.readers.Add(1)
		go br.forward(d)
	}
	return br, nil
}

func (br *bridge) forward(d *bridgeDir) {
	defer br.readers.Done()
	buf := make([]byte, 65536)
	for !br.stopping.Load() {
		n, from, err := syscall.Recvfrom(d.in, buf, 0)
		if err != nil {
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		if ll, ok := from.(*syscall.SockaddrLinklayer); ok && ll.Pkttype == syscall.PACKET_OUTGOING {
			continue // our own transmission on this port
		}
		frame := append([]byte(nil), buf[:n]...)
		d.handle(frame)
	}
}

func (d *bridgeDir) handle(frame []byte) {
	fi := parseFrame(frame)
	v := d.pol.decide(fi)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.frames++
	if fi.tcp {
		d.tcp++
	}
	switch {
	case v.drop:
		d.dropped++
		if d.toRouter && fi.tcp {
			d.droppedLog = append(d.droppedLog, describeFrame(frame, time.Now()))
		}
	case v.dup:
		d.duplicated++
		d.sendLocked(frame)
		d.sendLocked(frame)
	case v.delay > 0:
		d.delayed++
		d.pending.Add(1)
		time.AfterFunc(v.delay, func() {
			defer d.pending.Done()
			d.mu.Lock()
			d.sendLocked(frame)
			d.mu.Unlock()
		})
		return // a delayed frame does not release a held one
	case v.hold && d.held == nil:
		d.reordered++
		d.held = frame
		d.pending.Add(1)
		d.heldTimer = time.AfterFunc(holdLimit, func() {
			d.mu.Lock()
			d.releaseLocked()
			d.mu.Unlock()
		})
		return
	default:
		d.sendLocked(frame)
		if v.echo > 0 {
			d.duplicated++
			d.pending.Add(1)
			time.AfterFunc(v.echo, func() {
				defer d.pending.Done()
				d.mu.Lock()
				d.sendLocked(frame)
				d.mu.Unlock()
			})
		}
	}
	d.releaseLocked()
}

// releaseLocked sends a held frame (after the frame that overtook it).
func (d *bridgeDir) releaseLocked() {
	if d.held == nil {
		return
	}
	d.heldTimer.Stop()
	d.sendLocked(d.held)
	d.held = nil
	d.pending.Done()
}

func (d *bridgeDir) sendLocked(frame []byte) {
	if d.closed {
		return
	}
	if _, err := syscall.Write(d.out, frame); err != nil {
		d.sendErrs++
	}
}

// stop ends forwarding: readers exit within their receive timeout, then
// pending frames are flushed and the sockets closed. Safe to call twice.
func (br *bridge) stop() {
	br.once.Do(func() {
		br.stopping.Store(true)
		br.readers.Wait()
		for _, d := range br.dirs {
			d.mu.Lock()
			d.releaseLocked()
			d.mu.Unlock()
			d.pending.Wait()
			d.mu.Lock()
			d.closed = true
			d.mu.Unlock()
		}
		br.closeFDs()
	})
}

func (br *bridge) closeFDs() {
	for i, fd := range br.fds {
		if fd >= 0 {
			syscall.Close(fd)
			br.fds[i] = -1
		}
	}
}

// dropped lists the frames dropped before they reached the router.
func (br *bridge) dropped() []string {
	var out []string
	for _, d := range br.dirs {
		d.mu.Lock()
		out = append(out, d.droppedLog...)
		d.mu.Unlock()
	}
	return out
}

// describeFrame is one line of kernelcorpus.DroppedFile.
func describeFrame(b []byte, at time.Time) string {
	if len(b) < 14 {
		return ""
	}
	ip := b[14:]
	var src, dst netip.Addr
	var l4 []byte
	switch binary.BigEndian.Uint16(b[12:14]) {
	case 0x0800:
		if len(ip) < 20 {
			return ""
		}
		ihl := int(ip[0]&0x0f) * 4
		tot := int(binary.BigEndian.Uint16(ip[2:4]))
		if ihl < 20 || tot > len(ip) || tot < ihl {
			return ""
		}
		src, dst = netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
		l4 = ip[ihl:tot]
	case 0x86dd:
		if len(ip) < 40 {
			return ""
		}
		pl := int(binary.BigEndian.Uint16(ip[4:6]))
		if 40+pl > len(ip) {
			return ""
		}
		src, dst = netip.AddrFrom16([16]byte(ip[8:24])), netip.AddrFrom16([16]byte(ip[24:40]))
		l4 = ip[40 : 40+pl]
	default:
		return ""
	}
	if len(l4) < 20 {
		return ""
	}
	doff := int(l4[12]>>4) * 4
	if doff < 20 || doff > len(l4) {
		return ""
	}
	flags := ""
	for _, f := range []struct {
		bit byte
		c   string
	}{{0x02, "S"}, {0x01, "F"}, {0x08, "P"}, {0x04, "R"}, {0x20, "U"}, {0x10, "."}} {
		if l4[13]&f.bit != 0 {
			flags += f.c
		}
	}
	if flags == "" {
		flags = "none"
	}
	return fmt.Sprintf("%.6f %s %d %s %d %s %d %d %d", float64(at.UnixMicro())/1e6, src, binary.BigEndian.Uint16(l4[0:2]),
		dst, binary.BigEndian.Uint16(l4[2:4]), flags, binary.BigEndian.Uint32(l4[4:8]), binary.BigEndian.Uint32(l4[8:12]), len(l4)-doff)
}

func (br *bridge) stats() string {
	s := fmt.Sprintf("forwarder %s:", br.n.name[len(br.n.name)-2:])
	for i, d := range br.dirs {
		d.mu.Lock()
		s += fmt.Sprintf(" %s->%s %d tcp frames: %d dropped, %d duplicated, %d delayed, %d reordered;",
			br.names[i], br.names[1-i], d.tcp, d.dropped, d.duplicated, d.delayed, d.reordered)
		if d.sendErrs > 0 {
			s += fmt.Sprintf(" %d send errors;", d.sendErrs)
		}
		d.mu.Unlock()
	}
	return s[:len(s)-1]
}
