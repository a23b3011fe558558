package flowtable

import (
	"github.com/tcptrack/tcptrack/fsm"
)

// Flow is one tracked connection as handed out: its original tuple, the
// state machine and the kernel-style accounting (nf_conntrack_acct: IP bytes
// and packets per direction, counted for packets the tracker accepted).
// Start, Packets, Bytes and TCPFlags are kept only when Config.Acct is set, as the
// kernel keeps its acct and timestamp extensions only when enabled.
type Flow struct {
	Key     Key
	Conn    fsm.Conn
	ID      uint64 // sequence number of the packet that created it: first-seen order
	Start   int64  // capture time of the creating packet (Unix ns)
	Last    int64  // capture time of the last packet seen for it
	Expires int64  // the instant the timeout runs out
	Packets [2]uint64
	Bytes   [2]uint64
	// TCPFlags is, per direction, every TCP flag seen in the packets the
	// counters counted (IPFIX tcpControlBits); kept with the counters.
	TCPFlags [2]fsm.Flags

	// The two endpoint sockets of its tuple, when the table keeps them
	// (Config.Hosts): a copy of the pair, which lives apart from the flow.
	Hosts     fsm.Hosts
	HasHosts  bool
	hostsSide fsm.Dir         // the pair's side that sent this flow's first packet
	hostCfg   *fsm.HostConfig // the table's, read-only
}

// Sockets is each endpoint's own socket at now: orig is the host that sent
// the flow's first packet, reply the other. Without host tracking
// (Config.Hosts) both are unknown.
func (f *Flow) Sockets(now int64) (orig, reply fsm.Socket) {
	if !f.HasHosts || f.hostCfg == nil {
		return fsm.Socket{}, fsm.Socket{}
	}
	return f.Hosts.Socket(f.hostCfg, f.hostsSide, now), f.Hosts.Socket(f.hostCfg, f.hostsSide^1, now)
}

// entry is a flow as the shard stores it: what the state machine, expiry and
// lookup need, nothing else (160 bytes). Counters live in a parallel slab
// kept only when asked for. A free slot has ID 0 (packets count from 1).
type entry struct {
	Key        Key
	Conn       fsm.Conn
	ID         uint64
	Last       int64
	Expires    int64
	prev, next uint32 // timer list links (noFlow at the ends or when unarmed)
}

func (e *entry) live() bool { return e.ID != 0 }

// acct is the optional per-flow accounting, parallel to the entries.
type acct struct {
	Start   int64
	Packets [2]uint64
	Bytes   [2]uint64
	Flags   [2]fsm.Flags
}

func makeFlow(e *entry, a *acct) Flow {
	f := Flow{Key: e.Key, Conn: e.Conn, ID: e.ID, Last: e.Last, Expires: e.Expires}
	if a != nil {
		f.Start, f.Packets, f.Bytes, f.TCPFlags = a.Start, a.Packets, a.Bytes, a.Flags
	}
	return f
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
