package flowtable

import "github.com/tcptrack/tcptrack/assemble"

// processPacket runs a decoded packet through a shard, as a Table would.
func (s *Shard) processPacket(p *assemble.Packet, seq uint64) {
	seg := SegmentOf(p)
	s.Process(&seg, seq, seg.Key.Hash())
}
