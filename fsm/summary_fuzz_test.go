package fsm

import (
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/internal/testutil"
)

// summarySeeds adds exchanges that reach the summary's own paths (holes,
// repeats, zero windows, wraps) to the state machine's seeds.
func summarySeeds() []testutil.Seed {
	const a, b = false, true
	hs := cat(
		seedStep(a, SYN, 0, 0, 250, 0, 0),
		seedStep(b, SYN|ACK, 0, 0, 250, 0, 0),
		seedStep(a, ACK, 0, 0, 250, 0, 0),
	)
	seeds := fuzzSeeds()
	return append(seeds,
		testutil.Seed{Name: "summary-gaps-repeats", Data: cat(hs,
			seedStep(a, PSH|ACK, 0, 0, 250, 100, 0),
			seedStep(a, PSH|ACK, 200, 0, 250, 100, 0),
			seedStep(a, PSH|ACK, -300, 0, 250, 100, 0),
			seedStep(a, PSH|ACK, -200, 0, 250, 100, 0),
			seedStep(b, ACK, 0, 0, 250, 0, 0),
			seedStep(b, ACK, 0, 0, 250, 0, 0),
			seedStep(b, ACK, 0, 500, 0, 0, 0),
			seedStep(a, FIN|ACK, 0, 0, 250, 0, 0),
			seedStep(b, FIN|ACK, 0, 0, 250, 0, 0),
		)},
		testutil.Seed{Name: "summary-wrap", Data: cat(
			seedStep(a, SYN, 0, 0, 250, 0, 0x80),
			seedStep(a, PSH|ACK, 0x7fff, 0, 250, 255, 0),
			seedStep(b, ACK, 0, 0x7fff, 250, 0, 0),
			seedStep(a, RST|FIN, 0, 0, 0, 20, 0),
		)},
	)
}

// FuzzSummary feeds arbitrary exchanges to a Summary and checks what must
// hold whatever the input: it does not panic, counts add up, the history
// stays within its alphabet and bound, the state is a defined one.
func FuzzSummary(f *testing.F) {
	for _, s := range summarySeeds() {
		f.Add(s.Data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var s Summary
		var n, payload [2]uint64
		first, origIsB := true, false
		ts := int64(0)
		decodeSteps(data, func(st fuzzStep) {
			if first {
				first, origIsB = false, st.fromB
			}
			dir := Original
			if st.fromB != origIsB {
				dir = Reply
			}
			ts += int64(len(data)) // monotonic, input-dependent
			seg := st.seg
			s.Observe(dir, &seg, 40+seg.PayloadLen, ts, Verdict(seg.Window%uint16(numVerdicts)))
			n[dir]++
			payload[dir] += uint64(seg.PayloadLen)
		})
		for d := Original; d <= Reply; d++ {
			st := s.Dirs[d]
			if st.Packets != n[d] || st.PayloadBytes != payload[d] {
				t.Fatalf("%v: %d packets %d bytes counted, %d/%d fed", d, st.Packets, st.PayloadBytes, n[d], payload[d])
			}
			if st.RetransBytes > st.PayloadBytes || st.Retransmits+st.OutOfOrder > st.Packets {
				t.Fatalf("%v: repeats exceed what was sent: %+v", d, st)
			}
			if (st.Gaps == 0) != (st.MissedBytes == 0) {
				t.Fatalf("%v: %d gaps but %d missed bytes", d, st.Gaps, st.MissedBytes)
			}
			if st.HasRTT && st.RTT < 0 {
				t.Fatalf("%v: negative RTT %d", d, st.RTT)
			}
		}
		if s.Duration() < 0 || s.Duration() > ts {
			t.Fatalf("duration %d outside the capture (%d)", s.Duration(), ts)
		}
		if z := s.ConnState(); z >= numZeekStates {
			t.Fatalf("conn_state %d", z)
		}
		h := s.History()
		if len(h) > histCap || strings.Trim(h, "ShHADFRTWGIQsadfrtwgiq") != "" {
			t.Fatalf("history %q", h)
		}
	})
}

// TestSummaryFuzzCorpus keeps testdata/fuzz/FuzzSummary in step with
// summarySeeds (go test -update rewrites it).
func TestSummaryFuzzCorpus(t *testing.T) {
	testutil.SeedCorpus(t, "FuzzSummary", summarySeeds())
}
