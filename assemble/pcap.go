package assemble

// The classic pcap format: a 24-byte file header (magic, version,
// snapshot length, link type), then 16-byte record headers (24 for the
// old Kuznetzov variant), micro- or nanosecond stamps, either byte order.

import (
	"encoding/binary"
	"fmt"
	"io"
)

func (r *Reader) readPcapHeader() error {
	h, err := r.br.Peek(24)
	if len(h) < 24 {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return &FileError{File: r.name, Err: ErrTruncated, Detail: fmt.Sprintf("pcap file header needs 24 bytes, file ends after %d", len(h))}
		}
		return &FileError{File: r.name, Err: err, Detail: "reading pcap file header"}
	}
	magic := binary.LittleEndian.Uint32(h)
	switch magic {
	case 0xd4c3b2a1, 0x4d3cb2a1, 0x34cdb2a1:
		r.be = true
	}
	switch r.u32(h) {
	case 0xa1b23c4d:
		r.nano = true
	}
	r.recHdrLen = 16
	if r.u32(h) == 0xa1b2cd34 {
		r.recHdrLen = 24
	}
	if major := r.u16(h[4:]); major != 2 {
		return &FileError{File: r.name, Err: ErrCorrupt, Detail: fmt.Sprintf("pcap version %d.%d, want 2.x", major, r.u16(h[6:]))}
	}
	r.snaplen = r.u32(h[16:])
	// The top bits of the link type field carry FCS information.
	r.link = LinkType(r.u32(h[20:]) & 0x03ffffff)
	r.ifaces = append(r.ifaces, Interface{LinkType: r.link, SnapLen: int(r.snaplen)})
	r.consume(24)
	return nil
}

func (r *Reader) nextPcap() (Record, error) {
	hl := r.recHdrLen
	h, err := r.br.Peek(hl)
	if len(h) == 0 && err == io.EOF {
		return Record{}, io.EOF
	}
	if len(h) < hl {
		if _, err = r.peek(hl, "record header"); err != nil {
			return Record{}, err
		}
	}
	sec, frac := r.u32(h), r.u32(h[4:])
	capLen, origLen := r.u32(h[8:]), r.u32(h[12:])
	if capLen > MaxCapLen {
		return Record{}, r.fail(ErrCorrupt, "captured length %d exceeds %d (snaplen %d)", capLen, MaxCapLen, r.snaplen)
	}
	full, err := r.peek(hl+int(capLen), "record data")
	if err != nil {
		return Record{}, err
	}
	ts := int64(sec) * 1e9
	if r.nano {
		ts += int64(frac)
	} else {
		ts += int64(frac) * 1e3
	}
	r.consume(hl + int(capLen))
	r.count++
	r.lastTS = ts
	return Record{TS: ts, CapLen: int(capLen), OrigLen: int(origLen), LinkType: r.link, Data: full[hl:]}, nil
}
