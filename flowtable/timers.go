package flowtable

// Expiry uses one FIFO list per distinct timeout duration: every flow armed
// with the same duration expires in the order it was armed (capture time
// only moves forward), so the head of each list is its next to expire and a
// sweep costs O(expired + lists), not O(table).

const noFlow = ^uint32(0)

type timerList struct {
	dur        int64 // nanoseconds
	head, tail uint32
}

type timers struct {
	lists []timerList
}

func (t *timers) listFor(dur int64) uint8 {
	for i := range t.lists {
		if t.lists[i].dur == dur {
			return uint8(i)
		}
	}
	if len(t.lists) == 255 {
		// Absurdly many distinct timeouts: fold the rest into the last
		// list; sweeps then stop early at a later head, lookups stay exact.
		return 254
	}
	t.lists = append(t.lists, timerList{dur: dur, head: noFlow, tail: noFlow})
	return uint8(len(t.lists) - 1)
}

// listOf finds the list pos heads (atHead) or ends: a flow keeps no list
// number, since only a flow at an end of its list needs one, and lists are few.
func (t *timers) listOf(pos uint32, atHead bool) int {
	for i := range t.lists {
		if atHead && t.lists[i].head == pos || !atHead && t.lists[i].tail == pos {
			return i
		}
	}
	return -1
}

func (t *timers) unlink(flows *slab[entry], pos uint32) {
	f := flows.at(pos)
	if f.prev != noFlow {
		flows.at(f.prev).next = f.next
	} else if li := t.listOf(pos, true); li >= 0 {
		t.lists[li].head = f.next
	} else {
		return // not armed
	}
	if f.next != noFlow {
		flows.at(f.next).prev = f.prev
	} else {
		t.lists[t.listOf(pos, false)].tail = f.prev
	}
	f.prev, f.next = noFlow, noFlow
}

// arm (re)sets pos to expire at now+dur, moving it to the tail of its list.
func (t *timers) arm(flows *slab[entry], pos uint32, now, dur int64) {
	t.unlink(flows, pos)
	l := &t.lists[t.listFor(dur)]
	f := flows.at(pos)
	f.Expires = now + dur
	f.prev, f.next = l.tail, noFlow
	if l.tail != noFlow {
		flows.at(l.tail).next = pos
	} else {
		l.head = pos
	}
	l.tail = pos
}
