// Package librarytest holds the tests of tcptrack as other Go programs use
// it: the layering of the library packages (fsm ← flowtable ← output and
// assemble), that they build without cgo, and that examples/replay, a
// program in its own module, builds without cgo and prints what tcptrack
// read prints. It has no code of its own.
package librarytest
