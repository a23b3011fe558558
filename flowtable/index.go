package flowtable

// index is an open-addressing hash set of flow slab positions with linear
// probing and backward-shift deletion. A slot holds the position (+1; 0 =
// empty) in its low half and the low 32 bits of the flow's hash in its high
// half: probing compares those bits first, so a lookup touches the slab only
// for a flow that almost surely matches (one cache miss, not one per probe),
// and moving slots never needs the slab at all. Keys live in the slab; a
// lookup compares against the flow's key or its reverse because the hash is
// symmetric.
type index struct {
	slots []uint64
	mask  uint64
	n     int
}

const minIndexSize = 1 << 10

func newIndex() index {
	return index{slots: make([]uint64, minIndexSize), mask: minIndexSize - 1}
}

func slotOf(pos uint32, h uint64) uint64 { return uint64(pos+1) | h<<32 }

// find returns the slab position of the flow whose key is k or k reversed,
// and the direction the key travels in it.
func (ix *index) find(flows *slab[entry], k *Key, h uint64) (pos uint32, reply, ok bool) {
	tag := h << 32
	for i := h & ix.mask; ; i = (i + 1) & ix.mask {
		s := ix.slots[i]
		if s == 0 {
			return 0, false, false
		}
		if s&^0xffffffff != tag {
			continue
		}
		p := uint32(s) - 1
		f := flows.at(p)
		if f.Key == *k {
			return p, false, true
		}
		if f.Key.Src == k.Dst && f.Key.Dst == k.Src && f.Key.SrcPort == k.DstPort && f.Key.DstPort == k.SrcPort && f.Key.Is4 == k.Is4 {
			return p, true, true
		}
	}
}

func (ix *index) insert(pos uint32, h uint64) {
	if (ix.n+1)*4 > len(ix.slots)*3 {
		ix.grow()
	}
	i := h & ix.mask
	for ix.slots[i] != 0 {
		i = (i + 1) & ix.mask
	}
	ix.slots[i] = slotOf(pos, h)
	ix.n++
}

// remove deletes pos, shifting later members of the probe run back so that
// no tombstones accumulate under churn.
func (ix *index) remove(pos uint32, h uint64) {
	want := slotOf(pos, h)
	i := h & ix.mask
	for ix.slots[i] != want {
		if ix.slots[i] == 0 {
			return
		}
		i = (i + 1) & ix.mask
	}
	for {
		ix.slots[i] = 0
		j := i
		for {
			j = (j + 1) & ix.mask
			s := ix.slots[j]
			if s == 0 {
				ix.n--
				return
			}
			home := (s >> 32) & ix.mask
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

func (ix *index) grow() {
	old := ix.slots
	ix.slots = make([]uint64, len(old)*2)
	ix.mask = uint64(len(ix.slots) - 1)
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := (s >> 32) & ix.mask
		for ix.slots[i] != 0 {
			i = (i + 1) & ix.mask
		}
		ix.slots[i] = s
	}
}
