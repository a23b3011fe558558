package zeek

import "github.com/tcptrack/tcptrack/fsm"

// History letters (base/protocols/conn/main.zeek): upper case for the
// originator, lower case for the responder. Each letter of the first group
// is written once per side; S H F R again when their sequence number
// differs from the previous one; C T W G at the 1st, 10th, 100th ...
// occurrence.
//
//	S SYN without ACK    H SYN-ACK          A pure ACK        D payload
//	F FIN                R RST              I FIN and RST     Q other multi-flag
//	C bad checksum       T retransmission   W zero window     G content gap
//	X analysis limit     ^ roles flipped

// Bits of the per-connection "seen" mask (TCP_Endpoint::HistoryMasks);
// responder bits are shifted left by 16.
const (
	histSYN      = 0x1
	histFIN      = 0x2
	histRST      = 0x4
	histFINRST   = 0x8
	histData     = 0x10
	histACK      = 0x20
	histMulti    = 0x40
	histLimit    = 0x400 // X: an analysis limit reached (connection-wide, never lower case)
	histRespBits = 16
)

func lower(c byte) byte { return c | 0x20 }

// addHistory appends code for the side given (lower case for the responder).
func (c *conn) addHistory(isOrig bool, code byte) {
	if !isOrig {
		code = lower(code)
	}
	c.hist = append(c.hist, code)
}

// checkHistory writes code the first time mask is seen and reports whether
// it had been seen before (Session::CheckHistory).
func (c *conn) checkHistory(mask uint32, code byte) bool {
	if c.histSeen&mask != 0 {
		return true
	}
	c.histSeen |= mask
	c.hist = append(c.hist, code)
	return false
}

// endpointHistory is TCP_Endpoint::CheckHistory. A connection whose only
// letter so far is the SYN-ACK of its "originator" gets flipped by the
// first pure ACK or data: that makes a missed SYN likelier than a stealth
// scan, so the SYN-ACK sender becomes the responder and the history is
// rewritten "^h".
func (c *conn) endpointHistory(e *endpoint, mask uint32, code byte) bool {
	if (code == 'A' || code == 'D') && len(c.hist) == 1 && c.hist[0] == 'H' {
		c.flipRoles()
		c.hist = append(c.hist[:0], '^', 'h')
		c.setFirstPacketSeen(true)
	}
	if !e.isOrig {
		mask <<= histRespBits
		code = lower(code)
	}
	return c.checkHistory(mask, code)
}

// updateHistory adds the letters one segment earns (update_history in
// TCPSessionAdapter.cc). relSeq is the segment's relative sequence number.
func (c *conn) updateHistory(f fsm.Flags, e *endpoint, relSeq uint64, length uint32) {
	bits := 0
	for _, b := range [...]fsm.Flags{fsm.SYN, fsm.FIN, fsm.RST} {
		if f&b != 0 {
			bits++
		}
	}
	switch {
	case bits > 1:
		if f&fsm.FIN != 0 && f&fsm.RST != 0 {
			c.endpointHistory(e, histFINRST, 'I')
		} else {
			c.endpointHistory(e, histMulti, 'Q')
		}
	case f&fsm.SYN != 0:
		code := byte('S')
		if f&fsm.ACK != 0 {
			code = 'H'
		}
		if c.endpointHistory(e, histSYN, code) && relSeq != e.lastSYN {
			c.addHistory(e.isOrig, code)
		}
		e.lastSYN = relSeq
	case f&fsm.FIN != 0:
		// A FIN's sequence number is the one after its payload.
		end := relSeq + uint64(length)
		if c.endpointHistory(e, histFIN, 'F') && end != e.lastFIN {
			c.addHistory(e.isOrig, 'F')
		}
		e.lastFIN = end
	case f&fsm.RST != 0:
		if c.endpointHistory(e, histRST, 'R') && relSeq != e.lastRST {
			c.addHistory(e.isOrig, 'R')
		}
		e.lastRST = relSeq
	case length > 0:
		c.endpointHistory(e, histData, 'D')
	case f&fsm.ACK != 0:
		c.endpointHistory(e, histACK, 'A')
	}
}

// scaledHistory counts a C, T, W or G event and writes its letter when due.
func (c *conn) scaledHistory(e *endpoint, s *scaled, code byte) {
	if s.hit() {
		c.addHistory(e.isOrig, code)
	}
}
