package main

import (
	"errors"
	"time"

	"github.com/tcptrack/tcptrack/assemble"
)

// captureSource is where the live loop gets its frames: a libpcap handle,
// or in tests a capture file played back on a fake clock.
type captureSource interface {
	// Read fills rec with the next frame; rec.Data is valid until the next
	// call. It returns errReadTimeout when nothing arrived within the read
	// timeout and io.EOF when the source is closed or exhausted.
	Read(rec *assemble.Record) error
	LinkType() assemble.LinkType
	SnapLen() int
	Stats() (captureStats, error)
	Close()
}

// captureStats are libpcap's counters (pcap_stats).
type captureStats struct {
	Received  uint64 // packets the kernel handed to the capture (after the BPF filter)
	Dropped   uint64 // dropped by the kernel: the capture buffer was full
	IfDropped uint64 // dropped by the interface or its driver
}

var errReadTimeout = errors.New("read timeout")

// captureConfig is how to open a live capture.
type captureConfig struct {
	iface       string
	snaplen     int
	promisc     bool
	bufferBytes int
	direction   string // "in", "out" or "inout"
	filter      string // BPF expression compiled by libpcap, run in the kernel
	readTimeout time.Duration
	fanout      int // AF_PACKET fanout group to join; -1: none
}
