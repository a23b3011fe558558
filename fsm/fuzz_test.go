package fsm

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/testutil"
)

// fuzzStepLen is the bytes one fuzz step decodes from.
const fuzzStepLen = 8

// decodeSteps turns fuzz input into segments for one flow between A and B.
// Sequence and ACK numbers are deltas from each side's running next
// sequence number, so most inputs stay near the windows where the
// interesting paths are; bit 7 of the first byte switches to absolute
// numbers instead.
//
//	b0: bit0 sent by B, bit1 window scale, bit2 SACK-perm, bit3 SACK block,
//	    bit4 MSS, bit5 config Liberal, bit6 config Loose off, bit7 absolute
//	b1: TCP flags   b2-3: seq delta   b4-5: ack delta   b6: window/256   b7: payload length
type fuzzStep struct {
	fromB bool
	seg   Segment
}

func decodeSteps(data []byte, emit func(fuzzStep)) {
	next := [2]uint32{1000, 5000} // A, B
	for len(data) >= fuzzStepLen {
		b := data[:fuzzStepLen]
		data = data[fuzzStepLen:]
		from := int(b[0] & 1)
		var s Segment
		s.Flags = Flags(b[1])
		d1 := int16(binary.BigEndian.Uint16(b[2:]))
		d2 := int16(binary.BigEndian.Uint16(b[4:]))
		if b[0]&0x80 != 0 {
			s.Seq = binary.BigEndian.Uint32(b[2:])
			s.Ack = uint32(d2) << 16
		} else {
			s.Seq = next[from] + uint32(int32(d1))
			s.Ack = next[from^1] + uint32(int32(d2))
		}
		s.Window = uint16(b[6]) << 8
		s.PayloadLen = uint32(b[7])
		if b[0]&0x02 != 0 {
			s.HasWScale, s.WScale = true, b[7]&0x0f
		}
		s.SackPerm = b[0]&0x04 != 0
		if b[0]&0x08 != 0 {
			s.HasSack, s.SackRight = true, s.Ack+uint32(b[6])
		}
		if b[0]&0x10 != 0 {
			s.MSS = 1460
		}
		if end := s.End(); after(end, next[from]) {
			next[from] = end
		}
		emit(fuzzStep{fromB: from == 1, seg: s})
	}
}

func fuzzConfig(data []byte) Config {
	cfg := DefaultConfig()
	if len(data) > 0 {
		cfg.Liberal = data[0]&0x20 != 0
		cfg.Loose = data[0]&0x40 == 0
	}
	return cfg
}

// checkStep verifies the invariants that hold for every packet.
func checkStep(before Conn, c *Conn, seg *Segment, r Result, maxTimeout time.Duration) error {
	if r.Verdict >= numVerdicts {
		return fmt.Errorf("verdict %d out of range", r.Verdict)
	}
	if !c.State().Valid() {
		return fmt.Errorf("state %d invalid", c.State())
	}
	if c.Status()&Assured != 0 && c.Status()&SeenReply == 0 {
		return fmt.Errorf("assured without seen-reply")
	}
	if c.Status()&before.Status() != before.Status() {
		return fmt.Errorf("status lost bits: %b -> %b", before.Status(), c.Status())
	}
	if r.Refresh && (r.Verdict != Accept || r.Timeout <= 0 || r.Timeout > maxTimeout) {
		return fmt.Errorf("refresh with verdict %v timeout %v", r.Verdict, r.Timeout)
	}
	if r.Shrink && r.Verdict != Invalid {
		return fmt.Errorf("shrink with verdict %v", r.Verdict)
	}
	// A reason exactly for what was not simply accepted, and of its kind.
	notAccepted := r.Verdict == Ignore || r.Verdict == Invalid
	if notAccepted != (r.Reason.Code != NoReason) || (r.Verdict == Invalid) != r.Reason.Invalid() && notAccepted {
		return fmt.Errorf("verdict %v with reason %v (%q)", r.Verdict, r.Reason.Code, r.Reason)
	}
	if text := r.Reason.String(); r.Reason.Code >= numReasonCodes || text == "" || strings.Contains(text, "unknown") {
		return fmt.Errorf("reason %d reads %q", r.Reason.Code, text)
	}
	if r.Shrink && !strings.Contains(r.TimeoutReason().String(), "lower timeout to") {
		return fmt.Errorf("shrink line %q", r.TimeoutReason())
	}
	switch r.Verdict {
	case Invalid:
		if c.State() != before.State() || c.Status() != before.Status() || r.Events != 0 {
			return fmt.Errorf("invalid packet changed the entry: %v -> %v", before.State(), c.State())
		}
	case Ignore:
		if c.State() != before.State() || r.Events&^EvSeenReply != 0 {
			return fmt.Errorf("ignored packet changed the state: %v -> %v (%v)", before.State(), c.State(), r.Events)
		}
	case Kill:
		if seg.Flags&RST == 0 || before.Status()&SeenReply != 0 {
			return fmt.Errorf("kill for flags %v status %b", seg.Flags, before.Status())
		}
	case Reopen:
		if classify(seg.Flags) != clsSYN || before.State() < TimeWait || before.State() > Close {
			return fmt.Errorf("reopen for %v in %v", seg.Flags, before.State())
		}
	}
	return nil
}

func FuzzConn(f *testing.F) {
	for _, sc := range fuzzSeeds() {
		f.Add(sc.Data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := fuzzConfig(data)
		maxTimeout := cfg.Timeouts[Established]
		var c Conn
		live, origIsB := false, false
		n := 0
		decodeSteps(data, func(st fuzzStep) {
			n++
			seg := st.seg
			if !live {
				if live = c.Start(&cfg, &seg); !live {
					return
				}
				origIsB = st.fromB
			}
			dir := Original
			if st.fromB != origIsB {
				dir = Reply
			}
			before := c
			r := c.Update(&cfg, dir, &seg)
			if err := checkStep(before, &c, &seg, r, maxTimeout); err != nil {
				t.Fatalf("step %d (%v %v seq %d ack %d len %d): %v", n, dir, seg.Flags, seg.Seq, seg.Ack, seg.PayloadLen, err)
			}
			switch r.Verdict {
			case Kill:
				live = false
			case Reopen:
				if !c.Start(&cfg, &seg) {
					t.Fatalf("step %d: reopening SYN refused by Start", n)
				}
				origIsB = st.fromB
				if r2 := c.Update(&cfg, Original, &seg); r2.Verdict != Accept || c.State() != SynSent {
					t.Fatalf("step %d: reopened SYN gave %v in %v", n, r2.Verdict, c.State())
				}
			case Invalid:
				if before.State() == None {
					live = false // first packet rejected: no entry
				}
			}
		})
	})
}

// seedStep encodes one step with deltas from the running next sequence numbers.
func seedStep(fromB bool, f Flags, dseq, dack int16, win byte, plen byte, extra byte) []byte {
	b := make([]byte, fuzzStepLen)
	if fromB {
		b[0] = 1
	}
	b[0] |= extra
	b[1] = byte(f)
	binary.BigEndian.PutUint16(b[2:], uint16(dseq))
	binary.BigEndian.PutUint16(b[4:], uint16(dack))
	b[6], b[7] = win, plen
	return b
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func fuzzSeeds() []testutil.Seed {
	const a, b = false, true
	hs := cat(
		seedStep(a, SYN, 0, 0, 250, 0, 0x16),
		seedStep(b, SYN|ACK, 0, 0, 250, 0, 0x16),
		seedStep(a, ACK, 0, 0, 250, 0, 0),
	)
	return []testutil.Seed{
		{Name: "open-close", Data: cat(hs,
			seedStep(a, PSH|ACK, 0, 0, 250, 100, 0),
			seedStep(b, ACK, 0, 0, 250, 0, 0),
			seedStep(a, FIN|ACK, 0, 0, 250, 0, 0),
			seedStep(b, FIN|ACK, 0, 0, 250, 0, 0),
			seedStep(a, ACK, 0, 0, 250, 0, 0),
			seedStep(a, SYN, 3000, 0, 250, 0, 0),
		)},
		{Name: "refused", Data: cat(seedStep(a, SYN, 0, 0, 250, 0, 0), seedStep(b, RST|ACK, -5000, 0, 0, 0, 0))},
		{Name: "pickup", Data: cat(
			seedStep(a, PSH|ACK, 0, 0, 250, 100, 0),
			seedStep(b, ACK, 0, 0, 250, 0, 0),
			seedStep(a, ACK, 0, 0, 250, 0, 0),
			seedStep(b, FIN|ACK, 0, 0, 250, 0, 0),
		)},
		{Name: "simultaneous-open", Data: cat(
			seedStep(a, SYN, 0, 0, 250, 0, 0),
			seedStep(b, SYN, 0, 0, 250, 0, 0),
			seedStep(a, SYN|ACK, -1, 0, 250, 0, 0),
			seedStep(b, SYN|ACK, -1, 0, 250, 0, 0),
			seedStep(b, ACK, 0, 0, 250, 0, 0),
		)},
		{Name: "rst-challenge", Data: cat(hs,
			seedStep(a, RST, 100, 0, 0, 0, 0),
			seedStep(b, ACK, 0, -100, 250, 0, 0),
			seedStep(a, RST, -100, 0, 0, 0, 0),
		)},
		{Name: "resync", Data: cat(hs,
			seedStep(a, SYN, 3000, 0, 250, 0, 0x10),
			seedStep(b, SYN|ACK, 2000, 0, 250, 0, 0x10),
			seedStep(a, ACK, 0, 0, 250, 0, 0),
		)},
		{Name: "out-of-window", Data: cat(
			seedStep(a, SYN, 0, 0, 1, 0, 0),
			seedStep(b, SYN|ACK, 0, 0, 1, 0, 0),
			seedStep(a, ACK, 0, 0, 1, 0, 0),
			seedStep(a, PSH|ACK, 30000, 0, 250, 10, 0),
			seedStep(a, RST, 30000, 0, 0, 0, 0),
			seedStep(b, FIN|ACK, 30000, 0, 250, 0, 0),
		)},
		{Name: "bad-flags", Data: cat(seedStep(a, SYN|FIN, 0, 0, 250, 0, 0), seedStep(a, 0xff, 0, 0, 0, 0, 0x80), hs)},
	}
}

// TestFuzzSeedCorpus keeps testdata/fuzz/FuzzConn in step with fuzzSeeds
// (go test -update rewrites it) and runs every corpus file, so the seeds
// are exercised by a plain go test too.
func TestFuzzSeedCorpus(t *testing.T) {
	testutil.SeedCorpus(t, "FuzzConn", fuzzSeeds())
}
