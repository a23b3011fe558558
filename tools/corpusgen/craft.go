package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Crafted packets cover what a real stack will not produce on demand. They
// are injected as Ethernet frames on the endpoint's veth, so the router
// receives them exactly like packets from a real stack. Crafted endpoints
// use addresses no kernel owns: the receiving endpoint namespace drops what
// the router forwards to them, silently (it does not forward and so sends no
// ICMP), and the router's conntrack sees only the packets listed here.

type side int

const (
	cli side = iota
	srv
)

// seg is one crafted TCP segment. seq is relative to the sender's ISN and
// ack relative to the receiver's ISN (so 1 acknowledges the SYN), unless abs
// is set, in which case both are used verbatim.
type seg struct {
	from    side
	flags   string // letters: S SYN, A ACK, F FIN, R RST, P PSH, U URG
	seq     uint32
	ack     uint32
	n       int    // payload bytes
	win     uint16 // raw window field; 0 means 64240
	opts    string // comma list for the options: mss, sackok, ws<N>, ts
	abs     bool
	gap     time.Duration // pause after sending; default 20ms
	comment string        // why the segment is there (logged, not sent)
	doff    uint8         // data offset field in 32-bit words, when not 0 (malformed headers)
	badSum  bool          // a wrong TCP checksum (never the offload pattern)
}

// crafter injects frames from the client and the server namespaces.
type crafter struct {
	t    *topology
	fds  [2]int
	ipID uint16
}

func newCrafter(t *topology) (*crafter, error) {
	c := &crafter{t: t, fds: [2]int{-1, -1}, ipID: 0x4000}
	for i, n := range []node{t.client, t.server} {
		fd, _, err := n.packetSocket("eth0", 0, 0)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.fds[i] = fd
	}
	return c, nil
}

func (c *crafter) Close() error {
	for i, fd := range c.fds {
		if fd >= 0 {
			syscall.Close(fd)
			c.fds[i] = -1
		}
	}
	return nil
}

// flow is one crafted 4-tuple with fixed initial sequence numbers.
type flow struct {
	c            *crafter
	cIP, sIP     net.IP
	cPort, sPort uint16
	isn          [2]uint32
}

func (c *crafter) flow(cIP, sIP string, cPort, sPort uint16, cISN, sISN uint32) *flow {
	return &flow{c: c, cIP: net.ParseIP(cIP), sIP: net.ParseIP(sIP), cPort: cPort, sPort: sPort, isn: [2]uint32{cISN, sISN}}
}

// send injects the segments in order, pausing after each so the router
// receives (and timestamps) them in exactly this order.
func (f *flow) send(segs ...seg) error {
	for i, s := range segs {
		if err := f.c.inject(f, s); err != nil {
			return fmt.Errorf("flow %d->%d segment %d (%s): %w", f.cPort, f.sPort, i, s.flags, err)
		}
		gap := s.gap
		if gap == 0 {
			gap = 20 * time.Millisecond
		}
		time.Sleep(gap)
	}
	return nil
}

func (c *crafter) inject(f *flow, s seg) error {
	h := tcpHeader{sport: f.cPort, dport: f.sPort, win: s.win}
	src, dst := f.cIP, f.sIP
	srcMAC, dstMAC := c.t.clientMAC, c.t.routerCMAC
	if s.from == srv {
		src, dst, h.sport, h.dport = dst, src, h.dport, h.sport
		srcMAC, dstMAC = c.t.serverMAC, c.t.routerSMAC
	}
	h.seq, h.ack = s.seq, s.ack
	if !s.abs {
		h.seq += f.isn[s.from]
		h.ack += f.isn[1-s.from]
	}
	if h.win == 0 {
		h.win = 64240
	}
	for _, r := range s.flags {
		switch r {
		case 'F':
			h.flags |= 0x01
		case 'S':
			h.flags |= 0x02
		case 'R':
			h.flags |= 0x04
		case 'P':
			h.flags |= 0x08
		case 'A':
			h.flags |= 0x10
		case 'U':
			h.flags |= 0x20
		default:
			return fmt.Errorf("unknown flag %q", r)
		}
	}
	if h.flags&0x10 == 0 {
		h.ack = 0
	}
	var err error
	if h.opts, err = tcpOptions(s.opts); err != nil {
		return err
	}
	h.doff, h.badSum = s.doff, s.badSum
	c.ipID++
	frame := buildFrame(srcMAC, dstMAC, src, dst, c.ipID, h, payload(s.n))
	if _, err := syscall.Write(c.fds[s.from], frame); err != nil {
		return fmt.Errorf("inject: %w", err)
	}
	return nil
}

// tcpHeader holds the fields a crafted segment sets.
type tcpHeader struct {
	sport, dport uint16
	seq, ack     uint32
	flags        byte
	win          uint16
	opts         []byte // already padded to a multiple of 4
	doff         uint8  // data offset to write instead of the real one (0: the real one)
	badSum       bool   // corrupt the checksum
}

// buildFrame serialises Ethernet + IPv4/IPv6 + TCP with valid checksums.
func buildFrame(srcMAC, dstMAC net.HardwareAddr, src, dst net.IP, ipID uint16, h tcpHeader, data []byte) []byte {
	tcpLen := 20 + len(h.opts) + len(data)
	tcp := make([]byte, tcpLen)
	binary.BigEndian.PutUint16(tcp[0:], h.sport)
	binary.BigEndian.PutUint16(tcp[2:], h.dport)
	binary.BigEndian.PutUint32(tcp[4:], h.seq)
	binary.BigEndian.PutUint32(tcp[8:], h.ack)
	tcp[12] = byte((20+len(h.opts))/4) << 4
	if h.doff != 0 {
		tcp[12] = h.doff << 4
	}
	tcp[13] = h.flags
	binary.BigEndian.PutUint16(tcp[14:], h.win)
	copy(tcp[20:], h.opts)
	copy(tcp[20+len(h.opts):], data)

	frame := make([]byte, 0, 14+40+tcpLen)
	frame = append(frame, dstMAC...)
	frame = append(frame, srcMAC...)
	var pseudo []byte
	if v4 := src.To4(); v4 != nil {
		frame = append(frame, 0x08, 0x00)
		ip := make([]byte, 20)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+tcpLen))
		binary.BigEndian.PutUint16(ip[4:], ipID)
		ip[6] = 0x40 // don't fragment
		ip[8] = 64
		ip[9] = 6
		copy(ip[12:], v4)
		copy(ip[16:], dst.To4())
		binary.BigEndian.PutUint16(ip[10:], checksum(0, ip))
		frame = append(frame, ip...)
		pseudo = append(append(append([]byte{}, v4...), dst.To4()...), 0, 6, byte(tcpLen>>8), byte(tcpLen))
	} else {
		frame = append(frame, 0x86, 0xdd)
		ip := make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(tcpLen))
		ip[6] = 6
		ip[7] = 64
		copy(ip[8:], src.To16())
		copy(ip[24:], dst.To16())
		frame = append(frame, ip...)
		pseudo = append(append(append([]byte{}, src.To16()...), dst.To16()...), 0, 0, byte(tcpLen>>8), byte(tcpLen), 0, 0, 0, 6)
	}
	sum := checksum(sum16(0, pseudo), tcp)
	if h.badSum {
		// Wrong, and not the pseudo-header sum a sender with checksum
		// offload leaves in the field either (tcptrack takes that one for
		// the capturing host's own packet).
		partial := ^checksum(0, pseudo)
		for sum++; sum == partial; sum++ {
		}
	}
	binary.BigEndian.PutUint16(tcp[16:], sum)
	return append(frame, tcp...)
}

// sum16 adds b to a running one's-complement sum.
func sum16(acc uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		acc += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		acc += uint32(b[len(b)-1]) << 8
	}
	return acc
}

func checksum(acc uint32, b []byte) uint16 {
	acc = sum16(acc, b)
	for acc>>16 != 0 {
		acc = acc&0xffff + acc>>16
	}
	return ^uint16(acc)
}

// tcpOptions encodes the option list; "ts" carries a fixed timestamp.
func tcpOptions(spec string) ([]byte, error) {
	var b []byte
	for _, o := range strings.Split(spec, ",") {
		switch {
		case o == "":
		case o == "mss":
			b = append(b, 2, 4, 0x05, 0xb4)
		case o == "sackok":
			b = append(b, 1, 1, 4, 2)
		case o == "ts":
			b = append(b, 1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 0, 0)
		case strings.HasPrefix(o, "ws"):
			v, err := strconv.Atoi(o[2:])
			if err != nil {
				return nil, fmt.Errorf("option %q: %w", o, err)
			}
			b = append(b, 1, 3, 3, byte(v))
		default:
			return nil, fmt.Errorf("unknown option %q", o)
		}
	}
	return b, nil // every option above is padded to 4 bytes with NOPs
}
