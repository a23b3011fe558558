package flowtable

import "github.com/tcptrack/tcptrack/fsm"

// PacketEvents says which packets the table reports one by one, as
// EventPacket events in the event stream (Config.OnEvents): nothing (the
// default, and the hot path's cost stays what it was), the packets the
// tracker did not simply accept (what conntrack logs with
// nf_conntrack_log_invalid), or every packet (a per-packet trace).
type PacketEvents uint8

const (
	PacketsNone        PacketEvents = iota
	PacketsNotAccepted              // ignored and invalid packets, those that could not create a flow, and refused ones
	PacketsAll
)

// PacketReport is one packet's outcome, carried by an EventPacket (in
// Event.Report). The event's Flow is the flow as the packet left it (for a
// packet that belongs to no flow, only Flow.Key is set, the packet's own
// tuple, and the hosts' sockets when the table keeps them: Config.Hosts).
type PacketReport struct {
	Dir     fsm.Dir     // relative to Flow.Key
	Verdict fsm.Verdict // Invalid for packets that could not create a flow or were refused
	// Reason is why the packet was ignored or invalid (the kernel's log
	// line); Also is a second line the kernel logs for the same packet:
	// nf_tcp_handle_invalid's "lower timeout", when the flow's timer was
	// really shortened. Both NoReason otherwise.
	Reason, Also fsm.Reason
	TCP          fsm.Segment
	IPLen        uint32
	// Frame is the caller's number for the packet (AddWire, Refuse), e.g.
	// its record number in the capture; 0 when added with Add.
	Frame uint64
	// Wire holds the packet's IP and TCP headers as captured (options
	// included, no payload), when it was added with them (AddWire,
	// Refuse); nil otherwise.
	Wire []byte
}

// itemExtra is what an item carries beside its segment when the table
// reports packets: a refusal reason, its frame number and where its wire
// headers are in the batch's arena.
type itemExtra struct {
	why        fsm.Reason
	start, end uint32
	frame      uint64
}

// maxWire bounds the header bytes kept per packet (IPv4 60 + TCP 60, or
// IPv6 with a few extension headers).
const maxWire = 512

// ReportsPackets tells whether the table reports packets (Config.Packets
// with OnEvents): then AddWire's frame number and headers are kept.
func (t *Table) ReportsPackets() bool { return t.cfg.Packets != PacketsNone }

// AddWire is Add with the caller's number for the packet and its IP and
// TCP headers, both for its EventPacket (kept only when the table reports
// packets). p and wire are copied.
func (t *Table) AddWire(p *Packet, frame uint64, wire []byte) {
	t.add(p, frame, fsm.Reason{}, wire)
}

// Refuse hands the table a packet the tracker refuses before looking at
// any flow (tcp_error: a wrong checksum, a data offset outside the
// segment): it is counted invalid and, when the table reports packets,
// reported with why, in order with the others.
func (t *Table) Refuse(p *Packet, frame uint64, why fsm.Reason, wire []byte) {
	t.add(p, frame, why, wire)
}

// reportPackets makes a shard that records events also record an
// EventPacket for the packets mode selects.
func (s *shard) reportPackets(mode PacketEvents) {
	if s.recordEvents {
		s.packets = mode
	}
}

// report records the EventPacket of the packet just processed, when the
// shard reports packets and this one qualifies. pos is the flow's slot,
// noFlow for a packet that belongs to none.
func (s *shard) report(p *segment, seq uint64, pos uint32, dir fsm.Dir, r *fsm.Result) {
	if s.packets == PacketsNone || (s.packets == PacketsNotAccepted && r.Verdict != fsm.Ignore && r.Verdict != fsm.Invalid) {
		return
	}
	pk := s.reportCopy()
	*pk = PacketReport{Dir: dir, Verdict: r.Verdict, Reason: r.Reason, TCP: p.TCP, IPLen: p.IPLen, Frame: s.curFrame, Wire: s.wireCopy()}
	ev := Event{Type: EventPacket, TS: p.TS, Seq: seq, Report: pk}
	if pos == noFlow {
		ev.Flow = Flow{Key: p.Key}
		s.attachHosts(&ev.Flow)
	} else {
		ev.Flow = s.flow(pos)
	}
	s.events = append(s.events, ev)
}

// reportShrunk adds the kernel's second line to the packet just reported.
func (s *shard) reportShrunk(r *fsm.Result) {
	if n := len(s.events); s.packets != PacketsNone && n > 0 && s.events[n-1].Type == EventPacket {
		s.events[n-1].Report.Also = r.TimeoutReason()
	}
}

// refuse counts a packet refused before tracking (see Table.Refuse) and,
// when the shard reports packets, reports it; seq numbers it as process.
func (s *shard) refuse(p *segment, seq uint64, why fsm.Reason) {
	s.stats.Segments++
	s.stats.Invalid++
	s.stats.Refused++
	r := fsm.Result{Verdict: fsm.Invalid, Reason: why}
	s.report(p, seq, noFlow, fsm.Original, &r)
}

// reportCopy and wireCopy carve an event's PacketReport and wire bytes out
// of chunks, so reporting costs an allocation per chunk, not per packet.
func (s *shard) reportCopy() *PacketReport {
	if len(s.reportSpare) == 0 {
		s.reportSpare = make([]PacketReport, 128)
	}
	pk := &s.reportSpare[0]
	s.reportSpare = s.reportSpare[1:]
	return pk
}

func (s *shard) wireCopy() []byte {
	w := s.curWire
	if len(w) == 0 {
		return nil
	}
	if len(s.wireSpare) < len(w) {
		s.wireSpare = make([]byte, 32<<10)
	}
	c := s.wireSpare[:len(w):len(w)]
	copy(c, w)
	s.wireSpare = s.wireSpare[len(w):]
	return c
}
