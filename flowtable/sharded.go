package flowtable

import (
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/tcptrack/tcptrack/fsm"
)

// The table's front: Add batches segments per shard and hands each batch
// to the goroutine that owns the shard; Tick, Snapshot and Close reach
// every shard the same way.

// Config sets up a Table.
type Config struct {
	FSM       fsm.Config
	Shards    int // goroutines owning a part of the table each (min 1; with 1, the caller of Add tracks too)
	MaxFlows  int // size limit over all shards (0: none)
	BatchSize int // segments handed over at once (default 1024)
	// OnEvents, when set, receives conntrack events in the order they
	// happened (capture time, then packet order), from one goroutine.
	OnEvents func([]Event)
	// DestroyEventsOnly hands OnEvents the DESTROY events only.
	DestroyEventsOnly bool
	// TickEvery is how far capture time may advance before every shard is
	// handed what it has, so that expiry and event order keep up even for
	// quiet shards (default 1 s).
	TickEvery int64
	// Summaries keeps an fsm.Summary per flow (Zeek-style record and
	// per-direction health counters): handed out with DESTROY events,
	// SnapshotSummaries and Close. Off, flows cost no more memory.
	Summaries bool
	// Acct keeps each flow's start and last-seen times, packet and byte
	// counters and TCP flags (Flow.Start, Last, Packets, Bytes, TCPFlags;
	// 56 bytes a flow). Off, they stay zero.
	Acct bool
	// Packets adds an EventPacket to the event stream for the packets it
	// selects (needs OnEvents): the packet, its verdict and the kernel's
	// reason, and its headers when added with AddWire or Refuse.
	Packets PacketEvents
	// Hosts, when set, tracks each tuple's two endpoint sockets as the
	// hosts hold them (fsm.Hosts, with these settings): handed out with
	// every Flow and, for tuples conntrack has no entry for too, by
	// Result.HostPairs. About 300 bytes a tuple; the pairs count against
	// MaxFlows on their own.
	Hosts *fsm.HostConfig
}

type item struct {
	seg  segment
	seq  uint64
	hash uint64
}

type batch struct {
	chunk   *Chunk // the chunk this batch is a part of, if any
	items   []item
	through int64            // capture time up to which the producer has read
	snap    chan<- shardSnap // when set, the shard answers with a copy of its flows
	census  chan<- Census    // when set, the shard answers with its counts
	// When the table reports packets: per item, a refusal reason and its
	// wire headers' place in the arena (parallel to items).
	extra []itemExtra
	wire  []byte
}

// shardSnap is one shard's copy of its live flows and, when kept, their
// summaries in the same order.
type shardSnap struct {
	flows []Flow
	sums  []fsm.Summary
}

// Table is a sharded flow table. Add and Close are called from one producer
// goroutine; the shards run on their own goroutines.
type Table struct {
	cfg     Config
	fsmCfg  fsm.Config
	shards  []*shard
	in      []chan *batch
	filling []*batch
	free    chan *batch
	wg      sync.WaitGroup

	seq      uint64
	clock    int64
	lastTick int64
	refused  uint64 // Refuse calls while packets are not reported (counted here, no shard sees them)

	active []atomic.Int64 // per shard, stored once per batch (progress display)

	evIn   chan evBatch
	evDone chan struct{}

	nBatches int // batches made so far (the producer's goroutine only)

	chunks  chan *Chunk // chunks back from the shards
	nChunks int         // chunks made so far (NewChunk's goroutine only)
}

// New starts the shard goroutines.
func New(cfg Config) *Table {
	if cfg.Shards < 1 {
		cfg.Shards = 1
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1024
	}
	if cfg.TickEvery <= 0 {
		cfg.TickEvery = 1e9
	}
	t := &Table{cfg: cfg, fsmCfg: cfg.FSM, active: make([]atomic.Int64, cfg.Shards)}
	t.chunks = make(chan *Chunk, maxChunks(cfg.Shards))
	perShard := 0
	if cfg.MaxFlows > 0 {
		perShard = (cfg.MaxFlows + cfg.Shards - 1) / cfg.Shards
	}
	// Enough batches for every shard to have one filling, one queued and
	// one being processed, so the producer rarely waits.
	t.free = make(chan *batch, cfg.Shards*4)
	if cfg.OnEvents != nil {
		t.evIn = make(chan evBatch, cfg.Shards*4)
		t.evDone = make(chan struct{})
		go t.mergeEvents()
	}
	for i := range cfg.Shards {
		s := newShard(&t.fsmCfg, perShard, cfg.OnEvents != nil)
		s.keepSums, s.keepAcct, s.destroyOnly = cfg.Summaries, cfg.Acct, cfg.DestroyEventsOnly
		if cfg.OnEvents == nil {
			t.cfg.Packets = PacketsNone
		}
		s.reportPackets(t.cfg.Packets)
		if cfg.Hosts != nil {
			s.hosts = newHostTable(cfg.Hosts, perShard)
		}
		t.shards = append(t.shards, s)
		t.filling = append(t.filling, nil)
		if cfg.Shards == 1 {
			// One shard: the producer tracks too. A hand-off to one other
			// goroutine would only pipeline reading and tracking, which
			// is what more shards are for.
			break
		}
		ch := make(chan *batch, 2)
		t.in = append(t.in, ch)
		t.wg.Add(1)
		go t.run(i, s, ch)
	}
	return t
}

func (t *Table) run(i int, s *shard, ch <-chan *batch) {
	defer t.wg.Done()
	for b := range ch {
		t.process(i, s, b)
	}
}

// prefetchFrom is the shard size from which prefetching pays: below it the
// index and flows mostly sit in the CPU caches already.
const prefetchFrom = 1 << 14

// process applies a batch to its shard, then expires what is due, answers
// a snapshot request and passes events on.
func (t *Table) process(i int, s *shard, b *batch) {
	items := b.items
	if len(b.extra) == len(items) && len(items) > 0 {
		// Packets are reported: each carries its headers, some a refusal.
		for j := range items {
			ex := &b.extra[j]
			s.curWire, s.curFrame = b.wire[ex.start:ex.end], ex.frame
			if ex.why.Code != fsm.NoReason {
				s.refuse(&items[j].seg, items[j].seq, ex.why)
			} else {
				s.process(&items[j].seg, items[j].seq, items[j].hash)
			}
		}
		s.curWire, s.curFrame = nil, 0
	} else if s.len() < prefetchFrom {
		for j := range items {
			s.process(&items[j].seg, items[j].seq, items[j].hash)
		}
	} else {
		// Prefetch two stages ahead: the index slot for item j+2d, then
		// (the slot now cached) the flow for item j+d.
		const d = 4
		for j := 0; j < min(2*d, len(items)); j++ {
			s.prefetchSlot(items[j].hash)
		}
		for j := range items {
			if j+2*d < len(items) {
				s.prefetchSlot(items[j+2*d].hash)
			}
			if j+d < len(items) {
				s.prefetchFlow(items[j+d].hash)
			}
			s.process(&items[j].seg, items[j].seq, items[j].hash)
		}
	}
	s.sweep(b.through)
	t.active[i].Store(int64(s.len()))
	if b.snap != nil {
		b.snap <- shardSnap{s.snapshot(), s.summaries()}
		b.snap = nil
	}
	if b.census != nil {
		b.census <- s.census(b.through)
		b.census = nil
	}
	if t.evIn != nil {
		t.evIn <- evBatch{shard: i, events: s.takeEvents(nil), watermark: b.through}
	}
	b.items, b.extra, b.wire = b.items[:0], b.extra[:0], b.wire[:0]
	if b.chunk != nil {
		t.partDone(b.chunk)
		return
	}
	t.free <- b
}

// batch takes a free batch, making one while fewer than cap(t.free)
// exist: a table fed by chunks needs only a few (Tick, Close), one fed by
// Add one filling, one queued and one in work per shard.
func (t *Table) batch() *batch {
	select {
	case b := <-t.free:
		return b
	default:
	}
	if t.nBatches < cap(t.free) {
		t.nBatches++
		return &batch{items: make([]item, 0, t.cfg.BatchSize)}
	}
	return <-t.free
}

// askAll hands every shard what is pending, with capture time at now, in
// a batch that ask (if not nil) marks with a question the shard answers
// after it.
func (t *Table) askAll(now int64, ask func(*batch)) {
	if now > t.clock {
		t.clock = now
	}
	t.lastTick = t.clock
	for si := range t.shards {
		if ask != nil {
			if t.filling[si] == nil {
				t.filling[si] = t.batch()
			}
			ask(t.filling[si])
		}
		t.send(si)
	}
}

// handOver passes a filled batch to shard si's goroutine, or with one
// shard, processes it here.
func (t *Table) handOver(si int, b *batch) {
	if t.in == nil {
		t.process(si, t.shards[si], b)
		return
	}
	t.in[si] <- b
}

// Add hands one decoded segment to its shard. p is copied.
func (t *Table) Add(p *Packet) {
	t.seq++
	if p.TS > t.clock {
		t.clock = p.TS
	}
	k := MakeKey(p.Src, p.Dst, p.TCP.SrcPort, p.TCP.DstPort)
	h := k.hash()
	si := t.shardOf(h)
	b := t.filling[si]
	if b == nil {
		b = t.batch()
		t.filling[si] = b
	}
	// Written in place: an item is copied once, into its batch.
	n := len(b.items)
	b.items = b.items[:n+1]
	it := &b.items[n]
	it.seg.Key, it.seg.TS, it.seg.IPLen, it.seg.TCP = k, p.TS, p.IPLen, p.TCP
	it.seq, it.hash = t.seq, h
	if t.cfg.Packets != PacketsNone {
		b.extra = append(b.extra, itemExtra{start: uint32(len(b.wire)), end: uint32(len(b.wire))})
	}
	if len(b.items) == cap(b.items) {
		t.send(si)
	}
	if t.clock-t.lastTick >= t.cfg.TickEvery {
		t.Tick(t.clock)
	}
}

// add is AddWire and Refuse: one item, with its extra when packets are
// reported.
func (t *Table) add(p *Packet, frame uint64, why fsm.Reason, wire []byte) {
	t.seq++
	if p.TS > t.clock {
		t.clock = p.TS
	}
	if why.Code != fsm.NoReason && t.cfg.Packets == PacketsNone {
		t.refused++
		return
	}
	k := MakeKey(p.Src, p.Dst, p.TCP.SrcPort, p.TCP.DstPort)
	h := k.hash()
	si := t.shardOf(h)
	b := t.filling[si]
	if b == nil {
		b = t.batch()
		t.filling[si] = b
	}
	b.items = append(b.items, item{seg: segment{Key: k, TS: p.TS, IPLen: p.IPLen, TCP: p.TCP}, seq: t.seq, hash: h})
	if t.cfg.Packets != PacketsNone {
		ex := itemExtra{why: why, start: uint32(len(b.wire)), frame: frame}
		b.wire = append(b.wire, wire[:min(len(wire), maxWire)]...)
		ex.end = uint32(len(b.wire))
		b.extra = append(b.extra, ex)
	}
	if len(b.items) == cap(b.items) {
		t.send(si)
	}
	if t.clock-t.lastTick >= t.cfg.TickEvery {
		t.Tick(t.clock)
	}
}

// Active is about how many flows the table holds (as of each shard's last batch).
func (t *Table) Active() int {
	n := int64(0)
	for i := range t.active {
		n += t.active[i].Load()
	}
	return int(n)
}

// Seq is the number of segments added so far.
func (t *Table) Seq() uint64 { return t.seq }

func (t *Table) shardOf(h uint64) int {
	// The high bits pick the shard; the in-shard index uses the low bits.
	return int((h >> 32) * uint64(len(t.shards)) >> 32)
}

func (t *Table) send(si int) {
	b := t.filling[si]
	if b == nil {
		b = t.batch()
	}
	b.through = t.clock
	t.filling[si] = nil
	t.handOver(si, b)
}

// Tick tells every shard that capture time has reached now, handing over
// what is pending: expiry and event ordering advance even on quiet shards.
func (t *Table) Tick(now int64) { t.askAll(now, nil) }

// Snapshot hands every shard what is pending, with capture time at now,
// and returns a copy of all live flows in first-seen order. It costs
// O(table): meant for a periodic view, not per packet.
func (t *Table) Snapshot(now int64) []Flow {
	flows, _ := t.snapshot(now)
	return flows
}

// SnapshotSummaries is Snapshot with each flow's summary (same order);
// the summaries are nil unless Config.Summaries.
func (t *Table) SnapshotSummaries(now int64) ([]Flow, []fsm.Summary) {
	return t.snapshot(now)
}

func (t *Table) snapshot(now int64) ([]Flow, []fsm.Summary) {
	ch := make(chan shardSnap, len(t.shards))
	t.askAll(now, func(b *batch) { b.snap = ch })
	var flows []Flow
	var sums []fsm.Summary
	for range t.shards {
		sn := <-ch
		flows = append(flows, sn.flows...)
		sums = append(sums, sn.sums...)
	}
	sortFlows(flows, sums)
	return flows, sums
}

// Close hands over the rest, expires what is due at now, stops the shards
// and returns the live flows.
func (t *Table) Close(now int64) Result {
	if now < t.clock {
		now = t.clock
	}
	t.clock = now
	for si := range t.shards {
		t.send(si)
		if t.in != nil {
			close(t.in[si])
		}
	}
	t.wg.Wait()
	res := Result{shards: t.shards}
	res.Stats.Segments, res.Stats.Invalid, res.Stats.Refused = t.refused, t.refused, t.refused
	total := 0
	for i, s := range t.shards {
		s.expireAll(now)
		s.dropIndex()
		total += s.len()
		if t.evIn != nil {
			t.evIn <- evBatch{shard: i, events: s.takeEvents(nil), watermark: now}
		}
		res.Stats.add(&s.stats)
	}
	if t.evIn != nil {
		close(t.evIn)
		<-t.evDone
	}
	t.chunks, t.free = nil, nil
	if total >= 1<<16 {
		// Batches, chunks and whatever fed them are garbage now: hand
		// their memory back before the order list is built, or a big
		// table's peak holds both.
		debug.FreeOSMemory()
	}
	res.order, res.wide = orderFlows(t.shards, total)
	return res
}
