package main

import (
	"encoding/binary"
	"math/rand/v2"
)

// connKind is the life story of one generated connection.
type connKind uint8

const (
	kindShort       connKind = iota // handshake, request, response, FIN close from either side
	kindBulk                        // long transfer of MSS-sized segments in bursts, ACKed per burst
	kindInteractive                 // many small request/response rounds (ssh, database protocols)
	kindHalfClose                   // client shuts its write side, server keeps sending, then closes
	kindAborted                     // a few rounds, then RST from either side
	kindRefused                     // SYN answered by RST/ACK
	kindUnanswered                  // SYN retransmitted, never answered
	numKinds
)

var kindNames = [numKinds]string{"short", "bulk", "interactive", "halfclose", "aborted", "refused", "unanswered"}

func (k connKind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "kind?"
}

type side uint8

const (
	client side = 0
	server side = 1
)

// TCP options a connection negotiated (the server mirrors what the client offers).
const (
	optTS   = 1 << iota // RFC 7323 timestamps
	optWS               // window scaling
	optSACK             // SACK permitted
)

type phase uint8

const (
	phOpen phase = iota
	phRequest
	phData
	phClose
	phDone
)

type actKind uint8

const (
	actSegment actKind = iota // a new segment at the sender's next sequence number
	actRetrans                // the sender's previous segment again, byte for byte in sequence space
	actRSTZero                // RST/ACK with sequence 0: refusing a SYN
)

// action is one packet a connection will emit next.
type action struct {
	kind  actKind
	from  side
	flags uint8
	n     uint16 // payload bytes
}

// endpoint is one side's sequence-space and option state.
type endpoint struct {
	l2       l2 // addresses as seen when this side sends
	port     uint16
	nxt      uint32 // next sequence number to send
	rcv      uint32 // next sequence number expected from the peer: what we ACK
	synWin   uint16 // raw window in SYN / SYN-ACK (never scaled)
	win      uint16 // raw window afterwards (scaled by wscale when negotiated)
	wscale   uint8
	tsBase   uint32
	tsRecent uint32 // peer's last TSval, echoed in TSecr
	lastSeq  uint32 // previous segment, for retransmissions
	lastLen  uint16
	lastFlag uint8
}

// queueCap bounds what plan enqueues at once (a burst of 8 data segments,
// each possibly retransmitted, plus the ACK).
const queueCap = 32

// conn is a connection being generated. It is a value type held in a slot
// array, reset in place for each new connection.
type conn struct {
	kind      connKind
	opts      uint8
	phase     phase
	mss       uint16 // payload bytes per full segment (MSS minus options)
	ep        [2]endpoint
	q         [queueCap]action
	qHead     int
	qLen      int
	remaining int  // bulk/half-close bytes still to send, or rounds left
	bulkFrom  side // who sends the bulk data
	closer    side // who sends the first FIN
	retrans   float64
}

func (c *conn) push(a action) {
	c.q[(c.qHead+c.qLen)%queueCap] = a
	c.qLen++
}

func (c *conn) pop() action {
	a := c.q[c.qHead]
	c.qHead = (c.qHead + 1) % queueCap
	c.qLen--
	return a
}

func (c *conn) seg(from side, flags uint8, n int) {
	c.push(action{kind: actSegment, from: from, flags: flags, n: uint16(n)})
}

// data enqueues a data segment and, now and then, its duplicate (a
// retransmission as a capture on the path shows it).
func (c *conn) data(r *rand.Rand, from side, flags uint8, n int) {
	c.seg(from, flags, n)
	if r.Float64() < c.retrans {
		c.push(action{kind: actRetrans, from: from})
	}
}

// burst enqueues up to max full segments from one side and the peer's ACK
// for all of them; it keeps in-flight data (8 × MSS) well inside any window
// we advertise, so a window-checking tracker accepts every segment.
func (c *conn) burst(r *rand.Rand, from side, max int) {
	b := 1 + r.IntN(max)
	for i := 0; i < b && c.remaining > 0; i++ {
		n := min(int(c.mss), c.remaining)
		c.remaining -= n
		f := uint8(flagACK)
		if c.remaining == 0 || i == b-1 {
			f |= flagPSH
		}
		c.data(r, from, f, n)
	}
	c.seg(1-from, flagACK, 0)
}

// plan enqueues the next few packets of the connection's script.
func (c *conn) plan(r *rand.Rand) {
	switch c.phase {
	case phOpen:
		c.seg(client, flagSYN, 0)
		switch c.kind {
		case kindRefused:
			c.push(action{kind: actRSTZero, from: server, flags: flagRST | flagACK})
			c.phase = phDone
			return
		case kindUnanswered:
			for i := r.IntN(4); i > 0; i-- {
				c.push(action{kind: actRetrans, from: client})
			}
			c.phase = phDone
			return
		}
		c.seg(server, flagSYN|flagACK, 0)
		c.seg(client, flagACK, 0)
		c.phase = phRequest
	case phRequest:
		c.data(r, client, flagPSH|flagACK, 30+r.IntN(250))
		c.phase = phData
		switch c.kind {
		case kindShort:
			c.remaining = responseSize(r)
		case kindBulk:
			c.bulkFrom = server
			if r.IntN(5) == 0 {
				c.bulkFrom = client // an upload
				c.seg(server, flagACK, 0)
			}
			c.remaining = int(c.mss) * (10 + r.IntN(1500))
		case kindInteractive:
			c.remaining = 20 + r.IntN(200)
		case kindHalfClose:
			c.seg(client, flagFIN|flagACK, 0)
			c.seg(server, flagACK, 0)
			c.remaining = responseSize(r) + responseSize(r)
		case kindAborted:
			c.seg(server, flagPSH|flagACK, 20+r.IntN(400))
			c.seg(client, flagACK, 0)
			c.remaining = 1 + r.IntN(5)
		}
	case phData:
		switch c.kind {
		case kindShort:
			c.burst(r, server, 3)
		case kindBulk:
			c.burst(r, c.bulkFrom, 8)
		case kindHalfClose:
			c.burst(r, server, 4)
			if c.remaining == 0 {
				c.seg(server, flagFIN|flagACK, 0)
				c.seg(client, flagACK, 0)
				c.phase = phDone
			}
			return
		case kindInteractive:
			c.data(r, client, flagPSH|flagACK, 1+r.IntN(64))
			c.data(r, server, flagPSH|flagACK, 1+r.IntN(200))
			if r.IntN(2) == 0 {
				c.seg(client, flagACK, 0)
			}
			c.remaining--
		case kindAborted:
			c.data(r, client, flagPSH|flagACK, 1+r.IntN(200))
			c.data(r, server, flagPSH|flagACK, 1+r.IntN(800))
			c.seg(client, flagACK, 0)
			c.remaining--
			if c.remaining == 0 {
				// Everything sent is ACKed, so the RST carries exactly the
				// sequence number the peer expects (what Linux sends on abort).
				f := uint8(flagRST | flagACK)
				if r.IntN(3) == 0 {
					f = flagRST
				}
				c.seg(side(r.IntN(2)), f, 0)
				c.phase = phDone
			}
			return
		}
		if c.remaining <= 0 {
			c.phase = phClose
		}
	case phClose:
		x := c.closer
		y := 1 - x
		c.seg(x, flagFIN|flagACK, 0)
		if r.IntN(5) < 3 {
			c.seg(y, flagFIN|flagACK, 0)
		} else {
			c.seg(y, flagACK, 0)
			c.seg(y, flagFIN|flagACK, 0)
		}
		c.seg(x, flagACK, 0)
		c.phase = phDone
	}
}

// responseSize draws a response length: mostly API-sized answers that fit
// one segment, a few multi-segment pages. It keeps the default capture near
// 100 bytes per packet, so 10 M packets stay about 1 GB.
func responseSize(r *rand.Rand) int {
	switch x := r.IntN(100); {
	case x < 70:
		return 40 + r.IntN(400)
	case x < 95:
		return 440 + r.IntN(960)
	default:
		return 1400 + r.IntN(6000)
	}
}

// next returns the next action, or false when the connection is finished.
func (c *conn) next(r *rand.Rand) (action, bool) {
	for c.qLen == 0 {
		if c.phase == phDone {
			return action{}, false
		}
		c.plan(r)
	}
	return c.pop(), true
}

// emit turns an action into a frame at time tsNanos, updating both
// endpoints' sequence state as the packet "arrives".
func (c *conn) emit(fb *frameBuilder, a action, tsNanos int64, payloadPool []byte, poolOff int) []byte {
	s, p := &c.ep[a.from], &c.ep[1-a.from]
	flags, n := a.flags, a.n
	var seq uint32
	switch a.kind {
	case actRetrans:
		seq, n, flags = s.lastSeq, s.lastLen, s.lastFlag
	case actRSTZero:
		seq = 0
	default:
		seq = s.nxt
		s.lastSeq, s.lastLen, s.lastFlag = seq, n, flags
		s.nxt += uint32(n)
		if flags&(flagSYN|flagFIN) != 0 {
			s.nxt++
		}
	}
	var ack uint32
	if flags&flagACK != 0 {
		ack = s.rcv
	}
	switch {
	case flags&flagSYN != 0:
		p.rcv = seq + 1
	case flags&flagRST == 0:
		end := seq + uint32(n)
		if flags&flagFIN != 0 {
			end++
		}
		if int32(end-p.rcv) > 0 {
			p.rcv = end
		}
	}
	win := s.win
	if flags&flagSYN != 0 {
		win = s.synWin
	} else if flags&flagRST != 0 {
		win = 0
	}
	opts := c.options(fb, s, p, flags, tsNanos)
	s.l2.ipID++
	return fb.tcp(&s.l2, s.port, p.port, seq, ack, flags, win, opts, payloadPool[poolOff:poolOff+int(n)])
}

// options writes the TCP options Linux would put on this segment.
func (c *conn) options(fb *frameBuilder, s, p *endpoint, flags uint8, tsNanos int64) []byte {
	o := fb.opts[:0]
	if flags&flagRST != 0 {
		return o
	}
	tsval := s.tsBase + uint32(tsNanos/1e6)
	if flags&flagSYN != 0 {
		mss := c.mss
		if c.opts&optTS != 0 {
			mss += 12
		}
		o = append(o, 2, 4, byte(mss>>8), byte(mss))
		switch {
		case c.opts&optTS != 0:
			if c.opts&optSACK != 0 {
				o = append(o, 4, 2)
			} else {
				o = append(o, 1, 1)
			}
			o = appendTS(o, tsval, s.tsRecent)
			if c.opts&optWS != 0 {
				o = append(o, 1, 3, 3, s.wscale)
			}
		case c.opts&optWS != 0: // the Windows layout: MSS, NOP, WS, NOP, NOP, SACK-perm
			o = append(o, 1, 3, 3, s.wscale)
			if c.opts&optSACK != 0 {
				o = append(o, 1, 1, 4, 2)
			}
		}
		p.tsRecent = tsval
		return o
	}
	if c.opts&optTS != 0 {
		o = append(o, 1, 1)
		o = appendTS(o, tsval, s.tsRecent)
		p.tsRecent = tsval
	}
	return o
}

func appendTS(o []byte, val, ecr uint32) []byte {
	o = append(o, 8, 10)
	o = binary.BigEndian.AppendUint32(o, val)
	return binary.BigEndian.AppendUint32(o, ecr)
}
