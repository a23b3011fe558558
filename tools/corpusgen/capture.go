package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"time"
)

// verifyCapture reads the router's capture and fails if it is empty or if
// the same IP packet was recorded twice within a millisecond (the sign of a
// capture point that sees a forwarded packet both on the way in and out).
// Kernel retransmissions are never that close; the impairing forwarder's
// duplicates are, so scenarios with it skip the duplicate test. RSTs are
// not compared: a host answers each segment of a connection it no longer
// has with a RST built from that segment alone (no options; IPv4 ID 0, as
// for every DF packet without a socket), so segments with the same ACK in a
// burst draw byte-identical RSTs within microseconds (rst-crossing).
func verifyCapture(path string, duplicatesExpected bool) error {
	pkts, err := readPcap(path)
	if err != nil {
		return err
	}
	if len(pkts) == 0 {
		return fmt.Errorf("%s: no packets captured", path)
	}
	if duplicatesExpected {
		return nil
	}
	for i := 1; i < len(pkts); i++ {
		for j := i - 1; j >= 0 && pkts[i].ts.Sub(pkts[j].ts) < time.Millisecond; j-- {
			if bytes.Equal(pkts[i].ip, pkts[j].ip) && !isRST(pkts[i].ip) {
				return fmt.Errorf("%s: packets %d and %d are the same IP packet captured twice", path, j+1, i+1)
			}
		}
	}
	return nil
}

// isRST reports whether an IPv4 or IPv6 packet (without extension headers)
// is a TCP segment with RST set.
func isRST(ip []byte) bool {
	if len(ip) < 1 {
		return false
	}
	var tcp []byte
	switch ip[0] >> 4 {
	case 4:
		ihl := int(ip[0]&0x0f) * 4
		if len(ip) < 20 || ip[9] != 6 || ihl < 20 || len(ip) < ihl+14 {
			return false
		}
		tcp = ip[ihl:]
	case 6:
		if len(ip) < 40+14 || ip[6] != 6 {
			return false
		}
		tcp = ip[40:]
	default:
		return false
	}
	return tcp[13]&0x04 != 0
}

type capturedPacket struct {
	ts time.Time
	ip []byte // network layer onwards
}

// readPcap reads a classic pcap file with a Linux cooked link type, the
// only kind tcpdump -i any writes.
func readPcap(path string) ([]capturedPacket, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parsePcap(path, b)
}

// parsePcap decodes a whole pcap file held in memory; path only labels errors.
func parsePcap(path string, b []byte) ([]capturedPacket, error) {
	if len(b) < 24 {
		return nil, fmt.Errorf("%s: short pcap header", path)
	}
	var bo binary.ByteOrder
	nano := false
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4:
		bo = binary.LittleEndian
	case 0xa1b23c4d:
		bo, nano = binary.LittleEndian, true
	default:
		switch binary.BigEndian.Uint32(b) {
		case 0xa1b2c3d4:
			bo = binary.BigEndian
		case 0xa1b23c4d:
			bo, nano = binary.BigEndian, true
		default:
			return nil, fmt.Errorf("%s: not a pcap file", path)
		}
	}
	var hdrLen int
	switch lt := bo.Uint32(b[20:]) & 0xffff; lt {
	case 113: // LINUX_SLL
		hdrLen = 16
	case 276: // LINUX_SLL2
		hdrLen = 20
	default:
		return nil, fmt.Errorf("%s: link type %d, want LINUX_SLL or LINUX_SLL2", path, lt)
	}
	var out []capturedPacket
	off := 24
	for n := 1; off < len(b); n++ {
		if off+16 > len(b) {
			return nil, fmt.Errorf("%s: packet %d: truncated record header at offset %d", path, n, off)
		}
		sec, frac := bo.Uint32(b[off:]), bo.Uint32(b[off+4:])
		incl := int(bo.Uint32(b[off+8:]))
		off += 16
		if incl < 0 || incl > len(b)-off {
			return nil, fmt.Errorf("%s: packet %d: truncated data at offset %d", path, n, off)
		}
		if incl < hdrLen {
			return nil, fmt.Errorf("%s: packet %d: shorter than its link header", path, n)
		}
		ns := int64(frac) * 1000
		if nano {
			ns = int64(frac)
		}
		out = append(out, capturedPacket{ts: time.Unix(int64(sec), ns), ip: b[off+hdrLen : off+incl]})
		off += incl
	}
	return out, nil
}
