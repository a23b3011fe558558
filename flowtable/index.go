package flowtable

// index is an open-addressing hash set of flow slab positions (+1; 0 = empty)
// with linear probing and backward-shift deletion. Keys live in the slab, so
// a slot costs 4 bytes; lookups compare against the flow's key or its
// reverse because the hash is symmetric.
type index struct {
	slots []uint32
	mask  uint64
	n     int
}

const minIndexSize = 1 << 10

func newIndex() index {
	return index{slots: make([]uint32, minIndexSize), mask: minIndexSize - 1}
}

// find returns the slab position of the flow whose key is k or k reversed,
// and the direction the key travels in it.
func (ix *index) find(flows []Flow, k *Key, h uint64) (pos uint32, reply, ok bool) {
	for i := h & ix.mask; ; i = (i + 1) & ix.mask {
		s := ix.slots[i]
		if s == 0 {
			return 0, false, false
		}
		f := &flows[s-1]
		if f.hash != h {
			continue
		}
		if f.Key == *k {
			return s - 1, false, true
		}
		if f.Key.Src == k.Dst && f.Key.Dst == k.Src && f.Key.SrcPort == k.DstPort && f.Key.DstPort == k.SrcPort && f.Key.Is4 == k.Is4 {
			return s - 1, true, true
		}
	}
}

func (ix *index) insert(flows []Flow, pos uint32, h uint64) {
	if (ix.n+1)*8 > len(ix.slots)*7 {
		ix.grow(flows)
	}
	i := h & ix.mask
	for ix.slots[i] != 0 {
		i = (i + 1) & ix.mask
	}
	ix.slots[i] = pos + 1
	ix.n++
}

// remove deletes pos, shifting later members of the probe run back so that
// no tombstones accumulate under churn.
func (ix *index) remove(flows []Flow, pos uint32, h uint64) {
	i := h & ix.mask
	for ix.slots[i] != pos+1 {
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
			home := flows[s-1].hash & ix.mask
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

func (ix *index) grow(flows []Flow) {
	old := ix.slots
	ix.slots = make([]uint32, len(old)*2)
	ix.mask = uint64(len(ix.slots) - 1)
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := flows[s-1].hash & ix.mask
		for ix.slots[i] != 0 {
			i = (i + 1) & ix.mask
		}
		ix.slots[i] = s
	}
}
