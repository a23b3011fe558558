//go:build cgo

package main

// Live capture through libpcap (gopacket/pcap, cgo): the one part of
// tcptrack that needs libpcap at run time, besides compiling BPF filters.

import (
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/google/gopacket/pcap"
	"github.com/tcptrack/tcptrack/assemble"
)

// pcapSource is a libpcap live capture in immediate mode: each packet is
// handed over as soon as it arrives, and reads time out so that the loop
// can advance the wall clock while the link is quiet.
type pcapSource struct {
	h    *pcap.Handle
	name string
	lt   assemble.LinkType
	snap int
	nap  bool // the last read waited for a packet
}

const (
	// A read that took longer than pollSeen waited in poll(2) for the ring.
	pollSeen = 30 * time.Microsecond
	// drainNap is how long packets gather before the next read: small next
	// to a 64 MiB ring (hundreds of thousands of slots) and to the 1 s view.
	drainNap = 500 * time.Microsecond
)

// openCapture opens and activates a capture. Its errors are one line that
// says what to do about them.
func openCapture(c captureConfig) (captureSource, error) {
	name := c.iface
	if name != "any" {
		if _, err := net.InterfaceByName(name); err != nil {
			return nil, fmt.Errorf("capture on %s: no such interface (see ip link)", name)
		}
	}
	var fdsBefore map[int]bool
	if c.fanout >= 0 {
		fdsBefore = socketFDs()
	}
	in, err := pcap.NewInactiveHandle(name)
	if err != nil {
		return nil, fmt.Errorf("capture on %s: %w", name, err)
	}
	defer in.CleanUp()
	for _, step := range []struct {
		what string
		err  error
	}{
		{"snapshot length", in.SetSnapLen(c.snaplen)},
		{"promiscuous mode", in.SetPromisc(c.promisc)},
		{"read timeout", in.SetTimeout(c.readTimeout)},
		{"immediate mode", in.SetImmediateMode(true)},
		{"buffer size", in.SetBufferSize(c.bufferBytes)},
	} {
		if step.err != nil {
			return nil, fmt.Errorf("capture on %s: %s: %w", name, step.what, step.err)
		}
	}
	h, err := in.Activate()
	if err != nil {
		return nil, activateError(name, err)
	}
	s := &pcapSource{h: h, name: name, lt: assemble.LinkType(h.LinkType()), snap: h.SnapLen()}
	dir := map[string]pcap.Direction{"in": pcap.DirectionIn, "out": pcap.DirectionOut, "inout": pcap.DirectionInOut}[c.direction]
	if c.direction != "" && c.direction != "inout" {
		if err := h.SetDirection(dir); err != nil {
			h.Close()
			return nil, fmt.Errorf("capture on %s: direction %s: %w", name, c.direction, err)
		}
	}
	if c.filter != "" {
		if err := h.SetBPFFilter(c.filter); err != nil {
			h.Close()
			return nil, fmt.Errorf("capture on %s: bad filter %q: %s", name, c.filter, oneLine(err))
		}
	}
	if c.fanout >= 0 {
		if err := joinFanout(fdsBefore, c.fanout); err != nil {
			h.Close()
			return nil, fmt.Errorf("capture on %s: --fanout: %w", name, err)
		}
	}
	return s, nil
}

// activateError turns pcap_activate's codes into advice.
func activateError(name string, err error) error {
	msg := oneLine(err)
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(low, "no such device"):
		return fmt.Errorf("capture on %s: no such interface (see ip link)", name)
	case strings.Contains(low, "permission") || strings.Contains(low, "not permitted"):
		return fmt.Errorf("capture on %s: permission denied (run as root, or give the binary CAP_NET_RAW and CAP_NET_ADMIN)", name)
	case strings.Contains(low, "not up"):
		return fmt.Errorf("capture on %s: the interface is down (ip link set %s up)", name, name)
	}
	return fmt.Errorf("capture on %s: %s", name, msg)
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

func (s *pcapSource) Read(rec *assemble.Record) error {
	if s.nap {
		// The ring ran dry last time and the read slept in poll(2) inside
		// libpcap, a blocking cgo call that costs the Go runtime a thread
		// hand-off. A short Go sleep lets packets gather instead, so that
		// under load most reads find one waiting.
		s.nap = false
		time.Sleep(drainNap)
	}
	t0 := time.Now()
	data, ci, err := s.h.ZeroCopyReadPacketData()
	if time.Since(t0) > pollSeen {
		s.nap = true
	}
	if err != nil {
		if err == pcap.NextErrorTimeoutExpired {
			return errReadTimeout
		}
		if err == io.EOF {
			return io.EOF
		}
		return fmt.Errorf("capture on %s: %w", s.name, err)
	}
	rec.TS = ci.Timestamp.UnixNano()
	rec.CapLen = ci.CaptureLength
	rec.OrigLen = ci.Length
	rec.LinkType = s.lt
	rec.Iface = 0
	rec.Data = data
	return nil
}

func (s *pcapSource) LinkType() assemble.LinkType { return s.lt }

func (s *pcapSource) SnapLen() int { return s.snap }

func (s *pcapSource) Close() { s.h.Close() }

func (s *pcapSource) Stats() (captureStats, error) {
	st, err := s.h.Stats()
	if err != nil {
		return captureStats{}, fmt.Errorf("capture on %s: statistics: %w", s.name, err)
	}
	// libpcap's counters are 32-bit and wrap; gopacket widened them to int.
	return captureStats{Received: uint64(uint32(st.PacketsReceived)), Dropped: uint64(uint32(st.PacketsDropped)), IfDropped: uint64(uint32(st.PacketsIfDropped))}, nil
}
