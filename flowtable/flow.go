package flowtable

import (
	"encoding/binary"

	"github.com/tcptrack/tcptrack/fsm"
)

// Flow is one tracked connection as handed out: its original tuple, the
// state machine and the kernel-style accounting (nf_conntrack_acct: IP bytes
// and packets per direction, counted for packets the tracker accepted).
// Start, Last, Packets, Bytes and TCPFlags are kept only when Config.Acct is
// set, as the kernel keeps its acct and timestamp extensions only when
// enabled.
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
// lookup need, nothing else (128 bytes: the tuple without padding, the IPv4
// mark folded into the ID). Counters live in a parallel slab kept only when
// asked for. A free slot has ID 0 (packets count from 1).
type entry struct {
	src, dst     [16]byte
	sport, dport uint16
	Conn         fsm.Conn
	prev, next   uint32 // timer list links (noFlow at the ends or when unarmed)
	idv          uint64 // ID, with is4 set for an IPv4 flow
	Expires      int64
}

const is4 = 1 << 63 // in entry.idv: the tuple is IPv4 (v4-mapped)

func (e *entry) live() bool { return e.idv != 0 }

func (e *entry) id() uint64 { return e.idv &^ is4 }

// key is the flow's original-direction tuple.
func (e *entry) key() Key {
	return Key{Src: e.src, Dst: e.dst, SrcPort: e.sport, DstPort: e.dport, Is4: e.idv&is4 != 0}
}

// set fills a new entry for the flow k created by packet number id.
func (e *entry) set(k *Key, id uint64, c *fsm.Conn) {
	*e = entry{src: k.Src, dst: k.Dst, sport: k.SrcPort, dport: k.DstPort, Conn: *c, prev: noFlow, next: noFlow, idv: id}
	if k.Is4 {
		e.idv |= is4
	}
}

// match says whether k is this flow's tuple (reply false) or its reverse
// (reply true), comparing eight bytes at a time.
func (e *entry) match(k *Key) (ok, reply bool) {
	if (e.idv&is4 != 0) != k.Is4 {
		return false, false
	}
	es0, es1 := le64(e.src[:8]), le64(e.src[8:])
	ed0, ed1 := le64(e.dst[:8]), le64(e.dst[8:])
	ks0, ks1 := le64(k.Src[:8]), le64(k.Src[8:])
	kd0, kd1 := le64(k.Dst[:8]), le64(k.Dst[8:])
	if es0 == ks0 && es1 == ks1 && ed0 == kd0 && ed1 == kd1 && e.sport == k.SrcPort && e.dport == k.DstPort {
		return true, false
	}
	if es0 == kd0 && es1 == kd1 && ed0 == ks0 && ed1 == ks1 && e.sport == k.DstPort && e.dport == k.SrcPort {
		return true, true
	}
	return false, false
}

func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// acct is the optional per-flow accounting, parallel to the entries.
type acct struct {
	Start   int64
	Last    int64
	Packets [2]uint64
	Bytes   [2]uint64
	Flags   [2]fsm.Flags
}

func makeFlow(e *entry, a *acct) Flow {
	f := Flow{Key: e.key(), Conn: e.Conn, ID: e.id(), Expires: e.Expires}
	if a != nil {
		f.Start, f.Last, f.Packets, f.Bytes, f.TCPFlags = a.Start, a.Last, a.Packets, a.Bytes, a.Flags
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
