package output

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// A ladder is one conversation (both directions of a 4-tuple, across the
// conntrack entries it had) as a sequence of packets between two hosts:
// the handshake figure of every TCP tutorial, computed. trace builds
// ladders from the table's packet events and draws them as text
// (trace_text.go) or SVG (trace_svg.go).

// ladder is one conversation. The client is the host that sent its first
// packet.
type ladder struct {
	client, server netip.AddrPort
	start          int64 // capture time of the first packet
	rows           []ladderRow

	// Building state: each side's sequence base (relative numbers) and the
	// last known socket states and conntrack entry.
	base      [2]uint32 // [0] client, [1] server
	hasBase   [2]bool
	lastFlow  uint64
	sock      [2]ladderSock
	lastState string
}

// ladderSock is a host's socket as the ladder writes it: the state, with
// "?" when unconfirmed (SocketText without the timer, so that a state is
// written again only when it changes).
type ladderSock struct {
	state     fsm.SockState
	confirmed bool
}

func makeLadderSock(so fsm.Socket) ladderSock {
	return ladderSock{state: so.State, confirmed: so.Confirmed || so.State == fsm.SockUnknown}
}

func (s ladderSock) String() string {
	if !s.confirmed {
		return s.state.String() + "?"
	}
	return s.state.String()
}

// ladderRow is a packet (or, with note set and no packet, an event
// between packets: an entry expired).
type ladderRow struct {
	frame    uint64
	ts       int64
	toServer bool
	flags    fsm.Flags
	seq, ack uint32
	ackAbs   bool // ack shown absolute: the other side's base is not known yet
	hasAck   bool
	length   uint32
	win      uint16
	// After the packet: conntrack's entry ("-" when none) and each host's
	// socket state.
	conntrack      string
	client, server ladderSock
	verdict        fsm.Verdict
	reason, also   fsm.Reason
	// relBound is the reason's sequence bound relative to the side it
	// belongs to (the kernel prints it absolute), when numbers are relative.
	relBound    uint32
	hasRelBound bool
	note        string // "new conntrack entry", "entry deleted", or a marker's text
	marker      bool   // not a packet: note only
}

// Ladders are the conversations of a packet-event stream (flowtable's
// EventPacket for every packet, Config.Packets = PacketsAll) drawn as
// ladders: fed with Add in order, written with WriteText or WriteSVG.
type Ladders struct {
	absolute bool
	byKey    map[[2]netip.AddrPort]*ladder
	order    []*ladder
	packets  int
	limit    int // stop adding rows past this many packets (0: none)
	overflow bool
}

// NewLadders keeps at most limit packets (0: no limit); absolute keeps
// sequence numbers as they were sent instead of relative to each side's
// initial one.
func NewLadders(absolute bool, limit int) *Ladders {
	return &Ladders{absolute: absolute, byKey: map[[2]netip.AddrPort]*ladder{}, limit: limit}
}

// convKey is a conversation's key, the same for both directions.
func convKey(a, b netip.AddrPort) [2]netip.AddrPort {
	if b.Addr().Less(a.Addr()) || (a.Addr() == b.Addr() && b.Port() < a.Port()) {
		a, b = b, a
	}
	return [2]netip.AddrPort{a, b}
}

// packetEnds gives a packet event's source and destination.
func packetEnds(e *flowtable.Event) (src, dst netip.AddrPort) {
	k := &e.Flow.Key
	src = netip.AddrPortFrom(k.SrcAddr(), k.SrcPort)
	dst = netip.AddrPortFrom(k.DstAddr(), k.DstPort)
	if e.Report.Dir == fsm.Reply {
		src, dst = dst, src
	}
	return src, dst
}

// Len is the number of conversations.
func (ls *Ladders) Len() int { return len(ls.order) }

// Overflowed reports whether packets were left out past the limit.
func (ls *Ladders) Overflowed() bool { return ls.overflow }

// Add takes one event of the stream: packets become rows, an expiry a
// marker in its conversation; other events are ignored.
func (ls *Ladders) Add(e *flowtable.Event) {
	switch {
	case e.Type == flowtable.EventPacket:
		if ls.limit > 0 && ls.packets >= ls.limit {
			ls.overflow = true
			return
		}
		ls.packets++
		src, dst := packetEnds(e)
		key := convKey(src, dst)
		l := ls.byKey[key]
		if l == nil {
			l = &ladder{client: src, server: dst, start: e.TS, lastState: "-"}
			ls.byKey[key] = l
			ls.order = append(ls.order, l)
		}
		l.addPacket(e, src == l.client, ls.absolute)
	case e.Type == flowtable.EventDestroy && e.Reason == flowtable.Expired:
		k := &e.Flow.Key
		key := convKey(netip.AddrPortFrom(k.SrcAddr(), k.SrcPort), netip.AddrPortFrom(k.DstAddr(), k.DstPort))
		if l := ls.byKey[key]; l != nil && l.lastFlow == e.Flow.ID {
			l.setSockets(&e.Flow, e.TS)
			l.rows = append(l.rows, ladderRow{ts: e.TS, marker: true, note: "conntrack entry expired (" + e.Flow.Conn.State().String() + " timeout)",
				conntrack: "-", client: l.sock[0], server: l.sock[1]})
			l.lastState, l.lastFlow = "-", 0
		}
	}
}

func (l *ladder) addPacket(e *flowtable.Event, toServer, absolute bool) {
	p := e.Report
	s := &p.TCP
	side := 1
	if toServer {
		side = 0
	}
	// Relative numbers: from each side's initial sequence number. A SYN
	// that conntrack accepts with another one starts the side over (a
	// reused port); one it ignores does not. A SYN-ACK it accepts also
	// names the other side's (conntrack resyncs on it after an ignored
	// SYN). A side first seen mid-stream counts as if its SYN were just
	// before.
	accepted := p.Verdict == fsm.Accept || p.Verdict == fsm.Kill
	switch {
	case s.Flags&fsm.SYN != 0 && (!l.hasBase[side] || accepted):
		l.base[side], l.hasBase[side] = s.Seq, true
		if s.Flags&fsm.ACK != 0 && accepted {
			l.base[1-side], l.hasBase[1-side] = s.Ack-1, true
		}
	case !l.hasBase[side]:
		l.base[side], l.hasBase[side] = s.Seq-1, true
	}
	r := ladderRow{frame: p.Frame, ts: e.TS, toServer: toServer, flags: s.Flags, length: s.PayloadLen, win: s.Window,
		verdict: p.Verdict, reason: p.Reason, also: p.Also, hasAck: s.Flags&fsm.ACK != 0}
	r.seq, r.ack = s.Seq, s.Ack
	if !absolute {
		r.seq -= l.base[side]
		if l.hasBase[1-side] {
			r.ack -= l.base[1-side]
		} else {
			r.ackAbs = true
		}
		switch p.Reason.Code {
		case fsm.ReasonSeqOver, fsm.ReasonSeqUnder: // the sender's sequence space
			r.relBound, r.hasRelBound = p.Reason.Bound-l.base[side], true
		case fsm.ReasonAckOver, fsm.ReasonAckUnder: // the receiver's
			r.relBound, r.hasRelBound = p.Reason.Bound-l.base[1-side], l.hasBase[1-side]
		}
	}
	f := &e.Flow
	l.setSockets(f, e.TS)
	if f.ID != 0 {
		if l.lastFlow != 0 && f.ID != l.lastFlow {
			r.note = "new conntrack entry"
		}
		l.lastFlow = f.ID
		l.lastState = entryText(f)
	}
	switch p.Verdict {
	case fsm.Kill:
		r.note = "entry deleted (RST before any reply)"
		l.lastState, l.lastFlow = "-", 0
		r.conntrack = entryText(f) + " -> deleted"
	default:
		r.conntrack = l.lastState
	}
	r.client, r.server = l.sock[0], l.sock[1]
	l.rows = append(l.rows, r)
}

// setSockets takes both hosts' sockets at now from the flow's host pair,
// when the table keeps them (Config.Hosts); the pair outlives conntrack's
// entries and exists for packets that made none.
func (l *ladder) setSockets(f *flowtable.Flow, now int64) {
	if !f.HasHosts {
		return
	}
	orig, reply := f.Sockets(now)
	if netip.AddrPortFrom(f.Key.SrcAddr(), f.Key.SrcPort) == l.client {
		l.sock = [2]ladderSock{makeLadderSock(orig), makeLadderSock(reply)}
	} else {
		l.sock = [2]ladderSock{makeLadderSock(reply), makeLadderSock(orig)}
	}
}

// entryText is conntrack's state with its flags, as -L shows them.
func entryText(f *flowtable.Flow) string {
	var b strings.Builder
	b.WriteString(f.Conn.State().String())
	st := f.Conn.Status()
	if st&fsm.SeenReply == 0 {
		b.WriteString(" [UNREPLIED]")
	}
	if st&fsm.Assured != 0 {
		b.WriteString(" [ASSURED]")
	}
	return b.String()
}

// verdictText is the verdict column: empty for a plain accept.
func (r *ladderRow) verdictText() string {
	if r.marker {
		return ""
	}
	var b strings.Builder
	switch r.verdict {
	case fsm.Ignore, fsm.Invalid:
		b.WriteString(r.verdict.String())
		b.WriteString(": ")
		b.WriteString(r.reason.String())
		if r.hasRelBound {
			b.WriteString(" [")
			b.WriteString(strconv.FormatUint(uint64(r.relBound), 10))
			b.WriteString(" relative]")
		}
		if r.also.Code != fsm.NoReason {
			b.WriteString("; ")
			b.WriteString(r.also.String())
		}
	}
	if r.note != "" {
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(r.note)
	}
	return b.String()
}
