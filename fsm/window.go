package fsm

// peerFlags are the kernel's per-direction IP_CT_TCP_FLAG_* bits, with the
// same values, so that the resync path can copy last_flags into a side's
// flags exactly as the kernel does.
type peerFlags uint8

const (
	flagWindowScale      peerFlags = 0x01 // sent the window-scale option in its SYN
	flagSackPerm         peerFlags = 0x02 // sent SACK-permitted: its peer's SACK blocks count
	flagCloseInit        peerFlags = 0x04 // this side's FIN moved the entry to FIN_WAIT
	flagBeLiberal        peerFlags = 0x08 // window failures from this side are accepted (pickup)
	flagDataUnack        peerFlags = 0x10 // sent data not yet acknowledged
	flagMaxAckSet        peerFlags = 0x20 // tdMaxAck is valid
	flagChallengeAck     peerFlags = 0x40 // last_flags only: an RFC 5961 challenge ACK may follow
	flagSimultaneousOpen peerFlags = 0x80 // last_flags only: both sides sent a bare SYN
)

// maxWScale is RFC 7323's limit; larger shift counts are clamped to it.
const maxWScale = 14

// maxAckWinConst is the kernel's MAXACKWINCONST: the minimum span below the
// receiver's td_end within which an ACK is still taken as current.
const maxAckWinConst = 66000

// peer is one direction's window-tracking data (struct ip_ct_tcp_state).
// The names are the kernel's: tdEnd is the highest sequence sent (seq+len),
// tdMaxEnd the highest the receiver allowed (ack+window), tdMaxWin the
// largest window the peer advertised, tdMaxAck the highest ACK this side sent.
type peer struct {
	tdEnd    uint32
	tdMaxEnd uint32
	tdMaxWin uint32
	tdMaxAck uint32
	tdScale  uint8
	flags    peerFlags
}

// reset is nf_ct_tcp_state_reset: forget everything but BE_LIBERAL.
func (p *peer) reset() {
	*p = peer{flags: p.flags & flagBeLiberal}
}

// maxAckWindow is MAXACKWINDOW(sender).
func (p *peer) maxAckWindow() uint32 {
	if p.tdMaxWin > maxAckWinConst {
		return p.tdMaxWin
	}
	return maxAckWinConst
}

// hasOptions tells whether the segment's header carried any option. The
// kernel's option parser leaves scale and flags alone on an option-less
// header; the decoder does not hand us the option length, so infer it from
// the options it did report (a SYN without MSS is vanishingly rare).
func (s *Segment) hasOptions() bool {
	return s.MSS != 0 || s.HasWScale || s.SackPerm || s.HasSack || s.HasTS
}

// parseOptions is tcp_options: on a header with options, start from scale 0
// and only BE_LIBERAL kept, then take window scale (clamped) and SACK-perm.
func (p *peer) parseOptions(s *Segment) {
	if !s.hasOptions() {
		return
	}
	p.tdScale = 0
	p.flags &= flagBeLiberal
	if s.SackPerm {
		p.flags |= flagSackPerm
	}
	if s.HasWScale {
		p.tdScale = min(s.WScale, maxWScale)
		p.flags |= flagWindowScale
	}
}

// initSender is tcp_init_sender: a SYN or SYN-ACK (re)starts this side's
// window data. Scaling is only on when both SYNs carried the option, which is
// known once the REPLY side's SYN is seen.
func (c *Conn) initSender(dir Dir, s *Segment, end, win uint32) {
	sender, receiver := &c.seen[dir], &c.seen[dir^1]
	sender.tdEnd = end
	sender.tdMaxEnd = end
	sender.tdMaxWin = max(win, 1)
	sender.parseOptions(s)
	if dir == Reply && (sender.flags&flagWindowScale == 0 || receiver.flags&flagWindowScale == 0) {
		sender.tdScale = 0
		receiver.tdScale = 0
	}
}

// windowAction is the outcome of the window check (enum nf_ct_tcp_action).
type windowAction uint8

const (
	winAccept windowAction = iota
	winIgnore
	winInvalid
)

// failed is nf_tcp_log_invalid: a liberal sender (sysctl or per-side flag
// from a pickup) gets every failure turned into an accept, but without the
// state update that a passing packet would make, and nothing is logged.
func failed(cfg *Config, sender *peer, a windowAction, why Reason) (windowAction, Reason) {
	if cfg.Liberal || sender.flags&flagBeLiberal != 0 {
		return winAccept, Reason{}
	}
	return a, why
}

// inWindow is tcp_in_window: the four-bound sequence/ACK check of Rooij's
// "Real Stateful TCP Packet Filtering", and on success the update of both
// sides' window data and the retransmission counter. A failure comes with
// the kernel's message and the bound it names.
func (c *Conn) inWindow(cfg *Config, dir Dir, idx class, s *Segment) (windowAction, Reason) {
	sender, receiver := &c.seen[dir], &c.seen[dir^1]
	why := func(code ReasonCode, bound uint32) Reason {
		return Reason{Code: code, Index: uint8(idx), Dir: dir, State: c.state, Bound: bound}
	}
	f := s.Flags
	seq := s.Seq
	ack := s.Ack
	sack := ack
	winRaw := s.Window
	win := uint32(winRaw)
	end := s.End()

	// A SACK block only moves the acknowledged edge if the receiver of this
	// packet (the SACK sender's peer) allowed SACK in its SYN (tcp_sack).
	if receiver.flags&flagSackPerm != 0 && s.HasSack && after(s.SackRight, sack) {
		sack = s.SackRight
	}

	if sender.tdMaxWin == 0 {
		// First packet seen from this side.
		if f&SYN != 0 {
			c.initSender(dir, s, end, win)
			if f&ACK == 0 {
				return winAccept, Reason{} // simultaneous open: nothing to check yet
			}
		} else {
			// Mid-stream: trust the packet's own numbers.
			sender.tdEnd = end
			swin := win << sender.tdScale
			sender.tdMaxWin = max(swin, 1)
			sender.tdMaxEnd = end + sender.tdMaxWin
			if receiver.tdMaxWin == 0 {
				// Nothing seen the other way yet: open the receiver's
				// bounds so checks III and IV pass until it speaks.
				receiver.tdEnd = sack
				receiver.tdMaxEnd = sack
			} else if sack == receiver.tdEnd+1 {
				// Likely the answer to a keep-alive probe (seq = snd.nxt-1).
				receiver.tdEnd++
			}
		}
	} else if f&SYN != 0 && after(end, sender.tdEnd) && (c.state == SynSent || c.state == SynRecv) {
		// The endpoint restarted with a higher ISN (RFC 793 reinit):
		// start this side over, options included.
		c.initSender(dir, s, end, win)
		if dir == Reply && f&ACK == 0 {
			return winAccept, Reason{}
		}
	}

	if f&ACK == 0 || (f&RST != 0 && ack == 0) {
		// No ACK, or a broken stack's RST+ACK with ack 0: pretend it
		// acknowledged exactly what the receiver sent.
		ack = receiver.tdEnd
		sack = ack
	}

	if f&RST != 0 && seq == 0 && c.state == SynSent {
		// RST answering a SYN, sent with seq 0.
		seq = sender.tdEnd
		end = seq
	}

	// I: upper bound for data.
	if !before(seq, sender.tdMaxEnd+1) {
		overshot := end - sender.tdMaxEnd + 1
		ackOK := after(sack, receiver.tdEnd-sender.maxAckWindow()-1)
		inRecvWin := receiver.tdMaxWin != 0 && after(end, sender.tdEnd-receiver.tdMaxWin-1)
		if inRecvWin && ackOK && overshot <= receiver.tdMaxWin && before(sack, receiver.tdEnd+1) {
			// A sender that overran the window a little: remember the
			// data so the receiver's ACK for it is not out of bounds later.
			sender.tdEnd = end
			sender.flags |= flagDataUnack
			return failed(cfg, sender, winIgnore, why(ReasonOverWindow, overshot))
		}
		return failed(cfg, sender, winInvalid, why(ReasonSeqOver, sender.tdMaxEnd+1))
	}
	// III: upper bound for (S)ACK: cannot acknowledge unseen data.
	if !before(sack, receiver.tdEnd+1) {
		return failed(cfg, sender, winInvalid, why(ReasonAckOver, receiver.tdEnd+1))
	}
	// II: lower bound for data: already-acknowledged retransmissions.
	if receiver.tdMaxWin != 0 && !after(end, sender.tdEnd-receiver.tdMaxWin-1) {
		return failed(cfg, sender, winIgnore, why(ReasonSeqUnder, sender.tdEnd-receiver.tdMaxWin-1))
	}
	// IV: lower bound for (S)ACK: an overly delayed ACK.
	if lower := receiver.tdEnd - sender.maxAckWindow() - 1; !after(sack, lower) {
		return failed(cfg, sender, winIgnore, why(ReasonAckUnder, lower))
	}

	// In window: update.
	if f&SYN == 0 {
		win <<= sender.tdScale
	}
	if swin := win + (sack - ack); sender.tdMaxWin < swin {
		sender.tdMaxWin = swin
	}
	if after(end, sender.tdEnd) {
		sender.tdEnd = end
		sender.flags |= flagDataUnack
	}
	if f&ACK != 0 {
		if sender.flags&flagMaxAckSet == 0 {
			sender.tdMaxAck = ack
			sender.flags |= flagMaxAckSet
		} else if after(ack, sender.tdMaxAck) {
			sender.tdMaxAck = ack
		}
	}
	if receiver.tdMaxWin != 0 && after(end, sender.tdMaxEnd) {
		receiver.tdMaxWin += end - sender.tdMaxEnd
	}
	if after(sack+win, receiver.tdMaxEnd-1) {
		receiver.tdMaxEnd = sack + win
		if win == 0 {
			receiver.tdMaxEnd++
		}
	}
	if ack == receiver.tdEnd {
		receiver.flags &^= flagDataUnack
	}

	// Retransmission detector: identical consecutive ACK-class packets
	// from the same side. The counter is a byte and wraps, as the kernel's.
	if idx == clsACK {
		if c.lastDir == dir && c.lastSeq == seq && c.lastAck == ack && c.lastEnd == end && c.lastWin == winRaw {
			c.retrans++
		} else {
			c.lastDir = dir
			c.lastSeq = seq
			c.lastAck = ack
			c.lastEnd = end
			c.lastWin = winRaw
			c.retrans = 0
		}
	}
	return winAccept, Reason{}
}
