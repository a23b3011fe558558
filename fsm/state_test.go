package fsm

import "testing"

func TestNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{None.String(), "NONE"}, {SynSent2.String(), "SYN_SENT2"}, {State(10).String(), "INVALID"},
		{SockUnknown.String(), "-"}, {SockFinWait2.String(), "FIN_WAIT2"}, {SockState(99).String(), "?"},
		{(SYN | ACK).String(), "S."}, {(FIN | PSH | ACK).String(), "FP."}, {Flags(0).String(), "none"},
		{Original.String(), "original"}, {Reply.String(), "reply"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if !Close.Valid() || State(10).Valid() {
		t.Error("Valid")
	}
}

func TestSegmentEnd(t *testing.T) {
	for _, tc := range []struct {
		s    Segment
		want uint32
	}{
		{Segment{Seq: 100}, 100},
		{Segment{Seq: 100, PayloadLen: 10}, 110},
		{Segment{Seq: 100, Flags: SYN}, 101},
		{Segment{Seq: 100, Flags: FIN | ACK, PayloadLen: 5}, 106},
		{Segment{Seq: 0xffffffff, Flags: SYN | FIN}, 1},
	} {
		if got := tc.s.End(); got != tc.want {
			t.Errorf("%+v End() = %d, want %d", tc.s, got, tc.want)
		}
	}
}
