package flowtable

import (
	"github.com/tcptrack/tcptrack/fsm"
)

// The host sockets of a shard: each 4-tuple's two endpoint sockets
// (fsm.Hosts), kept apart from conntrack's entries because they do not live
// as long. A FIN that creates no conntrack entry still tells both hosts
// something; an idle ESTABLISHED socket outlives its expired entry, a
// TIME_WAIT one dies 60 s before it. A pair is created by any segment and
// leaves once neither host may still hold a socket and conntrack has no
// entry for the tuple, or, when the shard is full, least recently active
// first.

// HostPair is one 4-tuple's two endpoint sockets as handed out. Key is
// oriented as the first segment seen: side fsm.Original sent it.
type HostPair struct {
	Key   Key
	Hosts fsm.Hosts
	ID    uint64 // sequence number of its first segment: first-seen order
	Last  int64  // capture time of its last segment
}

// Side is the side of the pair that sends in direction k.
func (hp *HostPair) Side(k Key) fsm.Dir {
	if hp.Key == k {
		return fsm.Original
	}
	return fsm.Reply
}

// A pair's fsm.Hosts (424 bytes) is kept, as a flow's summary is, as the
// one segment it has been fed until a second comes; then it is built by
// feeding that segment to zero Hosts, and lives in a slab of its own.
// Update is a function of the segments fed in order, so the pair is
// exactly the one fed segment by segment. A tuple that never gets past
// its first segment (SYN floods, scans, unanswered SYNs, stray RSTs) costs
// a held segment instead of a pair; reading it builds one in a scratch
// value.
type hostEntry struct {
	Key     Key
	n       uint8   // segments held (0 or 1); in the byte after Key's 38
	heldDir fsm.Dir // the held segment's direction
	ID      uint64  // 0: a free slot
	Last    int64
	full    uint32 // position+1 of its Hosts in hostTable.pairs; 0: held
	held    fsm.Segment
	heldTS  int64
}

func (e *hostEntry) live() bool { return e.ID != 0 }

func (e *hostEntry) side(k Key) fsm.Dir {
	if e.Key == k {
		return fsm.Original
	}
	return fsm.Reply
}

// hostTable is a shard's host pairs: an index over a slab, like the flows
// (with an index of its own kind: pairIndex).
type hostTable struct {
	cfg     *fsm.HostConfig
	max     int
	ents    slab[hostEntry]
	free    []uint32
	pairs   slab[fsm.Hosts] // the built pairs, referenced by hostEntry.full
	pfree   []uint32
	scratch fsm.Hosts // a held pair built for reading
	eager   bool      // build every pair on its first segment (tests compare the two)
	ix      pairIndex
	n       int
	cursor  uint32 // incremental sweep position
	evicted uint64
}

func newHostTable(cfg *fsm.HostConfig, max int) *hostTable {
	return &hostTable{cfg: cfg, max: max, ix: newPairIndex()}
}

// find returns the slab position of the pair of k (either direction).
func (t *hostTable) find(k *Key, h uint64) (uint32, bool) {
	tag := h << 32
	for i := h & t.ix.mask; ; i = (i + 1) & t.ix.mask {
		s := t.ix.slots[i]
		if s == 0 {
			return 0, false
		}
		if s&^0xffffffff != tag {
			continue
		}
		p := uint32(s) - 1
		e := t.ents.at(p)
		if e.Key == *k || (e.Key.Src == k.Dst && e.Key.Dst == k.Src && e.Key.SrcPort == k.DstPort && e.Key.DstPort == k.SrcPort && e.Key.Is4 == k.Is4) {
			return p, true
		}
	}
}

// process feeds one segment to its pair, creating the pair if needed.
// exists reports whether conntrack holds an entry for a key (for eviction
// and reclamation). It allocates nothing once the slab has room.
func (t *hostTable) process(p *segment, seq, h uint64, exists func(*Key, uint64) bool) {
	pos, ok := t.find(&p.Key, h)
	if !ok {
		if t.max > 0 && t.n >= t.max {
			t.evict(p.TS, exists)
		}
		if n := len(t.free); n > 0 {
			pos = t.free[n-1]
			t.free = t.free[:n-1]
		} else {
			pos = t.ents.add()
		}
		*t.ents.at(pos) = hostEntry{Key: p.Key, ID: seq}
		t.ix.insert(pos, h)
		t.n++
	}
	e := t.ents.at(pos)
	t.update(e, e.side(p.Key), &p.TCP, p.TS)
	e.Last = p.TS
}

// update feeds one segment to a pair: held while it is the first, else
// into the pair's Hosts (built from the held segment on the second).
func (t *hostTable) update(e *hostEntry, dir fsm.Dir, seg *fsm.Segment, ts int64) {
	if e.full != 0 {
		t.pairs.at(e.full-1).Update(t.cfg, dir, seg, ts)
		return
	}
	if e.n == 0 && !t.eager {
		e.held, e.heldTS, e.heldDir, e.n = *seg, ts, dir, 1
		return
	}
	var fp uint32
	if n := len(t.pfree); n > 0 {
		fp, t.pfree = t.pfree[n-1], t.pfree[:n-1]
	} else {
		fp = t.pairs.add()
	}
	hs := t.pairs.at(fp)
	t.replay(e, hs)
	hs.Update(t.cfg, dir, seg, ts)
	e.full, e.n, e.held, e.heldTS = fp+1, 0, fsm.Segment{}, 0
}

// replay makes hs the pair of e's held segments.
func (t *hostTable) replay(e *hostEntry, hs *fsm.Hosts) {
	*hs = fsm.Hosts{}
	if e.n != 0 {
		hs.Update(t.cfg, e.heldDir, &e.held, e.heldTS)
	}
}

// hosts is e's pair: in its slab, or built into the table's scratch value
// (valid until the next call).
func (t *hostTable) hosts(e *hostEntry) *fsm.Hosts {
	if e.full != 0 {
		return t.pairs.at(e.full - 1)
	}
	t.replay(e, &t.scratch)
	return &t.scratch
}

// pair is e as handed out.
func (t *hostTable) pair(e *hostEntry) HostPair {
	return HostPair{Key: e.Key, Hosts: *t.hosts(e), ID: e.ID, Last: e.Last}
}

// sweep looks at a few pairs from where it stopped last and drops those
// that are done: O(1) per call, the whole table over many batches.
func (t *hostTable) sweep(now int64, exists func(*Key, uint64) bool) {
	const step = 64
	n := t.ents.len()
	if n == 0 {
		return
	}
	for i := 0; i < step; i++ {
		if t.cursor >= n {
			t.cursor = 0
		}
		pos := t.cursor
		t.cursor++
		e := t.ents.at(pos)
		if !e.live() {
			continue
		}
		if t.hosts(e).Done(t.cfg, now) {
			h := e.Key.Hash()
			if !exists(&e.Key, h) {
				t.remove(pos, h)
			}
		}
	}
}

// evict makes room: a pair that is done if one is found near the cursor,
// else the least recently active of those looked at.
func (t *hostTable) evict(now int64, exists func(*Key, uint64) bool) {
	const scan = 16
	n := t.ents.len()
	victim, oldest := uint32(0), int64(0)
	found := false
	for i := 0; i < scan && n > 0; i++ {
		if t.cursor >= n {
			t.cursor = 0
		}
		pos := t.cursor
		t.cursor++
		e := t.ents.at(pos)
		if !e.live() {
			continue
		}
		if t.hosts(e).Done(t.cfg, now) {
			victim, found = pos, true
			break
		}
		if !found || e.Last < oldest {
			victim, oldest, found = pos, e.Last, true
		}
	}
	if found {
		t.remove(victim, 0)
		t.evicted++
	}
}

func (t *hostTable) remove(pos uint32, h uint64) {
	e := t.ents.at(pos)
	if h == 0 {
		h = e.Key.Hash()
	}
	t.ix.remove(pos, h)
	if e.full != 0 {
		t.pfree = append(t.pfree, e.full-1)
	}
	*e = hostEntry{}
	t.free = append(t.free, pos)
	t.n--
}

// hostsOf is the pair of k, if any, and the side of it that sends in
// direction k; the pointer is valid until the table's next call.
func (t *hostTable) hostsOf(k Key) (*fsm.Hosts, fsm.Dir, bool) {
	pos, ok := t.find(&k, k.Hash())
	if !ok {
		return nil, 0, false
	}
	e := t.ents.at(pos)
	return t.hosts(e), e.side(k), true
}

// appendLive appends a copy of every pair.
func (t *hostTable) appendLive(dst []HostPair) []HostPair {
	for pos := range t.ents.len() {
		if e := t.ents.at(pos); e.live() {
			dst = append(dst, t.pair(e))
		}
	}
	return dst
}
