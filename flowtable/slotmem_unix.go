//go:build unix

package flowtable

import (
	"runtime"
	"syscall"
	"unsafe"
)

// slotMem holds an index's slots in anonymous memory mapped for them, so
// that freeing is immediate (munmap) rather than left to the collector. An
// index that is never released (a table dropped without Close) is unmapped
// by a finalizer.
type slotMem struct{ b []byte }

func (m *slotMem) alloc(n int) []uint32 {
	b, err := syscall.Mmap(-1, 0, n*4, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return make([]uint32, n) // no mapping: the Go heap will do
	}
	m.b = b
	runtime.SetFinalizer(m, (*slotMem).free)
	return unsafe.Slice((*uint32)(unsafe.Pointer(&b[0])), n)
}

func (m *slotMem) free() {
	if m.b != nil {
		syscall.Munmap(m.b)
		m.b = nil
		runtime.SetFinalizer(m, nil)
	}
}
