package fsm

// Zeek's connection history: the letters, once per side or again for a new
// sequence number, and the logarithmic counters (T, W, G).

// histCap bounds the history string; Zeek's is unbounded, but only the
// repeatable letters (S H F R with new sequence numbers, and the
// logarithmic T G W) can grow it.
const histCap = 32

// History mask bits, per endpoint; the responder's are shifted by 16.
const (
	histSYN     = 0x1
	histFIN     = 0x2
	histRST     = 0x4
	histFINRST  = 0x8
	histData    = 0x10
	histACK     = 0x20
	histMulti   = 0x40
	respHistBit = 16
)

// scaled is a logarithmic history counter: the letter is added at the 1st,
// 10th, 100th... event.
type scaled struct{ n, next uint32 }

// history is Zeek's update_history.
func (s *Summary) history(dir Dir, f Flags, ep *zEndpoint, relSeq uint64, length uint32) {
	syn, fin, rst := f&SYN != 0, f&FIN != 0, f&RST != 0
	n := 0
	for _, b := range [...]bool{syn, fin, rst} {
		if b {
			n++
		}
	}
	switch {
	case n > 1:
		if fin && rst {
			s.checkHistory(dir, histFINRST, 'I')
		} else {
			s.checkHistory(dir, histMulti, 'Q')
		}
	case syn:
		code := byte('S')
		if f&ACK != 0 {
			code = 'H'
		}
		if s.checkHistory(dir, histSYN, code) && relSeq != ep.lastSYN {
			s.addHistory(dir, code)
		}
		ep.lastSYN = relSeq
	case fin:
		// A FIN's sequence number is the one after its data.
		at := relSeq + uint64(length)
		if s.checkHistory(dir, histFIN, 'F') && at != ep.lastFIN {
			s.addHistory(dir, 'F')
		}
		ep.lastFIN = at
	case rst:
		if s.checkHistory(dir, histRST, 'R') && relSeq != ep.lastRST {
			s.addHistory(dir, 'R')
		}
		ep.lastRST = relSeq
	case length > 0:
		s.checkHistory(dir, histData, 'D')
	case f&ACK != 0:
		s.checkHistory(dir, histACK, 'A')
	}
}

// checkHistory adds code the first time mask is seen from dir and reports
// whether it had been seen before.
func (s *Summary) checkHistory(dir Dir, mask uint32, code byte) bool {
	if dir == Reply {
		mask <<= respHistBit
	}
	if s.histSeen&mask != 0 {
		return true
	}
	s.histSeen |= mask
	s.addHistory(dir, code)
	return false
}

// addHistory appends code, lower case for the responder.
func (s *Summary) addHistory(dir Dir, code byte) {
	if dir == Reply && code >= 'A' && code <= 'Z' {
		code += 'a' - 'A'
	}
	if int(s.histLen) < len(s.hist) {
		s.hist[s.histLen] = code
		s.histLen++
	}
}

// scaledEntry counts one event and adds code at the 1st, 10th, 100th...
func (s *Summary) scaledEntry(dir Dir, code byte, c *scaled) {
	if c.next == 0 {
		c.next = 1
	}
	c.n++
	if c.n != c.next {
		return
	}
	s.addHistory(dir, code)
	if nt := c.next * 10; nt > c.next {
		c.next = nt
	} else {
		c.n = 0 // threshold would wrap: keep it, count again
	}
}

// AppendHistory appends Zeek's history string (upper case: originator).
func (s *Summary) AppendHistory(dst []byte) []byte {
	return append(dst, s.hist[:s.histLen]...)
}

// History is AppendHistory as a string.
func (s *Summary) History() string { return string(s.hist[:s.histLen]) }
