package flowtable

import (
	"math/rand/v2"
	"net/netip"
	"testing"
)

// TestIndexChurn checks the open-addressing index against a map under
// random inserts and backward-shift deletes, with a deliberately weak hash
// so that probe runs are long and wrap around.
func TestIndexChurn(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ix := newIndex()
	var flows []Flow
	var free []uint32
	model := map[Key]uint32{}
	for step := 0; step < 200000; step++ {
		if len(model) > 0 && rng.IntN(3) == 0 {
			for k, pos := range model {
				ix.remove(flows, pos, flows[pos].hash)
				delete(model, k)
				flows[pos] = Flow{}
				free = append(free, pos)
				break
			}
			continue
		}
		k := MakeKey(netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(4)), 1}), netip.AddrFrom4([4]byte{10, 0, 0, 2}), uint16(rng.IntN(3000)), 80)
		if _, ok := model[k]; ok {
			continue
		}
		h := k.Hash() & 0x3f // few distinct homes: long runs
		var pos uint32
		if n := len(free); n > 0 {
			pos, free = free[n-1], free[:n-1]
		} else {
			flows = append(flows, Flow{})
			pos = uint32(len(flows) - 1)
		}
		flows[pos] = Flow{Key: k, hash: h}
		ix.insert(flows, pos, h)
		model[k] = pos
	}
	if ix.n != len(model) {
		t.Fatalf("index holds %d, model %d", ix.n, len(model))
	}
	for k, pos := range model {
		got, reply, ok := ix.find(flows, &k, flows[pos].hash)
		if !ok || got != pos || reply {
			t.Fatalf("find(%v) = %d,%v,%v want %d", k, got, reply, ok, pos)
		}
		r := k.Reverse()
		got, reply, ok = ix.find(flows, &r, flows[pos].hash)
		if !ok || got != pos || !reply {
			t.Fatalf("find(reverse %v) = %d,%v,%v want %d reply", k, got, reply, ok, pos)
		}
	}
}
