package assemble

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"time"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// Kind says what Decode made of a frame.
type Kind uint8

const (
	TCP         Kind = iota // a TCP segment: the Packet is filled
	NotTCP                  // ARP, UDP, ICMP, ESP, 802.3/LLC, non-IP ...
	Fragment                // an IP fragment taken for reassembly (or discarded by it); no segment yet
	Malformed               // headers inconsistent or short although nothing was cut by snaplen
	Truncated               // snaplen cut a header we need (CapLen < OrigLen)
	Unsupported             // a link type the decoder does not know
	// Rejected is a TCP segment conntrack refuses before looking at any
	// state (tcp_error): a data offset outside the segment, or a wrong
	// checksum when DecoderConfig.VerifyTCPChecksum is set. The Packet is
	// filled from the fixed header and Decoder.Reject says which.
	Rejected
	numKinds

	// deferred is what a Decoder with deferFrags returns for a TCP
	// fragment it leaves for later (never returned by an exported Decoder).
	deferred = numKinds
)

var kindNames = [...]string{"TCP", "NotTCP", "Fragment", "Malformed", "Truncated", "Unsupported", "Rejected"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// DecoderConfig bounds fragment reassembly and picks a few policies. The
// zero value gives the Linux defaults.
type DecoderConfig struct {
	// MaxFragBytes bounds the fragment bytes (IP payload plus the first
	// fragment's headers) held for all incomplete datagrams together; a
	// fragment that would exceed it is dropped, as the kernel drops
	// fragments above ipfrag_high_thresh. 0 means 4 MiB.
	MaxFragBytes int
	// IPv4FragTimeout and IPv6FragTimeout are how long, in capture time, an
	// incomplete datagram waits from its first fragment: net.ipv4.ipfrag_time
	// (30 s) and nf_conntrack_frag6_timeout (60 s) when 0.
	IPv4FragTimeout time.Duration
	IPv6FragTimeout time.Duration
	// VerifyIPv4Checksum makes a wrong IPv4 header checksum Malformed, as
	// ip_rcv drops such packets before conntrack sees them (checked on
	// Linux 6.18). Off by default: BSD/macOS loopback captures carry zero
	// checksums and anonymised ones wrong checksums, and their connections
	// would vanish.
	VerifyIPv4Checksum bool
	// KeepCutOptions decodes a TCP header whose fixed 20 bytes were captured
	// but whose options were cut by snaplen, parsing the options that are
	// there, instead of reporting Truncated.
	KeepCutOptions bool
	// VerifyTCPChecksum makes a segment with a wrong TCP checksum
	// Rejected, as conntrack with nf_conntrack_checksum=1 (the Linux
	// default) refuses it. Not verified: segments the snapshot length cut,
	// packets a cooked (SLL) capture marks as outgoing, and packets whose
	// checksum field holds the pseudo-header sum that checksum offload and
	// GRO leave there (see checksum.go).
	VerifyTCPChecksum bool
}

// DecodeStats counts Decode results and fragment reassembly outcomes.
type DecodeStats struct {
	TCP, NotTCP, Fragment, Malformed, Truncated, Unsupported, Rejected uint64

	BadChecksum uint64 // of Rejected: a wrong TCP checksum
	BadHeader   uint64 // of Rejected: a data offset below 5 words or past the segment
	// Checksums taken as the capturing host's own (offload or GRO: the
	// field holds the pseudo-header sum), and segments not verifiable
	// because the snapshot length cut them; counted when verifying.
	OffloadChecksum, Unverified uint64

	FragHeld      int    // datagrams waiting for more fragments now
	FragHeldBytes int    // bytes those hold (what MaxFragBytes bounds)
	FragCompleted uint64 // datagrams reassembled
	FragExpired   uint64 // datagrams given up after the timeout
	FragDropped   uint64 // fragments discarded: over the memory bound, overlapping, inconsistent, oversized
	FragDuplicate uint64 // fragments ignored because their bytes were already held

	// Where the Fragment frames went; they add up to Fragment:
	// FragJoined + FragLost + FragWaiting + FragDropped + FragDuplicate.
	FragJoined  uint64 // joined into a reassembled datagram (other than the frame completing it)
	FragLost    uint64 // held by a datagram later given up (expired, overlap, inconsistent, oversized)
	FragWaiting uint64 // held by datagrams still incomplete
}

// Count gives the number of frames Decode classified as k.
func (s DecodeStats) Count(k Kind) uint64 {
	switch k {
	case TCP:
		return s.TCP
	case NotTCP:
		return s.NotTCP
	case Fragment:
		return s.Fragment
	case Malformed:
		return s.Malformed
	case Truncated:
		return s.Truncated
	case Unsupported:
		return s.Unsupported
	case Rejected:
		return s.Rejected
	}
	return 0
}

// Decoder turns frames into TCP segments. It keeps fragment reassembly
// state, so use one per capture stream (one goroutine).
type Decoder struct {
	cfg   DecoderConfig
	kinds [numKinds + 1]uint64 // the extra one counts deferred fragments
	frag  fragTable

	wire                                []byte         // the last TCP packet's IP and TCP headers (Wire)
	reject                              fsm.ReasonCode // why the last Decode returned Rejected (Reject)
	outgoing                            bool           // the frame is marked as sent by the capturing host
	badSum, badHdr, offload, unverified uint64

	// srcIP and dstIP are the last TCP segment's addresses as they sit in
	// its IP header (valid until the next Decode): ParallelPipeline keys
	// and hashes from them.
	srcIP, dstIP []byte
	// deferFrags makes Decode return deferred for a TCP fragment instead of
	// reassembling it: ParallelPipeline's decoders leave fragments to the
	// one Decoder that sees them in capture order.
	deferFrags bool
}

// NewDecoder makes a Decoder; zero fields of cfg take their defaults.
func NewDecoder(cfg DecoderConfig) *Decoder {
	if cfg.MaxFragBytes <= 0 {
		cfg.MaxFragBytes = 4 << 20
	}
	if cfg.IPv4FragTimeout <= 0 {
		cfg.IPv4FragTimeout = 30 * time.Second
	}
	if cfg.IPv6FragTimeout <= 0 {
		cfg.IPv6FragTimeout = 60 * time.Second
	}
	d := &Decoder{cfg: cfg}
	d.frag.init()
	return d
}

// Stats reports counts so far.
func (d *Decoder) Stats() DecodeStats {
	return DecodeStats{
		TCP: d.kinds[TCP], NotTCP: d.kinds[NotTCP], Fragment: d.kinds[Fragment],
		Malformed: d.kinds[Malformed], Truncated: d.kinds[Truncated], Unsupported: d.kinds[Unsupported],
		Rejected: d.kinds[Rejected], BadChecksum: d.badSum, BadHeader: d.badHdr,
		OffloadChecksum: d.offload, Unverified: d.unverified,
		FragHeld:      len(d.frag.queues),
		FragHeldBytes: d.frag.held,
		FragCompleted: d.frag.completed,
		FragExpired:   d.frag.expired,
		FragDropped:   d.frag.dropped,
		FragDuplicate: d.frag.duplicate,
		FragJoined:    d.frag.framesJoined,
		FragLost:      d.frag.framesLost,
		FragWaiting:   d.frag.waitingFrames(),
	}
}

// Decode classifies one frame and, when it returns TCP (or Rejected),
// fills p: the segment, its addresses, the IP datagram length and rec's
// timestamp. A fragment that completes a datagram returns TCP with p
// describing the reassembled datagram. Decode never keeps rec.Data.
func (d *Decoder) Decode(rec *Record, p *flowtable.Packet) Kind {
	if len(d.frag.queues) > 0 && rec.TS >= d.frag.nextExpiry {
		d.frag.expire(rec.TS)
	}
	d.wire, d.reject = nil, fsm.NoReason
	k := d.decode(rec, p)
	d.kinds[k]++
	return k
}

// Reject says why the last Decode returned Rejected: fsm.ReasonTruncated
// (a data offset outside the segment) or fsm.ReasonBadChecksum; NoReason
// after any other result.
func (d *Decoder) Reject() fsm.ReasonCode { return d.reject }

// Wire returns the IP and TCP headers (options included, no payload) of
// the segment the last Decode returned TCP or Rejected for, as far as they
// were captured: what conntrack's log prints of a packet. It points into
// rec.Data or the reassembly buffer and is valid until the next Decode.
func (d *Decoder) Wire() []byte { return d.wire }

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

// short classifies a header that needs n bytes where only have were
// captured: Truncated if the missing bytes were on the wire (extra is how
// many bytes snaplen cut off), Malformed if the frame itself is too short.
func short(n, have, extra int) Kind {
	if n <= have+extra {
		return Truncated
	}
	return Malformed
}

// Ethertypes and friends.
const (
	etherIPv4    = 0x0800
	etherIPv6    = 0x86dd
	etherVLAN    = 0x8100
	etherQinQ    = 0x88a8
	etherQinQOld = 0x9100
	etherQinQ2   = 0x9200
	etherMPLS    = 0x8847
	etherMPLSMC  = 0x8848
	etherPPPoE   = 0x8864
)

func (d *Decoder) decode(rec *Record, p *flowtable.Packet) Kind {
	b := rec.Data
	extra := rec.OrigLen - len(b)
	if extra < 0 {
		extra = 0
	}
	p.TS = rec.TS
	p.VLAN = 0
	d.outgoing = false
	switch rec.LinkType {
	case LinkEthernet:
		if len(b) < 14 {
			return short(14, len(b), extra)
		}
		return d.ethertype(be16(b[12:]), b[14:], extra, p)
	case LinkSLL:
		if len(b) < 16 {
			return short(16, len(b), extra)
		}
		if be16(b[2:]) == arphrdNetlink {
			return NotTCP
		}
		d.outgoing = be16(b) == packetOutgoing
		return d.ethertype(be16(b[14:]), b[16:], extra, p)
	case LinkSLL2:
		if len(b) < 20 {
			return short(20, len(b), extra)
		}
		if be16(b[8:]) == arphrdNetlink {
			return NotTCP
		}
		d.outgoing = b[10] == packetOutgoing
		return d.ethertype(be16(b[0:]), b[20:], extra, p)
	case LinkNull, LinkLoop:
		if len(b) < 4 {
			return short(4, len(b), extra)
		}
		var af uint32
		if rec.LinkType == LinkLoop {
			af = be32(b)
		} else {
			// Host byte order of the capturing machine: AF values are
			// small, so a value with high bits set is byte-swapped.
			af = binary.LittleEndian.Uint32(b)
			if af > 0xffff {
				af = be32(b)
			}
		}
		switch af {
		case 2:
			return d.ipv4(b[4:], extra, p, false)
		case 24, 28, 30: // AF_INET6 on NetBSD/OpenBSD, FreeBSD, Darwin
			return d.ipv6(b[4:], extra, p, false)
		}
		return NotTCP
	case LinkRaw, LinkRawBSD, LinkRawOBSD:
		return d.ipByVersion(b, extra, p)
	case LinkIPv4:
		return d.ipv4(b, extra, p, false)
	case LinkIPv6:
		return d.ipv6(b, extra, p, false)
	}
	return Unsupported
}

// ipByVersion decodes b as IPv4 or IPv6 by its version nibble, for
// link layers (raw IP, MPLS) that do not say which.
func (d *Decoder) ipByVersion(b []byte, extra int, p *flowtable.Packet) Kind {
	if len(b) < 1 {
		return short(1, len(b), extra)
	}
	switch b[0] >> 4 {
	case 4:
		return d.ipv4(b, extra, p, false)
	case 6:
		return d.ipv6(b, extra, p, false)
	}
	return NotTCP
}

const arphrdNetlink = 824 // SLL captures of netlink traffic: not IP at all

// packetOutgoing is the cooked captures' packet type for a frame the
// capturing host sent (PACKET_OUTGOING).
const packetOutgoing = 4

// ethertype dispatches on an Ethernet type, peeling VLAN tags, MPLS labels
// and PPPoE session headers; b starts after the type field.
func (d *Decoder) ethertype(et uint16, b []byte, extra int, p *flowtable.Packet) Kind {
	for {
		switch et {
		case etherIPv4:
			return d.ipv4(b, extra, p, false)
		case etherIPv6:
			return d.ipv6(b, extra, p, false)
		case etherVLAN, etherQinQ, etherQinQOld, etherQinQ2:
			if len(b) < 4 {
				return short(4, len(b), extra)
			}
			p.VLAN = be16(b) & 0x0fff // the innermost tag wins
			et = be16(b[2:])
			b = b[4:]
		case etherMPLS, etherMPLSMC:
			for {
				if len(b) < 4 {
					return short(4, len(b), extra)
				}
				bottom := b[2]&1 != 0
				b = b[4:]
				if bottom {
					break
				}
			}
			// MPLS does not say what it carries; IP is recognised by its
			// version nibble (pseudowires are not decoded).
			return d.ipByVersion(b, extra, p)
		case etherPPPoE:
			if len(b) < 8 {
				return short(8, len(b), extra)
			}
			// 6 bytes of PPPoE header, then the PPP protocol, which may be
			// compressed to one (odd) byte.
			proto, hl := be16(b[6:]), 8
			if b[6]&1 != 0 {
				proto, hl = uint16(b[6]), 7
			}
			switch proto {
			case 0x0021:
				return d.ipv4(b[hl:], extra, p, false)
			case 0x0057:
				return d.ipv6(b[hl:], extra, p, false)
			}
			return NotTCP
		default:
			// Includes 802.3 length fields (<= 1500): LLC/SNAP frames.
			return NotTCP
		}
	}
}

// ipv4 decodes an IPv4 datagram at b. extra is the number of bytes the
// capture cut off the frame. reasm marks a datagram rebuilt from
// fragments (already checked, no fragment fields).
func (d *Decoder) ipv4(b []byte, extra int, p *flowtable.Packet, reasm bool) Kind {
	if len(b) < 20 {
		return short(20, len(b), extra)
	}
	if b[0]>>4 != 4 {
		return Malformed
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(be16(b[2:]))
	// ip_rcv drops these: header length below minimum, total length
	// shorter than the header or longer than the frame.
	if ihl < 20 || total < ihl || total > len(b)+extra {
		return Malformed
	}
	if ihl > len(b) {
		return Truncated
	}
	if !reasm && d.cfg.VerifyIPv4Checksum && checksum(b[:ihl]) != 0xffff {
		return Malformed
	}
	if b[9] != 6 {
		return NotTCP
	}
	if ff := be16(b[6:]); !reasm && ff&0x3fff != 0 { // MF set or offset non-zero
		if d.deferFrags {
			return deferred
		}
		return d.frag.addIPv4(d, b, total, ihl, extra, p)
	}
	p.Src = netip.AddrFrom4([4]byte(b[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	d.srcIP, d.dstIP = b[12:16], b[16:20]
	p.IPLen = uint32(total)
	end := min(len(b), total) // drop link-layer padding
	return d.tcp(b, ihl, end, total-ihl, b[12:20], p)
}

// checksum is the ones'-complement sum of b (RFC 1071), 0xffff when a
// header including its checksum field is intact.
func checksum(b []byte) uint16 {
	var s uint32
	for len(b) >= 2 {
		s += uint32(be16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// IPv6 next-header values.
const (
	ipv6HopByHop = 0
	ipProtoTCP   = 6
	ipv6Routing  = 43
	ipv6Fragment = 44
	ipv6ESP      = 50
	ipv6AH       = 51
	ipv6NoNext   = 59
	ipv6DestOpts = 60
)

// ipv6 decodes an IPv6 packet at b, walking extension headers to TCP.
// reasm marks a packet rebuilt from fragments (its fragment header
// removed).
func (d *Decoder) ipv6(b []byte, extra int, p *flowtable.Packet, reasm bool) Kind {
	if len(b) < 40 {
		return short(40, len(b), extra)
	}
	if b[0]>>4 != 6 {
		return Malformed
	}
	plen := int(be16(b[4:]))
	if plen == 0 {
		// Jumbogram, or a BIG TCP super-packet seen by a local capture:
		// the frame is the only length there is.
		plen = len(b) + extra - 40
	}
	total := 40 + plen
	if total > len(b)+extra {
		return Malformed
	}
	end := min(len(b), total) // drop link-layer padding
	// nhPos is where the next-header byte naming the current header sits.
	nh, off, nhPos, removed := b[6], 40, 6, 0
	for {
		switch nh {
		case ipProtoTCP:
			p.Src = netip.AddrFrom16([16]byte(b[8:24]))
			p.Dst = netip.AddrFrom16([16]byte(b[24:40]))
			d.srcIP, d.dstIP = b[8:24], b[24:40]
			p.IPLen = uint32(total - removed)
			return d.tcp(b, min(off, end), end, total-off, b[8:40], p)
		case ipv6HopByHop, ipv6Routing, ipv6DestOpts, ipv6AH:
			if off+2 > total {
				return Malformed
			}
			if off+2 > end {
				return Truncated
			}
			hl := (int(b[off+1]) + 1) * 8
			if nh == ipv6AH {
				hl = (int(b[off+1]) + 2) * 4
			}
			if off+hl > total {
				return Malformed
			}
			nh, nhPos = b[off], off
			off += hl
		case ipv6Fragment:
			if reasm {
				return Malformed // a fragment inside a reassembled fragment
			}
			if off+8 > total {
				return Malformed
			}
			if off+8 > end {
				return Truncated
			}
			fo := be16(b[off+2:])
			if fo&0xfff9 == 0 {
				// Atomic fragment (offset 0, no more fragments): the kernel
				// "reassembles" it at once, dropping the fragment header.
				nh, nhPos = b[off], off
				off += 8
				removed += 8
				continue
			}
			switch b[off] {
			case ipProtoTCP, ipv6HopByHop, ipv6Routing, ipv6DestOpts, ipv6AH:
			default:
				return NotTCP // UDP, ICMPv6, ESP ... fragments need not be held
			}
			if d.deferFrags {
				return deferred
			}
			return d.frag.addIPv6(d, b, total, off, nhPos, p)
		default: // ESP, no next header, UDP, ICMPv6, mobility ...
			return NotTCP
		}
	}
}

// tcp decodes a TCP header: ip holds the datagram from its IP header, the
// segment's captured bytes are ip[off:end], l is the segment's length
// according to IP, addrs the source and destination addresses (for the
// checksum's pseudo-header).
func (d *Decoder) tcp(ip []byte, off, end, l int, addrs []byte, p *flowtable.Packet) Kind {
	c := ip[off:end]
	d.reject = fsm.NoReason
	if l < 20 {
		return Malformed
	}
	if len(c) < 20 {
		return Truncated
	}
	doff := int(c[12]>>4) * 4
	s := &p.TCP
	*s = fsm.Segment{
		SrcPort: be16(c),
		DstPort: be16(c[2:]),
		Seq:     be32(c[4:]),
		Ack:     be32(c[8:]),
		Flags:   fsm.Flags(c[13]),
		Window:  be16(c[14:]),
	}
	if doff < 20 || doff > l {
		// tcp_error's "truncated packet": the header cannot be read.
		s.PayloadLen = uint32(l - 20)
		d.wire = ip[:off+20]
		d.badHdr++
		d.reject = fsm.ReasonTruncated
		return Rejected
	}
	optEnd := doff
	if doff > len(c) {
		if !d.cfg.KeepCutOptions {
			return Truncated
		}
		optEnd = len(c)
	}
	s.PayloadLen = uint32(l - doff)
	d.wire = ip[:off+optEnd]
	if optEnd > 20 {
		parseOptions(c[20:optEnd], s)
	}
	if d.cfg.VerifyTCPChecksum && !d.outgoing {
		if len(c) < l {
			d.unverified++
			return TCP
		}
		switch verifyTCP(addrs, c) {
		case checksumBad:
			d.badSum++
			d.reject = fsm.ReasonBadChecksum
			return Rejected
		case checksumPartial:
			d.offload++
		}
	}
	return TCP
}

// TCP option kinds.
const (
	optEnd       = 0
	optNOP       = 1
	optMSS       = 2
	optWScale    = 3
	optSackPerm  = 4
	optSack      = 5
	optTimestamp = 8
)

// parseOptions reads the options conntrack and the endpoints care about,
// accepting an option only with its exact length and stopping where the
// kernel's parsers stop (end-of-list, a length below 2 or past the end).
func parseOptions(o []byte, s *fsm.Segment) {
	// Most segments of a connection with timestamps carry exactly NOP,
	// NOP, timestamp: take that without the loop.
	if len(o) == 12 && o[0] == optNOP && o[1] == optNOP && o[2] == optTimestamp && o[3] == 10 {
		s.TSVal, s.TSEcr, s.HasTS = be32(o[4:]), be32(o[8:]), true
		return
	}
	for len(o) > 0 {
		kind := o[0]
		if kind == optEnd {
			return
		}
		if kind == optNOP {
			o = o[1:]
			continue
		}
		if len(o) < 2 {
			return
		}
		size := int(o[1])
		if size < 2 || size > len(o) {
			return
		}
		switch {
		case kind == optMSS && size == 4:
			s.MSS = be16(o[2:])
		case kind == optWScale && size == 3:
			s.WScale, s.HasWScale = o[2], true
		case kind == optSackPerm && size == 2:
			s.SackPerm = true
		case kind == optSack && size >= 10 && (size-2)%8 == 0:
			for blk := o[2:size]; len(blk) >= 8; blk = blk[8:] {
				right := be32(blk[4:])
				// Highest in sequence space, as conntrack's tcp_sack
				// compares edges with after().
				if !s.HasSack || int32(right-s.SackRight) > 0 {
					s.SackRight = right
				}
				s.HasSack = true
			}
		case kind == optTimestamp && size == 10:
			s.TSVal, s.TSEcr, s.HasTS = be32(o[2:]), be32(o[6:]), true
		}
		o = o[size:]
	}
}
