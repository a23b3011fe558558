package fsm

// rstCheck is what RST validation decided before the window check.
type rstCheck uint8

const (
	rstWindow   rstCheck = iota // run the normal window check
	rstInWindow                 // accept without the window check
	rstInvalid                  // "invalid rst": drop as invalid
)

// checkRST is the kernel's RST validation for a RST class packet that the
// table moves to CLOSE. It may also keep the old state (returned as next)
// when an established connection gets a RST whose sequence number is in
// window but not exact: the receiver then answers with a challenge ACK
// (RFC 5961 §3.2) and only the exact RST that follows closes it.
func (c *Conn) checkRST(cfg *Config, dir Dir, s *Segment, old, next State) (State, rstCheck) {
	// In the closing states the tuple may already be reused: the recorded
	// sequence data is stale, so skip validation.
	if canEarlyDrop(old) {
		return next, rstInWindow
	}
	other := &c.seen[dir^1]
	// td_maxack is stale if a SYN was let through last.
	if other.flags&flagMaxAckSet != 0 && c.lastIndex != clsSYN {
		established := old == Established && c.status&Assured != 0
		// seq 0 outside an assured connection: most likely the answer to
		// a SYN let through above.
		if s.Seq == 0 && !established {
			return next, rstWindow
		}
		if before(s.Seq, other.tdMaxAck) && !cfg.IgnoreInvalidRST {
			return next, rstInvalid
		}
		if !established || s.Seq == other.tdMaxAck {
			return next, rstWindow
		}
		// A RST right behind this side's own data, e.g.
		// "P 100:119 ack 42" then "R 119:119 ack 42".
		if c.lastIndex == clsACK && c.lastDir == dir && s.Seq == c.lastEnd {
			return next, rstWindow
		}
		next = old
	}
	// The RST answers a SYN or ACK that was let through while the entry was
	// out of sync (an ignored SYN, or a half-open not-yet-assured entry):
	// it may acknowledge data we ignored, so no window check.
	if ((c.status&SeenReply != 0 && c.lastIndex == clsSYN) ||
		(c.status&Assured == 0 && c.lastIndex == clsACK)) && s.Ack == c.lastEnd {
		return next, rstInWindow
	}
	// RST following a challenge ACK that answered our SYN.
	if old == SynSent && c.lastIndex == clsACK && c.lastDir == Reply && s.Seq == c.lastAck {
		return next, rstInWindow
	}
	return next, rstWindow
}
