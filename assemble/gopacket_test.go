//go:build gopacket_xcheck

// A cross-check against gopacket's decoder over the shared corpus, run on
// demand (it is a reference check, not a regression test):
//
//	go test -tags gopacket_xcheck -run Gopacket ./assemble

package assemble

import (
	"io"
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// gopacketTCP decodes a record with gopacket, as an independent reference
// for the decoder. ok is false unless gopacket finds an unfragmented TCP
// segment without decoding errors. short reports an IP length beyond the
// captured bytes of a frame that was not cut: gopacket takes such a frame,
// the kernel (and Decode) do not.
func gopacketTCP(rec *Record) (p flowtable.Packet, short, ok bool) {
	var first gopacket.Decoder
	switch rec.LinkType {
	case LinkEthernet:
		first = layers.LayerTypeEthernet
	case LinkSLL:
		first = layers.LayerTypeLinuxSLL
	case LinkNull:
		first = layers.LayerTypeLoopback
	case LinkRaw, LinkIPv4, LinkIPv6:
		if len(rec.Data) == 0 {
			return p, false, false
		}
		first = layers.LayerTypeIPv4
		if rec.Data[0]>>4 == 6 {
			first = layers.LayerTypeIPv6
		}
	default:
		return p, false, false // gopacket 1.1.19 has no SLL2
	}
	pkt := gopacket.NewPacket(rec.Data, first, gopacket.DecodeOptions{NoCopy: true})
	if pkt.ErrorLayer() != nil {
		return p, false, false
	}
	tl, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if tl == nil {
		return p, false, false
	}
	if pkt.Layer(layers.LayerTypeIPv6Fragment) != nil {
		return p, false, false
	}
	// The innermost IP layer carries the segment.
	var ipLen, l4Len int
	for _, l := range pkt.Layers() {
		switch ip := l.(type) {
		case *layers.IPv4:
			if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
				return p, false, false
			}
			p.Src, _ = netip.AddrFromSlice(ip.SrcIP.To4())
			p.Dst, _ = netip.AddrFromSlice(ip.DstIP.To4())
			ipLen = int(ip.Length)
			l4Len = ipLen - int(ip.IHL)*4
			short = ipLen > len(ip.Contents)+len(ip.Payload)
		case *layers.IPv6:
			p.Src, _ = netip.AddrFromSlice(ip.SrcIP)
			p.Dst, _ = netip.AddrFromSlice(ip.DstIP)
			ipLen = 40 + int(ip.Length)
			l4Len = len(tl.Contents) + len(tl.Payload)
			short = int(ip.Length) > len(ip.Payload)
		}
	}
	p.IPLen = uint32(ipLen)
	s := fsm.Segment{
		SrcPort: uint16(tl.SrcPort), DstPort: uint16(tl.DstPort),
		Seq: tl.Seq, Ack: tl.Ack, Window: tl.Window,
		PayloadLen: uint32(l4Len - int(tl.DataOffset)*4),
	}
	for _, f := range []struct {
		set bool
		f   fsm.Flags
	}{{tl.FIN, fsm.FIN}, {tl.SYN, fsm.SYN}, {tl.RST, fsm.RST}, {tl.PSH, fsm.PSH}, {tl.ACK, fsm.ACK}, {tl.URG, fsm.URG}, {tl.ECE, fsm.ECE}, {tl.CWR, fsm.CWR}} {
		if f.set {
			s.Flags |= f.f
		}
	}
	for _, o := range tl.Options {
		d := o.OptionData
		switch {
		case o.OptionType == layers.TCPOptionKindMSS && len(d) == 2:
			s.MSS = uint16(d[0])<<8 | uint16(d[1])
		case o.OptionType == layers.TCPOptionKindWindowScale && len(d) == 1:
			s.WScale, s.HasWScale = d[0], true
		case o.OptionType == layers.TCPOptionKindSACKPermitted && o.OptionLength == 2:
			s.SackPerm = true
		case o.OptionType == layers.TCPOptionKindSACK && len(d) >= 8 && len(d)%8 == 0:
			for ; len(d) >= 8; d = d[8:] {
				right := be32(d[4:])
				if !s.HasSack || int32(right-s.SackRight) > 0 {
					s.SackRight = right
				}
				s.HasSack = true
			}
		case o.OptionType == layers.TCPOptionKindTimestamps && len(d) == 8:
			s.TSVal, s.TSEcr, s.HasTS = be32(d), be32(d[4:]), true
		}
	}
	p.TCP = s
	short = short && rec.CapLen >= rec.OrigLen
	return p, short, true
}

// TestCorpusGopacket decodes every corpus frame with gopacket as well and
// compares the TCP headers both decoders found (unfragmented datagrams
// only: gopacket does not reassemble).
func TestCorpusGopacket(t *testing.T) {
	entries := loadSources(t)
	for _, e := range entries {
		t.Run(e.file, func(t *testing.T) {
			if testing.Short() && e.pkts > 10000 {
				t.Skip("short")
			}
			r, err := Open(filepath.Join(corpusDir(t), e.file))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			d := NewDecoder(DecoderConfig{})
			var p flowtable.Packet
			compared := 0
			for {
				rec, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				kind := d.Decode(&rec, &p)
				gp, short, ok := gopacketTCP(&rec)
				if !ok {
					continue
				}
				if short && kind == Malformed {
					continue
				}
				if kind != TCP {
					t.Errorf("record %d: gopacket finds TCP %+v, we say %v", r.Count(), gp, kind)
					continue
				}
				if d.Stats().FragCompleted > 0 && p.TS == rec.TS && gp.IPLen != p.IPLen {
					continue // a reassembled datagram: gopacket saw only its last fragment
				}
				compared++
				got := p
				if rec.CapLen < rec.OrigLen {
					got.TCP.PayloadLen = gp.TCP.PayloadLen // gopacket counts only captured payload
				}
				got.TS, got.VLAN = 0, 0
				if got != gp {
					t.Errorf("record %d:\n  ours     %+v\n  gopacket %+v", r.Count(), got, gp)
				}
			}
			t.Logf("%d segments compared", compared)
		})
	}
}
