package assemble

// pcapng: sections (each with its byte order), interfaces (each with its
// link type, snapshot length and timestamp resolution) and packet blocks
// (enhanced, simple and the obsolete one).

import (
	"encoding/binary"
	"errors"
	"io"
	"math/bits"
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
