package fsm

import "testing"

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
