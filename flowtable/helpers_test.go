package flowtable

import (
	"net/netip"
	"time"

	"github.com/tcptrack/tcptrack/fsm"
)

// segmentOf is the shard's form of a decoded packet, as Table.Add builds it.
func segmentOf(p *Packet) segment {
	return segment{Key: MakeKey(p.Src, p.Dst, p.TCP.SrcPort, p.TCP.DstPort), TS: p.TS, IPLen: p.IPLen, TCP: p.TCP}
}

// processPacket runs a decoded packet through a shard, as a Table would.
func (s *shard) processPacket(p *Packet, seq uint64) {
	seg := segmentOf(p)
	s.process(&seg, seq, seg.Key.Hash())
}

const sec = int64(time.Second)

var (
	client = netip.MustParseAddr("10.0.0.1")
	server = netip.MustParseAddr("10.0.0.2")
)

// conv builds the packets of one conversation between client:cport and
// server:80; the helpers keep sequence numbers consistent.
type conv struct {
	cport    uint16
	cseq     uint32
	sseq     uint32
	ts       int64
	packets  []Packet
	stepTime int64
}

func newConv(cport uint16, start int64) *conv {
	return &conv{cport: cport, cseq: 1000, sseq: 5000, ts: start, stepTime: sec / 100}
}

func (c *conv) add(fromClient bool, flags fsm.Flags, payload uint32) *conv {
	p := Packet{TS: c.ts, IPLen: 40 + payload}
	p.TCP = fsm.Segment{Flags: flags, Window: 65535, PayloadLen: payload}
	if fromClient {
		p.Src, p.Dst = client, server
		p.TCP.SrcPort, p.TCP.DstPort = c.cport, 80
		p.TCP.Seq, p.TCP.Ack = c.cseq, c.sseq
	} else {
		p.Src, p.Dst = server, client
		p.TCP.SrcPort, p.TCP.DstPort = 80, c.cport
		p.TCP.Seq, p.TCP.Ack = c.sseq, c.cseq
	}
	if flags&fsm.ACK == 0 {
		p.TCP.Ack = 0
	}
	end := p.TCP.End() - p.TCP.Seq
	if fromClient {
		c.cseq += end
	} else {
		c.sseq += end
	}
	c.packets = append(c.packets, p)
	c.ts += c.stepTime
	return c
}

func (c *conv) handshake() *conv {
	return c.add(true, fsm.SYN, 0).add(false, fsm.SYN|fsm.ACK, 0).add(true, fsm.ACK, 0)
}

func (c *conv) closeFromClient() *conv {
	return c.add(true, fsm.FIN|fsm.ACK, 0).add(false, fsm.FIN|fsm.ACK, 0).add(true, fsm.ACK, 0)
}
