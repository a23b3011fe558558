package zeek

// Zeek reassembles every TCP stream from the first packet on
// (dpd_reassemble_first_packets), and what conn.log shows of it — content
// gaps (G, missed_bytes) and when a closing side counts as closed — comes
// from the reassembler's bookkeeping of sequence ranges, never from the
// bytes themselves. So this is TCP_Reassembler and Reassembler run on
// ranges: blocks of data received but not yet acknowledged, how far the
// stream was delivered, and what acknowledgements trimmed.

// Limits Zeek applies to held data (tcp_max_initial_window,
// tcp_max_above_hole_without_any_acks,
// tcp_excessive_data_without_further_acks).
const (
	maxInitialWindow       = 16384
	maxAboveHoleWithoutAck = 16384
	maxExcessiveData       = 10 * 1024 * 1024
	// maxBlocks bounds the ranges held per direction, against memory
	// exhaustion by scattered segments; Zeek has no such limit, and a
	// stream reaching it is given up as Zeek gives up one with too much
	// unacknowledged data.
	maxBlocks = 4096
)

// block is a range of relative sequence numbers, [seq, upper).
type block struct{ seq, upper uint64 }

type reassembler struct {
	lastReassem uint64  // next sequence number to deliver (last_reassem_seq)
	trimSeq     uint64  // everything below was acknowledged and dropped
	blocks      []block // data held, sorted, disjoint
	skip        bool    // deliveries given up (skip_deliveries)
	didEOF      bool
}

func (r *reassembler) init() { r.lastReassem, r.trimSeq = 1, 1 }

func (r *reassembler) dataSize() uint64 {
	var n uint64
	for _, b := range r.blocks {
		n += b.upper - b.seq
	}
	return n
}

func (r *reassembler) undeliveredBytes() uint64 {
	if len(r.blocks) == 0 {
		return 0
	}
	return r.blocks[len(r.blocks)-1].upper - r.lastReassem
}

func (r *reassembler) clear() { r.blocks = r.blocks[:0] }

// insert adds [seq, upper) where it is not already covered — existing
// blocks keep their place, the new range fills the holes around them —
// and returns the index of the block holding seq afterwards.
func (r *reassembler) insert(seq, upper uint64) int {
	n := len(r.blocks)
	if n == 0 || seq >= r.blocks[n-1].upper {
		r.blocks = append(r.blocks, block{seq, upper})
		return n
	}
	// First block that does not end at or before seq.
	i := 0
	for i < n && r.blocks[i].upper <= seq {
		i++
	}
	at := -1
	for seq < upper {
		if i == len(r.blocks) {
			r.blocks = append(r.blocks, block{seq, upper})
			if at < 0 {
				at = i
			}
			break
		}
		b := r.blocks[i]
		if upper <= b.seq {
			r.insertAt(i, block{seq, upper})
			if at < 0 {
				at = i
			}
			break
		}
		if seq < b.seq {
			r.insertAt(i, block{seq, b.seq})
			if at < 0 {
				at = i
			}
			i++
			seq = b.seq
		}
		if at < 0 {
			at = i
		}
		seq = min(upper, b.upper)
		i++
	}
	return at
}

func (r *reassembler) insertAt(i int, b block) {
	r.blocks = append(r.blocks, block{})
	copy(r.blocks[i+1:], r.blocks[i:])
	r.blocks[i] = b
}

// dataSent takes payload [seq, seq+n) sent by e (TCP_Reassembler::DataSent).
func (c *conn) dataSent(e *endpoint, seq, n uint64) {
	r := &e.reasm
	if r.skip {
		return
	}
	ack := e.relative(e.ackSeq, e.ackWraps)
	upper := seq + n
	if seq < ack {
		if upper <= ack {
			return // delivered and acknowledged already
		}
		seq = ack // keep only the unacknowledged part
	}
	c.newBlock(e, seq, upper)
	if e.noDataAcked() && r.undeliveredBytes() > maxAboveHoleWithoutAck {
		r.clear()
		r.skip = true
	}
	if r.dataSize() > maxExcessiveData || len(r.blocks) > maxBlocks {
		r.clear()
		r.skip = true
	}
}

func (c *conn) newBlock(e *endpoint, seq, upper uint64) {
	r := &e.reasm
	if upper <= seq || upper <= r.trimSeq {
		return
	}
	if seq < r.trimSeq {
		seq = r.trimSeq
	}
	c.blockInserted(e, r.insert(seq, upper))
}

// blockInserted delivers what became contiguous with the delivered stream
// when block i arrived, then lets go of delivered data nobody will
// acknowledge.
func (c *conn) blockInserted(e *endpoint, i int) {
	r := &e.reasm
	if i < 0 || i >= len(r.blocks) {
		return
	}
	if b := r.blocks[i]; b.seq > r.lastReassem || b.upper <= r.lastReassem {
		return
	}
	for ; i < len(r.blocks); i++ {
		b := r.blocks[i]
		if b.seq > r.lastReassem {
			break
		}
		if b.seq == r.lastReassem {
			r.lastReassem += b.upper - b.seq
		}
	}
	// Much data and never an acknowledgement: the peer's ACKs are not
	// being seen, do not hold the data until the end.
	if e.noDataAcked() && e.size() > maxInitialWindow {
		c.trimToSeq(e, r.lastReassem)
	}
}

// trimToSeq drops what the peer acknowledged below seq; what was never
// received there becomes a gap (Reassembler::TrimToSeq).
func (c *conn) trimToSeq(e *endpoint, seq uint64) {
	r := &e.reasm
	if seq > r.lastReassem {
		c.undelivered(e, seq)
	}
	k := 0
	for k < len(r.blocks) && r.blocks[k].upper <= seq {
		k++
	}
	if k > 0 {
		r.blocks = r.blocks[:copy(r.blocks, r.blocks[k:])]
	}
	if len(r.blocks) > 0 && r.blocks[0].seq == r.lastReassem {
		c.blockInserted(e, 0)
	}
	if seq > r.trimSeq {
		r.trimSeq = seq
	}
}

// undelivered reports the holes below upTo as content gaps and moves the
// delivery point past them (TCP_Reassembler::Undelivered).
func (c *conn) undelivered(e *endpoint, upTo uint64) {
	r := &e.reasm
	if upTo <= 2 && c.partial {
		// A partial connection's numbering was made up as if there had been
		// a SYN; the first ACK complaining about the octet before the first
		// one seen (or a keep-alive's) is not a gap.
		return
	}
	if !r.skip {
		for i := 0; i < len(r.blocks); {
			b := r.blocks[i]
			if b.seq < r.lastReassem {
				i++
				continue
			}
			if b.seq >= upTo {
				break
			}
			n := b.seq - r.lastReassem
			c.gap(e, n)
			r.lastReassem += n
			c.blockInserted(e, i)
			i = 0 // delivery may have trimmed: look again from the start
		}
		if upTo > r.lastReassem {
			c.gap(e, upTo-r.lastReassem)
		}
	}
	if upTo > r.lastReassem {
		r.lastReassem = upTo
	}
}

// gap records a content gap of n bytes sent by e. Gaps count (history G,
// missed_bytes) only while both sides are established or closing cleanly
// from established: elsewhere they come from guessed sequence numbers.
func (c *conn) gap(e *endpoint, n uint64) {
	if e.clean() && e.peer.clean() {
		if e.gaps.hit() {
			c.addHistory(e.isOrig, 'G')
		}
		c.missed += n
	}
}

// ackReceived: the peer acknowledged e's data up to seq.
func (c *conn) ackReceived(e *endpoint, seq uint64) {
	r := &e.reasm
	if e.finCount > 0 && seq >= e.finSeq {
		seq = e.finSeq - 1 // the FIN is not data
	}
	if seq <= r.trimSeq {
		return
	}
	c.trimToSeq(e, seq)
	c.checkEOF(e)
}

// dataPending: e closed, but data it sent below its FIN was not yet all
// delivered (or the peer still holds undelivered data).
func (e *endpoint) dataPending() bool {
	r := &e.reasm
	if r.skip {
		return false
	}
	delivered := uint64(e.startSeq) + r.lastReassem
	last := fullSeq(e.lastSeq, e.seqWraps)
	if last < delivered {
		return false
	}
	if delivered != last-1 && delivered != last {
		return true
	}
	return e.state != Reset && len(e.peer.reasm.blocks) > 0
}

// checkEOF: once a side that closed has had everything delivered, a close
// that waited for that can proceed.
func (c *conn) checkEOF(e *endpoint) {
	r := &e.reasm
	if r.didEOF || !(e.finCount > 0 || e.state == Closed || e.state == Reset) || e.dataPending() {
		return
	}
	r.didEOF = true
	if c.closeDeferred {
		c.connectionClosed(e, e.peer, c.deferredGenEvent)
		c.closeDeferred = false
	}
}
