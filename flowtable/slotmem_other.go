//go:build !unix

package flowtable

// slotMem is the Go heap where no anonymous mappings are at hand.
type slotMem struct{}

func (m *slotMem) alloc(n int) []uint32 { return make([]uint32, n) }

func (m *slotMem) free() {}
