package flowtable

// index is an open-addressing hash set of flow slab positions with linear
// probing and backward-shift deletion. A slot is 4 bytes: the position (+1;
// 0 = empty) in its low 26 bits and 6 bits of the flow's hash above them.
// Probing compares those bits first, so a lookup touches the slab for a
// wrong flow only once in 64 probes. Moving slots (deletion, growth) needs
// a flow's home slot, which the hash of its key in the slab gives. Keys
// live in the slab; a lookup compares against the flow's key or its reverse
// because the hash is symmetric.
//
// Sizes need not be powers of two: a slot is picked by scaling 32 hash bits
// to the size (Lemire's multiply-shift), so the index grows by half, and a
// table sits between half and three quarters full rather than between a
// third and three quarters.
//
// The slots live outside the Go heap where the platform allows (see
// slotmem_unix.go): a grown index frees the old slots at once instead of
// leaving them to the next collection, so the peak memory of a big table is
// its flows and one index.
type index struct {
	slots []uint32
	size  uint64 // len(slots)
	n     int
	mem   *slotMem
	// rehash gives a flow's hash again; nil: its key's Hash (tests use a
	// weak one to force long probe runs).
	rehash func(*entry) uint64
}

const (
	minIndexSize = 1 << 10
	posBits      = 26
	posMask      = 1<<posBits - 1
	tagMask      = ^uint32(posMask)
	// maxIndexPos is the highest slab position an index can hold: a shard
	// holds at most 64 Mi - 1 flows.
	maxIndexPos = posMask - 1
)

func newIndex() index {
	ix := index{mem: &slotMem{}}
	ix.slots = ix.mem.alloc(minIndexSize)
	ix.size = minIndexSize
	return ix
}

// home is the slot a hash probes first.
func (ix *index) home(h uint64) uint64 { return uint64(uint32(h)) * ix.size >> 32 }

// step is the next slot of a probe run, wrapping at the end.
func (ix *index) step(i uint64) uint64 {
	if i++; i == ix.size {
		return 0
	}
	return i
}

// tagOf is the hash bits a slot keeps: above the ones that pick the slot
// (the low bits) and apart from the ones that pick the shard (the top).
func tagOf(h uint64) uint32 { return uint32(h>>32) << posBits & tagMask }

func slotOf(pos uint32, h uint64) uint32 { return (pos + 1) | tagOf(h) }

func (ix *index) hashOf(e *entry) uint64 {
	if ix.rehash != nil {
		return ix.rehash(e)
	}
	k := e.key()
	return k.Hash()
}

// find returns the slab position of the flow whose key is k or k reversed,
// and the direction the key travels in it.
func (ix *index) find(flows *slab[entry], k *Key, h uint64) (pos uint32, reply, ok bool) {
	tag := tagOf(h)
	for i := ix.home(h); ; i = ix.step(i) {
		s := ix.slots[i]
		if s == 0 {
			return 0, false, false
		}
		if s&tagMask != tag {
			continue
		}
		p := s&posMask - 1
		if ok, reply := flows.at(p).match(k); ok {
			return p, reply, true
		}
	}
}

// insert adds pos (whose entry is already in flows) with hash h.
func (ix *index) insert(flows *slab[entry], pos uint32, h uint64) {
	if (ix.n+1)*4 > len(ix.slots)*3 {
		ix.grow(flows, pos)
	}
	ix.put(slotOf(pos, h), h)
	ix.n++
}

func (ix *index) put(s uint32, h uint64) {
	i := ix.home(h)
	for ix.slots[i] != 0 {
		i = ix.step(i)
	}
	ix.slots[i] = s
}

// remove deletes pos (hash h), shifting later members of the probe run
// back so that no tombstones accumulate under churn. Its entry must still
// be in flows.
func (ix *index) remove(flows *slab[entry], pos uint32, h uint64) {
	want := slotOf(pos, h)
	i := ix.home(h)
	for ix.slots[i] != want {
		if ix.slots[i] == 0 {
			return
		}
		i = ix.step(i)
	}
	for {
		ix.slots[i] = 0
		j := i
		for {
			j = ix.step(j)
			s := ix.slots[j]
			if s == 0 {
				ix.n--
				return
			}
			home := ix.home(ix.hashOf(flows.at(s&posMask - 1)))
			// Move s into the hole at i if its home is not in (i, j].
			if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
				ix.slots[i] = s
				ix.slots[j] = 0
				i = j
				break
			}
		}
	}
}

// grow makes the index half as big again and puts every live flow but skip
// (about to be inserted) back, walking the slab in order.
func (ix *index) grow(flows *slab[entry], skip uint32) {
	old := ix.mem
	ix.mem = &slotMem{}
	ix.size += ix.size / 2
	ix.slots = ix.mem.alloc(int(ix.size))
	for pos := range flows.len() {
		e := flows.at(pos)
		if pos == skip || !e.live() {
			continue
		}
		h := ix.hashOf(e)
		ix.put(slotOf(pos, h), h)
	}
	old.free()
}

// release frees the slots; the index is unusable afterwards.
func (ix *index) release() {
	if ix.mem != nil {
		ix.mem.free()
	}
	*ix = index{}
}
