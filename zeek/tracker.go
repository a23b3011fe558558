package zeek

import (
	"net/netip"
	"slices"
	"time"

	"github.com/tcptrack/tcptrack/fsm"
)

// Timeouts are Zeek's TCP timers (scripts/base/init-bare.zeek); zero
// fields take Zeek's defaults.
type Timeouts struct {
	TCPInactivity time.Duration // tcp_inactivity_timeout (5 min): once past the handshake
	Handshake     time.Duration // udp_inactivity_timeout (1 min): what a TCP connection starts with
	AttemptDelay  time.Duration // tcp_attempt_delay (5 s): an unanswered SYN ends
	SYNTimeout    time.Duration // tcp_SYN_timeout (5 s): first expiry check
	SessionTimer  time.Duration // tcp_session_timer (6 s): later expiry checks
	Linger        time.Duration // tcp_connection_linger (5 s): idle time before an expiry check may end a connection
	CloseDelay    time.Duration // tcp_close_delay (5 s): a closed connection ends this long after its last packet
}

// Config shapes a Tracker. The zero value is Zeek's defaults, unlimited.
type Config struct {
	Timeouts Timeouts
	// ServerPorts is likely_server_ports for TCP, which decides roles when
	// a connection does not start with a SYN; nil means the ports of all of
	// Zeek's base analyzers (what "zeek -r" without -b loads).
	ServerPorts *PortSet
	// PortTimeouts replaces Conn::port_inactivity_timeouts (an hour for
	// ports 21, 22, 23, 513) when not nil.
	PortTimeouts map[uint16]time.Duration
	// MaxConns bounds the connections held at once; when full, packets of
	// new connections are dropped (counted in Stats.Dropped). 0: no limit.
	MaxConns int
}

// timeouts is Timeouts in nanoseconds with the defaults filled in.
type timeouts struct {
	TCPInactivity, Handshake, AttemptDelay, SYNTimeout, SessionTimer, Linger, CloseDelay int64
}

func (t Timeouts) ns() timeouts {
	d := func(v, def time.Duration) int64 {
		if v <= 0 {
			v = def
		}
		return int64(v)
	}
	return timeouts{
		TCPInactivity: d(t.TCPInactivity, 5*time.Minute),
		Handshake:     d(t.Handshake, time.Minute),
		AttemptDelay:  d(t.AttemptDelay, 5*time.Second),
		SYNTimeout:    d(t.SYNTimeout, 5*time.Second),
		SessionTimer:  d(t.SessionTimer, 6*time.Second),
		Linger:        d(t.Linger, 5*time.Second),
		CloseDelay:    d(t.CloseDelay, 5*time.Second),
	}
}

// Stats counts what the Tracker did.
type Stats struct {
	Packets uint64 // packets added
	Created uint64 // connections created
	Records uint64 // records emitted
	Dropped uint64 // packets of new connections dropped because the table was full
	Active  int    // connections held now
}

// connKey is a connection's two endpoints in a fixed order, so both
// directions find it.
type connKey struct{ a, b netip.AddrPort }

func makeKey(x, y netip.AddrPort) connKey {
	if x.Compare(y) > 0 {
		x, y = y, x
	}
	return connKey{x, y}
}

const chunkSize = 256

// Tracker holds Zeek's TCP connections and writes their records. Feed it
// packets in capture order with Add, then call Flush at the end. It is not
// safe for concurrent use.
type Tracker struct {
	cfg    Config
	to     timeouts
	ports  *PortSet
	emit   func(*Record)
	conns  map[connKey]int32
	chunks [][]conn // fixed-size chunks: a *conn stays valid while its connection lives
	free   []int32
	slots  int32
	timers timerHeap
	// compactAt is the heap size at which stale timers are swept out.
	compactAt int
	order     uint64
	now       int64 // network time: the latest packet time seen
	rec       Record
	stats     Stats
}

// NewTracker makes a Tracker that passes each finished connection's record
// to emit.
func NewTracker(cfg Config, emit func(*Record)) *Tracker {
	t := &Tracker{cfg: cfg, to: cfg.Timeouts.ns(), ports: cfg.ServerPorts, emit: emit, conns: make(map[connKey]int32),
		compactAt: minCompact}
	if t.ports == nil {
		t.ports = DefaultServerPorts()
	}
	return t
}

func (t *Tracker) portTimeout(p uint16) (int64, bool) {
	if t.cfg.PortTimeouts != nil {
		d, ok := t.cfg.PortTimeouts[p]
		return int64(d), ok && d > 0
	}
	d, ok := defaultPortTimeout(p)
	return int64(d), ok
}

// Stats reports counts so far.
func (t *Tracker) Stats() Stats {
	s := t.stats
	s.Active = len(t.conns)
	return s
}

func (t *Tracker) conn(slot int32) *conn {
	if slot < 0 || slot >= t.slots {
		return nil
	}
	return &t.chunks[slot/chunkSize][slot%chunkSize]
}

// Add processes one packet. Timers due by its time fire first, so
// connections that ended before it are written before it counts.
func (t *Tracker) Add(p *Packet) {
	t.stats.Packets++
	if p.TS > t.now {
		t.now = p.TS
	}
	t.advance(t.now)
	src := netip.AddrPortFrom(p.Src, p.TCP.SrcPort)
	dst := netip.AddrPortFrom(p.Dst, p.TCP.DstPort)
	k := makeKey(src, dst)
	var c *conn
	if slot, ok := t.conns[k]; ok {
		c = t.conn(slot)
		if c.isReuse(p) {
			t.remove(c)
			c = nil
		} else {
			c.checkEncap(p.Encap)
		}
	}
	if c == nil {
		if c = t.newConn(k, src, dst, p); c == nil {
			t.stats.Dropped++
			return
		}
	}
	c.deliver(src == c.orig, p)
	if c.pendingTimeout != 0 {
		c.setInactivityTimeout(c.pendingTimeout)
		c.pendingTimeout = 0
	}
}

// Advance fires the timers due at now without a packet (for live capture
// between packets); time never goes back.
func (t *Tracker) Advance(now int64) {
	if now > t.now {
		t.now = now
	}
	t.advance(t.now)
}

// deliver is the TCP analyzer's packet entry (TCPAnalyzer::DeliverPacket)
// once the connection is found: header and checksum checks, processing,
// then the connection-size count.
func (c *conn) deliver(isOrig bool, p *Packet) {
	if p.Skip == BadOffset || p.Skip == BadHeader {
		return
	}
	e := c.o
	if !isOrig {
		e = c.r
	}
	if p.Skip == BadChecksum {
		c.scaledHistory(e, &e.checksums, 'C')
		return
	}
	c.process(isOrig, p)
	// e is still the sender's endpoint, whichever role a flip gave it.
	e.pkts++
	e.ipBytes += uint64(p.IPLen)
}

// isReuse: a SYN (or, while the originator is silent, a SYN-ACK) that
// starts the tuple over ends the old connection (TCPSessionAdapter::IsReuse).
func (c *conn) isReuse(p *Packet) bool {
	f := p.TCP.Flags
	if p.Skip == BadOffset || f&fsm.SYN == 0 {
		return false
	}
	first := c.o
	if f&fsm.ACK != 0 {
		if c.o.state != Inactive {
			return false // not a half connection
		}
		first = c.r
	}
	if c.o.didClose || c.r.didClose {
		return true
	}
	if p.TCP.Seq == first.startSeq32() {
		return false // a retransmission
	}
	// The SYN of a handshake whose SYN-ACK came first: not a new one.
	return !(f&fsm.ACK == 0 && first.state == SynAckSent && c.r.state == Inactive && p.TCP.Seq == c.r.startSeq32())
}

// maxTunnelChanges is Tunnel::max_changes_per_connection: past it, a
// change of tunnels marks the connection X instead of being reported.
const maxTunnelChanges = 5

func (c *conn) checkEncap(e uint64) {
	if e == c.encap {
		return
	}
	if c.tunnelChanges >= maxTunnelChanges {
		c.checkHistory(histLimit, 'X')
	} else {
		c.tunnelChanges++
	}
	c.encap = e
}

// wantFlip is TCPAnalyzer::WantConnection's role guess for a connection
// that does not start with a pure SYN: a packet from a well-known server
// port comes from the responder — unless both ports are well known, then
// only a non-SYN packet from the lower port is flipped.
func (t *Tracker) wantFlip(p *Packet) bool {
	f := p.TCP.Flags
	if f&fsm.SYN != 0 && f&fsm.ACK == 0 {
		return false
	}
	if !t.ports.Has(p.TCP.SrcPort) {
		return false
	}
	if t.ports.Has(p.TCP.DstPort) {
		return f&fsm.SYN == 0 && p.TCP.SrcPort < p.TCP.DstPort
	}
	return true
}

func (t *Tracker) newConn(k connKey, src, dst netip.AddrPort, p *Packet) *conn {
	if t.cfg.MaxConns > 0 && len(t.conns) >= t.cfg.MaxConns {
		return nil
	}
	var slot int32
	if n := len(t.free); n > 0 {
		slot = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		if t.slots%chunkSize == 0 {
			t.chunks = append(t.chunks, make([]conn, chunkSize))
		}
		slot = t.slots
		t.slots++
	}
	c := t.conn(slot)
	// Keep the slot's generation and its buffers' memory.
	hist, ob, rb := c.hist[:0], c.eps[0].reasm.blocks[:0], c.eps[1].reasm.blocks[:0]
	*c = conn{t: t, key: k, slot: slot, gen: c.gen, orig: src, resp: dst, start: p.TS, last: p.TS, active: true,
		hist: hist, encap: p.Encap}
	c.eps[0].init(true, &c.eps[1])
	c.eps[1].init(false, &c.eps[0])
	c.eps[0].reasm.blocks, c.eps[1].reasm.blocks = ob, rb
	c.o, c.r = &c.eps[0], &c.eps[1]
	if t.wantFlip(p) && !(dst.Addr().Is4() && dst.Addr() == netip.AddrFrom4([4]byte{255, 255, 255, 255})) {
		c.flipRoles()
	}
	t.conns[k] = slot
	t.stats.Created++
	c.addTimer(t.now+t.to.SYNTimeout, timerExpire)
	c.setInactivityTimeout(t.to.Handshake)
	return c
}

// remove ends c and writes its record (session::Manager::Remove).
func (t *Tracker) remove(c *conn) {
	t.write(c)
	if s, ok := t.conns[c.key]; ok && s == c.slot {
		delete(t.conns, c.key)
	}
	c.gen++
	c.t = nil
	t.free = append(t.free, c.slot)
}

// write fills the record of c (Conn::set_conn at connection_state_remove)
// and passes it on.
func (t *Tracker) write(c *conn) {
	r := &t.rec
	os, rs := c.o.size(), c.r.size()
	*r = Record{
		Start: c.start, Orig: c.orig, Resp: c.resp,
		State:       connState(c.o.state, c.r.state, os, rs, c.hist),
		LocalOrig:   isLocal(c.orig.Addr()),
		LocalResp:   isLocal(c.resp.Addr()),
		MissedBytes: c.missed,
		History:     c.hist,
		OrigPkts:    c.o.pkts, OrigIPBytes: c.o.ipBytes,
		RespPkts: c.r.pkts, RespIPBytes: c.r.ipBytes,
		Tunneled: c.encap != 0,
	}
	if d := c.last - c.start; d > 0 {
		r.Duration, r.OrigBytes, r.RespBytes = d, os, rs
	}
	t.stats.Records++
	if t.emit != nil {
		t.emit(r)
	}
}

// Flush writes the records of the connections still open, as Zeek does
// when the trace ends, oldest first, and empties the tracker.
func (t *Tracker) Flush() {
	live := make([]int32, 0, len(t.conns))
	for _, s := range t.conns {
		live = append(live, s)
	}
	slices.SortFunc(live, func(a, b int32) int {
		ca, cb := t.conn(a), t.conn(b)
		if ca.start != cb.start {
			if ca.start < cb.start {
				return -1
			}
			return 1
		}
		return int(a - b)
	})
	for _, s := range live {
		t.remove(t.conn(s))
	}
	t.timers = t.timers[:0]
}
