package flowtable

import "github.com/tcptrack/tcptrack/fsm"

// EventType mirrors ctnetlink's message groups as conntrack -E names them.
type EventType uint8

const (
	EventNew EventType = iota
	EventUpdate
	EventDestroy
	EventPacket // one packet's verdict (Config.Packets); sorts after the flow events of its packet
)

func (t EventType) String() string {
	switch t {
	case EventNew:
		return "NEW"
	case EventUpdate:
		return "UPDATE"
	case EventPacket:
		return "PACKET"
	default:
		return "DESTROY"
	}
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

func (r DestroyReason) String() string {
	return [...]string{"", "expired", "killed", "reopened", "evicted"}[r]
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
	// Packet is set on EventPacket: the packet and its verdict.
	Packet *Packet
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
