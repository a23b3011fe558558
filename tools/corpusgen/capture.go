package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
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

// toEthernet rewrites a LINUX_SLL2 capture (what tcpdump -i any writes) as
// Ethernet, for tools that read nothing else (softflowd, nfpcapd, argus,
// tcptrace): each record's 20-byte SLL2 header becomes the 14-byte Ethernet
// header the frame had on the wire into the router, the destination being
// the MAC of the interface it arrived on (by ifindex, from ifMAC), the
// source the sender's address from the SLL2 header, the type its protocol
// field. Timestamps and payloads are kept. It returns the records written.
func toEthernet(in, out string, ifMAC map[uint32]net.HardwareAddr) (int, error) {
	src, err := os.Open(in)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	r := bufio.NewReaderSize(src, 1<<20)
	hdr := make([]byte, 24)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return 0, fmt.Errorf("%s: pcap header: %w", in, err)
	}
	var bo binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint32(hdr) == 0xa1b2c3d4 || binary.LittleEndian.Uint32(hdr) == 0xa1b23c4d:
		bo = binary.LittleEndian
	case binary.BigEndian.Uint32(hdr) == 0xa1b2c3d4 || binary.BigEndian.Uint32(hdr) == 0xa1b23c4d:
		bo = binary.BigEndian
	default:
		return 0, fmt.Errorf("%s: not a pcap file", in)
	}
	if lt := bo.Uint32(hdr[20:]) & 0xffff; lt != 276 {
		return 0, fmt.Errorf("%s: link type %d, want LINUX_SLL2 (276)", in, lt)
	}
	dst, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(dst, 1<<20)
	bo.PutUint32(hdr[20:], 1) // LINKTYPE_ETHERNET
	w.Write(hdr)
	rec := make([]byte, 16)
	data := make([]byte, 0, 1<<16)
	n := 0
	for ; ; n++ {
		if _, err = io.ReadFull(r, rec); err != nil {
			if err == io.EOF {
				err = nil
			}
			break
		}
		incl, orig := bo.Uint32(rec[8:]), bo.Uint32(rec[12:])
		if incl < 20 || incl > 1<<18 || orig < 20 {
			err = fmt.Errorf("%s: record %d: captured length %d, on the wire %d: not an SLL2 record", in, n+1, incl, orig)
			break
		}
		data = data[:incl]
		if _, err = io.ReadFull(r, data); err != nil {
			err = fmt.Errorf("%s: record %d: %w", in, n+1, err)
			break
		}
		// SLL2: protocol (2), reserved (2), ifindex (4), ARPHRD (2),
		// packet type (1), address length (1), address (8).
		proto := [2]byte{data[0], data[1]}
		ifindex := binary.BigEndian.Uint32(data[4:8])
		var srcMAC [6]byte
		copy(srcMAC[:], data[12:12+min(int(data[11]), 6)])
		eth := data[6:incl] // the last 14 header bytes become Ethernet's
		copy(eth[0:6], ifMAC[ifindex])
		copy(eth[6:12], srcMAC[:])
		eth[12], eth[13] = proto[0], proto[1]
		bo.PutUint32(rec[8:], incl-6)
		bo.PutUint32(rec[12:], orig-6)
		w.Write(rec)
		w.Write(eth)
	}
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	return n, err
}
