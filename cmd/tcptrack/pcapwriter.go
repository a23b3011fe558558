package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"

	"github.com/tcptrack/tcptrack/assemble"
)

// pcapWriter saves frames as a classic pcap file with nanosecond stamps
// (what -w writes, and read replays). gopacket's pcapgo takes link types as
// a byte, too small for LINUX_SLL2 (276), hence this small writer.
type pcapWriter struct {
	name string
	f    *os.File
	w    *bufio.Writer
	hdr  [16]byte
	n    uint64
}

// createPcap creates name and writes the file header.
func createPcap(name string, snaplen int, lt assemble.LinkType) (*pcapWriter, error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, fmt.Errorf("-w %s: %w", name, unwrapPathError(err))
	}
	w := &pcapWriter{name: name, f: f, w: bufio.NewWriterSize(f, 1<<20)}
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b23c4d) // nanosecond pcap
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], uint32(snaplen))
	binary.LittleEndian.PutUint32(h[20:], uint32(fileLinkType(lt)))
	if _, err := w.w.Write(h[:]); err != nil {
		f.Close()
		return nil, fmt.Errorf("-w %s: %w", name, err)
	}
	return w, nil
}

// fileLinkType maps the DLT_ value libpcap reports to the LINKTYPE_ value
// files carry; they differ for raw IP (DLT_RAW is 12 on Linux).
func fileLinkType(lt assemble.LinkType) assemble.LinkType {
	if lt == assemble.LinkRawBSD || lt == assemble.LinkRawOBSD {
		return assemble.LinkRaw
	}
	return lt
}

// write appends one record; the error names the file and record number.
func (w *pcapWriter) write(rec *assemble.Record) error {
	w.n++
	sec, ns := rec.TS/1e9, rec.TS%1e9
	binary.LittleEndian.PutUint32(w.hdr[0:], uint32(sec))
	binary.LittleEndian.PutUint32(w.hdr[4:], uint32(ns))
	binary.LittleEndian.PutUint32(w.hdr[8:], uint32(len(rec.Data)))
	binary.LittleEndian.PutUint32(w.hdr[12:], uint32(rec.OrigLen))
	if _, err := w.w.Write(w.hdr[:]); err != nil {
		return fmt.Errorf("-w %s: packet %d: %w", w.name, w.n, err)
	}
	if _, err := w.w.Write(rec.Data); err != nil {
		return fmt.Errorf("-w %s: packet %d: %w", w.name, w.n, err)
	}
	return nil
}

// flush pushes buffered records to the file, so that a reader of a file
// still being written sees whole records up to the last periodic flush.
func (w *pcapWriter) flush() error {
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("-w %s: %w", w.name, err)
	}
	return nil
}

func (w *pcapWriter) Close() error {
	err := w.flush()
	if cerr := w.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("-w %s: %w", w.name, cerr)
	}
	return err
}
