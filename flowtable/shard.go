package flowtable

import (
	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/fsm"
)

// Stats counts what a shard (or the whole table) did with the segments it
// was given. Every segment lands in exactly one of Accepted, Ignored,
// Invalid, Dropped.
type Stats struct {
	Segments uint64 // segments handed to the table
	Accepted uint64 // passed the state machine (including those that killed or reopened a flow)
	Ignored  uint64 // allowed through without touching the flow (kernel's IGNORE)
	Invalid  uint64 // outside the window or the rules; also packets that cannot create a flow
	Dropped  uint64 // would have created a flow, but the table was full and nothing could be evicted

	Created  uint64
	Expired  uint64
	Killed   uint64
	Reopened uint64
	Evicted  uint64
	Active   uint64 // flows in the table at the end
}

func (s *Stats) add(o *Stats) {
	s.Segments += o.Segments
	s.Accepted += o.Accepted
	s.Ignored += o.Ignored
	s.Invalid += o.Invalid
	s.Dropped += o.Dropped
	s.Created += o.Created
	s.Expired += o.Expired
	s.Killed += o.Killed
	s.Reopened += o.Reopened
	s.Evicted += o.Evicted
	s.Active += o.Active
}

// Shard is one partition of the table. It is not safe for concurrent use:
// a Table gives each shard to one goroutine; tests may drive one directly.
type Shard struct {
	cfg      *fsm.Config
	maxFlows int
	flows    []Flow
	free     []uint32
	count    int
	ix       index
	tm       timers
	stats    Stats

	recordEvents bool
	events       []Event

	// sums, when kept, parallels flows: each flow's connection summary.
	// Finished flows' summaries are copied into spare for their DESTROY
	// events, a chunk at a time.
	sums  []fsm.Summary
	spare []fsm.Summary
}

// NewShard makes a shard holding at most maxFlows flows (0: no limit).
func NewShard(cfg *fsm.Config, maxFlows int, events bool) *Shard {
	return &Shard{cfg: cfg, maxFlows: maxFlows, ix: newIndex(), recordEvents: events}
}

// KeepSummaries makes the shard keep an fsm.Summary per flow, fed every
// segment of the flow (invalid ones too), handed out with DESTROY events
// and by Summaries. Call it before the first Process.
func (s *Shard) KeepSummaries() {
	if s.sums == nil {
		s.sums = make([]fsm.Summary, len(s.flows), cap(s.flows))
	}
}

// summaryCopy gives a DESTROY event its own copy of a summary; copies are
// carved from chunks so that ending flows costs an allocation per chunk.
func (s *Shard) summaryCopy(sum *fsm.Summary) *fsm.Summary {
	if len(s.spare) == 0 {
		s.spare = make([]fsm.Summary, 64)
	}
	c := &s.spare[0]
	*c = *sum
	s.spare = s.spare[1:]
	return c
}

// Process applies one segment; seq numbers packets in reading order, h is
// the key's Hash (computed by the caller that picked the shard).
func (s *Shard) Process(p *assemble.Packet, seq, h uint64) {
	s.stats.Segments++
	k := MakeKey(p.Src, p.Dst, p.TCP.SrcPort, p.TCP.DstPort)
	pos, reply, ok := s.ix.find(s.flows, &k, h)
	if ok && s.flows[pos].Expires <= p.TS {
		// Gone in the kernel too: its timer ran out before this packet.
		s.destroy(pos, s.flows[pos].Expires, 0, Expired)
		ok = false
	}
	if !ok {
		s.create(p, &k, seq, h)
		return
	}
	f := &s.flows[pos]
	dir := fsm.Original
	if reply {
		dir = fsm.Reply
	}
	r := f.Conn.Update(s.cfg, dir, &p.TCP)
	f.Last = p.TS
	if s.sums != nil && r.Verdict != fsm.Reopen {
		// A reopening SYN belongs to the flow its second pass creates.
		s.sums[pos].Observe(dir, &p.TCP, p.IPLen, p.TS, r.Verdict)
	}
	switch r.Verdict {
	case fsm.Invalid:
		s.stats.Invalid++
		if r.Shrink {
			// nf_tcp_handle_invalid: an out-of-window FIN/RST exchange
			// shortens a long timer (no counters, no event).
			if e := r.NextExpiry(p.TS, f.Expires); e != f.Expires {
				s.tm.arm(s.flows, pos, p.TS, e-p.TS)
			}
		}
		return
	case fsm.Ignore:
		s.stats.Ignored++
	case fsm.Accept:
		s.stats.Accepted++
		if r.Refresh {
			s.tm.arm(s.flows, pos, p.TS, int64(r.Timeout))
			f.Packets[dir]++
			f.Bytes[dir] += uint64(p.IPLen)
		}
	case fsm.Kill:
		s.stats.Accepted++
		f.Packets[dir]++
		f.Bytes[dir] += uint64(p.IPLen)
		s.destroy(pos, p.TS, seq, Killed)
		return
	case fsm.Reopen:
		// The second pass counts the segment (Segments and its verdict),
		// so that every segment lands in exactly one verdict counter.
		s.destroy(pos, p.TS, seq, Reopened)
		s.stats.Segments--
		s.Process(p, seq, h)
		return
	}
	if r.Events != 0 && s.recordEvents {
		s.events = append(s.events, Event{Type: EventUpdate, TS: p.TS, Seq: seq, Changes: r.Events, Flow: *f})
	}
}

func (s *Shard) create(p *assemble.Packet, k *Key, seq, h uint64) {
	var c fsm.Conn
	if !c.Start(s.cfg, &p.TCP) {
		s.stats.Invalid++
		return
	}
	r := c.Update(s.cfg, fsm.Original, &p.TCP)
	switch r.Verdict {
	case fsm.Invalid, fsm.Kill, fsm.Reopen:
		// Never confirmed: the kernel drops the unconfirmed entry.
		s.stats.Invalid++
		return
	}
	if s.maxFlows > 0 && s.count >= s.maxFlows && !s.earlyDrop(p.TS, seq) {
		s.stats.Dropped++
		return
	}
	pos := s.alloc()
	f := &s.flows[pos]
	*f = Flow{Key: *k, Conn: c, ID: seq, Start: p.TS, Last: p.TS, hash: h, prev: noFlow, next: noFlow, list: unarmed, live: true}
	if r.Verdict == fsm.Ignore {
		s.stats.Ignored++
	} else {
		s.stats.Accepted++
	}
	if r.Refresh {
		s.tm.arm(s.flows, pos, p.TS, int64(r.Timeout))
		f.Packets[fsm.Original]++
		f.Bytes[fsm.Original] += uint64(p.IPLen)
	}
	if s.sums != nil {
		s.sums[pos] = fsm.Summary{}
		s.sums[pos].Observe(fsm.Original, &p.TCP, p.IPLen, p.TS, r.Verdict)
	}
	s.ix.insert(s.flows, pos, h)
	s.count++
	s.stats.Created++
	if s.recordEvents {
		s.events = append(s.events, Event{Type: EventNew, TS: p.TS, Seq: seq, Flow: *f})
	}
}

func (s *Shard) alloc() uint32 {
	if n := len(s.free); n > 0 {
		pos := s.free[n-1]
		s.free = s.free[:n-1]
		return pos
	}
	s.flows = append(s.flows, Flow{})
	if s.sums != nil {
		s.sums = append(s.sums, fsm.Summary{})
	}
	return uint32(len(s.flows) - 1)
}

func (s *Shard) destroy(pos uint32, ts int64, seq uint64, why DestroyReason) {
	f := &s.flows[pos]
	if s.recordEvents {
		ev := Event{Type: EventDestroy, TS: ts, Seq: seq, Reason: why, Flow: *f}
		if s.sums != nil {
			ev.Summary = s.summaryCopy(&s.sums[pos])
		}
		s.events = append(s.events, ev)
	}
	switch why {
	case Expired:
		s.stats.Expired++
	case Killed:
		s.stats.Killed++
	case Reopened:
		s.stats.Reopened++
	case Evicted:
		s.stats.Evicted++
	}
	s.tm.unlink(s.flows, pos)
	s.ix.remove(s.flows, pos, f.hash)
	*f = Flow{list: unarmed}
	s.free = append(s.free, pos)
	s.count--
}

// earlyDrop frees room the way the kernel prefers: a flow that is not
// ASSURED. Among the next few to expire on each timer list it takes the one
// expiring soonest; assured flows are never evicted here.
func (s *Shard) earlyDrop(now int64, seq uint64) bool {
	const scan = 8
	victim := noFlow
	for li := range s.tm.lists {
		pos := s.tm.lists[li].head
		for n := 0; n < scan && pos != noFlow; n++ {
			f := &s.flows[pos]
			if f.Conn.Status()&fsm.Assured == 0 {
				if victim == noFlow || f.Expires < s.flows[victim].Expires {
					victim = pos
				}
				break
			}
			pos = f.next
		}
	}
	if victim == noFlow {
		return false
	}
	s.destroy(victim, now, seq, Evicted)
	return true
}

// Sweep expires every flow whose timeout ran out by now: O(expired).
func (s *Shard) Sweep(now int64) {
	for li := range s.tm.lists {
		for {
			pos := s.tm.lists[li].head
			if pos == noFlow || s.flows[pos].Expires > now {
				break
			}
			s.destroy(pos, s.flows[pos].Expires, 0, Expired)
		}
	}
}

// Finish expires everything due by now, including flows a backwards step in
// capture time left behind a later list head, and returns the live flows.
func (s *Shard) Finish(now int64) []Flow {
	s.expireAll(now)
	return s.AppendLive(make([]Flow, 0, s.count))
}

func (s *Shard) expireAll(now int64) {
	s.Sweep(now)
	for pos := range s.flows {
		f := &s.flows[pos]
		if f.live && f.Expires <= now {
			s.destroy(uint32(pos), f.Expires, 0, Expired)
		}
	}
	s.stats.Active = uint64(s.count)
}

// AppendLive appends copies of the live flows to dst.
func (s *Shard) AppendLive(dst []Flow) []Flow {
	for i := range s.flows {
		if s.flows[i].live {
			dst = append(dst, s.flows[i])
		}
	}
	return dst
}

// release drops the shard's storage once its flows have been handed out,
// so that a large table is not held twice while the result is printed.
func (s *Shard) release() {
	s.flows, s.free, s.sums, s.ix = nil, nil, nil, index{}
}

// Snapshot copies the live flows.
func (s *Shard) Snapshot() []Flow {
	return s.AppendLive(make([]Flow, 0, s.count))
}

// Summaries copies the live flows' summaries, in Snapshot's order; nil
// unless the shard keeps them.
func (s *Shard) Summaries() []fsm.Summary {
	if s.sums == nil {
		return nil
	}
	return s.appendSummaries(make([]fsm.Summary, 0, s.count))
}

func (s *Shard) appendSummaries(dst []fsm.Summary) []fsm.Summary {
	for i := range s.flows {
		if s.flows[i].live {
			dst = append(dst, s.sums[i])
		}
	}
	return dst
}

// Stats returns the shard's counters.
func (s *Shard) Stats() Stats { return s.stats }

// TakeEvents hands over the events recorded since the last call.
func (s *Shard) TakeEvents(dst []Event) []Event {
	dst = append(dst, s.events...)
	s.events = s.events[:0]
	return dst
}

// Len is the number of flows held.
func (s *Shard) Len() int { return s.count }
