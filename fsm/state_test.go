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

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		s                  Status
		str                string
		seenReply, assured bool
	}{
		{0, "none", false, false},
		{SeenReply, "seen-reply", true, false},
		{Assured, "assured", false, true},
		{SeenReply | Assured, "seen-reply|assured", true, true},
	} {
		if tc.s.String() != tc.str || tc.s.SeenReply() != tc.seenReply || tc.s.Assured() != tc.assured {
			t.Errorf("Status(%d): %q seen-reply %v assured %v, want %q %v %v",
				uint8(tc.s), tc.s.String(), tc.s.SeenReply(), tc.s.Assured(), tc.str, tc.seenReply, tc.assured)
		}
	}
	if Dir(2).String() != "?" {
		t.Errorf("Dir(2) = %q", Dir(2).String())
	}
}
