package fsm

// Endpoint inference: each side's socket state as netstat on that host would
// show it, from what each side sent and what the other acknowledged
// (RFC 9293 §3.3.2 with Linux's names). This machine is separate from
// conntrack's table: conntrack keeps one state per connection and never
// checks that an ACK covers a FIN; here every close step needs that evidence.
//
// A segment seen on the wire is assumed to reach its receiver. Segments that
// conntrack judged Invalid (or a Reopen) never get here. Ignored ones do,
// except bare SYNs and RSTs, because the second SYN-ACK of a simultaneous
// open is ignored by conntrack yet completes the handshake. Every rule is
// idempotent, so retransmissions cannot advance a side twice.

// epFlags records what an endpoint has sent.
type epFlags uint8

const (
	epSentSYN epFlags = 1 << iota // synEnd valid
	epSentFIN                     // finEnd valid
)

// endpoint is one side's inferred socket, as the rules work on it; Conn
// stores its parts in separate arrays (see loadEndpoint).
type endpoint struct {
	epSeqs
	state SockState
	flags epFlags
}

// epSeqs are the sequence numbers an endpoint's close steps are checked
// against.
type epSeqs struct {
	synEnd uint32 // sequence number just past its SYN (ISN+1)
	finEnd uint32 // sequence number just past its FIN
}

func (c *Conn) loadEndpoint(d Dir) endpoint {
	return endpoint{epSeqs: c.epSeq[d], state: c.epState[d], flags: c.epFlags[d]}
}

func (c *Conn) storeEndpoint(d Dir, e endpoint) {
	c.epSeq[d], c.epState[d], c.epFlags[d] = e.epSeqs, e.state, e.flags
}

// epEvent is one thing that happened to an endpoint.
type epEvent uint8

const (
	epSendSYN        epEvent = iota // it sent a SYN without ACK
	epSendSYNACK                    // it sent a SYN-ACK
	epSendFIN                       // it sent a FIN (acknowledging the peer's FIN, if any)
	epSendFINCrossed                // it sent a FIN that does not acknowledge the peer's FIN: simultaneous close
	epSendRST                       // it sent a RST
	epRecvSYN                       // a bare SYN reached it
	epRecvSYNACK                    // a SYN-ACK acknowledging its SYN reached it
	epRecvAckOfSYN                  // an ACK covering its SYN reached it
	epRecvAckOfFIN                  // an ACK covering its FIN reached it
	epRecvFIN                       // a FIN reached it
	epRecvRST                       // a RST that conntrack accepted as closing reached it
	numEpEvents
)

// Column order of epTransitions.
const (
	kUN = SockUnknown
	kSS = SockSynSent
	kSR = SockSynRecv
	kES = SockEstablished
	kF1 = SockFinWait1
	kF2 = SockFinWait2
	kCG = SockClosing
	kTW = SockTimeWait
	kCW = SockCloseWait
	kLA = SockLastAck
	kCL = SockClose
	k__ = SockUnknown // no change (Unknown is never a target)
)

// epTransitions[event][state] is the next state; k__ keeps the current one.
// Read-only.
var epTransitions = [numEpEvents][numSockStates]SockState{
	//                 kUN  kSS  kSR  kES  kF1  kF2  kCG  kTW  kCW  kLA  kCL
	epSendSYN:        {kSS, k__, k__, k__, k__, k__, k__, k__, k__, k__, kSS},
	epSendSYNACK:     {kSR, kSR, k__, k__, k__, k__, k__, k__, k__, k__, k__},
	epSendFIN:        {kF1, k__, kF1, kF1, k__, k__, k__, k__, kLA, k__, k__},
	epSendFINCrossed: {kF1, k__, kF1, kF1, k__, k__, k__, k__, kCG, k__, k__},
	epSendRST:        {kCL, kCL, kCL, kCL, kCL, kCL, kCL, kCL, kCL, kCL, k__},
	epRecvSYN:        {k__, kSR, k__, k__, k__, k__, k__, k__, k__, k__, k__},
	epRecvSYNACK:     {k__, kES, kES, k__, k__, k__, k__, k__, k__, k__, k__},
	epRecvAckOfSYN:   {k__, k__, kES, k__, k__, k__, k__, k__, k__, k__, k__},
	epRecvAckOfFIN:   {k__, k__, k__, k__, kF2, k__, kTW, k__, k__, kCL, k__},
	epRecvFIN:        {k__, k__, k__, kCW, kCG, kTW, k__, k__, k__, k__, k__},
	epRecvRST:        {k__, kCL, kCL, kCL, kCL, kCL, kCL, kCL, kCL, kCL, k__},
}

func (e *endpoint) apply(ev epEvent) {
	if e.state < numSockStates {
		if n := epTransitions[ev][e.state]; n != k__ {
			e.state = n
		}
	}
}

// updateEndpoints advances both sides for a segment from dir. rstClosed says
// conntrack took a RST as closing the connection; a RST it kept the state
// for (waiting for the exact one after a challenge ACK) closes only its
// sender.
func (c *Conn) updateEndpoints(dir Dir, s *Segment, v Verdict, rstClosed bool) {
	x, y := c.loadEndpoint(dir), c.loadEndpoint(dir^1) // sender, receiver
	stepEndpoints(&x, &y, s, v, rstClosed)
	c.storeEndpoint(dir, x)
	c.storeEndpoint(dir^1, y)
}

// stepEndpoints is updateEndpoints on the sender x and the receiver y.
func stepEndpoints(x, y *endpoint, s *Segment, v Verdict, rstClosed bool) {
	f := s.Flags
	switch {
	case f&RST != 0:
		if v == Ignore {
			return // out of window: proves nothing
		}
		x.apply(epSendRST)
		if rstClosed {
			y.apply(epRecvRST)
		}
		return
	case f&SYN != 0 && f&ACK == 0:
		if v == Ignore {
			// A SYN conntrack ignored (port reuse, an out-of-sync entry)
			// may be refused; the SYN-ACK that answers it resyncs.
			return
		}
		x.synEnd = s.Seq + 1
		x.flags |= epSentSYN
		x.apply(epSendSYN)
		if y.state == SockSynSent {
			// Crossing SYNs: the peer's SYN reaches this side too.
			x.apply(epRecvSYN)
		}
		y.apply(epRecvSYN)
		return
	case f&SYN != 0:
		x.synEnd = s.Seq + 1
		x.flags |= epSentSYN
		x.apply(epSendSYNACK)
		if y.flags&epSentSYN != 0 && !before(s.Ack, y.synEnd) {
			y.apply(epRecvSYNACK)
		}
		return
	}
	if f&ACK != 0 {
		if y.flags&epSentSYN != 0 && !before(s.Ack, y.synEnd) {
			y.apply(epRecvAckOfSYN)
		}
		if y.flags&epSentFIN != 0 && !before(s.Ack, y.finEnd) {
			y.apply(epRecvAckOfFIN)
		}
	}
	if f&FIN != 0 {
		ev := epSendFIN
		if y.flags&epSentFIN != 0 && before(s.Ack, y.finEnd) {
			ev = epSendFINCrossed
		}
		if x.flags&epSentFIN == 0 {
			x.finEnd = s.End()
			x.flags |= epSentFIN
		}
		x.apply(ev)
		y.apply(epRecvFIN)
	}
}

// resyncEndpoints restarts both sides when conntrack resynchronises on a
// SYN-ACK that answers a SYN it had ignored: the SYN's sender opened anew.
func (c *Conn) resyncEndpoints(dir Dir) {
	c.storeEndpoint(c.lastDir, endpoint{epSeqs: epSeqs{synEnd: c.lastSeq + 1}, state: SockSynSent, flags: epSentSYN})
	c.storeEndpoint(dir, endpoint{})
}
