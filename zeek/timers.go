package zeek

// Zeek ends connections by timers that fire when network time (the
// latest packet time) passes them, before the packet that passes them is
// processed. These are the ones TCP connections use; each handler follows
// the TCP analyzer's (or the session's) own.
type timerKind uint8

const (
	// timerExpire (ExpireTimer) looks every tcp_session_timer for a
	// connection idle past tcp_connection_linger that closed on one side
	// and is done on the other, or that never saw a usable packet.
	timerExpire timerKind = iota
	// timerAttempt (AttemptTimer) ends an unanswered SYN tcp_attempt_delay
	// after it.
	timerAttempt
	// timerDelete (ConnDeleteTimer) ends a connection tcp_close_delay
	// after its close completed.
	timerDelete
	// timerInactivity (Session::InactivityTimer) ends a connection idle
	// for its inactivity timeout.
	timerInactivity
)

type timer struct {
	at    int64
	order uint64 // insertion order: ties fire first-in first-out
	slot  int32
	gen   uint32
	epoch uint32
	kind  timerKind
}

// timerHeap is a binary min-heap by time (container/heap would box
// every timer in an interface).
type timerHeap []timer

func (h timerHeap) less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].order < h[j].order
}

func (h *timerHeap) push(x timer) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *timerHeap) pop() timer {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	s.down(0)
	*h = s
	return top
}

// down restores the heap order below i.
func (h timerHeap) down(i int) {
	n := len(h)
	for {
		l, m := 2*i+1, i
		if l < n && h.less(l, m) {
			m = l
		}
		if r := l + 1; r < n && h.less(r, m) {
			m = r
		}
		if m == i {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// addTimer schedules one of the TCP analyzer's timers for c.
func (c *conn) addTimer(at int64, kind timerKind) {
	epoch := c.analyzerEpoch
	if kind == timerInactivity {
		epoch = c.inactivityEpoch
	}
	t := c.t
	t.order++
	t.timers.push(timer{at: at, order: t.order, slot: c.slot, gen: c.gen, epoch: epoch, kind: kind})
	if len(t.timers) > t.compactAt {
		t.compactTimers()
	}
}

// live reports whether tm still belongs to a connection and was not
// cancelled.
func (t *Tracker) live(tm *timer) bool {
	c := t.conn(tm.slot)
	if c == nil || c.gen != tm.gen {
		return false
	}
	if tm.kind == timerInactivity {
		return tm.epoch == c.inactivityEpoch
	}
	return tm.epoch == c.analyzerEpoch
}

// compactTimers drops the timers of ended connections and cancelled ones,
// which otherwise wait in the heap until their time (up to an hour): a
// flood of short connections must not grow memory beyond the connections
// held. Amortised: it runs when the heap has doubled since the last time.
func (t *Tracker) compactTimers() {
	h := t.timers
	n := 0
	for i := range h {
		if t.live(&h[i]) {
			h[n] = h[i]
			n++
		}
	}
	h = h[:n]
	for i := n/2 - 1; i >= 0; i-- {
		h.down(i)
	}
	t.timers = h
	t.compactAt = max(2*n, minCompact)
}

// minCompact is the heap size below which stale timers are left alone.
const minCompact = 4096

// cancelTimers drops the TCP analyzer's pending timers (not the session's
// inactivity timer).
func (c *conn) cancelTimers() { c.analyzerEpoch++ }

// setInactivityTimeout replaces the inactivity timer, counting from the
// last packet.
func (c *conn) setInactivityTimeout(d int64) {
	if d == c.inactivity {
		return
	}
	c.inactivityEpoch++
	c.inactivity = d
	if d > 0 {
		c.addTimer(c.last+d, timerInactivity)
	}
}

// advance fires the timers due at now.
func (t *Tracker) advance(now int64) {
	for len(t.timers) > 0 && t.timers[0].at <= now {
		tm := t.timers.pop()
		if !t.live(&tm) {
			continue // the connection ended, or the timer was cancelled
		}
		c := t.conn(tm.slot)
		switch tm.kind {
		case timerInactivity:
			if c.last+c.inactivity <= now {
				t.remove(c)
			} else {
				c.addTimer(c.last+c.inactivity, timerInactivity)
			}
			continue
		}
		if !c.active && tm.kind != timerDelete {
			continue
		}
		switch tm.kind {
		case timerExpire:
			t.expireTimer(c, now)
		case timerAttempt:
			if (c.o.state == SynSent || c.o.state == SynAckSent) && c.r.state == Inactive {
				c.active = false
				t.remove(c)
			}
		case timerDelete:
			t.remove(c)
		}
	}
}

func (t *Tracker) expireTimer(c *conn, now int64) {
	o, r := c.o, c.r
	if c.last+t.to.Linger < now {
		if o.didClose || r.didClose {
			// One side closed and the other closed, reset or never spoke.
			if o.didClose && r.didClose || o.state == Reset || r.state == Reset ||
				o.state == Inactive || r.state == Inactive {
				t.remove(c)
				return
			}
		}
		if o.state == Inactive && r.state == Inactive {
			// Nothing usable ever arrived (a bad checksum, a cut header).
			t.remove(c)
			return
		}
	}
	c.addTimer(now+t.to.SessionTimer, timerExpire)
}
