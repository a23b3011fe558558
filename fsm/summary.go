package fsm

// Summary is a connection seen the way Zeek's conn.log describes it, plus
// per-direction health counters. It is fed every segment of a flow,
// including the ones conntrack rejects (Zeek sees those too), and derives
// Zeek's conn_state, history, payload sizes from sequence numbers and
// content gaps by running the endpoint model of Zeek's TCP analyzer
// (TCPSessionAdapter, TCP_Endpoint, TCP_Reassembler) on headers alone.
//
// Differences from Zeek, by design: checksums are not verified (as zeek -C),
// so 'c' never appears; roles never flip (the originator is whoever sent the
// flow's first packet, as for conntrack), so '^' never appears; payload cut
// by the snapshot length counts as seen; a close is never deferred for
// undelivered data.
//
// It is a plain value with no pointers, so a flow table can keep a slab of
// them; the zero value is ready for the first Observe.
//
// Fields every packet touches come first, here and in zEndpoint: a table
// holds many of these and each packet's cache misses are its cost.
type Summary struct {
	Start int64 // capture time of the first segment (Unix ns)
	Last  int64 // capture time of the last segment

	zLast    int64 // Zeek's last_time: not moved by packets after both sides closed
	histSeen uint32
	histLen  uint8
	partial  bool  // Zeek's is_partial
	zFirst   uint8 // Zeek's first_packet_seen: bit per direction
	started  bool
	hs       hsTimes

	// Dirs holds the counters of each direction: Dirs[Original] for the
	// segments the originator sent.
	Dirs [2]DirStats

	ep   [2]zEndpoint
	hist [histCap]byte
}

// DirStats counts what one direction sent.
type DirStats struct {
	Packets      uint64 // segments seen, whatever conntrack made of them
	IPBytes      uint64 // their IP datagram lengths
	PayloadBytes uint64 // TCP payload carried, repeats included
	Retransmits  uint64 // segments repeating payload already seen
	RetransBytes uint64 // payload bytes that were repeats
	OutOfOrder   uint64 // segments filling a hole below the highest sequence seen
	ZeroWindows  uint64 // zero-window advertisements (Zeek's rule: not with or after a RST, nor after the peer's FIN)
	DupAcks      uint64 // pure ACKs repeating the last ACK and window while the peer has data outstanding
	Gaps         uint64 // content gaps: acknowledged ranges never seen
	MissedBytes  uint64 // their bytes (Zeek's missed_bytes, this direction's share)
	Invalid      uint64 // segments conntrack found invalid
	RTT          int64  // handshake round trip between the capture point and this side (ns), valid when HasRTT
	HasRTT       bool
}

// tooLargeSeqDelta is Zeek's bound on believable sequence jumps for SYNs
// and RSTs (and on a zero ACK being real).
const tooLargeSeqDelta = 1 << 20

// hsTimes remembers the SYN and SYN-ACK for the RTT measurement.
type hsTimes struct {
	synTS, synAckTS   int64
	synSeq, synAckSeq uint32
	phase             uint8 // 0 nothing, 1 SYN seen, 2 SYN-ACK matched it, 3 done
}

// Observe takes one segment that travelled in direction dir, its IP
// datagram length, capture time and what conntrack made of it. It
// allocates nothing and never panics.
func (s *Summary) Observe(dir Dir, seg *Segment, ipLen uint32, ts int64, v Verdict) {
	dir &= 1
	if !s.started {
		s.started = true
		s.Start, s.zLast = ts, ts
		s.ep[0].init()
		s.ep[1].init()
	}
	s.Last = ts
	st := &s.Dirs[dir]
	st.Packets++
	st.IPBytes += uint64(ipLen)
	st.PayloadBytes += uint64(seg.PayloadLen)
	if v == Invalid {
		st.Invalid++
	}
	s.handshakeRTT(dir, seg, ts)
	s.zeek(dir, seg, ts)
}

// handshakeRTT times SYN → SYN-ACK (the responder's side of the capture
// point) and SYN-ACK → ACK (the originator's side). The latest SYN before
// the answer counts: an earlier one was presumably lost past the capture.
func (s *Summary) handshakeRTT(dir Dir, seg *Segment, ts int64) {
	h := &s.hs
	f := seg.Flags & (SYN | ACK | RST | FIN)
	switch {
	case h.phase == 3:
	case dir == Original && f == SYN && h.phase <= 1:
		h.synTS, h.synSeq, h.phase = ts, seg.Seq, 1
	case dir == Reply && f == SYN|ACK && h.phase == 1 && seg.Ack == h.synSeq+1:
		h.synAckTS, h.synAckSeq, h.phase = ts, seg.Seq, 2
		s.Dirs[Reply].RTT, s.Dirs[Reply].HasRTT = ts-h.synTS, true
	case dir == Original && f&(SYN|RST|ACK) == ACK && h.phase == 2 && seg.Ack == h.synAckSeq+1:
		h.phase = 3
		s.Dirs[Original].RTT, s.Dirs[Original].HasRTT = ts-h.synAckTS, true
	}
}

// zeek is TCPSessionAdapter::Process without events, weirds and timers.
func (s *Summary) zeek(dir Dir, seg *Segment, ts int64) {
	isOrig := dir == Original
	ep, peer := &s.ep[dir], &s.ep[dir^1]
	f := seg.Flags
	syn, fin, rst, ack := f&SYN != 0, f&FIN != 0, f&RST != 0, f&ACK != 0
	length := seg.PayloadLen

	s.setPartial(isOrig, syn, ack)

	// Sequence space used: a RST's payload is not part of the stream.
	segLen := length
	if syn {
		segLen++
	}
	if fin {
		segLen++
	}
	if rst {
		segLen -= length
	}
	end := seg.Seq + segLen
	s.initEndpoint(ep, syn, seg.Seq, end)

	relSeq, underflow := relativeSeq(ep, seg.Seq, ep.lastSeq, ep.seqWraps)
	s.history(dir, f, ep, relSeq, length)

	if seg.Window == 0 && !rst && peer.state != zClosed && ep.state != zReset {
		s.Dirs[dir].ZeroWindows++
		s.scaledEntry(dir, 'W', &ep.win0)
	}
	if !s.ep[0].didClose || !s.ep[1].didClose {
		s.zLast = ts
	}
	if fin {
		ep.finCnt++
		ep.finSeq = relSeq + uint64(segLen)
	}

	var relAck uint64
	if ack {
		if peer.state == zInactive {
			relAck = 1
			// Number the peer as though its SYN had been seen.
			peer.initSeqs(int64(seg.Ack-1), seg.Ack-1)
		} else {
			var under bool
			relAck, under = relativeSeq(peer, seg.Ack, peer.ackSeq, peer.ackWraps)
			if under {
				relAck = 0
			} else if !rst {
				d := seqDelta(seg.Ack, peer.ackSeq)
				if !(seg.Ack == 0 && d > tooLargeSeqDelta) && d > 0 {
					peer.updateAck(seg.Ack)
				}
			}
		}
	}

	// Data classification needs the coverage before this segment lands.
	dataSeq := relSeq
	if syn {
		dataSeq++
	}
	if length > 0 && !rst && !underflow {
		s.classifyData(dir, ep, dataSeq, uint64(length))
	}

	s.updateLastSeq(dir, ep, end, syn, fin, rst, length)
	doClose := s.stateMachine(dir, ep, peer, seg)

	if ack {
		s.ackReceived(dir^1, relAck)
		s.dupAck(dir, ep, peer, seg)
	}
	if length > 0 && !rst && !underflow {
		s.dataSent(dir, ep, dataSeq, uint64(length))
	}
	if doClose {
		ep.didClose = true
	}
}

// setPartial is Zeek's SetPartialStatus: a connection is partial unless the
// originator opened with a bare SYN and the responder answered with a SYN.
// Zeek re-evaluates it on every packet of a side until that side's first
// packet is marked seen, which only its handshake-recovery path does.
func (s *Summary) setPartial(isOrig, syn, ack bool) {
	if isOrig {
		if s.zFirst&(1<<Original) == 0 {
			s.partial = !syn || ack
		}
	} else if s.zFirst&(1<<Reply) == 0 && !s.partial {
		s.partial = !syn
	}
}

// updateLastSeq is Zeek's update_last_seq: it advances the endpoint's
// highest sequence and flags a retransmission ('T') when data does not.
func (s *Summary) updateLastSeq(dir Dir, ep *zEndpoint, end uint32, syn, fin, rst bool, length uint32) {
	d := seqDelta(end, ep.lastSeq)
	switch {
	case (syn || rst) && (d > tooLargeSeqDelta || d < -tooLargeSeqDelta):
		// Not believable.
	case fin && ep.lastSeq == ep.startSeq32()+1:
		// Only SYN and FIN seen: take the FIN whatever the jump
		// (connections over 2 GiB).
		ep.updateLast(end)
	case ep.state == zReset:
		// After a RST sequence numbers are not trusted.
	case d > 0:
		ep.updateLast(end)
	case length > 0:
		s.scaledEntry(dir, 'T', &ep.rxmt)
	}
}

// stateMachine is Zeek's UpdateStateMachine; it reports whether this
// packet closes the sender's side (do_close).
func (s *Summary) stateMachine(dir Dir, ep, peer *zEndpoint, seg *Segment) bool {
	f := seg.Flags
	syn, fin, rst, ack := f&SYN != 0, f&FIN != 0, f&RST != 0, f&ACK != 0
	isOrig := dir == Original
	doClose := false
	switch ep.state {
	case zInactive:
		if syn {
			switch {
			case isOrig && ack:
				ep.setState(zSynAckSent)
			case isOrig:
				ep.setState(zSynSent)
			default:
				// A SYN from the responder establishes both sides
				// when the originator's SYN was seen. (Zeek's role
				// flip for a SYN answering a lone SYN-ACK cannot
				// arise: an originator never starts with a SYN-ACK
				// here.)
				if peer.state == zSynSent {
					peer.setState(zEstablished)
				}
				ep.setState(zEstablished)
			}
		}
		if fin {
			ep.setState(zClosed)
			doClose = true
		}
		if rst {
			ep.setState(zReset)
			doClose = true
		}
		if ep.state == zInactive {
			switch {
			case !isOrig && seg.PayloadLen == 0 && s.ep[Original].state == zSynSent:
				// Some stacks ACK a SYN before answering it: not
				// yet a partial connection.
			case ack && peer.state == zEstablished:
				// SYN-ACK seen, SYN missed: this ACK completes it.
				ep.setState(zEstablished)
				s.partial = false
				s.zFirst |= 1 << dir
			default:
				ep.setState(zPartial)
			}
		}
	case zSynSent, zSynAckSent:
		if fin {
			ep.setState(zClosed)
			doClose = true
		}
		if rst {
			ep.setState(zReset)
			doClose = true
		}
	case zEstablished, zPartial:
		if syn && ep.state == zPartial && peer.state == zInactive && !ack {
			ep.setState(zSynSent)
		}
		if fin && !rst {
			ep.setState(zClosed)
			if peer.state == zReset && peer.prev == zClosed {
				// FIN then RST from the peer was a normal close.
				peer.setState(zClosed)
			}
			doClose = true
		}
		if rst {
			ep.setState(zReset)
			doClose = true
		}
	case zClosed:
		if rst && peer.state != zClosed {
			ep.setState(zReset)
			if !ep.didClose {
				doClose = true
			}
		}
	case zReset:
		// Nothing changes after a RST.
	}
	return doClose
}

// dupAck counts a pure ACK that repeats this side's last ACK number and
// window while the peer has unacknowledged data in flight.
func (s *Summary) dupAck(dir Dir, ep, peer *zEndpoint, seg *Segment) {
	pure := seg.PayloadLen == 0 && seg.Flags&(SYN|FIN|RST) == 0
	outstanding := peer.state != zInactive && after(peer.lastSeq, seg.Ack)
	if pure && ep.ackSeen && seg.Ack == ep.lastAck && seg.Window == ep.lastWin && outstanding {
		s.Dirs[dir].DupAcks++
	}
	ep.lastAck, ep.lastWin, ep.ackSeen = seg.Ack, seg.Window, true
}

// PayloadBytes is what dir sent according to sequence numbers (Zeek's
// orig_bytes/resp_bytes): the highest sequence sent or acknowledged, less
// SYN and FIN. Repeats are not counted; gaps are.
func (s *Summary) PayloadBytes(dir Dir) uint64 { return s.size(dir & 1) }

// MissedBytes is Zeek's missed_bytes: both directions' content gaps.
func (s *Summary) MissedBytes() uint64 {
	return s.Dirs[Original].MissedBytes + s.Dirs[Reply].MissedBytes
}

// Duration is Zeek's duration: first packet to the last one before both
// sides had closed (trailing ACKs do not count), in nanoseconds.
func (s *Summary) Duration() int64 { return s.zLast - s.Start }
