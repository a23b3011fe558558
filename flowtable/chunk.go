package flowtable

import (
	"encoding/binary"
	"slices"
	"sync/atomic"

	"github.com/tcptrack/tcptrack/fsm"
)

// Chunk is a run of consecutive packets, decoded away from the producer
// goroutine and already split by shard: the way to feed a Table from
// several decoding goroutines. Take chunks with NewChunk, in capture order,
// from one goroutine; fill each from any one goroutine (Add, AddIP,
// AddWire, Refuse, Insert, Through); Submit them in the order NewChunk gave
// them out. A table is fed either by chunks or by Add, not both.
//
// When the table reports packets (Config.Packets), fill chunks with
// AddWire and Refuse only, so that every packet carries its number and
// headers; Add and AddIP are for tables that do not.
type Chunk struct {
	t       *Table
	parts   []*batch // per shard, in packet-number order
	through int64
	refused uint64       // Refuse calls while the table does not report packets (no shard sees them)
	left    atomic.Int32 // shards still to process their part
	done    func()
}

// maxChunks bounds the chunks out at once (each holds a few thousand
// segments): enough for the producer to fill one while every shard has one
// queued and one in work, and a few more in the decoders' hands.
func maxChunks(shards int) int { return 2*shards + 4 }

// NewChunk returns an empty chunk, waiting for one to come back from the
// shards when too many are out.
func (t *Table) NewChunk() *Chunk {
	select {
	case c := <-t.chunks:
		return c
	default:
	}
	if t.nChunks < cap(t.chunks) {
		t.nChunks++
		c := &Chunk{t: t, parts: make([]*batch, len(t.shards))}
		for i := range c.parts {
			c.parts[i] = &batch{chunk: c}
		}
		return c
	}
	return <-t.chunks
}

// Add files p (copied) as packet number seq: numbers increase in capture
// order across chunks and start at 1.
func (c *Chunk) Add(p *Packet, seq uint64) { c.add(p, seq) }

// add appends p to its shard's part and returns that part.
func (c *Chunk) add(p *Packet, seq uint64) *batch {
	k := MakeKey(p.Src, p.Dst, p.TCP.SrcPort, p.TCP.DstPort)
	h := k.hash()
	b := c.parts[c.t.shardOf(h)]
	// Written in place: an item is copied once, into its part.
	it := b.next()
	it.seg.Key, it.seg.TS, it.seg.IPLen, it.seg.TCP = k, p.TS, p.IPLen, p.TCP
	it.seq, it.hash = seq, h
	c.through = max(c.through, p.TS)
	return b
}

// AddIP is Add for a caller that has the packet's addresses as they sit in
// its IP header: src and dst are 4 bytes each (IPv4) or 16 (IPv6), the
// addresses p.Src and p.Dst hold. The key is built and hashed from those
// bytes rather than from p's netip.Addrs, whose byte-by-byte conversion
// stalls the loads that follow it.
func (c *Chunk) AddIP(p *Packet, src, dst []byte, seq uint64) {
	var a, b uint64 // the endpoints' hashes, as endpointHash on the key
	sport, dport := p.TCP.SrcPort, p.TCP.DstPort
	if len(src) == 4 {
		// The v4-mapped form: ten zero bytes, 0xffff, the address.
		const mapped = 0xffff0000
		a = (mapped | uint64(binary.LittleEndian.Uint32(src))<<32 ^ uint64(sport)) * mulLo
		b = (mapped | uint64(binary.LittleEndian.Uint32(dst))<<32 ^ uint64(dport)) * mulLo
	} else {
		a = binary.LittleEndian.Uint64(src)*mulHi ^ (binary.LittleEndian.Uint64(src[8:])^uint64(sport))*mulLo
		b = binary.LittleEndian.Uint64(dst)*mulHi ^ (binary.LittleEndian.Uint64(dst[8:])^uint64(dport))*mulLo
	}
	h := combine(a, b)
	part := c.parts[c.t.shardOf(h)]
	it := part.next()
	k := &it.seg.Key
	if len(src) == 4 {
		k.Src, k.Dst = [16]byte{10: 0xff, 11: 0xff}, [16]byte{10: 0xff, 11: 0xff}
		copy(k.Src[12:], src)
		copy(k.Dst[12:], dst)
	} else {
		copy(k.Src[:], src)
		copy(k.Dst[:], dst)
	}
	k.SrcPort, k.DstPort, k.Is4 = sport, dport, len(src) == 4
	it.seg.TS, it.seg.IPLen, it.seg.TCP = p.TS, p.IPLen, p.TCP
	it.seq, it.hash = seq, h
	c.through = max(c.through, p.TS)
}

// next appends an item to the part and returns it, to be written in place.
func (b *batch) next() *item {
	n := len(b.items)
	if n == cap(b.items) {
		b.items = slices.Grow(b.items, max(n, 256))
	}
	b.items = b.items[:n+1]
	return &b.items[n]
}

// Insert is Add for a packet whose number falls among those already added
// (a datagram completed by a fragment, found after the rest was decoded).
// AddWire and Refuse place such a packet by its number themselves.
func (c *Chunk) Insert(p *Packet, seq uint64) {
	b := c.add(p, seq)
	b.order(nil)
}

// AddWire is Add with the caller's number for the packet (frame) and its IP
// and TCP headers, both for its EventPacket (see Table.AddWire); they are
// kept only when the table reports packets. p and wire are copied.
func (c *Chunk) AddWire(p *Packet, seq, frame uint64, wire []byte) {
	if !c.t.ReportsPackets() {
		c.add(p, seq).order(nil)
		return
	}
	c.addExtra(p, seq, itemExtra{frame: frame}, wire)
}

// Refuse is Table.Refuse for a chunk: a packet the tracker refuses before
// looking at any flow, counted invalid and, when the table reports
// packets, reported with why in order with the others.
func (c *Chunk) Refuse(p *Packet, seq, frame uint64, why fsm.Reason, wire []byte) {
	if !c.t.ReportsPackets() {
		c.refused++
		return
	}
	c.addExtra(p, seq, itemExtra{why: why, frame: frame}, wire)
}

// addExtra files p with its extra and a copy of its headers, in number
// order.
func (c *Chunk) addExtra(p *Packet, seq uint64, ex itemExtra, wire []byte) {
	b := c.add(p, seq)
	ex.start = uint32(len(b.wire))
	b.wire = append(b.wire, wire[:min(len(wire), maxWire)]...)
	ex.end = uint32(len(b.wire))
	b.order(&ex)
}

// order moves the item just appended (and ex, its extra, when the part
// carries extras) back to its place by packet number; nearly always it is
// in place already.
func (b *batch) order(ex *itemExtra) {
	n := len(b.items) - 1
	if ex != nil {
		b.extra = append(b.extra, *ex)
	}
	if n == 0 || b.items[n-1].seq < b.items[n].seq {
		return
	}
	it := b.items[n]
	i, _ := slices.BinarySearchFunc(b.items[:n], it.seq, func(x item, s uint64) int {
		switch {
		case x.seq < s:
			return -1
		case x.seq > s:
			return 1
		}
		return 0
	})
	copy(b.items[i+1:], b.items[i:n])
	b.items[i] = it
	if ex != nil {
		e := b.extra[n]
		copy(b.extra[i+1:], b.extra[i:n])
		b.extra[i] = e
	}
}

// Through says capture time has reached ts with this chunk, even where no
// packet of it did: expiry and event order move up to ts.
func (c *Chunk) Through(ts int64) { c.through = max(c.through, ts) }

// Submit hands the chunk to the shards; done, if not nil, runs once every
// shard has processed its part. Chunks go in the order NewChunk gave them
// out, one Submit at a time.
func (t *Table) Submit(c *Chunk, done func()) {
	t.clock = max(t.clock, c.through)
	t.refused += c.refused
	c.refused = 0
	c.done = done
	c.left.Store(int32(len(c.parts)))
	for si, b := range c.parts {
		b.through = c.through
		t.handOver(si, b)
	}
}

// partDone is called by a shard that has processed its part of c.
func (t *Table) partDone(c *Chunk) {
	if c.left.Add(-1) != 0 {
		return
	}
	if c.done != nil {
		c.done()
		c.done = nil
	}
	c.through = 0
	t.chunks <- c
}
