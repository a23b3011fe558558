package ipfix

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Wire constants (RFC 7011 §3).
const (
	Version        = 10    // IPFIX message version
	ReversePEN     = 29305 // RFC 5103: the enterprise number of reverse elements
	TemplateIPv4   = 256   // template of IPv4 records
	TemplateIPv6   = 257   // template of IPv6 records
	templateSetID  = 2
	optionsSetID   = 3
	headerLen      = 16
	setHeaderLen   = 4
	varLen         = 0xffff // field length meaning "variable length" (RFC 7011 §7)
	enterpriseBit  = 0x8000
	protocolTCP    = 6
	biflowInitator = 1
)

// IANA information element ids used by tcptrack's templates.
const (
	ieOctetDeltaCount          = 1
	iePacketDeltaCount         = 2
	ieProtocolIdentifier       = 4
	ieTCPControlBits           = 6
	ieSourceTransportPort      = 7
	ieSourceIPv4Address        = 8
	ieDestinationTransportPort = 11
	ieDestinationIPv4Address   = 12
	ieSourceIPv6Address        = 27
	ieDestinationIPv6Address   = 28
	ieApplicationDescription   = 94
	ieFlowEndReason            = 136
	ieFlowStartMilliseconds    = 152
	ieFlowEndMilliseconds      = 153
	ieBiflowDirection          = 239
)

// field is a template's field specifier.
type field struct {
	id     uint16 // without the enterprise bit
	length uint16 // varLen: variable
	pen    uint32 // 0: IANA
}

// templateFields lists a template's fields after the two addresses.
var commonFields = []field{
	{ieSourceTransportPort, 2, 0},
	{ieDestinationTransportPort, 2, 0},
	{ieProtocolIdentifier, 1, 0},
	{ieFlowStartMilliseconds, 8, 0},
	{ieFlowEndMilliseconds, 8, 0},
	{ieOctetDeltaCount, 8, 0},
	{iePacketDeltaCount, 8, 0},
	{ieOctetDeltaCount, 8, ReversePEN},
	{iePacketDeltaCount, 8, ReversePEN},
	{ieTCPControlBits, 2, ReversePEN}, // before the forward one: see the package doc
	{ieTCPControlBits, 2, 0},
	{ieFlowEndReason, 1, 0},
	{ieBiflowDirection, 1, 0},
	{ieApplicationDescription, varLen, 0},
}

var (
	fieldsV4 = append([]field{{ieSourceIPv4Address, 4, 0}, {ieDestinationIPv4Address, 4, 0}}, commonFields...)
	fieldsV6 = append([]field{{ieSourceIPv6Address, 16, 0}, {ieDestinationIPv6Address, 16, 0}}, commonFields...)
)

// fixedLen is a record's length without its addresses and state text.
const fixedLen = 2 + 2 + 1 + 8 + 8 + 8 + 8 + 8 + 8 + 2 + 2 + 1 + 1

// ErrFull says the message has no room for the record: finish it and start
// another.
var ErrFull = errors.New("ipfix: message full")

// Encoder builds IPFIX messages of tcptrack records, one at a time, in a
// buffer it reuses: Start, Add until ErrFull, Finish. It allocates nothing
// once the buffer has grown to the message size.
type Encoder struct {
	Domain  uint32 // observation domain id
	MaxSize int    // largest message in bytes (at most 65535)

	seq     uint32 // data records sent before the current message (mod 2^32)
	msg     []byte
	setOff  int    // offset of the open data set's header; 0: none
	setID   uint16 // its template id
	records uint32 // in the current message
	started bool
}

// Start begins a message stamped exportTime (Unix seconds); with templates
// it opens with the template set (both templates).
func (e *Encoder) Start(exportTime uint32, templates bool) {
	if e.MaxSize <= 0 || e.MaxSize > 65535 {
		e.MaxSize = 65535
	}
	e.msg = append(e.msg[:0], make([]byte, headerLen)...)
	binary.BigEndian.PutUint16(e.msg[0:], Version)
	binary.BigEndian.PutUint32(e.msg[4:], exportTime)
	binary.BigEndian.PutUint32(e.msg[12:], e.Domain)
	e.setOff, e.records, e.started = 0, 0, true
	if templates {
		e.msg = appendTemplateSet(e.msg)
	}
}

// appendTemplateSet appends a template set holding both templates.
func appendTemplateSet(b []byte) []byte {
	off := len(b)
	b = binary.BigEndian.AppendUint16(b, templateSetID)
	b = binary.BigEndian.AppendUint16(b, 0)
	for _, t := range []struct {
		id     uint16
		fields []field
	}{{TemplateIPv4, fieldsV4}, {TemplateIPv6, fieldsV6}} {
		b = binary.BigEndian.AppendUint16(b, t.id)
		b = binary.BigEndian.AppendUint16(b, uint16(len(t.fields)))
		for _, f := range t.fields {
			id := f.id
			if f.pen != 0 {
				id |= enterpriseBit
			}
			b = binary.BigEndian.AppendUint16(b, id)
			b = binary.BigEndian.AppendUint16(b, f.length)
			if f.pen != 0 {
				b = binary.BigEndian.AppendUint32(b, f.pen)
			}
		}
	}
	binary.BigEndian.PutUint16(b[off+2:], uint16(len(b)-off))
	return b
}

// Records is the number of data records in the current message.
func (e *Encoder) Records() int { return int(e.records) }

// Add appends r to the current message. It returns ErrFull when the
// message has records and no room for r, and another error when r cannot
// be encoded at all (mixed or invalid address families, a state text too
// long for one message).
func (e *Encoder) Add(r *Record) error {
	if !e.started {
		return errors.New("ipfix: Add before Start")
	}
	var tid uint16
	switch {
	case r.Src.Is4() && r.Dst.Is4():
		tid = TemplateIPv4
	case r.Src.Is6() && r.Dst.Is6():
		// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are IPv6 on the
		// wire, and carried as such.
		tid = TemplateIPv6
	default:
		return fmt.Errorf("ipfix: record %v -> %v: addresses must both be IPv4 or both IPv6", r.Src, r.Dst)
	}
	n := fixedLen + 8
	if tid == TemplateIPv6 {
		n = fixedLen + 32
	}
	sl := len(r.State)
	if sl < 255 {
		n += 1 + sl
	} else {
		n += 3 + sl
	}
	need := n
	if e.setOff == 0 || e.setID != tid {
		need += setHeaderLen
	}
	if len(e.msg)+need > e.MaxSize {
		if e.records > 0 {
			return ErrFull
		}
		return fmt.Errorf("ipfix: record %v -> %v: %d bytes do not fit a %d-byte message", r.Src, r.Dst, need, e.MaxSize)
	}
	if e.setOff == 0 || e.setID != tid {
		e.closeSet()
		e.setOff, e.setID = len(e.msg), tid
		e.msg = binary.BigEndian.AppendUint16(e.msg, tid)
		e.msg = binary.BigEndian.AppendUint16(e.msg, 0)
	}
	b := e.msg
	if tid == TemplateIPv4 {
		s, d := r.Src.As4(), r.Dst.As4()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
	} else {
		s, d := r.Src.As16(), r.Dst.As16()
		b = append(b, s[:]...)
		b = append(b, d[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, r.SrcPort)
	b = binary.BigEndian.AppendUint16(b, r.DstPort)
	b = append(b, protocolTCP)
	b = binary.BigEndian.AppendUint64(b, uint64(r.Start))
	b = binary.BigEndian.AppendUint64(b, uint64(r.End))
	b = binary.BigEndian.AppendUint64(b, r.Octets[0])
	b = binary.BigEndian.AppendUint64(b, r.Packets[0])
	b = binary.BigEndian.AppendUint64(b, r.Octets[1])
	b = binary.BigEndian.AppendUint64(b, r.Packets[1])
	b = binary.BigEndian.AppendUint16(b, r.TCPFlags[1])
	b = binary.BigEndian.AppendUint16(b, r.TCPFlags[0])
	b = append(b, byte(r.EndReason), biflowInitator)
	if sl < 255 {
		b = append(b, byte(sl))
	} else {
		b = append(b, 255)
		b = binary.BigEndian.AppendUint16(b, uint16(sl))
	}
	e.msg = append(b, r.State...)
	e.records++
	return nil
}

func (e *Encoder) closeSet() {
	if e.setOff != 0 {
		binary.BigEndian.PutUint16(e.msg[e.setOff+2:], uint16(len(e.msg)-e.setOff))
		e.setOff = 0
	}
}

// Finish completes the message and returns it; it stays valid until the
// next Start. The sequence number counts the data records of earlier
// messages, as RFC 7011 §3.1 defines it.
func (e *Encoder) Finish() []byte {
	e.closeSet()
	binary.BigEndian.PutUint16(e.msg[2:], uint16(len(e.msg)))
	binary.BigEndian.PutUint32(e.msg[8:], e.seq)
	e.seq += e.records
	e.started = false
	return e.msg
}
