package flowtable

import (
	"unsafe"

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
	Refused  uint64 // of Invalid: refused before tracking (Table.Refuse: bad checksum, bad header)

	Created  uint64
	Expired  uint64
	Killed   uint64
	Reopened uint64
	Evicted  uint64
	Active   uint64 // flows in the table at the end

	// Packets and Bytes sum what the flows' counters counted, per
	// direction, ended flows included (kept with Config.Acct).
	Packets [2]uint64
	Bytes   [2]uint64
}

func (s *Stats) add(o *Stats) {
	s.Segments += o.Segments
	s.Accepted += o.Accepted
	s.Ignored += o.Ignored
	s.Invalid += o.Invalid
	s.Dropped += o.Dropped
	s.Refused += o.Refused
	s.Created += o.Created
	s.Expired += o.Expired
	s.Killed += o.Killed
	s.Reopened += o.Reopened
	s.Evicted += o.Evicted
	s.Active += o.Active
	for d := range s.Packets {
		s.Packets[d] += o.Packets[d]
		s.Bytes[d] += o.Bytes[d]
	}
}

// shard is one partition of the table. It is not safe for concurrent use:
// a Table gives each shard to one goroutine; tests may drive one directly.
type shard struct {
	cfg      *fsm.Config
	maxFlows int
	flows    slab[entry]
	free     []uint32
	count    int
	ix       index
	tm       timers
	stats    Stats

	recordEvents bool
	destroyOnly  bool // record DESTROY events only
	events       []Event

	// acct and sums, when kept, parallel flows: each flow's counters and
	// connection summary. Finished flows' summaries are copied into spare
	// for their DESTROY events, a chunk at a time.
	keepAcct, keepSums bool
	acct               slab[acct]
	sums               slab[sumRef]      // per flow: its summary, held or built (summaries.go)
	sumSlab            slab[fsm.Summary] // built summaries
	sumFree            []uint32          // free positions in sumSlab
	sumScratch         fsm.Summary
	spare              []fsm.Summary

	// Packet reporting (packet.go): the mode, the wire headers of the
	// packet being processed, and chunks the events' copies come from.
	packets     PacketEvents
	curWire     []byte
	curFrame    uint64
	reportSpare []PacketReport
	wireSpare   []byte

	// hosts, when kept, are the tuples' endpoint sockets (hosts.go).
	hosts *hostTable
}

// newShard makes a shard holding at most maxFlows flows (0: no limit).
// Set keepAcct (each flow's start time, packet and byte counters and TCP
// flags), keepSums (an fsm.Summary per flow, fed every segment of the flow,
// invalid ones too, handed out with DESTROY events and by summaries) and
// destroyOnly (record DESTROY events only: what a consumer of ended flows
// needs, without a NEW and several UPDATEs per connection) before the
// first process.
func newShard(cfg *fsm.Config, maxFlows int, events bool) *shard {
	return &shard{cfg: cfg, maxFlows: maxFlows, ix: newIndex(), recordEvents: events}
}

// exists reports whether conntrack has an entry for k.
func (s *shard) exists(k *Key, h uint64) bool {
	_, _, ok := s.ix.find(&s.flows, k, h)
	return ok
}

// summaryCopy gives a DESTROY event its own copy of a summary; copies are
// carved from chunks so that ending flows costs an allocation per chunk.
func (s *shard) summaryCopy(sum *fsm.Summary) *fsm.Summary {
	if len(s.spare) == 0 {
		s.spare = make([]fsm.Summary, 64)
	}
	c := &s.spare[0]
	*c = *sum
	s.spare = s.spare[1:]
	return c
}

// flow is the outside view of the flow at pos.
func (s *shard) flow(pos uint32) Flow {
	var a *acct
	if s.keepAcct {
		a = s.acct.at(pos)
	}
	f := makeFlow(s.flows.at(pos), a)
	s.attachHosts(&f)
	return f
}

// attachHosts copies the host pair of f's tuple into f, when the shard
// keeps them.
func (s *shard) attachHosts(f *Flow) {
	if s.hosts != nil {
		if hs, d, ok := s.hosts.hostsOf(f.Key); ok {
			f.Hosts, f.HasHosts, f.hostsSide, f.hostCfg = *hs, true, d, s.hosts.cfg
		}
	}
}

// account adds a packet of ipLen bytes with TCP flags fl to the flow's
// counters, when kept.
func (s *shard) account(pos uint32, dir fsm.Dir, ipLen uint32, fl fsm.Flags) {
	if s.keepAcct {
		a := s.acct.at(pos)
		a.Packets[dir]++
		a.Bytes[dir] += uint64(ipLen)
		a.Flags[dir] |= fl
		s.stats.Packets[dir]++
		s.stats.Bytes[dir] += uint64(ipLen)
	}
}

// prefetchSlot starts loading the index slot a segment with hash h will
// probe first; prefetchFlow, a little later, the flow that slot points at
// (and its counters), so that process finds both in cache.
func (s *shard) prefetchSlot(h uint64) {
	prefetch(uintptr(unsafe.Pointer(&s.ix.slots[s.ix.home(h)])))
}

func (s *shard) prefetchFlow(h uint64) {
	slot := s.ix.slots[s.ix.home(h)]
	if slot == 0 {
		return
	}
	pos := slot&posMask - 1
	// An entry is two whole cache lines (128 bytes, 128-byte aligned in a
	// page-aligned chunk): the key and the start of the connection state,
	// then the rest of it, the timer links, ID and expiry.
	e := uintptr(unsafe.Pointer(s.flows.at(pos)))
	prefetch(e)
	prefetch(e + 64)
	if s.keepAcct {
		prefetch(uintptr(unsafe.Pointer(s.acct.at(pos))))
	}
}

// process applies one segment; seq numbers packets in reading order from 1,
// h is the key's Hash (computed by the caller that picked the shard).
func (s *shard) process(p *segment, seq, h uint64) {
	if s.hosts != nil {
		s.hosts.process(p, seq, h, s.exists)
	}
	s.track(p, seq, h)
}

// track is conntrack's part of process.
func (s *shard) track(p *segment, seq, h uint64) {
	s.stats.Segments++
	pos, reply, ok := s.ix.find(&s.flows, &p.Key, h)
	if ok && s.flows.at(pos).Expires <= p.TS {
		// Gone in the kernel too: its timer ran out before this packet.
		s.destroy(pos, s.flows.at(pos).Expires, 0, Expired, h)
		ok = false
	}
	if !ok {
		s.create(p, seq, h)
		return
	}
	f := s.flows.at(pos)
	dir := fsm.Original
	if reply {
		dir = fsm.Reply
	}
	r := f.Conn.Update(s.cfg, dir, &p.TCP)
	if s.keepAcct {
		s.acct.at(pos).Last = p.TS
	}
	if s.keepSums && r.Verdict != fsm.Reopen {
		// A reopening SYN belongs to the flow its second pass creates.
		s.observe(pos, dir, &p.TCP, p.IPLen, p.TS, r.Verdict)
	}
	switch r.Verdict {
	case fsm.Invalid:
		s.stats.Invalid++
		s.report(p, seq, pos, dir, &r)
		if r.Shrink {
			// nf_tcp_handle_invalid: an out-of-window FIN/RST exchange
			// shortens a long timer (no counters, no event).
			if e := r.NextExpiry(p.TS, f.Expires); e != f.Expires {
				s.tm.arm(&s.flows, pos, p.TS, e-p.TS)
				s.reportShrunk(&r)
			}
		}
		return
	case fsm.Ignore:
		s.stats.Ignored++
	case fsm.Accept:
		s.stats.Accepted++
		if r.Refresh {
			s.tm.arm(&s.flows, pos, p.TS, int64(r.Timeout))
			s.account(pos, dir, p.IPLen, p.TCP.Flags)
		}
	case fsm.Kill:
		s.stats.Accepted++
		s.account(pos, dir, p.IPLen, p.TCP.Flags)
		s.report(p, seq, pos, dir, &r)
		s.destroy(pos, p.TS, seq, Killed, h)
		return
	case fsm.Reopen:
		// The second pass counts the segment (Segments and its verdict),
		// so that every segment lands in exactly one verdict counter.
		s.destroy(pos, p.TS, seq, Reopened, h)
		s.stats.Segments--
		s.track(p, seq, h)
		return
	}
	if r.Events != 0 && s.recordEvents && !s.destroyOnly {
		s.events = append(s.events, Event{Type: EventUpdate, TS: p.TS, Seq: seq, Changes: r.Events, Flow: s.flow(pos)})
	}
	s.report(p, seq, pos, dir, &r)
}

func (s *shard) create(p *segment, seq, h uint64) {
	var c fsm.Conn
	if !c.Start(s.cfg, &p.TCP) {
		s.stats.Invalid++
		if s.packets != PacketsNone {
			r := fsm.Result{Verdict: fsm.Invalid, Reason: fsm.RefusalReason(s.cfg, &p.TCP)}
			s.report(p, seq, noFlow, fsm.Original, &r)
		}
		return
	}
	r := c.Update(s.cfg, fsm.Original, &p.TCP)
	switch r.Verdict {
	case fsm.Invalid, fsm.Kill, fsm.Reopen:
		// Never confirmed: the kernel drops the unconfirmed entry.
		s.stats.Invalid++
		r.Verdict = fsm.Invalid
		s.report(p, seq, noFlow, fsm.Original, &r)
		return
	}
	if s.maxFlows > 0 && s.count >= s.maxFlows && !s.earlyDrop(p.TS, seq) {
		s.stats.Dropped++
		return
	}
	if len(s.free) == 0 && s.flows.len() > maxIndexPos {
		// The index addresses 64 Mi flows per shard: full as if limited.
		s.stats.Dropped++
		return
	}
	pos := s.alloc()
	f := s.flows.at(pos)
	f.set(&p.Key, seq, &c)
	if s.keepAcct {
		*s.acct.at(pos) = acct{Start: p.TS, Last: p.TS}
	}
	if r.Verdict == fsm.Ignore {
		s.stats.Ignored++
	} else {
		s.stats.Accepted++
	}
	if r.Refresh {
		s.tm.arm(&s.flows, pos, p.TS, int64(r.Timeout))
		s.account(pos, fsm.Original, p.IPLen, p.TCP.Flags)
	}
	if s.keepSums {
		s.resetSummary(pos)
		s.observe(pos, fsm.Original, &p.TCP, p.IPLen, p.TS, r.Verdict)
	}
	s.ix.insert(&s.flows, pos, h)
	s.count++
	s.stats.Created++
	if s.recordEvents && !s.destroyOnly {
		s.events = append(s.events, Event{Type: EventNew, TS: p.TS, Seq: seq, Flow: s.flow(pos)})
	}
	s.report(p, seq, pos, fsm.Original, &r)
}

func (s *shard) alloc() uint32 {
	if n := len(s.free); n > 0 {
		pos := s.free[n-1]
		s.free = s.free[:n-1]
		return pos
	}
	pos := s.flows.add()
	if s.keepAcct {
		s.acct.add()
	}
	if s.keepSums {
		s.sums.add()
	}
	return pos
}

// destroy removes the flow at pos; h is its key's hash (zero: work it out).
func (s *shard) destroy(pos uint32, ts int64, seq uint64, why DestroyReason, h uint64) {
	f := s.flows.at(pos)
	if h == 0 {
		h = f.key().Hash()
	}
	if s.recordEvents {
		ev := Event{Type: EventDestroy, TS: ts, Seq: seq, Reason: why, Flow: s.flow(pos)}
		if s.keepSums {
			ev.Summary = s.summaryCopy(s.summary(pos))
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
	s.tm.unlink(&s.flows, pos)
	s.ix.remove(&s.flows, pos, h)
	*f = entry{prev: noFlow, next: noFlow}
	if s.keepSums {
		s.resetSummary(pos)
	}
	s.free = append(s.free, pos)
	s.count--
}

// earlyDrop frees room the way the kernel prefers: a flow that is not
// ASSURED. Among the next few to expire on each timer list it takes the one
// expiring soonest; assured flows are never evicted here.
func (s *shard) earlyDrop(now int64, seq uint64) bool {
	const scan = 8
	victim := noFlow
	for li := range s.tm.lists {
		pos := s.tm.lists[li].head
		for n := 0; n < scan && pos != noFlow; n++ {
			f := s.flows.at(pos)
			if f.Conn.Status()&fsm.Assured == 0 {
				if victim == noFlow || f.Expires < s.flows.at(victim).Expires {
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
	s.destroy(victim, now, seq, Evicted, 0)
	return true
}

// sweep expires every flow whose timeout ran out by now: O(expired); and
// looks at a few host pairs for ones that are over.
func (s *shard) sweep(now int64) {
	if s.hosts != nil {
		s.hosts.sweep(now, s.exists)
	}
	for li := range s.tm.lists {
		for {
			pos := s.tm.lists[li].head
			if pos == noFlow || s.flows.at(pos).Expires > now {
				break
			}
			s.destroy(pos, s.flows.at(pos).Expires, 0, Expired, 0)
		}
	}
}

// finish expires everything due by now, including flows a backwards step in
// capture time left behind a later list head, and returns the live flows.
func (s *shard) finish(now int64) []Flow {
	s.expireAll(now)
	return s.appendLive(make([]Flow, 0, s.count))
}

func (s *shard) expireAll(now int64) {
	s.sweep(now)
	for pos := range s.flows.len() {
		f := s.flows.at(pos)
		if f.live() && f.Expires <= now {
			s.destroy(pos, f.Expires, 0, Expired, 0)
		}
	}
	s.stats.Active = uint64(s.count)
}

// appendLive appends copies of the live flows to dst.
func (s *shard) appendLive(dst []Flow) []Flow {
	for pos := range s.flows.len() {
		if s.flows.at(pos).live() {
			dst = append(dst, s.flow(pos))
		}
	}
	return dst
}

// dropIndex frees the lookup index once no more packets will come (the
// host pairs keep theirs: flows are matched to them on output).
func (s *shard) dropIndex() {
	s.ix.release()
	s.free = nil
}

// appendHostPairs appends a copy of every host pair the shard holds
// (none unless it keeps them).
func (s *shard) appendHostPairs(dst []HostPair) []HostPair {
	if s.hosts == nil {
		return dst
	}
	return s.hosts.appendLive(dst)
}

// snapshot copies the live flows.
func (s *shard) snapshot() []Flow {
	return s.appendLive(make([]Flow, 0, s.count))
}

// summaries copies the live flows' summaries, in Snapshot's order; nil
// unless the shard keeps them.
func (s *shard) summaries() []fsm.Summary {
	if !s.keepSums {
		return nil
	}
	return s.appendSummaries(make([]fsm.Summary, 0, s.count))
}

func (s *shard) appendSummaries(dst []fsm.Summary) []fsm.Summary {
	for pos := range s.flows.len() {
		if s.flows.at(pos).live() {
			dst = append(dst, *s.summary(pos))
		}
	}
	return dst
}

// takeEvents hands over the events recorded since the last call.
func (s *shard) takeEvents(dst []Event) []Event {
	dst = append(dst, s.events...)
	s.events = s.events[:0]
	return dst
}

// len is the number of flows held.
func (s *shard) len() int { return s.count }
