package flowtable

import (
	"cmp"
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
	order  []uint32 // position | shard<<posBits, with 64 shards or fewer
	wide   []uint64 // position | shard<<32, with more
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
	slices.SortFunc(out, func(a, b HostPair) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Len is the number of live flows.
func (r *Result) Len() int { return len(r.order) + len(r.wide) }

// At returns the i-th flow in first-seen order and its summary (nil unless
// Config.Summaries). The summary points into the table, or into a value the
// next At overwrites: read, do not keep; one goroutine at a time.
func (r *Result) At(i int) (Flow, *fsm.Summary) {
	s, pos := r.ref(i)
	var sum *fsm.Summary
	if s.keepSums {
		sum = s.summary(pos)
	}
	return s.flow(pos), sum
}

// Flow returns the i-th flow in first-seen order, as At does without the
// summary. Unlike At it may be called from several goroutines at once.
func (r *Result) Flow(i int) Flow {
	s, pos := r.ref(i)
	return s.flow(pos)
}

func (r *Result) ref(i int) (*shard, uint32) {
	if r.wide != nil {
		return r.shards[r.wide[i]>>32], uint32(r.wide[i])
	}
	return r.shards[r.order[i]>>posBits], r.order[i] & posMask
}

// orderFlows lists the live flows of every shard in first-seen order, as
// packed references (4 bytes a flow with up to 64 shards): each shard's
// positions sorted by ID (in slab order they mostly are already: only
// reused slots are out of place), then the shards merged.
func orderFlows(shards []*shard, total int) (narrow []uint32, wide []uint64) {
	runs := make([][]uint32, len(shards))
	for i, s := range shards {
		run := make([]uint32, 0, s.len())
		for pos := range s.flows.len() {
			if s.flows.at(pos).live() {
				run = append(run, pos)
			}
		}
		id := func(p uint32) uint64 { return s.flows.at(p).id() }
		if !slices.IsSortedFunc(run, func(a, b uint32) int { return cmp.Compare(id(a), id(b)) }) {
			slices.SortFunc(run, func(a, b uint32) int { return cmp.Compare(id(a), id(b)) })
		}
		runs[i] = run
	}
	if len(shards) <= 1<<(32-posBits) {
		narrow = make([]uint32, 0, total)
	} else {
		wide = make([]uint64, 0, total)
	}
	// Merge: the shard whose next flow has the lowest ID goes first. Shards
	// are few; a linear scan of their heads is cheap next to the entry
	// reads.
	heads := make([]uint64, len(shards)) // ID of each run's next flow; 0 when empty
	next := make([]int, len(shards))
	for i, run := range runs {
		if len(run) > 0 {
			heads[i] = shards[i].flows.at(run[0]).id()
		}
	}
	for range total {
		best := -1
		for i, h := range heads {
			if h != 0 && (best < 0 || h < heads[best]) {
				best = i
			}
		}
		pos := runs[best][next[best]]
		if narrow != nil {
			narrow = append(narrow, pos|uint32(best)<<posBits)
		} else {
			wide = append(wide, uint64(pos)|uint64(best)<<32)
		}
		next[best]++
		if next[best] < len(runs[best]) {
			heads[best] = shards[best].flows.at(runs[best][next[best]]).id()
		} else {
			heads[best] = 0
			runs[best] = nil // free what is merged
		}
	}
	return narrow, wide
}

// Flows copies every live flow, in order.
func (r *Result) Flows() []Flow {
	out := make([]Flow, r.Len())
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
	out := make([]fsm.Summary, r.Len())
	for i := range out {
		_, s := r.At(i)
		out[i] = *s
	}
	return out
}
