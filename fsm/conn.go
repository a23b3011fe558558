package fsm

import "time"

// Verdict is what the tracker decided about one packet.
type Verdict uint8

const (
	Accept  Verdict = iota // passed the state machine and window checks: state/windows updated
	Ignore                 // the kernel's IGNORE paths: accepted, entry state, timer and counters untouched
	Invalid                // the kernel returns -NF_ACCEPT: nothing visible changes, not counted
	Kill                   // RST while the entry has not seen a reply: count the packet, then delete the entry
	Reopen                 // delete the entry, then process this packet again as the first of a new connection
	numVerdicts
)

var verdictNames = [...]string{"accept", "ignore", "invalid", "kill", "reopen"}

func (v Verdict) String() string {
	if v < numVerdicts {
		return verdictNames[v]
	}
	return "?"
}

// Events says what changed for `conntrack -E`; any bit means one [UPDATE] line.
type Events uint8

const (
	EvState     Events = 1 << iota // TCP state changed (IPCT_PROTOINFO)
	EvSeenReply                    // SEEN_REPLY just set (IPCT_REPLY)
	EvAssured                      // ASSURED just set (IPCT_ASSURED)
)

var eventNames = [...]string{"state", "seen-reply", "assured"}

// String names the changes, joined by '|' ("state|assured"), or "none".
func (e Events) String() string { return bitNames(uint8(e), eventNames[:]) }

// Result is the outcome of one packet.
type Result struct {
	Verdict Verdict
	// Refresh: set expiry = now + Timeout and add the packet to the
	// counters (the kernel called nf_ct_refresh_acct). Accept without
	// Refresh happens: a SYN retransmitted in SYN_SENT before any reply
	// runs the state code but renews neither timer nor counters.
	Refresh bool
	// Shrink (only with Invalid): an out-of-window FIN/RST answered one
	// from the other side on an assured entry (nf_tcp_handle_invalid): if
	// at least 120 s remain and more than Timeout, set expiry = now + Timeout.
	Shrink  bool
	Timeout time.Duration // valid when Refresh or Shrink
	Events  Events
	// Reason says why the verdict is Ignore or Invalid: the kernel's
	// log message as data. NoReason for the other verdicts, and for
	// window failures accepted because the check is liberal.
	Reason Reason
}

// shrinkFloor is nf_tcp_handle_invalid's fixed threshold: entries with less
// than this left are not shortened.
const shrinkFloor = 120 * time.Second

// NextExpiry applies the result's timer effect to an absolute expiry, both
// in nanoseconds on the caller's clock; now is the packet's time.
func (r *Result) NextExpiry(now, expires int64) int64 {
	switch {
	case r.Refresh:
		return now + int64(r.Timeout)
	case r.Shrink:
		left := expires - now
		if left >= int64(shrinkFloor) && left > int64(r.Timeout) {
			return now + int64(r.Timeout)
		}
	}
	return expires
}

// Conn is one tracked connection as conntrack sees it (struct ip_ct_tcp
// plus the status bits); each endpoint's own socket is Hosts'. It is a plain
// value with no pointers, so a flow table can hold it inline. The zero value
// is not a connection: call Start first.
//
// Checksums are never verified here: a passive capture sees the capturing
// host's own outbound packets before checksum offload fills them in, and
// Linux only checks at PRE_ROUTING when nf_conntrack_checksum is set.
type Conn struct {
	seen [2]peer // window data per direction

	// The last packet's bookkeeping, as the kernel keeps it.
	lastSeq    uint32
	lastAck    uint32
	lastEnd    uint32
	lastWin    uint16
	state      State
	lastDir    Dir
	lastIndex  class
	retrans    uint8
	lastWscale uint8
	lastFlags  peerFlags
	status     Status
}

// State is the conntrack TCP state.
func (c *Conn) State() State { return c.state }

// Status returns the SeenReply/Assured bits.
func (c *Conn) Status() Status { return c.status }

// Start prepares c for the first packet of a new connection (ORIGINAL
// direction by definition): the kernel's flag check and tcp_new. It returns
// false when the packet cannot create an entry (bad flag combination, a
// class other than SYN or ACK, or an ACK with Loose off); then c is unusable
// and the caller creates nothing. After true the caller runs
// Update(cfg, Original, s) with the same segment; if that says Invalid the
// entry must be dropped too (the kernel never confirms it).
func (c *Conn) Start(cfg *Config, s *Segment) bool {
	if !validFlags(s.Flags) {
		return false
	}
	switch transitions[Original][classify(s.Flags)][None] {
	case SynSent:
		*c = Conn{}
		o := &c.seen[Original]
		o.tdEnd = s.End()
		o.tdMaxWin = max(uint32(s.Window), 1)
		o.tdMaxEnd = o.tdEnd
		o.parseOptions(s)
	case Established:
		if !cfg.Loose {
			return false
		}
		// Mid-stream pickup: the history is lost, so trust this packet,
		// assume SACK and check windows liberally on both sides (scaling
		// is unknown).
		*c = Conn{}
		o := &c.seen[Original]
		o.tdEnd = s.End()
		o.tdMaxWin = max(uint32(s.Window), 1)
		o.tdMaxEnd = o.tdEnd + o.tdMaxWin
		c.seen[Original].flags = flagSackPerm | flagBeLiberal
		c.seen[Reply].flags = flagSackPerm | flagBeLiberal
	default:
		return false
	}
	c.lastIndex = clsNone
	return true
}

// Update runs one packet travelling in direction dir through the machine:
// nf_conntrack_tcp_packet, then the core's SEEN_REPLY step. It allocates
// nothing and never panics.
func (c *Conn) Update(cfg *Config, dir Dir, s *Segment) Result {
	dir &= 1
	if !validFlags(s.Flags) {
		return Result{Verdict: Invalid, Reason: Reason{Code: ReasonBadFlags}}
	}
	r := c.track(cfg, dir, s)
	switch r.Verdict {
	case Invalid, Reopen:
		return r
	case Kill:
		// The entry is gone: no [UPDATE], the caller reports [DESTROY].
		r.Events = 0
	default:
		// nf_conntrack_in sets SEEN_REPLY after the protocol handler
		// accepted a reply packet (IGNORE paths included), so the handler
		// itself, e.g. the ASSURED test, still sees it unset on the first
		// reply.
		if dir == Reply && c.status&SeenReply == 0 {
			c.status |= SeenReply
			r.Events |= EvSeenReply
		}
	}
	return r
}

// track is nf_conntrack_tcp_packet after tcp_error/tcp_new.
func (c *Conn) track(cfg *Config, dir Dir, s *Segment) Result {
	old := c.state
	idx := classify(s.Flags)
	next := transitions[dir][idx][old]
	skipWindow := false

	switch next {
	case SynSent:
		if old < TimeWait {
			break
		}
		// RFC 1122 4.2.2.13: a SYN may reopen a connection from
		// TIME_WAIT; also an aborted (RST) one the client restarts.
		if (c.seen[dir].flags|c.seen[dir^1].flags)&flagCloseInit != 0 ||
			(c.lastDir == dir && c.lastIndex == clsRST) {
			return Result{Verdict: Reopen}
		}
		fallthrough
	case stIgnore:
		if idx == clsSYNACK && c.lastIndex == clsSYN && c.lastDir != dir && s.Ack == c.lastEnd {
			// This SYN-ACK answers the SYN we ignored: both ends are in
			// sync and we are not. Rebuild from the remembered SYN.
			old, next = SynSent, SynRecv
			c.resync(dir)
			break
		}
		c.noteIgnored(dir, idx, old, s)
		return Result{Verdict: Ignore, Reason: Reason{Code: ReasonIgnored, Index: uint8(idx), Dir: dir, State: old}}
	case stInvalid:
		return Result{Verdict: Invalid, Reason: Reason{Code: ReasonInvalidState, Index: uint8(idx), Dir: dir, State: old}}
	case TimeWait:
		// RFC 5961 challenge ACK to a SYN in LAST_ACK: it does not ack
		// the last FIN.
		if old == LastAck && idx == clsACK && c.lastDir != dir && c.lastIndex == clsSYN &&
			c.lastFlags&flagChallengeAck != 0 {
			c.lastFlags &^= flagChallengeAck
			return Result{Verdict: Ignore, Reason: Reason{Code: ReasonChallengeAck, Index: uint8(idx), Dir: dir, State: old}}
		}
	case SynSent2:
		c.lastFlags |= flagSimultaneousOpen
	case SynRecv:
		// The table can't tell simultaneous open's final ACK from a late
		// one; the flag can.
		if dir == Reply && idx == clsACK && c.lastFlags&flagSimultaneousOpen != 0 {
			next = Established
		}
	case Close:
		if idx != clsRST {
			break
		}
		var chk rstCheck
		next, chk = c.checkRST(cfg, dir, s, old, next)
		switch chk {
		case rstInvalid:
			return Result{Verdict: Invalid, Reason: Reason{Code: ReasonInvalidRST, Index: uint8(idx), Dir: dir, State: old}}
		case rstInWindow:
			skipWindow = true
		}
	}

	if !skipWindow {
		switch act, why := c.inWindow(cfg, dir, idx, s); act {
		case winIgnore:
			return Result{Verdict: Ignore, Reason: why}
		case winInvalid:
			return c.handleInvalid(cfg, dir, idx, why)
		}
	}

	// In window from here on.
	c.lastIndex = idx
	c.lastDir = dir
	c.state = next
	if old != next && next == FinWait {
		c.seen[dir].flags |= flagCloseInit
	}

	t := &cfg.Timeouts
	plain := t.ForState(next)
	var timeout time.Duration
	switch {
	case c.retrans >= cfg.MaxRetrans && plain > t[TimeoutMaxRetrans]:
		timeout = t[TimeoutMaxRetrans]
	case idx == clsRST:
		timeout = t[Close]
	case (c.seen[0].flags|c.seen[1].flags)&flagDataUnack != 0 && plain > t[TimeoutUnacknowledged]:
		timeout = t[TimeoutUnacknowledged]
	case c.lastWin == 0 && plain > t[TimeoutMaxRetrans]:
		timeout = t[TimeoutMaxRetrans]
	default:
		timeout = plain
	}

	var ev Events
	if next != old {
		ev |= EvState
	}
	if c.status&SeenReply == 0 {
		// Only a RST came back: not a connection worth keeping.
		if idx == clsRST {
			return Result{Verdict: Kill}
		}
		// A retransmitted SYN must not keep an unanswered entry alive.
		if idx == clsSYN && old == SynSent {
			return Result{Verdict: Accept, Events: ev}
		}
		// Unreplied mid-stream pickup: no long ESTABLISHED timer.
		if next == Established && timeout > t[TimeoutUnacknowledged] {
			timeout = t[TimeoutUnacknowledged]
		}
	} else if c.status&Assured == 0 && (old == SynRecv || old == Established) && next == Established {
		c.status |= Assured
		ev |= EvAssured
	}
	return Result{Verdict: Accept, Refresh: true, Timeout: timeout, Events: ev}
}

// noteIgnored is the IGNORE path's bookkeeping: remember the packet so a
// later SYN-ACK or RST can be matched against it.
func (c *Conn) noteIgnored(dir Dir, idx class, old State, s *Segment) {
	c.lastIndex = idx
	c.lastDir = dir
	c.lastSeq = s.Seq
	c.lastEnd = s.End()
	c.lastWin = s.Window
	if idx == clsSYN && dir == Original {
		// Keep the SYN's options for a possible resync.
		var p peer
		p.parseOptions(s)
		c.lastFlags = 0
		c.lastWscale = 0
		if p.flags&flagWindowScale != 0 {
			c.lastFlags |= flagWindowScale
			c.lastWscale = p.tdScale
		}
		if p.flags&flagSackPerm != 0 {
			c.lastFlags |= flagSackPerm
		}
		// In LAST_ACK the peer may answer with a challenge ACK that
		// must not be taken as the final ACK.
		if old == LastAck {
			c.lastFlags |= flagChallengeAck
		}
	}
	// Possibly a challenge ACK answering our SYN.
	if old == SynSent && idx == clsACK && dir == Reply {
		c.lastAck = s.Ack
	}
}

// resync rebuilds the window data of the side whose SYN was ignored from
// what noteIgnored kept, and clears the answering side's.
func (c *Conn) resync(dir Dir) {
	p := &c.seen[c.lastDir]
	p.tdEnd = c.lastEnd
	p.tdMaxEnd = c.lastEnd
	p.tdMaxWin = max(uint32(c.lastWin), 1)
	p.tdScale = c.lastWscale
	c.lastFlags &^= flagChallengeAck
	p.flags = c.lastFlags
	c.seen[dir].reset()
}

// handleInvalid is nf_tcp_handle_invalid: on an assured entry, an
// out-of-window FIN/RST answering one from the other side means the ends
// and conntrack disagree; shorten the timer rather than keep a dead entry
// for days.
func (c *Conn) handleInvalid(cfg *Config, dir Dir, idx class, why Reason) Result {
	r := Result{Verdict: Invalid, Reason: why}
	if c.status&Assured == 0 || (idx != clsRST && idx != clsFIN) {
		return r
	}
	if c.lastDir != dir && (c.lastIndex == clsFIN || c.lastIndex == clsRST) {
		r.Shrink = true
		r.Reason.Prev = uint8(c.lastIndex)
		r.Timeout = cfg.Timeouts[TimeoutUnacknowledged]
	} else {
		c.lastIndex = idx
		c.lastDir = dir
	}
	return r
}
