package fsm

import "strconv"

// ReasonCode names one of the messages Linux's TCP tracker logs (with
// net.netfilter.nf_conntrack_log_invalid=6) for a packet it marks invalid or
// lets through without tracking it (nf_conntrack_proto_tcp.c: tcp_error,
// tcp_new, nf_conntrack_tcp_packet, tcp_in_window, nf_tcp_handle_invalid).
// The order is this package's; Text gives the kernel's words.
type ReasonCode uint8

const (
	NoReason ReasonCode = iota // accepted (or accepted because the window check is liberal): nothing logged

	// tcp_error: checked before any state, the packet is invalid.
	ReasonTruncated   // "truncated packet": data offset below 5 words or beyond the segment
	ReasonBadChecksum // "bad checksum" (nf_conntrack_checksum, incoming packets only)
	ReasonBadFlags    // "invalid tcp flag combination"

	// tcp_new: the first packet of a tuple cannot create an entry.
	ReasonInvalidNew // "invalid new": a class the table does not start from (SYN-ACK, FIN, RST)
	ReasonNoPickup   // an ACK with nf_conntrack_tcp_loose=0: invalid, but the kernel logs nothing

	// nf_conntrack_tcp_packet: the transition table and the RST rules.
	ReasonIgnored      // "packet (index %d) in dir %d ignored, state %s": let through, entry untouched
	ReasonInvalidState // "packet (index %d) in dir %d invalid, state %s"
	ReasonChallengeAck // "challenge-ack ignored": RFC 5961 ACK to a SYN in LAST_ACK
	ReasonInvalidRST   // "invalid rst": sequence below what the peer already acknowledged

	// tcp_in_window: the four bounds. Bound is the value the kernel prints.
	ReasonOverWindow // "%u bytes more than expected": a little past the window, ignored
	ReasonSeqOver    // "SEQ is over upper bound %u (over the window of the receiver)"
	ReasonAckOver    // "ACK is over upper bound %u (ACKed data not seen yet)"
	ReasonSeqUnder   // "SEQ is under lower bound %u (already ACKed data retransmitted)": ignored
	ReasonAckUnder   // "ignored ACK under lower bound %u (possible overly delayed)": ignored

	// nf_tcp_handle_invalid: a second line for an out-of-window FIN/RST that
	// answers one from the other side; the entry's timer is shortened.
	ReasonLowerTimeout // "packet (index %d, dir %d) response for index %d lower timeout to %u"

	numReasonCodes
)

// KernelHZ is the tick rate the timeout in ReasonLowerTimeout's message is
// printed in (the kernel prints jiffies): Debian's CONFIG_HZ.
const KernelHZ = 250

// Reason is why the tracker did not simply accept a packet, as data: the
// message's code and the values the kernel's message prints. It is a small
// comparable value; formatting it (AppendText) allocates nothing.
type Reason struct {
	Code  ReasonCode
	Index uint8  // the packet's class as the kernel numbers it (0 SYN, 1 SYN-ACK, 2 FIN, 3 ACK, 4 RST, 5 none)
	Dir   Dir    // direction (0 original, 1 reply)
	State State  // the state the message names (ignored/invalid in state)
	Prev  uint8  // ReasonLowerTimeout: the class of the packet it responds to
	Bound uint32 // the bound (a sequence number), the bytes over the window, or the lowered timeout in seconds
}

// Logged reports whether the kernel writes a line for this reason.
func (r Reason) Logged() bool { return r.Code != NoReason && r.Code != ReasonNoPickup }

// Invalid reports whether the packet is invalid (as opposed to ignored)
// for this reason: conntrack's "ct state invalid".
func (r Reason) Invalid() bool {
	switch r.Code {
	case NoReason, ReasonIgnored, ReasonChallengeAck, ReasonOverWindow, ReasonSeqUnder, ReasonAckUnder, ReasonLowerTimeout:
		return false
	}
	return true
}

var reasonNames = [numReasonCodes]string{
	"none", "truncated", "bad-checksum", "bad-flags", "invalid-new", "no-pickup",
	"ignored", "invalid-state", "challenge-ack", "invalid-rst",
	"over-window", "seq-over", "ack-over", "seq-under", "ack-under", "lower-timeout",
}

// String is a short name for the code (for JSON and tables).
func (c ReasonCode) String() string {
	if c < numReasonCodes {
		return reasonNames[c]
	}
	return "?"
}

// String is the kernel's message.
func (r Reason) String() string { return string(r.AppendText(nil)) }

// AppendText appends the message the kernel logs for r (after
// "nf_ct_proto_6: "), with the numbers it prints.
func (r Reason) AppendText(b []byte) []byte {
	u := func(b []byte, v uint32) []byte { return strconv.AppendUint(b, uint64(v), 10) }
	switch r.Code {
	case NoReason:
		return append(b, "accepted"...)
	case ReasonTruncated:
		return append(b, "truncated packet"...)
	case ReasonBadChecksum:
		return append(b, "bad checksum"...)
	case ReasonBadFlags:
		return append(b, "invalid tcp flag combination"...)
	case ReasonInvalidNew:
		return append(b, "invalid new"...)
	case ReasonNoPickup:
		return append(b, "not picked up: nf_conntrack_tcp_loose=0 (the kernel logs nothing)"...)
	case ReasonIgnored, ReasonInvalidState:
		b = append(b, "packet (index "...)
		b = u(b, uint32(r.Index))
		b = append(b, ") in dir "...)
		b = u(b, uint32(r.Dir))
		if r.Code == ReasonIgnored {
			b = append(b, " ignored, state "...)
		} else {
			b = append(b, " invalid, state "...)
		}
		return append(b, r.State.String()...)
	case ReasonChallengeAck:
		return append(b, "challenge-ack ignored"...)
	case ReasonInvalidRST:
		return append(b, "invalid rst"...)
	case ReasonOverWindow:
		return append(u(b, r.Bound), " bytes more than expected"...)
	case ReasonSeqOver:
		return append(u(append(b, "SEQ is over upper bound "...), r.Bound), " (over the window of the receiver)"...)
	case ReasonAckOver:
		return append(u(append(b, "ACK is over upper bound "...), r.Bound), " (ACKed data not seen yet)"...)
	case ReasonSeqUnder:
		return append(u(append(b, "SEQ is under lower bound "...), r.Bound), " (already ACKed data retransmitted)"...)
	case ReasonAckUnder:
		return append(u(append(b, "ignored ACK under lower bound "...), r.Bound), " (possible overly delayed)"...)
	case ReasonLowerTimeout:
		b = append(b, "packet (index "...)
		b = u(b, uint32(r.Index))
		b = append(b, ", dir "...)
		b = u(b, uint32(r.Dir))
		b = append(b, ") response for index "...)
		b = u(b, uint32(r.Prev))
		b = append(b, " lower timeout to "...)
		return u(b, r.Bound*KernelHZ)
	}
	return append(b, "unknown reason"...)
}

// RefusalReason says why Start refuses s as the first packet of a
// connection (NoReason when it would not): tcp_error's flag check, then
// tcp_new.
func RefusalReason(cfg *Config, s *Segment) Reason {
	if !validFlags(s.Flags) {
		return Reason{Code: ReasonBadFlags}
	}
	idx := classify(s.Flags)
	switch transitions[Original][idx][None] {
	case SynSent:
		return Reason{}
	case Established:
		if cfg.Loose {
			return Reason{}
		}
		return Reason{Code: ReasonNoPickup, Index: uint8(idx)}
	}
	return Reason{Code: ReasonInvalidNew, Index: uint8(idx)}
}

// TimeoutReason is nf_tcp_handle_invalid's second message for a packet
// whose Result has Shrink set, to be reported when the flow's timer was
// actually shortened (NextExpiry changed it): "… lower timeout to …".
func (r *Result) TimeoutReason() Reason {
	return Reason{Code: ReasonLowerTimeout, Index: r.Reason.Index, Dir: r.Reason.Dir, Prev: r.Reason.Prev,
		Bound: uint32(r.Timeout / 1e9)}
}
