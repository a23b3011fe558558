package flowtable

// prefetch asks the CPU to start loading the cache line at addr without
// waiting for it: lookups a few packets ahead overlap their cache misses
// with the work on the current one. Go has no prefetch intrinsic.
//
//go:noescape
func prefetch(addr uintptr)
