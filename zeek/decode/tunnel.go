package decode

// Tunnels, as Zeek decapsulates them: UDP tunnels by the UDP connection's
// responder port (the port registered by the tunnel's packet analyzer),
// Teredo and AYIYA also by content; IP-in-IP and GRE by IP protocol. The
// inner packet is analysed from the link or IP layer again, at most
// Tunnel::max_depth (4) tunnels deep.

const maxTunnelDepth = 4

// UDP ports Zeek's tunnel analyzers register (base/packet-protocols).
const (
	portVXLAN      = 4789
	portGeneve     = 6081
	portTeredo     = 3544
	portAYIYA      = 5072
	portGTPU       = 2152
	portGTPC       = 2123
	portGREOverUDP = 4754
)

// udpServerPort is likely_server_ports for UDP in a run with all base
// scripts: the tunnel ports and those of DHCP, DNP3, DNS, Kerberos, LDAP,
// NTP, QUIC/DTLS, RADIUS, RDP, SIP, SNMP and Syslog. A UDP connection's
// responder is the side on such a port when only one side is.
func udpServerPort(p uint16) bool {
	switch p {
	case portVXLAN, portGeneve, portTeredo, portAYIYA, portGTPU, portGTPC, portGREOverUDP,
		67, 4011, 20000, 53, 137, 5353, 5355, 88, 389, 123, 443, 1812, 3389, 5060, 161, 162, 514:
		return true
	}
	return false
}

// Tunnel kinds, part of a tunnel's identity.
const (
	tunnelIP = iota + 1
	tunnelGRE
	tunnelVXLAN
	tunnelGeneve
	tunnelTeredo
	tunnelAYIYA
	tunnelGTP
)

// enter makes the packet context inside a tunnel: one level deeper, with
// the tunnel's identity (kind, and the outer endpoints in a fixed order,
// so both directions are the same tunnel) folded into the stack's.
func (p *pkt) enter(kind uint8, h *ipHdr, sport, dport uint16) (pkt, bool) {
	if p.depth >= maxTunnelDepth {
		return pkt{}, false
	}
	a, b := h.src.As16(), h.dst.As16()
	pa, pb := sport, dport
	if string(a[:]) > string(b[:]) || a == b && pa > pb {
		a, b, pa, pb = b, a, pb, pa
	}
	x := p.encap ^ uint64(kind)*0x9e3779b97f4a7c15 ^ uint64(h.proto)<<8
	for _, c := range a {
		x = (x ^ uint64(c)) * 0x100000001b3
	}
	for _, c := range b {
		x = (x ^ uint64(c)) * 0x100000001b3
	}
	x = (x ^ uint64(pa)<<16 ^ uint64(pb)) * 0x100000001b3
	if x == 0 {
		x = 1
	}
	return pkt{ts: p.ts, cut: p.cut, encap: x, depth: p.depth + 1}, true
}

// udp is Zeek's UDP analyzer, as far as tunnels need it: the checksum
// (unless ignored; a VXLAN packet with a zero checksum is not checked),
// then the payload to the tunnel analyzer of the responder's port, or to
// Teredo or AYIYA if it looks like theirs.
func (d *Decoder) udp(c []byte, h *ipHdr, p *pkt) {
	if h.payloadLen != 0 && h.payloadLen < 8 || len(c) < 8 {
		return
	}
	n := h.payloadLen
	if n == 0 {
		n = len(c)
	}
	sport, dport := be16(c), be16(c[2:])
	sum := be16(c[6:])
	verify := !d.cfg.IgnoreChecksums && len(c) >= n && p.cut == 0
	if verify && n > 8+8+14 && c[8]&0x08 != 0 && dport == portVXLAN && sum == 0 {
		verify = false
	}
	if verify && (!h.v4 || sum != 0) && checksum(c[:n], pseudo(h, protoUDP, n)) != 0xffff {
		return
	}
	pl := c[8:min(n, len(c))]
	resp := dport
	if udpServerPort(sport) && !udpServerPort(dport) {
		resp = sport
	}
	switch resp {
	case portVXLAN:
		d.vxlan(pl, h, sport, dport, p)
	case portGeneve:
		d.geneve(pl, h, sport, dport, p)
	case portTeredo:
		d.teredo(pl, h, sport, dport, p)
	case portAYIYA:
		d.ayiya(pl, h, sport, dport, p)
	case portGTPU, portGTPC:
		d.gtp(pl, h, sport, dport, p)
	case portGREOverUDP:
		d.gre(pl, h, p)
	default:
		switch {
		case isAYIYA(pl):
			d.ayiya(pl, h, sport, dport, p)
		case isTeredo(pl):
			d.teredo(pl, h, sport, dport, p)
		}
	}
}

// vxlan: an 8-byte header with the I flag, then an Ethernet frame.
func (d *Decoder) vxlan(b []byte, h *ipHdr, sport, dport uint16, p *pkt) {
	if len(b) < 8 || b[0]&0x08 == 0 || len(b) == 8 {
		return
	}
	if in, ok := p.enter(tunnelVXLAN, h, sport, dport); ok {
		d.ethernet(b[8:], &in)
	}
}

// geneve: 8 bytes and the options, then what the protocol type names.
func (d *Decoder) geneve(b []byte, h *ipHdr, sport, dport uint16, p *pkt) {
	if len(b) < 8 || b[0]>>6 != 0 {
		return
	}
	hl := 8 + int(b[0]&0x3f)*4
	if hl >= len(b) {
		return
	}
	in, ok := p.enter(tunnelGeneve, h, sport, dport)
	if !ok {
		return
	}
	switch be16(b[2:]) {
	case 0x6558:
		d.ethernet(b[hl:], &in)
	case 0x0800, 0x86dd:
		d.ip(b[hl:], &in)
	}
}

// ayiya: a header with identity and signature, then IPv4 or IPv6 (only
// for forwarding packets, opcode 1).
func (d *Decoder) ayiya(b []byte, h *ipHdr, sport, dport uint16, p *pkt) {
	if len(b) < 8 {
		return
	}
	hl := 8 + 1<<(b[0]>>4) + int(b[1]>>4)*4
	if hl > len(b) || b[2]&0x0f != 1 || hl == len(b) {
		return
	}
	if b[3] != protoIPIP && b[3] != protoIPv6 {
		return
	}
	if in, ok := p.enter(tunnelAYIYA, h, sport, dport); ok {
		d.ip(b[hl:], &in)
	}
}

func isAYIYA(b []byte) bool { return len(b) >= 3 && b[1] == 0x52 && b[2] == 0x11 }

// teredoIP finds the IPv6 packet in a Teredo datagram, after an optional
// authentication header and an optional origin indication (in that order,
// each at most once).
func teredoIP(b []byte) ([]byte, bool) {
	auth, origin := false, false
	for {
		if len(b) < 2 {
			return nil, false
		}
		switch tag := be16(b); {
		case tag == 0:
			if origin || len(b) < 8 {
				return nil, false
			}
			origin = true
			b = b[8:]
		case tag == 1:
			if origin || auth || len(b) < 4 {
				return nil, false
			}
			n := 4 + int(b[2]) + int(b[3]) + 8 + 1
			if len(b) < n {
				return nil, false
			}
			auth = true
			b = b[n:]
		case tag>>12 == 6:
			return b, len(b) >= 40
		default:
			return nil, false
		}
	}
}

// isTeredo is Teredo's protocol detection, for UDP on other ports: an IPv6
// header from or to a Teredo address, or IPv6 after an authentication
// header or origin indication.
func isTeredo(b []byte) bool {
	if len(b) < 40 || len(b) > 8 && b[0]>>4 != 6 && (b[0] != 0 || b[1] != 0 && b[1] != 1) {
		return false
	}
	if b[0]>>4 == 6 {
		// Zeek's pattern (a prefix match): an IPv6 header from or to a
		// Teredo address, 2001:0::/32.
		teredo := func(a []byte) bool { return a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0 }
		if teredo(b[8:]) || teredo(b[24:]) {
			return true
		}
	}
	v := uint16(b[1])
	if v == 1 {
		n := 13 + int(b[2]) + int(b[3])
		if len(b) < n {
			return false
		}
		b = b[n:]
		if len(b) < 40 {
			return false
		}
		v = be16(b)
	}
	if v == 0 {
		if len(b) < 8 {
			return false
		}
		b = b[8:]
		return len(b) >= 40 && b[0]>>4 == 6
	}
	return false
}

// teredo: the IPv6 packet must fill the datagram exactly, except for a
// bubble (no next header, no payload) that carries more.
func (d *Decoder) teredo(b []byte, h *ipHdr, sport, dport uint16, p *pkt) {
	ip6, ok := teredoIP(b)
	if !ok {
		return
	}
	total := int(be16(ip6[4:])) + 40
	if len(ip6) < total {
		return
	}
	if len(ip6) > total && !(ip6[6] == protoNone && total == 40) {
		return
	}
	if in, ok := p.enter(tunnelTeredo, h, sport, dport); ok {
		d.ip(ip6, &in)
	}
}

// gtp: GTPv1-U G-PDUs (message type 255) carry an IP packet after the
// 8-byte header, the optional 4-byte sequence/N-PDU/next-type fields and
// any extension headers; the packet must fill the rest exactly.
func (d *Decoder) gtp(b []byte, h *ipHdr, sport, dport uint16, p *pkt) {
	if len(b) < 8 || p.lastGTP { // GTP is never inside GTP
		return
	}
	flags := b[0]
	if flags>>5 != 1 || flags&0x10 == 0 || b[1] != 255 {
		return
	}
	hl := 8
	if flags&0x07 != 0 {
		hl += 4
		if len(b) < hl {
			return
		}
		if flags&0x04 != 0 {
			// Extension headers: length in 4-byte units, the last byte
			// names the next; 0 ends the chain.
			for {
				if len(b) < hl+1 {
					return
				}
				n := int(b[hl]) * 4
				if n == 0 || len(b) < hl+n {
					return
				}
				hl += n
				if b[hl-1] == 0 {
					break
				}
			}
		}
	}
	ip := b[hl:]
	if len(ip) < 20 {
		return
	}
	var total int
	switch ip[0] >> 4 {
	case 4:
		total = int(be16(ip[2:]))
	case 6:
		if len(ip) < 40 {
			return
		}
		total = int(be16(ip[4:])) + 40
	default:
		return
	}
	if total != len(ip) {
		return
	}
	if in, ok := p.enter(tunnelGTP, h, sport, dport); ok {
		in.lastGTP = true
		d.ip(ip, &in)
	}
}

// ipInIP is Zeek's IPTunnel analyzer for an IP packet directly inside IP
// (protocol 4 or 41) or inside PPTP's GRE: the inner packet must be of the
// version announced and fill the outer payload exactly.
func (d *Decoder) ipInIP(b []byte, h *ipHdr, p *pkt, kind uint8, version byte) {
	if len(b) < 20 || b[0]>>4 != version {
		return
	}
	var total int
	if version == 4 {
		total = int(be16(b[2:]))
	} else {
		if len(b) < 40 {
			return
		}
		total = int(be16(b[4:])) + 40
	}
	if total != len(b) {
		return
	}
	in, ok := p.enter(kind, h, 0, 0)
	if !ok {
		return
	}
	in.cut = 0
	d.ip(b, &in)
}

// gre is Zeek's GRE analyzer: versions 0 (IP, transparent Ethernet, ERSPAN
// types II and III, Aruba's 802.11) and 1 (PPTP carrying IP).
func (d *Decoder) gre(b []byte, h *ipHdr, p *pkt) {
	if len(b) < 4 {
		return
	}
	fv := be16(b)
	proto := be16(b[2:])
	ver := fv & 7
	hl := 4
	for _, f := range [...]uint16{0x8000, 0x2000, 0x1000, 0x0080} {
		if fv&f != 0 {
			hl += 4
		}
	}
	if ver > 1 || fv&0x4000 != 0 || fv&0x0078 != 0 {
		return
	}
	const (
		linkRaw = iota
		linkEth
		linkWifi
	)
	link, skip := linkRaw, 0
	if ver == 0 {
		switch {
		case proto == 0x6558:
			if len(b) <= hl+14 {
				return
			}
			link = linkEth
		case proto == 0x88be: // ERSPAN type II: 8 more bytes with the sequence flag
			if len(b) <= hl+14 {
				return
			}
			link = linkEth
			if fv&0x1000 != 0 {
				skip = 8
			}
		case proto == 0x22eb: // ERSPAN type III: 12 bytes, 8 more with the optional header
			if len(b) <= hl+14+12 {
				return
			}
			link, skip = linkEth, 12
			if b[hl+11]&1 != 0 {
				if len(b) <= hl+12+8+14 {
					return
				}
				skip += 8
			}
		case proto&0x8200 == 0x8200 && proto&0x0f == 0 || proto&0x8300 == 0x8300 && proto&0x0f == 0 && proto <= 0x8370 ||
			proto == 0x9000: // Aruba: 802.11 frames
			if len(b) <= hl {
				return
			}
			link = linkWifi
		}
	} else {
		if proto != 0x880b {
			return
		}
		skip = 4 // PPP address, control and protocol
	}
	if len(b) < hl+skip {
		return
	}
	inner := b[hl+skip:]
	if ver == 1 {
		switch be16(b[hl+2:]) {
		case 0x0021:
			d.ipInIP(inner, h, p, tunnelGRE, 4)
		case 0x0057:
			d.ipInIP(inner, h, p, tunnelGRE, 6)
		}
		return
	}
	in, ok := p.enter(tunnelGRE, h, 0, 0)
	if !ok {
		return
	}
	in.cut = 0 // the inner packet is as long as what was captured of it
	switch link {
	case linkEth:
		d.ethernet(inner, &in)
	case linkWifi:
		d.ieee80211(inner, &in)
	default:
		d.ip(inner, &in)
	}
}

// ieee80211 is Zeek's 802.11 analyzer for data frames: QoS headers, four
// addresses, and A-MSDU aggregates, whose subframes are each a packet of
// their own.
func (d *Decoder) ieee80211(b []byte, p *pkt) {
	hl := 24
	if len(b) <= hl {
		return
	}
	fc := b[0]
	if (fc>>2)&0x02 == 0 || (fc>>4)&0x04 != 0 {
		return // not a data frame, or one without data
	}
	if b[1]&0x03 == 0x03 {
		hl += 6
	}
	if len(b) <= hl {
		return
	}
	amsdu := false
	if (fc>>4)&0x08 != 0 { // QoS
		amsdu = b[hl]&0x80 != 0
		if b[1]&0x40 != 0 {
			return // protected
		}
		hl += 2
	}
	if len(b) <= hl {
		return
	}
	b = b[hl:]
	if !amsdu {
		d.snapIP(b, p)
		return
	}
	for len(b) > 0 {
		if len(b) < 14 {
			return
		}
		n := int(be16(b[12:]))
		if len(b) < n+14 {
			return
		}
		sub := *p
		sub.tail = p.tail + len(b) - 14 - n
		if !d.snapIP(b[14:14+n], &sub) {
			return
		}
		b = b[14+n:]
		if pad := n % 4; len(b) >= pad {
			b = b[pad:]
		}
	}
}

// snapIP takes an 802.2 LLC/SNAP header with OUI 0 and analyses the IP
// packet it announces; false when it is not one.
func (d *Decoder) snapIP(b []byte, p *pkt) bool {
	if len(b) < 8 || b[0] != 0xaa || b[1] != 0xaa || b[2] != 0x03 || b[3] != 0 || b[4] != 0 || b[5] != 0 {
		return false
	}
	switch be16(b[6:]) {
	case 0x0800, 0x86dd:
		d.ip(b[8:], p)
	}
	return true
}
