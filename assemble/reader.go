package assemble

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// Sentinel errors; Reader errors wrap one of them (see FileError).
var (
	// ErrNotCapture: the file is neither pcap nor pcapng (or is empty).
	ErrNotCapture = errors.New("not a pcap or pcapng file")
	// ErrTruncated: the file ends inside a header or record.
	ErrTruncated = errors.New("truncated")
	// ErrCorrupt: a length or field no sane writer produces.
	ErrCorrupt = errors.New("corrupt")
)

// Limits that keep a corrupt length from turning into a huge read.
const (
	// MaxCapLen bounds a record's captured length: libpcap's
	// MAXIMUM_SNAPLEN, the most any libpcap-written record holds.
	MaxCapLen = 256 << 10
	// readBufSize is the bufio size. Every block we parse (packet, section
	// and interface blocks) must fit in it, because records are returned as
	// slices of the bufio buffer instead of copies.
	readBufSize = 1 << 20
	// maxSkipBlock bounds pcapng blocks we skip without looking inside
	// (libpcap refuses blocks over 16 MiB as well).
	maxSkipBlock = 16 << 20
)

// Record is one captured frame. Data aliases the Reader's buffer and is
// valid only until the next call to Next.
type Record struct {
	TS       int64 // Unix nanoseconds
	CapLen   int   // bytes captured, len(Data)
	OrigLen  int   // bytes on the wire
	LinkType LinkType
	Iface    int // index of the interface in Reader.Interfaces (0 for pcap)
	Data     []byte
}

// Interface describes one capture interface: the single implicit one of a
// pcap file, or a pcapng Interface Description Block.
type Interface struct {
	LinkType LinkType
	SnapLen  int    // 0: unlimited
	Name     string // pcapng if_name, if given
	Section  int    // pcapng section (0-based) the interface belongs to
}

// FileError locates a problem in a capture file. Err is ErrNotCapture,
// ErrTruncated, ErrCorrupt or the underlying I/O error.
type FileError struct {
	File   string
	Record int   // 1-based number of the record being read; 0 for the file header
	Offset int64 // byte offset of the record or block where the problem starts
	Err    error
	Detail string
}

func (e *FileError) Error() string {
	switch {
	case e.Err == ErrNotCapture:
		return fmt.Sprintf("%s: %v (%s)", e.File, e.Err, e.Detail)
	case e.Record == 0:
		return fmt.Sprintf("%s: file header at offset %d: %v: %s", e.File, e.Offset, e.Err, e.Detail)
	}
	return fmt.Sprintf("%s: record %d at offset %d: %v: %s", e.File, e.Record, e.Offset, e.Err, e.Detail)
}

func (e *FileError) Unwrap() error { return e.Err }

type captureFormat uint8

const (
	formatPcap captureFormat = iota
	formatPcapng
)

// Reader streams records out of a pcap or pcapng file. It reads through
// its own 1 MiB buffer and returns records as slices of it, so Next does
// not allocate.
type Reader struct {
	name   string
	br     *bufio.Reader
	closer io.Closer
	off    int64
	count  int
	format captureFormat
	be     bool // byte order of the file (pcap) or current section (pcapng)
	lastTS int64
	err    error // sticky: the first error other than io.EOF

	// pcap
	link      LinkType
	nano      bool
	recHdrLen int // 16, or 24 for the modified (Kuznetzov) format
	snaplen   uint32

	// pcapng
	section int
	sectIfs []ngIface // interfaces of the current section
	ifaces  []Interface
}

// Open opens a capture file by path; Close closes it.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := NewReader(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// Close closes the file if the Reader was made by Open.
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	c := r.closer
	r.closer = nil
	return c.Close()
}

// NewReader reads the file header from rd and sniffs the format: pcap
// (microsecond or nanosecond, either byte order, also the modified
// "Kuznetzov" variant) or pcapng. A gzip-compressed capture is
// decompressed on the fly. name is used in error messages.
func NewReader(rd io.Reader, name string) (*Reader, error) {
	r := &Reader{name: name, br: bufio.NewReaderSize(rd, readBufSize)}
	magic, err := r.br.Peek(4)
	if len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, zerr := gzip.NewReader(r.br)
		if zerr != nil {
			return nil, &FileError{File: name, Err: ErrCorrupt, Detail: "gzip: " + zerr.Error()}
		}
		r.br = bufio.NewReaderSize(zr, readBufSize)
		magic, err = r.br.Peek(4)
	}
	if len(magic) == 0 {
		if err != nil && err != io.EOF {
			return nil, &FileError{File: name, Err: err, Detail: "reading file header"}
		}
		return nil, &FileError{File: name, Err: ErrNotCapture, Detail: "empty file"}
	}
	if len(magic) < 4 {
		return nil, &FileError{File: name, Err: ErrNotCapture, Detail: fmt.Sprintf("only %d bytes: %q", len(magic), magic)}
	}
	switch binary.LittleEndian.Uint32(magic) {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0xa1b2cd34, 0x34cdb2a1:
		return r, r.readPcapHeader()
	case ngSHB:
		r.format = formatPcapng
		return r, r.readSHB()
	}
	return nil, &FileError{File: name, Err: ErrNotCapture, Detail: fmt.Sprintf("starts with %q", magic)}
}

// Offset is the number of bytes consumed so far (of the decompressed
// stream, for gzip files).
func (r *Reader) Offset() int64 { return r.off }

// Count is the number of records returned so far.
func (r *Reader) Count() int { return r.count }

// Name is the name given to NewReader.
func (r *Reader) Name() string { return r.name }

// Interfaces lists the interfaces seen so far: one for pcap; for pcapng,
// every Interface Description Block read, across sections, in file order
// (Record.Iface indexes this list).
func (r *Reader) Interfaces() []Interface { return r.ifaces }

// LinkType is the link type of the first interface (the file's link type
// for pcap), or 0 if no pcapng interface has been read yet.
func (r *Reader) LinkType() LinkType {
	if len(r.ifaces) == 0 {
		return 0
	}
	return r.ifaces[0].LinkType
}

func (r *Reader) u16(b []byte) uint16 {
	if r.be {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *Reader) u32(b []byte) uint32 {
	if r.be {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *Reader) fail(err error, format string, args ...any) error {
	return &FileError{File: r.name, Record: r.count + 1, Offset: r.off, Err: err, Detail: fmt.Sprintf(format, args...)}
}

// peek returns the next n bytes without consuming them. A short read at
// the very end of the file is ErrTruncated; what is the part being read.
func (r *Reader) peek(n int, what string) ([]byte, error) {
	b, err := r.br.Peek(n)
	if len(b) == n {
		return b, nil
	}
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return nil, r.fail(ErrTruncated, "%s needs %d bytes, file ends after %d", what, n, len(b))
	}
	return nil, r.fail(err, "reading %s", what)
}

// consume skips n bytes already peeked.
func (r *Reader) consume(n int) {
	r.br.Discard(n)
	r.off += int64(n)
}

// Next returns the next record, or io.EOF after the last one. Other errors
// are *FileError values locating the problem; the Reader does not move
// past one: calling Next again returns it again.
func (r *Reader) Next() (Record, error) {
	if r.err != nil {
		return Record{}, r.err
	}
	var rec Record
	var err error
	if r.format == formatPcapng {
		rec, err = r.nextPcapng()
	} else {
		rec, err = r.nextPcap()
	}
	if err != nil && err != io.EOF {
		r.err = err
	}
	return rec, err
}
