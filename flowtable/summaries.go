package flowtable

import "github.com/tcptrack/tcptrack/fsm"

// A flow's summary (fsm.Summary, 672 bytes) is kept as the segments it has
// been fed until there are more than liteSegs of them; then it is built by
// feeding those to a fresh Summary, which from then on lives in a slab of
// its own. Observe is a function of the segments fed in order, so the
// summary is exactly the one fed segment by segment. A flow that never gets
// past its first segment (SYN floods, scans, unanswered SYNs: what makes a
// table big) costs a segment record instead of a summary; reading its
// summary builds one in a scratch value.
const liteSegs = 1

// sumRef is a flow's summary slot, parallel to the entries.
type sumRef struct {
	full uint32 // position+1 of its Summary in shard.sumSlab; 0: not built
	n    uint32 // segments in held
	held [liteSegs]heldSeg
}

// heldSeg is one Observe call waiting to be made.
type heldSeg struct {
	tcp   fsm.Segment
	ts    int64
	ipLen uint32
	dir   fsm.Dir
	v     fsm.Verdict
}

// observe feeds a segment to the flow's summary.
func (s *shard) observe(pos uint32, dir fsm.Dir, seg *fsm.Segment, ipLen uint32, ts int64, v fsm.Verdict) {
	r := s.sums.at(pos)
	if r.full != 0 {
		s.sumSlab.at(r.full-1).Observe(dir, seg, ipLen, ts, v)
		return
	}
	if r.n < liteSegs {
		r.held[r.n] = heldSeg{tcp: *seg, ts: ts, ipLen: ipLen, dir: dir, v: v}
		r.n++
		return
	}
	var fp uint32
	if n := len(s.sumFree); n > 0 {
		fp, s.sumFree = s.sumFree[n-1], s.sumFree[:n-1]
	} else {
		fp = s.sumSlab.add()
	}
	sum := s.sumSlab.at(fp)
	r.replay(sum)
	sum.Observe(dir, seg, ipLen, ts, v)
	r.full, r.n = fp+1, 0
}

// replay makes sum the summary of the held segments.
func (r *sumRef) replay(sum *fsm.Summary) {
	*sum = fsm.Summary{}
	for i := range r.n {
		h := &r.held[i]
		sum.Observe(h.dir, &h.tcp, h.ipLen, h.ts, h.v)
	}
}

// summary is the flow's summary: in its slab, or built into the shard's
// scratch value (valid until the next call).
func (s *shard) summary(pos uint32) *fsm.Summary {
	r := s.sums.at(pos)
	if r.full != 0 {
		return s.sumSlab.at(r.full - 1)
	}
	r.replay(&s.sumScratch)
	return &s.sumScratch
}

// resetSummary empties a flow's summary slot, freeing its Summary.
func (s *shard) resetSummary(pos uint32) {
	r := s.sums.at(pos)
	if r.full != 0 {
		s.sumFree = append(s.sumFree, r.full-1)
	}
	*r = sumRef{}
}
