package main

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Classic pcap constants: microsecond timestamps, Ethernet link type.
const (
	pcapMagicMicros = 0xa1b2c3d4
	pcapSnaplen     = 262144
	linkEthernet    = 1
	// Big buffers keep write(2) calls rare: at 2 M packets/s a 4 MiB buffer
	// is handed over a few dozen times per second.
	writeBufferSize = 4 << 20
	writeBuffers    = 3
)

// pcapWriter streams records to an io.Writer. Filling buffers and writing
// them overlap: a goroutine does the write(2) calls, which on this kind of
// machine cost as much as generating the packets, while the generator fills
// the next buffer. Memory stays at writeBuffers × writeBufferSize.
type pcapWriter struct {
	buf     []byte
	full    chan []byte // buffers for the writer goroutine
	free    chan []byte // buffers back from it
	done    chan struct{}
	errc    chan error // the writer goroutine's first error
	werr    error      // that error, once the generator has seen it
	flushed bool
	packets int64
	bytes   int64 // file bytes, headers included
}

func newPcapWriter(w io.Writer) (*pcapWriter, error) {
	pw := &pcapWriter{
		full: make(chan []byte, writeBuffers),
		free: make(chan []byte, writeBuffers),
		done: make(chan struct{}),
		errc: make(chan error, 1),
	}
	for i := 0; i < writeBuffers-1; i++ {
		pw.free <- make([]byte, 0, writeBufferSize)
	}
	pw.buf = make([]byte, 0, writeBufferSize)
	go pw.drain(w)
	var fh [24]byte
	binary.LittleEndian.PutUint32(fh[0:], pcapMagicMicros)
	binary.LittleEndian.PutUint16(fh[4:], 2) // version 2.4
	binary.LittleEndian.PutUint16(fh[6:], 4)
	binary.LittleEndian.PutUint32(fh[16:], pcapSnaplen)
	binary.LittleEndian.PutUint32(fh[20:], linkEthernet)
	pw.buf = append(pw.buf, fh[:]...)
	pw.bytes = int64(len(fh))
	return pw, nil
}

// drain is the writer goroutine. After the first error it keeps recycling
// buffers without writing, so the generator never blocks on a dead writer.
func (pw *pcapWriter) drain(w io.Writer) {
	var off int64
	failed := false
	for b := range pw.full {
		if !failed {
			if _, err := w.Write(b); err != nil {
				pw.errc <- fmt.Errorf("write at file offset %d (%d bytes): %w", off, len(b), err)
				failed = true
			}
			off += int64(len(b))
		}
		pw.free <- b[:0]
	}
	close(pw.done)
}

// handOver passes the filled buffer to the writer and takes an empty one.
func (pw *pcapWriter) handOver() error {
	pw.full <- pw.buf
	pw.buf = <-pw.free
	return pw.writeError()
}

// writeError reports the writer goroutine's error, if it had one yet.
func (pw *pcapWriter) writeError() error {
	if pw.werr == nil {
		select {
		case pw.werr = <-pw.errc:
		default:
			return nil
		}
	}
	return fmt.Errorf("after record %d: %w", pw.packets, pw.werr)
}

// write appends one record stamped at tsNanos (Unix nanoseconds; the file
// keeps microseconds).
func (pw *pcapWriter) write(tsNanos int64, frame []byte) error {
	if len(pw.buf)+16+len(frame) > cap(pw.buf) {
		if err := pw.handOver(); err != nil {
			return err
		}
	}
	us := tsNanos / 1000
	pw.buf = binary.LittleEndian.AppendUint32(pw.buf, uint32(us/1e6))
	pw.buf = binary.LittleEndian.AppendUint32(pw.buf, uint32(us%1e6))
	pw.buf = binary.LittleEndian.AppendUint32(pw.buf, uint32(len(frame)))
	pw.buf = binary.LittleEndian.AppendUint32(pw.buf, uint32(len(frame)))
	pw.buf = append(pw.buf, frame...)
	pw.packets++
	pw.bytes += int64(16 + len(frame))
	return nil
}

// flush writes what is buffered and stops the writer goroutine; later
// calls only report the outcome.
func (pw *pcapWriter) flush() error {
	if !pw.flushed {
		pw.flushed = true
		pw.full <- pw.buf
		close(pw.full)
		<-pw.done
	}
	return pw.writeError()
}
