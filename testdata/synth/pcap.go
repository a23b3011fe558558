package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// Classic pcap constants: microsecond timestamps, Ethernet link type.
const (
	pcapMagicMicros = 0xa1b2c3d4
	pcapSnaplen     = 262144
	linkEthernet    = 1
	// A large buffer keeps write(2) calls rare: at 2 M packets/s a 4 MiB
	// buffer is flushed a few dozen times per second.
	writeBufferSize = 4 << 20
)

// pcapWriter streams records to w; it never holds more than its buffer.
type pcapWriter struct {
	w       *bufio.Writer
	hdr     [16]byte
	packets int64
	bytes   int64 // file bytes written, headers included
}

func newPcapWriter(w io.Writer) (*pcapWriter, error) {
	pw := &pcapWriter{w: bufio.NewWriterSize(w, writeBufferSize)}
	var fh [24]byte
	binary.LittleEndian.PutUint32(fh[0:], pcapMagicMicros)
	binary.LittleEndian.PutUint16(fh[4:], 2) // version 2.4
	binary.LittleEndian.PutUint16(fh[6:], 4)
	binary.LittleEndian.PutUint32(fh[16:], pcapSnaplen)
	binary.LittleEndian.PutUint32(fh[20:], linkEthernet)
	if _, err := pw.w.Write(fh[:]); err != nil {
		return nil, fmt.Errorf("write pcap file header: %w", err)
	}
	pw.bytes = int64(len(fh))
	return pw, nil
}

// write appends one record stamped at tsNanos (Unix nanoseconds; the file
// keeps microseconds).
func (pw *pcapWriter) write(tsNanos int64, frame []byte) error {
	us := tsNanos / 1000
	binary.LittleEndian.PutUint32(pw.hdr[0:], uint32(us/1e6))
	binary.LittleEndian.PutUint32(pw.hdr[4:], uint32(us%1e6))
	binary.LittleEndian.PutUint32(pw.hdr[8:], uint32(len(frame)))
	binary.LittleEndian.PutUint32(pw.hdr[12:], uint32(len(frame)))
	if _, err := pw.w.Write(pw.hdr[:]); err != nil {
		return fmt.Errorf("write record %d header: %w", pw.packets+1, err)
	}
	if _, err := pw.w.Write(frame); err != nil {
		return fmt.Errorf("write record %d (%d bytes): %w", pw.packets+1, len(frame), err)
	}
	pw.packets++
	pw.bytes += int64(len(pw.hdr) + len(frame))
	return nil
}

func (pw *pcapWriter) flush() error {
	if err := pw.w.Flush(); err != nil {
		return fmt.Errorf("flush after %d records: %w", pw.packets, err)
	}
	return nil
}
