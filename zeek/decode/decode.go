// Package decode is Zeek's packet analysis for the Zeek view: it turns
// capture records into the TCP segments Zeek's TCP analyzer would see, by
// Zeek's rules rather than the kernel's. It follows Zeek's packet
// analyzers (src/packet_analysis/protocol in zeek/zeek): the link layers
// Zeek dispatches (Ethernet with Cisco FabricPath, 802.1Q/QinQ, PBB,
// VN-Tag, MPLS, PPPoE, LLC/SNAP, Linux cooked v1/v2, BSD loopback, raw IP,
// 802.11), IPv4 and IPv6 with Zeek's validity checks and its own fragment
// reassembly, IP and TCP checksums (unless told to ignore them, as
// zeek -C), and the tunnels Zeek decapsulates (IP-in-IP, GRE with ERSPAN,
// transparent Ethernet and Aruba 802.11, GRE over UDP, VXLAN, Geneve,
// Teredo, AYIYA, GTPv1-U), whose inner connections are what Zeek logs.
//
// It is separate from package assemble on purpose: that decoder is the
// kernel's view (what conntrack on a router would see), and tunnels,
// checksums and truncated packets are exactly where the two differ.
package decode

import (
	"encoding/binary"
	"time"

	"github.com/tcptrack/tcptrack/zeek"
)

// Frame is one capture record.
type Frame struct {
	TS       int64  // capture time, Unix nanoseconds
	LinkType uint32 // pcap LINKTYPE_* value
	Data     []byte // the captured bytes
	WireLen  int    // the frame's length on the wire
}

// Config picks Zeek's options; the zero value is Zeek's defaults.
type Config struct {
	// IgnoreChecksums is zeek -C (ignore_checksums): IP, TCP and UDP
	// checksums are not verified, and an IPv4 total length of 0 is taken
	// from the captured length.
	IgnoreChecksums bool
	// MaxFragBytes bounds the fragment data held for incomplete datagrams
	// (Zeek has no bound); 0 means 4 MiB.
	MaxFragBytes int
	// FragTimeout is frag_timeout: an incomplete datagram is dropped this
	// long after its first fragment. 0 means Zeek's 5 minutes.
	FragTimeout time.Duration
}

// Stats counts frames by what became of them.
type Stats struct {
	Frames    uint64 // frames decoded
	Segments  uint64 // TCP segments handed over (a frame may carry several, or none)
	Tunneled  uint64 // of those, segments found inside tunnels
	NotTCP    uint64 // frames with no TCP segment for Zeek's TCP analyzer
	Fragments uint64 // IP fragments held for reassembly
}

// Decoder decodes frames. It keeps fragment state: use one per capture
// stream, from one goroutine.
type Decoder struct {
	cfg   Config
	out   []zeek.Packet
	frags fragTable
	now   int64
	stats Stats
}

// New makes a Decoder.
func New(cfg Config) *Decoder {
	if cfg.MaxFragBytes <= 0 {
		cfg.MaxFragBytes = 4 << 20
	}
	if cfg.FragTimeout <= 0 {
		cfg.FragTimeout = 5 * time.Minute
	}
	d := &Decoder{cfg: cfg}
	d.frags.init()
	return d
}

// Stats reports counts so far.
func (d *Decoder) Stats() Stats { return d.stats }

// pkt is the packet being analysed at one layer, as Zeek's Packet sees it:
// tail counts the frame's bytes after the current slice and cut those the
// snapshot length left out, so that wire bytes available from a point are
// len(slice)+tail+cut.
type pkt struct {
	ts    int64
	tail  int
	cut   int
	encap uint64 // tunnel stack identity so far
	depth int    // tunnels entered
	// lastGTP: the innermost tunnel is GTP (which never nests in itself).
	lastGTP bool
}

// Decode analyses one frame and returns the TCP segments in it, in order;
// the slice is reused by the next call.
func (d *Decoder) Decode(f *Frame) []zeek.Packet {
	d.out = d.out[:0]
	d.stats.Frames++
	if f.TS > d.now {
		d.now = f.TS
	}
	if d.frags.held > 0 {
		d.frags.expire(d.now)
	}
	p := pkt{ts: f.TS, cut: max(f.WireLen-len(f.Data), 0)}
	d.link(f.LinkType, f.Data, &p)
	if len(d.out) == 0 {
		d.stats.NotTCP++
	}
	d.stats.Segments += uint64(len(d.out))
	return d.out
}

// Link types Zeek's root analyzer dispatches; everything else goes to the
// IP analyzer (raw IP in its several numberings).
const (
	linkNull     = 0
	linkEthernet = 1
	link80211    = 105
	linkSLL      = 113
	linkSLL2     = 276
)

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }

func (d *Decoder) link(lt uint32, b []byte, p *pkt) {
	switch lt {
	case linkEthernet:
		d.ethernet(b, p)
	case linkNull:
		// The address family in the capturing host's byte order; Zeek
		// reads it little-endian.
		if len(b) <= 4 {
			return
		}
		switch binary.LittleEndian.Uint32(b) {
		case 2, 24, 28, 30:
			d.ip(b[4:], p)
		}
	case linkSLL:
		if len(b) <= 16 {
			return
		}
		switch be16(b[14:]) {
		case 0x0800, 0x86dd:
			d.ip(b[16:], p)
		}
	case linkSLL2:
		if len(b) <= 20 {
			return
		}
		switch be16(b) {
		case 0x0800, 0x86dd:
			d.ip(b[20:], p)
		}
	case link80211:
		d.ieee80211(b, p)
	case 10, 127, 239: // FDDI, radiotap, NFLOG: not decoded here
	default:
		d.ip(b, p)
	}
}

// ethernet is Zeek's Ethernet analyzer: Cisco FabricPath is skipped to the
// frame inside it; 802.3 length frames go to LLC/SNAP.
func (d *Decoder) ethernet(b []byte, p *pkt) {
	if len(b) <= 16 {
		return
	}
	if b[12] == 0x89 && b[13] == 0x03 { // FabricPath: a 16-byte header before the real one
		if len(b) <= 16+14 {
			return
		}
		b = b[16:]
	}
	et := be16(b[12:])
	switch {
	case et >= 1536:
		d.ethertype(et, b[14:], p, false)
	case et <= 1500:
		d.llc(trim(b[14:], int(et), p), p)
	}
}

// trim cuts b to n bytes (a length field shorter than the data), counting
// the rest as frame bytes after the slice.
func trim(b []byte, n int, p *pkt) []byte {
	if len(b) > n {
		p.tail += len(b) - n
		return b[:n]
	}
	return b
}

// llc handles 802.2: SNAP carries an ethertype; plain LLC and Novell raw
// 802.3 carry nothing Zeek analyses further.
func (d *Decoder) llc(b []byte, p *pkt) {
	if len(b) < 2 || b[0] != 0xaa || b[1] != 0xaa {
		return
	}
	hl := 3
	if len(b) < 3 {
		return
	}
	if b[2]&3 != 3 {
		hl++
	}
	if len(b) < hl+5 {
		return
	}
	oui := uint32(b[hl])<<16 | uint32(b[hl+1])<<8 | uint32(b[hl+2])
	if oui != 0 {
		return
	}
	switch be16(b[hl+3:]) {
	case 0x0800, 0x86dd:
		d.ip(b[hl+5:], p)
	}
}

// ethertype dispatches as Zeek's Ethernet analyzer does, or (inVLAN) as
// its VLAN analyzer, whose table is smaller.
func (d *Decoder) ethertype(et uint16, b []byte, p *pkt, inVLAN bool) {
	switch et {
	case 0x0800, 0x86dd:
		d.ip(b, p)
	case 0x8100:
		d.vlan(b, p)
	case 0x88a8, 0x9100:
		if !inVLAN {
			d.vlan(b, p)
		}
	case 0x8847: // MPLS: labels to the bottom of the stack, then IP
		for {
			if len(b) <= 4 {
				return
			}
			bottom := b[2]&1 != 0
			b = b[4:]
			if bottom {
				break
			}
		}
		d.ip(b, p)
	case 0x88e7: // PBB (802.1ah): the customer frame starts 4 bytes in
		if len(b) <= 18 {
			return
		}
		d.ethernet(b[4:], p)
	case 0x8864: // PPPoE session
		if len(b) <= 8 {
			return
		}
		n := int(be16(b[4:]))
		n = max(n-2, 0)
		proto := be16(b[6:])
		if proto == 0x0021 || proto == 0x0057 {
			d.ip(trim(b[8:], n, p), p)
		}
	case 0x8926: // VN-Tag: 6 bytes, then a VLAN tag
		if len(b) <= 6 {
			return
		}
		switch next := be16(b[4:]); next {
		case 0x8100, 0x88a8, 0x9100:
			d.vlan(b[6:], p)
		}
	}
}

func (d *Decoder) vlan(b []byte, p *pkt) {
	if len(b) <= 4 {
		return
	}
	et := be16(b[2:])
	switch {
	case et >= 1536:
		d.ethertype(et, b[4:], p, true)
	case et <= 1500:
		if len(b) < 6 {
			return
		}
		d.llc(trim(b[4:], int(et), p), p)
	}
}
