package flowtable

import "github.com/tcptrack/tcptrack/fsm"

// Census counts a table's flows by state without copying them: what a
// metrics scrape needs, at the cost of one pass over each shard's flows on
// the shard's own goroutine.
type Census struct {
	Flows int // live flows
	// ByState[state][status] counts flows by conntrack state and by the
	// SeenReply|Assured bits of their status (fsm.Status & 3).
	ByState [16][4]int
	// Sockets[dir][state] counts endpoints by socket state (fsm.SockState;
	// all SockUnknown without Config.Hosts): dir fsm.Original is the
	// endpoint that sent the first packet.
	Sockets [2][16]int
	// Stats are the table's counters so far (Active is the live flow count).
	Stats Stats
}

func (c *Census) add(o *Census) {
	c.Flows += o.Flows
	for i := range c.ByState {
		for j := range c.ByState[i] {
			c.ByState[i][j] += o.ByState[i][j]
		}
	}
	for d := range c.Sockets {
		for i := range c.Sockets[d] {
			c.Sockets[d][i] += o.Sockets[d][i]
		}
	}
	c.Stats.add(&o.Stats)
}

// census counts the shard's live flows, their sockets as at now.
func (s *shard) census(now int64) Census {
	c := Census{Flows: s.count, Stats: s.stats}
	c.Stats.Active = uint64(s.count)
	for pos := range s.flows.len() {
		f := s.flows.at(pos)
		if !f.live() {
			continue
		}
		c.ByState[f.Conn.State()&15][f.Conn.Status()&(fsm.SeenReply|fsm.Assured)]++
		var o, r fsm.Socket
		if s.hosts != nil {
			k := f.key()
			if hs, d, ok := s.hosts.hostsOf(k); ok {
				o, r = hs.Socket(s.hosts.cfg, d, now), hs.Socket(s.hosts.cfg, d^1, now)
			}
		}
		c.Sockets[fsm.Original][o.State&15]++
		c.Sockets[fsm.Reply][r.State&15]++
	}
	return c
}

// Census hands every shard what is pending, with capture time at now, and
// returns the counts of all live flows and the counters. Like Snapshot it is
// called from the producer's goroutine and costs O(table), but copies
// nothing.
func (t *Table) Census(now int64) Census {
	ch := make(chan Census, len(t.shards))
	t.askAll(now, func(b *batch) { b.census = ch })
	var c Census
	for range t.shards {
		sc := <-ch
		c.add(&sc)
	}
	return c
}
