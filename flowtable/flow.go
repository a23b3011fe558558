package flowtable

import (
	"github.com/tcptrack/tcptrack/fsm"
)

// Flow is one tracked connection: its original tuple, the state machine and
// the kernel-style accounting (nf_conntrack_acct: IP bytes and packets per
// direction, counted for packets the tracker accepted).
type Flow struct {
	Key     Key
	Conn    fsm.Conn
	ID      uint64 // sequence number of the packet that created it: first-seen order
	Start   int64  // capture time of the creating packet (Unix ns)
	Last    int64  // capture time of the last packet seen for it
	Expires int64  // the instant the timeout runs out
	Packets [2]uint64
	Bytes   [2]uint64

	hash       uint64
	prev, next uint32 // timer list links
	list       uint8
	live       bool
}

// TimeoutAt is the whole seconds left at now, as conntrack -L prints them.
func (f *Flow) TimeoutAt(now int64) int64 {
	left := f.Expires - now
	if left <= 0 {
		return 0
	}
	return left / 1e9
}

// Dir reports the direction of a key in this flow.
func (f *Flow) Dir(k Key) fsm.Dir {
	if f.Key == k {
		return fsm.Original
	}
	return fsm.Reply
}
