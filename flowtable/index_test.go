package flowtable

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"unsafe"

	"github.com/tcptrack/tcptrack/fsm"
)

// TestIndexChurn checks the open-addressing index against a map under
// random inserts and backward-shift deletes, with a deliberately weak hash
// so that probe runs are long and wrap around.
func TestIndexChurn(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ix := newIndex()
	var flows slab[entry]
	var free []uint32
	model := map[Key]uint32{}
	weak := func(k Key) uint64 { h := k.Hash(); return h&0xffffffff00000000 | (h&0x3f)<<26 } // few distinct homes: long runs
	ix.rehash = func(e *entry) uint64 { return weak(e.key()) }
	for step := 0; step < 200000; step++ {
		if len(model) > 0 && rng.IntN(3) == 0 {
			for k, pos := range model {
				ix.remove(&flows, pos, weak(k))
				delete(model, k)
				*flows.at(pos) = entry{}
				free = append(free, pos)
				break
			}
			continue
		}
		k := MakeKey(netip.AddrFrom4([4]byte{10, 0, byte(rng.IntN(4)), 1}), netip.AddrFrom4([4]byte{10, 0, 0, 2}), uint16(rng.IntN(3000)), 80)
		if _, ok := model[k]; ok {
			continue
		}
		var pos uint32
		if n := len(free); n > 0 {
			pos, free = free[n-1], free[:n-1]
		} else {
			pos = flows.add()
		}
		flows.at(pos).set(&k, 1, &fsm.Conn{})
		ix.insert(&flows, pos, weak(k))
		model[k] = pos
	}
	if ix.n != len(model) {
		t.Fatalf("index holds %d, model %d", ix.n, len(model))
	}
	for k, pos := range model {
		got, reply, ok := ix.find(&flows, &k, weak(k))
		if !ok || got != pos || reply {
			t.Fatalf("find(%v) = %d,%v,%v want %d", k, got, reply, ok, pos)
		}
		r := k.Reverse()
		got, reply, ok = ix.find(&flows, &r, weak(k))
		if !ok || got != pos || !reply {
			t.Fatalf("find(reverse %v) = %d,%v,%v want %d reply", k, got, reply, ok, pos)
		}
	}
}

// TestEntrySize pins the per-flow storage: the README's memory figures
// (and the 160-byte goal) rest on it.
func TestEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(entry{}); n != 128 {
		t.Errorf("entry is %d bytes, want 128", n)
	}
	if n := unsafe.Sizeof(acct{}); n != 56 {
		t.Errorf("acct is %d bytes, want 56", n)
	}
}
