package zeek

import (
	"net/netip"

	"github.com/tcptrack/tcptrack/fsm"
)

// conn is one Zeek connection record in the making: Zeek's Connection
// (addresses as Zeek orients them, start and last time, history) with its
// TCP session adapter (the two endpoints, timers, close bookkeeping).
type conn struct {
	t              *Tracker
	key            connKey
	slot           int32
	gen            uint32 // bumped when the slot is freed: timers of old connections are ignored
	orig, resp     netip.AddrPort
	start          int64 // first packet (start_time)
	last           int64 // last packet that counts for the duration (last_time)
	eps            [2]endpoint
	o, r           *endpoint // originator and responder, swapped by a flip
	hist           []byte
	histSeen       uint32
	missed         uint64
	partial        bool  // is_partial: began without a proper SYN
	firstSeen      uint8 // first_packet_seen: bit 1 originator, bit 2 responder
	active         bool  // is_active: no finish or reset reported yet
	pendingTimeout int64 // set by connection_established; applied after the packet, as Zeek runs events then

	closeDeferred    bool
	deferredGenEvent bool

	inactivity      int64  // current inactivity timeout, ns
	analyzerEpoch   uint32 // bumped by cancelTimers: the TCP analyzer's timers
	inactivityEpoch uint32

	encap         uint64 // tunnel stack the last packet came through (0: none)
	tunnelChanges uint8
}

const (
	firstOrig = 1
	firstResp = 2
)

func (c *conn) setFirstPacketSeen(isOrig bool) {
	if isOrig {
		c.firstSeen |= firstOrig
	} else {
		c.firstSeen |= firstResp
	}
}

// flipRoles swaps originator and responder (Connection::FlipRoles with the
// TCP adapter's and the size analyzer's parts).
func (c *conn) flipRoles() {
	c.orig, c.resp = c.resp, c.orig
	c.o, c.r = c.r, c.o
	c.o.isOrig, c.r.isOrig = true, false
	f := c.firstSeen
	c.firstSeen = 0
	if f&firstOrig != 0 {
		c.firstSeen |= firstResp
	}
	if f&firstResp != 0 {
		c.firstSeen |= firstOrig
	}
	c.partial = false
	c.hist = append(c.hist, '^')
}

// segmentLen is the sequence space a segment occupies: payload plus SYN
// and FIN; a RST's payload is not part of the stream.
func segmentLen(n uint32, f fsm.Flags) uint32 {
	l := n
	if f&fsm.SYN != 0 {
		l++
	}
	if f&fsm.FIN != 0 {
		l++
	}
	if f&fsm.RST != 0 {
		l -= n
	}
	return l
}

// initEndpoint sets up e's sequence numbers from its first segment, or
// resets them for a SYN that starts over (init_endpoint).
func initEndpoint(e *endpoint, f fsm.Flags, seq, end uint32) {
	syn := f&fsm.SYN != 0
	switch e.state {
	case Inactive:
		if syn {
			e.initSeqs(int64(seq), seq, end)
		} else {
			// Mid-stream: number as if a SYN had come just before, so
			// relative numbers stay consistent; the segment itself is not a
			// repeat.
			e.initSeqs(int64(seq-1), seq-1, seq)
		}
	case SynSent, SynAckSent:
		if syn && seq != e.startSeq32() {
			e.initSeqs(int64(seq), seq, end)
		}
	case Established, Partial:
		if syn {
			e.initSeqs(int64(seq), seq, end)
		}
	case Reset:
		// A SYN after a RST that was the endpoint's first packet: the RST
		// may have been forged; trust the SYN's numbers.
		if syn && e.prevState == Inactive {
			e.initSeqs(int64(seq), seq, end)
		}
	}
}

// relativeSeq places cur (an endpoint's sequence or acknowledgement
// number) in the endpoint's 64-bit relative space, counting a wrap when it
// crossed 2^32 going forward from last. underflow: before the start.
func relativeSeq(e *endpoint, cur, last, wraps uint32) (rel uint64, underflow bool) {
	d := seqDelta(cur, last)
	if d < 0 {
		if wraps > 0 && cur > last {
			wraps-- // from the previous 32-bit round
		}
	} else if d > 0 && cur < last {
		wraps++
	}
	if wraps == 0 {
		d = seqDelta(cur, e.startSeq32())
		return uint64(int64(d)), d < 0
	}
	return e.relative(cur, wraps), false
}

// updateLastSeq advances the highest sequence number sent, or counts a
// retransmission (update_last_seq); it returns how far end is past it.
func (c *conn) updateLastSeq(e *endpoint, end uint32, f fsm.Flags, n uint32) int32 {
	d := seqDelta(end, e.lastSeq)
	switch {
	case f&(fsm.SYN|fsm.RST) != 0 && (d > tooLargeSeqDelta || d < -tooLargeSeqDelta):
		// Implausible jump on a SYN or RST: ignore.
	case f&fsm.FIN != 0 && e.lastSeq == e.startSeq32()+1:
		// Only the SYN and now the FIN seen: take the FIN's number even if
		// it looks backwards (a connection of more than 2 GB).
		e.updateLastSeq(end)
	case e.state == Reset:
		// After its RST, an endpoint's sequence numbers are not trusted.
	case d > 0:
		e.updateLastSeq(end)
	case n > 0:
		c.scaledHistory(e, &e.rexmits, 'T')
	}
	return d
}

func (c *conn) updateAckSeq(e *endpoint, ack uint32) {
	d := seqDelta(ack, e.ackSeq)
	if ack == 0 && d > tooLargeSeqDelta {
		return // a broken zero ack rather than a wrap onto 0
	}
	if d > 0 {
		e.updateAckSeq(ack)
	}
}

// setState moves e to s; leaving the handshake switches the connection to
// the TCP inactivity timeout (TCP_Endpoint::SetState).
func (c *conn) setState(e *endpoint, s EndpointState) {
	if s == e.state {
		return
	}
	if !s.handshaking() && e.state.handshaking() && e.peer.state.handshaking() {
		c.setInactivityTimeout(c.t.to.TCPInactivity)
	}
	e.prevState, e.state = e.state, s
}

// process is the TCP analyzer's work on one segment that passed its header
// and checksum checks (TCPSessionAdapter::Process). isOrig is the
// direction as it was when the packet arrived; like Zeek, it is not
// updated when the segment flips the connection.
func (c *conn) process(isOrig bool, p *Packet) {
	s := &p.TCP
	f := s.Flags
	e, peer := c.o, c.r
	if !isOrig {
		e, peer = c.r, c.o
	}
	c.setPartialStatus(f, e.isOrig)

	n := s.PayloadLen
	segLen := segmentLen(n, f)
	end := s.Seq + segLen
	initEndpoint(e, f, s.Seq, end)
	relSeq, underflow := relativeSeq(e, s.Seq, e.lastSeq, e.seqWraps)

	c.updateHistory(f, e, relSeq, n)
	// A zero window counts unless it comes with or after a RST, or after
	// the peer's FIN (then no window matters).
	if s.Window == 0 && f&fsm.RST == 0 && e.peer.state != Closed && e.state != Reset {
		c.scaledHistory(e, &e.zeroWins, 'W')
	}
	if !c.o.didClose || !c.r.didClose {
		c.last = p.TS
	}
	if f&fsm.FIN != 0 {
		e.finCount++
		e.finSeq = relSeq + uint64(segLen)
	}
	if f&fsm.RST != 0 {
		e.rstCount++
	}

	var relAck uint64
	if f&fsm.ACK != 0 {
		if peer.state == Inactive {
			// First sign of the peer: number its space as if its SYN had
			// been just before what we acknowledge.
			relAck = 1
			peer.initSeqs(int64(s.Ack-1), s.Ack-1, s.Ack-1)
		} else {
			var under bool
			relAck, under = relativeSeq(peer, s.Ack, peer.ackSeq, peer.ackWraps)
			if under {
				relAck = 0
			} else if f&fsm.RST == 0 { // a RST's ack is not trusted
				c.updateAckSeq(peer, s.Ack)
			}
		}
	}

	deltaLast := c.updateLastSeq(e, end, f, n)
	doClose, genEvent := c.stateMachine(p.TS, e, peer, s, deltaLast, isOrig)
	if f&fsm.ACK != 0 {
		// After the state machine: a gap revealed by the ACK of a FIN or RST
		// is then judged in the closed state.
		c.ackReceived(peer, relAck)
	}
	c.firstPacket(isOrig)

	dataSeq := relSeq
	if f&fsm.SYN != 0 {
		dataSeq++
	}
	if n > 0 && f&fsm.RST == 0 && !underflow && p.Captured >= n {
		// Payload cut by the snapshot length is not reassembled: Zeek sees
		// a gap there once it is acknowledged.
		c.dataSent(e, dataSeq, uint64(n))
	}
	c.checkEOF(e)
	if doClose {
		c.connectionClosed(e, peer, genEvent)
	}
}

// setPartialStatus: a connection whose first packet from the originator
// is not a bare SYN, or whose responder's first packet is no SYN, is
// partial.
func (c *conn) setPartialStatus(f fsm.Flags, isOrig bool) {
	syn, ack := f&fsm.SYN != 0, f&fsm.ACK != 0
	if isOrig {
		if c.firstSeen&firstOrig == 0 {
			c.partial = !syn || ack
		}
	} else if c.firstSeen&firstResp == 0 && !c.partial {
		c.partial = !syn
	}
}

func (c *conn) firstPacket(isOrig bool) {
	c.setFirstPacketSeen(isOrig)
}

// stateMachine advances e's state for segment s (UpdateStateMachine and
// the Update*State functions); it reports whether e's side closed and
// whether that is worth a finished event.
func (c *conn) stateMachine(ts int64, e, peer *endpoint, s *fsm.Segment, deltaLast int32, isOrig bool) (doClose, genEvent bool) {
	f := s.Flags
	syn, fin, rst, ack := f&fsm.SYN != 0, f&fsm.FIN != 0, f&fsm.RST != 0, f&fsm.ACK != 0
	switch e.state {
	case Inactive:
		if syn {
			if isOrig {
				if ack {
					c.setState(e, SynAckSent)
				} else {
					c.setState(e, SynSent)
				}
				c.addTimer(ts+c.t.to.AttemptDelay, timerAttempt)
			} else {
				if !ack && peer.state == SynAckSent && s.Seq == e.startSeq32() {
					// The SYN-ACK was seen before its SYN (capture
					// reordering): flip, and the handshake is complete.
					c.partial = false
					c.flipRoles()
					c.setState(peer, Established)
					c.setFirstPacketSeen(true)
				}
				if peer.state == SynSent {
					c.setState(peer, Established)
				}
				c.setState(e, Established)
				if peer.state != Partial {
					c.connectionEstablished()
				}
			}
		}
		if fin {
			c.setState(e, Closed)
			doClose, genEvent = true, true
		}
		if rst {
			c.setState(e, Reset)
			reject := false
			if isOrig {
				// A SYN-ACK seen but no SYN, then a RST: a reverse scan.
				reject = peer.state == Established
			} else {
				reject = peer.state == SynSent || peer.state == SynAckSent
			}
			doClose, genEvent = true, !reject
		}
		if e.state == Inactive {
			switch {
			case !isOrig && s.PayloadLen == 0 && c.o.state == SynSent:
				// An ACK of a SYN before the SYN-ACK: not a partial
				// connection.
			case ack && peer.state == Established:
				// SYN-ACK seen, the SYN missed, now the ACK: established.
				c.setState(e, Established)
				c.partial = false
				c.setFirstPacketSeen(isOrig)
			default:
				c.setState(e, Partial)
			}
		}
	case SynSent, SynAckSent:
		if fin {
			c.setState(e, Closed)
			doClose, genEvent = true, true
		}
		if rst {
			c.setState(e, Reset)
			c.active = false
			doClose = true
		}
	case Established, Partial:
		if syn && e.state == Partial && peer.state == Inactive && !ack {
			c.setState(e, SynSent)
		}
		if fin && !rst {
			c.setState(e, Closed)
			if peer.state == Reset && peer.prevState == Closed {
				// The peer's FIN then RST was a normal close after all.
				c.setState(peer, Closed)
			}
			doClose, genEvent = true, true
		}
		if rst {
			c.setState(e, Reset)
			doClose = true
			if peer.state != Reset || peer.prevState != Established {
				c.active = false
			}
		}
	case Closed:
		// After both FINs a RST changes nothing; after only ours it does.
		if rst && e.peer.state != Closed {
			c.setState(e, Reset)
			if !e.didClose {
				doClose = true
			}
		}
	case Reset:
	}
	return doClose, genEvent
}

// connectionEstablished is the base scripts' connection_established
// handler (base/protocols/conn/inactivity.zeek): interactive services get
// a longer inactivity timeout. Zeek runs it after the packet, so the
// timeout is applied then.
func (c *conn) connectionEstablished() {
	port := c.resp.Port()
	if c.o.state == Inactive && !c.t.ports.Has(port) && c.t.ports.Has(c.orig.Port()) {
		// Half-established (no SYN seen): the originator's well-known port
		// names the service.
		port = c.orig.Port()
	}
	if d, ok := c.t.portTimeout(port); ok {
		c.pendingTimeout = d
	}
}

// connectionClosed handles e's FIN or RST once its data is all delivered
// (ConnectionClosed): a complete close schedules the removal
// tcp_close_delay after the last packet; a half close waits for the other
// side.
func (c *conn) connectionClosed(e, peer *endpoint, genEvent bool) {
	if e.dataPending() {
		c.closeDeferred = true
		if !c.deferredGenEvent {
			c.deferredGenEvent = genEvent
		}
		return
	}
	c.closeDeferred = false
	if e.didClose {
		return
	}
	e.didClose = true
	if e.state == Reset || peer.didClose || peer.state == Inactive {
		if e.prevState != Inactive || peer.state != Inactive {
			if c.deferredGenEvent {
				genEvent = true
				c.deferredGenEvent = false
			}
			if genEvent {
				c.active = false // connection_finished / half_finished
			}
		}
		c.cancelTimers()
		c.addTimer(c.last+c.t.to.CloseDelay, timerDelete)
	} else if e.prevState != Inactive {
		c.addTimer(c.last+c.t.to.SessionTimer, timerExpire)
	}
}
