package flowtable

import (
	"slices"
	"sort"

	"github.com/tcptrack/tcptrack/fsm"
)

// EventType mirrors ctnetlink's message groups as conntrack -E names them.
type EventType uint8

const (
	EventNew EventType = iota
	EventUpdate
	EventDestroy
	EventPacket // one packet's verdict (Config.Packets); sorts after the flow events of its packet
)

var eventTypeNames = [...]string{"NEW", "UPDATE", "DESTROY", "PACKET"}

func (t EventType) String() string {
	if int(t) < len(eventTypeNames) {
		return eventTypeNames[t]
	}
	return "?"
}

// DestroyReason says why a flow left the table.
type DestroyReason uint8

const (
	NotDestroyed DestroyReason = iota
	Expired                    // its timeout ran out
	Killed                     // an RST before any reply (the kernel deletes at once)
	Reopened                   // a new SYN reused the tuple in TIME_WAIT/CLOSE
	Evicted                    // early drop: the table was full
)

var destroyReasonNames = [...]string{"", "expired", "killed", "reopened", "evicted"}

func (r DestroyReason) String() string {
	if int(r) < len(destroyReasonNames) {
		return destroyReasonNames[r]
	}
	return "?"
}

// Event is a state change of one flow, with a copy of the flow as it stood
// just after the change.
type Event struct {
	Type    EventType
	TS      int64  // capture time of the change (for expiry: the instant it expired)
	Seq     uint64 // sequence number of the packet that caused it (0 for expiry)
	Reason  DestroyReason
	Changes fsm.Events // for updates: what changed (state, reply seen, assured)
	Flow    Flow
	// Summary is the connection's summary as it ended: set on DESTROY
	// events when the table keeps summaries (Config.Summaries).
	Summary *fsm.Summary
	// Report is set on EventPacket: the packet and its verdict.
	Report *PacketReport
}

// before orders events the way they happened; equal instants keep packet
// order, then flow order, so the output does not depend on the shard count.
func (e *Event) before(o *Event) bool {
	if e.TS != o.TS {
		return e.TS < o.TS
	}
	if e.Seq != o.Seq {
		return e.Seq < o.Seq
	}
	if e.Flow.ID != o.Flow.ID {
		return e.Flow.ID < o.Flow.ID
	}
	return e.Type < o.Type
}

type evBatch struct {
	shard     int
	events    []Event
	watermark int64
}

// mergeEvents releases events once every shard has reported past them
// (strictly: more packets may share the watermark instant), so
// the stream is in time order whatever the shard count.
func (t *Table) mergeEvents() {
	defer close(t.evDone)
	marks := make([]int64, t.cfg.Shards)
	for i := range marks {
		marks[i] = -1 << 63
	}
	var pending []Event
	flush := func(upto int64, all bool) {
		sort.SliceStable(pending, func(i, j int) bool { return pending[i].before(&pending[j]) })
		n := 0
		for n < len(pending) && (all || pending[n].TS < upto) {
			n++
		}
		if n > 0 {
			t.cfg.OnEvents(pending[:n])
			pending = append(pending[:0], pending[n:]...)
		}
	}
	for eb := range t.evIn {
		pending = append(pending, eb.events...)
		if eb.watermark > marks[eb.shard] {
			marks[eb.shard] = eb.watermark
		}
		flush(slices.Min(marks), false)
	}
	flush(0, true)
}
