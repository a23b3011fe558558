package ipfix

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// Header is an IPFIX message header.
type Header struct {
	Length     uint16
	ExportTime uint32 // Unix seconds
	Sequence   uint32 // data records sent before this message
	Domain     uint32 // observation domain id
}

// Decoder reads IPFIX messages back into Records. It keeps the templates
// each observation domain announced (RFC 7011 §8), so one Decoder serves one
// transport session (a UDP exporter, a TCP connection, a file). Data sets
// whose template it has not seen are skipped and counted.
type Decoder struct {
	templates map[uint64][]field // domain<<16 | template id
	// Skipped counts data sets skipped for want of their template.
	Skipped int
}

// NewDecoder returns a Decoder with no templates yet.
func NewDecoder() *Decoder { return &Decoder{templates: map[uint64][]field{}} }

func malformed(off int, format string, a ...any) error {
	return fmt.Errorf("ipfix: malformed message at byte %d: %s", off, fmt.Sprintf(format, a...))
}

// Decode reads one message and appends its data records to recs. Elements
// it does not know are skipped by their length.
func (d *Decoder) Decode(msg []byte, recs []Record) (Header, []Record, error) {
	var h Header
	if len(msg) < headerLen {
		return h, recs, malformed(0, "%d bytes, shorter than a message header", len(msg))
	}
	if v := binary.BigEndian.Uint16(msg); v != Version {
		return h, recs, malformed(0, "version %d, want %d", v, Version)
	}
	h.Length = binary.BigEndian.Uint16(msg[2:])
	h.ExportTime = binary.BigEndian.Uint32(msg[4:])
	h.Sequence = binary.BigEndian.Uint32(msg[8:])
	h.Domain = binary.BigEndian.Uint32(msg[12:])
	if int(h.Length) != len(msg) {
		return h, recs, malformed(2, "length field %d, message is %d bytes", h.Length, len(msg))
	}
	for off := headerLen; off < len(msg); {
		if len(msg)-off < setHeaderLen {
			return h, recs, malformed(off, "%d bytes left, shorter than a set header", len(msg)-off)
		}
		id := binary.BigEndian.Uint16(msg[off:])
		n := int(binary.BigEndian.Uint16(msg[off+2:]))
		if n < setHeaderLen || off+n > len(msg) {
			return h, recs, malformed(off+2, "set length %d with %d bytes left", n, len(msg)-off)
		}
		body := msg[off+setHeaderLen : off+n]
		var err error
		switch {
		case id == templateSetID:
			err = d.readTemplates(h.Domain, body, off+setHeaderLen, false)
		case id == optionsSetID:
			err = d.readTemplates(h.Domain, body, off+setHeaderLen, true)
		case id >= 256:
			recs, err = d.data(h.Domain, id, body, off+setHeaderLen, recs)
		default:
			err = malformed(off, "reserved set id %d", id)
		}
		if err != nil {
			return h, recs, err
		}
		off += n
	}
	return h, recs, nil
}

// readTemplates reads a template set (options: an options template set, whose
// templates are read and dropped: tcptrack sends none).
func (d *Decoder) readTemplates(domain uint32, b []byte, base int, options bool) error {
	off := 0
	for len(b)-off >= 4 {
		tid := binary.BigEndian.Uint16(b[off:])
		count := int(binary.BigEndian.Uint16(b[off+2:]))
		off += 4
		if tid < 256 {
			return malformed(base+off-4, "template id %d below 256", tid)
		}
		if options && count > 0 {
			if len(b)-off < 2 {
				return malformed(base+off, "options template %d cut short", tid)
			}
			off += 2 // scope field count
		}
		if count == 0 {
			delete(d.templates, uint64(domain)<<16|uint64(tid)) // withdrawal
			continue
		}
		fields := make([]field, 0, count)
		for range count {
			if len(b)-off < 4 {
				return malformed(base+off, "template %d cut short", tid)
			}
			f := field{id: binary.BigEndian.Uint16(b[off:]), length: binary.BigEndian.Uint16(b[off+2:])}
			off += 4
			if f.id&enterpriseBit != 0 {
				if len(b)-off < 4 {
					return malformed(base+off, "template %d cut short", tid)
				}
				f.id &^= enterpriseBit
				f.pen = binary.BigEndian.Uint32(b[off:])
				off += 4
			}
			fields = append(fields, f)
		}
		if !options {
			d.templates[uint64(domain)<<16|uint64(tid)] = fields
		}
	}
	return nil // fewer than 4 bytes left: padding
}

// data decodes the records of a data set.
func (d *Decoder) data(domain uint32, tid uint16, b []byte, base int, recs []Record) ([]Record, error) {
	fields, ok := d.templates[uint64(domain)<<16|uint64(tid)]
	if !ok {
		d.Skipped++
		return recs, nil
	}
	min := 0
	for _, f := range fields {
		if f.length == varLen {
			min++
		} else {
			min += int(f.length)
		}
	}
	off := 0
	for len(b)-off >= max(min, 1) {
		start := off
		var r Record
		for _, f := range fields {
			n := int(f.length)
			if f.length == varLen {
				if off >= len(b) {
					return recs, malformed(base+off, "record cut short")
				}
				n = int(b[off])
				off++
				if n == 255 {
					if len(b)-off < 2 {
						return recs, malformed(base+off, "record cut short")
					}
					n = int(binary.BigEndian.Uint16(b[off:]))
					off += 2
				}
			}
			if len(b)-off < n {
				return recs, malformed(base+off, "field %d: %d bytes, %d left in the set", f.id, n, len(b)-off)
			}
			if err := r.set(f, b[off:off+n]); err != nil {
				return recs, malformed(base+off, "%v", err)
			}
			off += n
		}
		if off == start {
			// Fields of fixed length 0 only: records of no bytes would
			// never use up the set.
			return recs, malformed(base+off, "template %d: records of no bytes", tid)
		}
		recs = append(recs, r)
	}
	return recs, nil
}

// set stores one field's value in r; fields r does not hold are ignored.
func (r *Record) set(f field, v []byte) error {
	dir := 0
	switch f.pen {
	case 0:
	case ReversePEN:
		dir = 1
	default:
		return nil
	}
	switch f.id {
	case ieSourceIPv4Address, ieDestinationIPv4Address, ieSourceIPv6Address, ieDestinationIPv6Address:
		if dir != 0 {
			return nil
		}
		a, ok := netip.AddrFromSlice(v)
		want := 4
		if f.id == ieSourceIPv6Address || f.id == ieDestinationIPv6Address {
			want = 16
		}
		if !ok || len(v) != want {
			return fmt.Errorf("element %d: %d-byte address", f.id, len(v))
		}
		if f.id == ieSourceIPv4Address || f.id == ieSourceIPv6Address {
			r.Src = a
		} else {
			r.Dst = a
		}
		return nil
	case ieApplicationDescription:
		if dir == 0 {
			r.State = string(v)
		}
		return nil
	}
	if len(v) > 8 {
		return nil // not an integer element we know
	}
	var x uint64
	for _, c := range v { // reduced-size encoding (RFC 7011 §6.2)
		x = x<<8 | uint64(c)
	}
	switch f.id {
	case ieOctetDeltaCount:
		r.Octets[dir] = x
	case iePacketDeltaCount:
		r.Packets[dir] = x
	case ieTCPControlBits:
		r.TCPFlags[dir] = uint16(x)
	case ieSourceTransportPort:
		if dir == 0 {
			r.SrcPort = uint16(x)
		}
	case ieDestinationTransportPort:
		if dir == 0 {
			r.DstPort = uint16(x)
		}
	case ieFlowStartMilliseconds:
		if dir == 0 {
			r.Start = int64(x)
		}
	case ieFlowEndMilliseconds:
		if dir == 0 {
			r.End = int64(x)
		}
	case ieFlowEndReason:
		if dir == 0 {
			r.EndReason = EndReason(x)
		}
	}
	return nil
}

// ReadMessage reads the next message of a stream (an IPFIX file or a TCP
// session) into buf, grown as needed, and returns it. At the end of the
// stream it returns io.EOF; a message cut short is io.ErrUnexpectedEOF.
func ReadMessage(r io.Reader, buf []byte) ([]byte, error) {
	buf = append(buf[:0], make([]byte, headerLen)...)
	if _, err := io.ReadFull(r, buf); err != nil {
		return buf, err
	}
	if v := binary.BigEndian.Uint16(buf); v != Version {
		return buf, malformed(0, "version %d, want %d", v, Version)
	}
	n := int(binary.BigEndian.Uint16(buf[2:]))
	if n < headerLen {
		return buf, malformed(2, "message length %d", n)
	}
	buf = append(buf, make([]byte, n-headerLen)...)
	if _, err := io.ReadFull(r, buf[headerLen:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return buf, err
	}
	return buf, nil
}
