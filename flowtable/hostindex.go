package flowtable

// pairIndex is the host pairs' index: an open-addressing set with linear
// probing and backward-shift deletion whose 8-byte slots hold the position
// (+1; 0 = empty) in the low half and the low 32 bits of the pair's hash in
// the high half, so that moving a slot (deletion, growth) never reads the
// pairs. The flows' index (index.go) packs its slots into 4 bytes and reads
// the slab to move them instead; it is written for the entries' layout.
type pairIndex struct {
	slots []uint64
	mask  uint64
	n     int
}

func newPairIndex() pairIndex {
	return pairIndex{slots: make([]uint64, minIndexSize), mask: minIndexSize - 1}
}

func pairSlotOf(pos uint32, h uint64) uint64 { return uint64(pos+1) | h<<32 }

func (ix *pairIndex) insert(pos uint32, h uint64) {
	if (ix.n+1)*4 > len(ix.slots)*3 {
		ix.grow()
	}
	i := h & ix.mask
	for ix.slots[i] != 0 {
		i = (i + 1) & ix.mask
	}
	ix.slots[i] = pairSlotOf(pos, h)
	ix.n++
}

// remove deletes pos, shifting later members of the probe run back so that
// no tombstones accumulate under churn.
func (ix *pairIndex) remove(pos uint32, h uint64) {
	want := pairSlotOf(pos, h)
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

func (ix *pairIndex) grow() {
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
