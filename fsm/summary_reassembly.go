package fsm

// Zeek's TCP_Reassembler on headers alone: which byte ranges each side is
// known to have sent, repeats and out-of-order arrivals, and content gaps
// (acknowledged but never seen).

// Zeek's defaults (init-bare.zeek) for giving up on reassembly when
// nothing is acknowledged.
const (
	maxInitialWindow       = 16384 // tcp_max_initial_window
	maxAboveHoleWithoutAck = 16384 // tcp_max_above_hole_without_any_acks
)

// span is a range [lo, hi) of relative sequence numbers.
type span struct{ lo, hi uint64 }

// maxHeld bounds the out-of-order ranges kept per direction; beyond it the
// two closest are merged (the hole between them then counts as seen).
const maxHeld = 4

// covered counts the bytes of [lo, hi) the reassembler already holds or
// has passed.
func (e *zEndpoint) covered(lo, hi uint64) uint64 {
	if e.skip {
		// Coverage unknown: whatever lies below the highest end was seen.
		if hi > e.hiEnd {
			hi = e.hiEnd
		}
		if hi > lo {
			return hi - lo
		}
		return 0
	}
	var n uint64
	if lo < e.reassem {
		n += min(hi, e.reassem) - lo
		lo = min(hi, e.reassem)
	}
	for i := 0; i < int(e.nHeld) && lo < hi; i++ {
		b := e.held[i]
		a, z := max(lo, b.lo), min(hi, b.hi)
		if z > a {
			n += z - a
		}
	}
	return n
}

// classifyData counts repeats and out-of-order arrivals of payload
// [seq, seq+n) from ep, before it is added to the coverage.
func (s *Summary) classifyData(dir Dir, ep *zEndpoint, seq, n uint64) {
	st := &s.Dirs[dir]
	end := seq + n
	if seq < ep.hiEnd {
		if rep := ep.covered(seq, min(end, ep.hiEnd)); rep > 0 {
			st.Retransmits++
			st.RetransBytes += rep
		} else {
			st.OutOfOrder++
		}
	}
	if end > ep.hiEnd {
		ep.hiEnd = end
	}
}

// dataSent is TCP_Reassembler::DataSent without the payload: add
// [seq, seq+n) to what ep is known to have sent.
func (s *Summary) dataSent(dir Dir, ep *zEndpoint, seq, n uint64) {
	if ep.skip {
		return
	}
	ack := ep.relative(ep.ackSeq, ep.ackWraps)
	upper := seq + n
	if seq < ack {
		if upper <= ack {
			return // already acknowledged
		}
		seq = ack
	}
	if upper <= ep.trim {
		return
	}
	seq = max(seq, ep.trim)
	front := seq <= ep.reassem && upper > ep.reassem
	ep.hold(span{seq, upper})
	ep.deliver()
	if ep.noDataAcked() {
		if front && s.size(dir) > maxInitialWindow {
			// Much sent, nothing acknowledged: Zeek assumes it
			// misses the ACKs and stops holding delivered data.
			ep.trimTo(ep.reassem)
		}
		if ep.nHeld > 0 && ep.held[ep.nHeld-1].hi-ep.reassem > maxAboveHoleWithoutAck {
			// Data piling up above a hole, never acknowledged:
			// Zeek stops reassembling this side.
			ep.nHeld = 0
			ep.skip = true
		}
	}
}

// hold inserts r into the sorted, disjoint held ranges, merging what
// touches it; when full, the two closest ranges are merged.
func (e *zEndpoint) hold(r span) {
	var out [maxHeld + 1]span
	n := 0
	placed := false
	for i := 0; i < int(e.nHeld); i++ {
		b := e.held[i]
		switch {
		case b.hi < r.lo:
			out[n] = b
			n++
		case r.hi < b.lo:
			if !placed {
				out[n] = r
				n++
				placed = true
			}
			out[n] = b
			n++
		default:
			r.lo, r.hi = min(r.lo, b.lo), max(r.hi, b.hi)
		}
	}
	if !placed {
		out[n] = r
		n++
	}
	if n > maxHeld {
		best := 0
		for i := 1; i < n-1; i++ {
			if out[i+1].lo-out[i].hi < out[best+1].lo-out[best].hi {
				best = i
			}
		}
		out[best].hi = out[best+1].hi
		copy(out[best+1:], out[best+2:n])
		n--
	}
	copy(e.held[:], out[:n])
	e.nHeld = uint8(n)
}

// deliver moves reassem over held ranges that now touch it.
func (e *zEndpoint) deliver() {
	for e.nHeld > 0 && e.held[0].lo <= e.reassem {
		e.reassem = max(e.reassem, e.held[0].hi)
		e.drop(0)
	}
}

func (e *zEndpoint) drop(i int) {
	copy(e.held[i:], e.held[i+1:e.nHeld])
	e.nHeld--
}

// trimTo forgets everything below seq without reporting gaps.
func (e *zEndpoint) trimTo(seq uint64) {
	for e.nHeld > 0 && e.held[0].hi <= seq {
		e.drop(0)
	}
	if e.nHeld > 0 && e.held[0].lo < seq {
		e.held[0].lo = seq
	}
	if seq > e.trim {
		e.trim = seq
	}
}

// ackReceived is TCP_Reassembler::AckReceived for the side whose data was
// acknowledged up to relative seq: what the ACK covers but was never seen
// is a content gap.
func (s *Summary) ackReceived(dir Dir, seq uint64) {
	ep, peer := &s.ep[dir], &s.ep[dir^1]
	if ep.finCnt > 0 && seq >= ep.finSeq {
		seq = ep.finSeq - 1 // the FIN is not content
	}
	if seq <= ep.trim {
		return
	}
	if seq > ep.reassem && !ep.skip {
		s.undelivered(dir, ep, peer, seq)
	}
	ep.trimTo(seq)
}

// undelivered is TCP_Reassembler::Undelivered: report the holes below
// upTo, then consider everything below it delivered.
func (s *Summary) undelivered(dir Dir, ep, peer *zEndpoint, upTo uint64) {
	if upTo <= 2 && s.partial {
		// Numbering of a partial connection was guessed; a complaint
		// about its first octet or two is noise.
		return
	}
	for ep.nHeld > 0 && ep.held[0].lo < upTo {
		if b := ep.held[0]; b.lo > ep.reassem {
			s.gap(dir, ep, peer, b.lo-ep.reassem)
		}
		ep.reassem = max(ep.reassem, ep.held[0].hi)
		ep.drop(0)
		ep.deliver()
	}
	if upTo > ep.reassem {
		s.gap(dir, ep, peer, upTo-ep.reassem)
		ep.reassem = upTo
	}
	ep.deliver()
}

// gap records a content gap when both sides are in a state where Zeek
// trusts it.
func (s *Summary) gap(dir Dir, ep, peer *zEndpoint, n uint64) {
	if !ep.clean() || !peer.clean() {
		return
	}
	st := &s.Dirs[dir]
	st.Gaps++
	st.MissedBytes += n
	s.scaledEntry(dir, 'G', &ep.gap)
}
