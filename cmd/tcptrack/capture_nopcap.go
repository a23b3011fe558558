//go:build !cgo

package main

import "fmt"

// Built without cgo there is no libpcap: read works, live cannot capture.
func openCapture(c captureConfig) (captureSource, error) {
	return nil, fmt.Errorf("capture on %s: live capture needs libpcap: build tcptrack with cgo (CGO_ENABLED=1)", c.iface)
}
