package flowtable

import (
	"slices"

	"github.com/tcptrack/tcptrack/fsm"
)

// sortFlows puts flows in first-seen order, and sums (when not nil,
// parallel to flows) with them.
func sortFlows(flows []Flow, sums []fsm.Summary) {
	byID := func(a, b Flow) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	}
	if sums == nil {
		slices.SortFunc(flows, byID)
		return
	}
	// Sort positions, then move both slices along the permutation's
	// cycles in place: summaries are large, no second copy of them.
	order := make([]int, len(flows))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return byID(flows[a], flows[b]) })
	for i := range order {
		if order[i] == i {
			continue
		}
		f, s := flows[i], sums[i]
		j := i
		for order[j] != i {
			k := order[j]
			flows[j], sums[j] = flows[k], sums[k]
			order[j] = j
			j = k
		}
		flows[j], sums[j] = f, s
		order[j] = j
	}
}

// Result is what the table holds when closed: the live flows in
// first-seen order, read straight from the shards' storage (no copy of the
// table is made), and the counters.
type Result struct {
	Stats  Stats
	order  []ref
	shards []*shard
}

// HostPairs copies every host pair in first-seen order (nil unless
// Config.Hosts): the endpoint sockets of every tuple seen, conntrack entry
// or not.
func (r *Result) HostPairs() []HostPair {
	var out []HostPair
	for _, s := range r.shards {
		out = s.appendHostPairs(out)
	}
	slices.SortFunc(out, func(a, b HostPair) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// ref points at one live flow in a closed table.
type ref struct {
	id         uint64
	shard, pos uint32
}

// Len is the number of live flows.
func (r *Result) Len() int { return len(r.order) }

// At returns the i-th flow in first-seen order and its summary (nil unless
// Config.Summaries). The summary points into the table: read, do not keep.
func (r *Result) At(i int) (Flow, *fsm.Summary) {
	x := r.order[i]
	s := r.shards[x.shard]
	var sum *fsm.Summary
	if s.keepSums {
		sum = s.sums.at(x.pos)
	}
	return s.flow(x.pos), sum
}

// Flows copies every live flow, in order.
func (r *Result) Flows() []Flow {
	out := make([]Flow, len(r.order))
	for i := range out {
		out[i], _ = r.At(i)
	}
	return out
}

// Summaries copies every live flow's summary, parallel to Flows; nil unless
// Config.Summaries.
func (r *Result) Summaries() []fsm.Summary {
	if len(r.shards) == 0 || !r.shards[0].keepSums {
		return nil
	}
	out := make([]fsm.Summary, len(r.order))
	for i := range out {
		_, s := r.At(i)
		out[i] = *s
	}
	return out
}
