package flowtable

import "testing"

func TestTimersOrderAndUnlink(t *testing.T) {
	var slab slab[entry]
	for range 5 {
		*slab.at(slab.add()) = entry{idv: 1, prev: noFlow, next: noFlow}
	}
	flows := &slab
	var tm timers
	tm.arm(flows, 0, 0, 10)
	tm.arm(flows, 1, 1, 10)
	tm.arm(flows, 2, 2, 5)
	tm.arm(flows, 3, 3, 10)
	tm.arm(flows, 0, 4, 10) // refresh moves 0 to the tail
	if len(tm.lists) != 2 {
		t.Fatalf("want 2 lists, got %d", len(tm.lists))
	}
	var order []uint32
	for p := tm.lists[0].head; p != noFlow; p = flows.at(p).next {
		order = append(order, p)
	}
	if want := []uint32{1, 3, 0}; !equalU32(order, want) {
		t.Fatalf("list order %v, want %v", order, want)
	}
	tm.unlink(flows, 3)
	order = order[:0]
	for p := tm.lists[0].head; p != noFlow; p = flows.at(p).next {
		order = append(order, p)
	}
	if want := []uint32{1, 0}; !equalU32(order, want) {
		t.Fatalf("after unlink %v, want %v", order, want)
	}
	if flows.at(0).Expires != 14 || flows.at(2).Expires != 7 {
		t.Fatalf("expiry not set: %d %d", flows.at(0).Expires, flows.at(2).Expires)
	}
}

func equalU32(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
