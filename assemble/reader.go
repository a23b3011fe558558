package assemble

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
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

// tsConv turns an interface's raw timestamp units into nanoseconds.
type tsConv struct {
	mul, div uint64 // decimal resolutions: ns = ts*mul/div, one of them 1
	shift    uint   // binary resolutions (2^-shift s): ns = ts*1e9 >> shift
	binary   bool
	offset   int64 // if_tsoffset, in ns
}

func (c *tsConv) nanos(ts uint64) int64 {
	if c.binary {
		hi, lo := bits.Mul64(ts, 1e9)
		var v uint64
		switch {
		case c.shift == 0:
			v = lo
		case c.shift < 64:
			v = hi<<(64-c.shift) | lo>>c.shift
		default:
			v = hi >> (c.shift - 64)
		}
		return int64(v) + c.offset
	}
	return int64(ts*c.mul/c.div) + c.offset
}

// ngIface is what record parsing needs of a pcapng interface.
type ngIface struct {
	link    LinkType
	snaplen uint32
	ts      tsConv
	global  int // index into Reader.ifaces
}

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

// pcapng block types.
const (
	ngSHB = 0x0a0d0d0a
	ngIDB = 0x00000001
	ngPB  = 0x00000002 // obsolete Packet Block
	ngSPB = 0x00000003
	ngEPB = 0x00000006
	ngBOM = 0x1a2b3c4d
)

// readSHB reads a Section Header Block at the current offset and starts a
// new section (interface numbering restarts, byte order may change).
func (r *Reader) readSHB() error {
	h, err := r.peek(12, "section header block")
	if err != nil {
		return r.atFileHeader(err)
	}
	switch binary.LittleEndian.Uint32(h[8:]) {
	case ngBOM:
		r.be = false
	case 0x4d3c2b1a:
		r.be = true
	default:
		return r.shbFail(ErrCorrupt, "section header byte-order magic %#x", h[8:12])
	}
	blen := r.u32(h[4:])
	if blen < 28 || blen%4 != 0 || blen > readBufSize {
		return r.shbFail(ErrCorrupt, "section header block length %d", blen)
	}
	blk, err := r.peek(int(blen), "section header block")
	if err != nil {
		return r.atFileHeader(err)
	}
	if major := r.u16(blk[12:]); major != 1 {
		return r.shbFail(ErrCorrupt, "pcapng version %d.%d, want 1.x", major, r.u16(blk[14:]))
	}
	if tail := r.u32(blk[blen-4:]); tail != blen {
		return r.shbFail(ErrCorrupt, "section header block length %d, trailer says %d", blen, tail)
	}
	if r.off > 0 || len(r.ifaces) > 0 {
		r.section++
	}
	r.sectIfs = r.sectIfs[:0]
	r.consume(int(blen))
	return nil
}

func (r *Reader) shbFail(err error, format string, args ...any) error {
	return r.atFileHeader(r.fail(err, format, args...))
}

// atFileHeader marks an error in the first section header as being in
// the file header rather than in record 1.
func (r *Reader) atFileHeader(err error) error {
	var fe *FileError
	if r.off == 0 && errors.As(err, &fe) {
		fe.Record = 0
	}
	return err
}

func (r *Reader) nextPcapng() (Record, error) {
	for {
		h, err := r.br.Peek(8)
		if len(h) == 0 && err == io.EOF {
			return Record{}, io.EOF
		}
		if len(h) < 8 {
			if _, err = r.peek(8, "block header"); err != nil {
				return Record{}, err
			}
		}
		btype := r.u32(h)
		if btype == ngSHB {
			if err := r.readSHB(); err != nil {
				return Record{}, err
			}
			continue
		}
		blen := r.u32(h[4:])
		if blen < 12 || blen%4 != 0 {
			return Record{}, r.fail(ErrCorrupt, "block type %#x has length %d (must be a multiple of 4, at least 12)", btype, blen)
		}
		switch btype {
		case ngIDB, ngEPB, ngSPB, ngPB:
		default:
			// Unknown or uninteresting (name resolution, statistics,
			// decryption secrets, custom ...): skip without buffering.
			if blen > maxSkipBlock {
				return Record{}, r.fail(ErrCorrupt, "block type %#x has length %d, over %d", btype, blen, maxSkipBlock)
			}
			n, err := r.br.Discard(int(blen))
			if n < int(blen) {
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					return Record{}, r.fail(ErrTruncated, "block type %#x needs %d bytes, file ends after %d", btype, blen, n)
				}
				return Record{}, r.fail(err, "skipping block type %#x", btype)
			}
			r.off += int64(blen)
			continue
		}
		if blen > readBufSize {
			return Record{}, r.fail(ErrCorrupt, "block type %#x has length %d, over %d", btype, blen, readBufSize)
		}
		blk, err := r.peek(int(blen), "block")
		if err != nil {
			return Record{}, err
		}
		if tail := r.u32(blk[blen-4:]); tail != blen {
			return Record{}, r.fail(ErrCorrupt, "block type %#x has length %d, trailer says %d", btype, blen, tail)
		}
		body := blk[8 : blen-4]
		if btype == ngIDB {
			if err := r.readIDB(body); err != nil {
				return Record{}, err
			}
			r.consume(int(blen))
			continue
		}
		rec, err := r.packetBlock(btype, body)
		if err != nil {
			return Record{}, err
		}
		r.consume(int(blen))
		r.count++
		r.lastTS = rec.TS
		return rec, nil
	}
}

func (r *Reader) readIDB(body []byte) error {
	if len(body) < 8 {
		return r.fail(ErrCorrupt, "interface description block body of %d bytes, need 8", len(body))
	}
	ifc := ngIface{
		link:    LinkType(r.u16(body)),
		snaplen: r.u32(body[4:]),
		ts:      tsConv{mul: 1e3, div: 1}, // default resolution: microseconds
		global:  len(r.ifaces),
	}
	pub := Interface{LinkType: ifc.link, SnapLen: int(ifc.snaplen), Section: r.section}
	var tsOffset int64
	for opts := body[8:]; len(opts) >= 4; {
		code, olen := r.u16(opts), int(r.u16(opts[2:]))
		if code == 0 || 4+olen > len(opts) {
			break // end of options, or an overrun: keep what was read, as libpcap's readers mostly do
		}
		val := opts[4 : 4+olen]
		switch {
		case code == 2: // if_name
			pub.Name = string(val)
		case code == 9 && olen == 1: // if_tsresol
			ifc.ts = resolution(val[0])
		case code == 14 && olen == 8: // if_tsoffset, seconds
			if r.be {
				tsOffset = int64(binary.BigEndian.Uint64(val))
			} else {
				tsOffset = int64(binary.LittleEndian.Uint64(val))
			}
		}
		opts = opts[4+(olen+3)&^3:]
	}
	ifc.ts.offset = tsOffset * 1e9
	if len(r.sectIfs) >= 1<<16 {
		return r.fail(ErrCorrupt, "more than 65536 interfaces in one section")
	}
	r.sectIfs = append(r.sectIfs, ifc)
	r.ifaces = append(r.ifaces, pub)
	return nil
}

// resolution decodes if_tsresol: 10^-v seconds, or 2^-(v&0x7f) when the
// top bit is set.
func resolution(v byte) tsConv {
	if v&0x80 != 0 {
		return tsConv{binary: true, shift: uint(v & 0x7f)}
	}
	var c tsConv
	c.mul, c.div = 1, 1
	e := int(v)
	for ; e < 9; e++ {
		c.mul *= 10
	}
	for ; e > 9 && c.div < 1e18; e-- {
		c.div *= 10
	}
	return c
}

func (r *Reader) iface(id uint32) (*ngIface, error) {
	if int(id) >= len(r.sectIfs) {
		return nil, r.fail(ErrCorrupt, "packet on interface %d, but the section describes %d", id, len(r.sectIfs))
	}
	return &r.sectIfs[id], nil
}

func (r *Reader) packetBlock(btype uint32, body []byte) (Record, error) {
	var (
		ifc             *ngIface
		err             error
		ts              int64
		capLen, origLen uint32
		data            []byte
	)
	switch btype {
	case ngEPB, ngPB:
		if len(body) < 20 {
			return Record{}, r.fail(ErrCorrupt, "packet block body of %d bytes, need 20", len(body))
		}
		var id uint32
		if btype == ngEPB {
			id = r.u32(body)
		} else {
			id = uint32(r.u16(body)) // then a 16-bit drops count
		}
		if ifc, err = r.iface(id); err != nil {
			return Record{}, err
		}
		ts = ifc.ts.nanos(uint64(r.u32(body[4:]))<<32 | uint64(r.u32(body[8:])))
		capLen, origLen = r.u32(body[12:]), r.u32(body[16:])
		if capLen > MaxCapLen {
			return Record{}, r.fail(ErrCorrupt, "captured length %d exceeds %d", capLen, MaxCapLen)
		}
		if int(capLen) > len(body)-20 {
			return Record{}, r.fail(ErrCorrupt, "captured length %d overruns its block (%d bytes of data room)", capLen, len(body)-20)
		}
		data = body[20 : 20+capLen]
	case ngSPB:
		if len(body) < 4 {
			return Record{}, r.fail(ErrCorrupt, "simple packet block body of %d bytes, need 4", len(body))
		}
		if ifc, err = r.iface(0); err != nil {
			return Record{}, err
		}
		// No timestamp in a simple packet block: keep time from moving
		// backwards by reusing the previous record's.
		ts = r.lastTS
		origLen = r.u32(body)
		capLen = min(origLen, uint32(len(body)-4))
		if ifc.snaplen != 0 {
			capLen = min(capLen, ifc.snaplen)
		}
		if capLen > MaxCapLen {
			return Record{}, r.fail(ErrCorrupt, "captured length %d exceeds %d", capLen, MaxCapLen)
		}
		data = body[4 : 4+capLen]
	}
	return Record{TS: ts, CapLen: int(capLen), OrigLen: int(origLen), LinkType: ifc.link, Iface: ifc.global, Data: data}, nil
}
