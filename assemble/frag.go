package assemble

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/tcptrack/tcptrack/flowtable"
)

// Fragment reassembly, after the kernel's (net/ipv4/ip_fragment.c,
// net/ipv6/netfilter/nf_conntrack_reasm.c, inet_fragment.c), because
// conntrack only ever sees whole datagrams:
//   - a datagram is keyed by (src, dst, id, protocol) for IPv4 and
//     (src, dst, id) for IPv6, and waits at most the timeout from its first
//     fragment;
//   - a fragment wholly inside bytes already held is a duplicate and is
//     ignored; any other overlap discards the whole datagram (RFC 5722, and
//     Linux does the same for IPv4);
//   - non-final fragments are cut to a multiple of 8 bytes (IPv4) or kill
//     the datagram (IPv6); inconsistent final lengths drop the fragment;
//   - the reassembled datagram takes the first fragment's headers and, for
//     IPv6, loses its fragment header.
// Only TCP datagrams are held: others cannot become a segment.

// fragKey identifies a datagram being reassembled. IPv4 addresses sit in
// the first 4 bytes of src and dst.
type fragKey struct {
	src, dst [16]byte
	id       uint32
	proto    uint8 // IPv4 only
	v6       bool
}

// fragPiece is one fragment held: its place in the datagram and how much
// of it was captured. cont marks a piece appended to the run of the piece
// before it (the kernel's "fragment runs", which decide duplicates).
type fragPiece struct {
	off, end, capEnd int
	cont             bool
}

type fragQueue struct {
	key      fragKey
	deadline int64 // capture time at which the datagram is given up
	firstIn  bool
	lastIn   bool
	length   int // end of the datagram: final once lastIn
	meat     int // payload bytes held
	held     int // bytes charged against MaxFragBytes
	hdr      []byte
	nhoff    int  // IPv6: offset in hdr of the next-header byte naming the fragment header
	nexthdr  byte // IPv6: the fragment header's next header, from the first fragment
	data     []byte
	pieces   []fragPiece // sorted by off, never overlapping
}

type fragTable struct {
	queues     map[fragKey]*fragQueue
	free       []*fragQueue // recycled queues with their buffers
	scratch    []byte       // reassembled datagram handed to the decoder
	held       int
	nextExpiry int64

	completed, expired, dropped, duplicate uint64
	// Frames behind those counts, so every Fragment frame is accounted
	// for: joined into a datagram (all but the frame that completed it,
	// which Decode reports as what the datagram was), or lost with a
	// datagram given up (expired, overlapping, inconsistent).
	framesJoined, framesLost uint64
}

const (
	maxDatagram = 65535 // no IP datagram payload may end beyond this
	maxFreeFrag = 16    // recycled queues kept
)

func (t *fragTable) init() {
	t.queues = make(map[fragKey]*fragQueue)
	t.nextExpiry = math.MaxInt64
}

// addIPv4 takes an IPv4 TCP fragment; b is the IP datagram as captured,
// total its length from the header.
func (t *fragTable) addIPv4(d *Decoder, b []byte, total, ihl, extra int, p *flowtable.Packet) Kind {
	ff := be16(b[6:])
	var key fragKey
	copy(key.src[:], b[12:16])
	copy(key.dst[:], b[16:20])
	key.id = uint32(be16(b[4:]))
	key.proto = b[9]
	off := int(ff&0x1fff) * 8
	data := b[ihl:min(len(b), total)]
	return t.add(d, &key, off, off+total-ihl, ff&0x2000 != 0, data, b[:ihl], 0, 0, p)
}

// addIPv6 takes an IPv6 fragment whose fragment header is at fh; b is the
// packet as captured, total its length from the header, nhoff the offset of
// the next-header byte that names the fragment header.
func (t *fragTable) addIPv6(d *Decoder, b []byte, total, fh, nhoff int, p *flowtable.Packet) Kind {
	fo := be16(b[fh+2:])
	var key fragKey
	copy(key.src[:], b[8:24])
	copy(key.dst[:], b[24:40])
	key.id = be32(b[fh+4:])
	key.v6 = true
	off := int(fo &^ 7)
	start := fh + 8
	if off == 0 && tcpHeaderSplit(b, b[fh], start, total) {
		// The kernel refuses to reassemble a first fragment that does not
		// hold the whole TCP header; conntrack then finds no ports in it.
		return Malformed
	}
	data := b[start:max(start, min(len(b), total))]
	return t.add(d, &key, off, off+total-start, fo&1 != 0, data, b[:fh], nhoff, b[fh], p)
}

// tcpHeaderSplit reports whether the upper-layer header starting at off
// (type nh, extension headers first) is TCP and ends beyond total.
func tcpHeaderSplit(b []byte, nh byte, off, total int) bool {
	for {
		switch nh {
		case ipProtoTCP:
			return off+20 > total
		case ipv6HopByHop, ipv6Routing, ipv6DestOpts, ipv6AH:
			if off+2 > total || off+2 > len(b) {
				return false // cannot tell: the kernel lets it through too
			}
			hl := (int(b[off+1]) + 1) * 8
			if nh == ipv6AH {
				hl = (int(b[off+1]) + 2) * 4
			}
			nh = b[off]
			off += hl
		default:
			return false
		}
	}
}

// add queues one fragment covering [off, end) of its datagram; data is the
// captured part of its payload, hdr the headers before the payload (IP
// header, for IPv6 also extension headers before the fragment header).
func (t *fragTable) add(d *Decoder, key *fragKey, off, end int, more bool, data, hdr []byte, nhoff int, nexthdr byte, p *flowtable.Packet) Kind {
	if end > maxDatagram {
		t.dropped++
		return Fragment
	}
	charge := end - off
	if off == 0 {
		charge += len(hdr)
	}
	if t.held+charge > d.cfg.MaxFragBytes {
		t.dropped++
		return Fragment
	}
	q := t.queues[*key]
	if q == nil {
		q = t.newQueue(key, p.TS, d)
	}
	if !more {
		if end < q.length || (q.lastIn && end != q.length) {
			t.dropped++
			return Fragment
		}
		q.lastIn, q.length = true, end
	} else {
		if end&7 != 0 {
			if key.v6 {
				t.giveUp(q)
				t.dropped++
				return Fragment
			}
			end &^= 7
		}
		if end > q.length {
			if q.lastIn {
				t.dropped++
				return Fragment
			}
			q.length = end
		}
	}
	if end <= off {
		t.dropped++
		return Fragment
	}
	data = data[:min(len(data), end-off)]

	at, cont, dup, overlap := q.place(off, end)
	switch {
	case dup:
		t.duplicate++
		return Fragment
	case overlap:
		t.giveUp(q)
		t.dropped++
		return Fragment
	}
	q.pieces = append(q.pieces, fragPiece{})
	copy(q.pieces[at+1:], q.pieces[at:])
	q.pieces[at] = fragPiece{off: off, end: end, capEnd: off + len(data), cont: cont}
	if cap(q.data) < end {
		grown := make([]byte, end, max(end, min(2*cap(q.data), maxDatagram)))
		copy(grown, q.data)
		q.data = grown
	}
	if len(q.data) < end {
		q.data = q.data[:end]
	}
	copy(q.data[off:], data)
	if off == 0 {
		q.firstIn = true
		q.hdr = append(q.hdr[:0], hdr...)
		q.nhoff, q.nexthdr = nhoff, nexthdr
	}
	q.meat += end - off
	q.held += charge
	t.held += charge
	if q.firstIn && q.lastIn && q.meat == q.length {
		return t.reassemble(d, q, p)
	}
	return Fragment
}

// place finds where [off, end) goes among the pieces, following
// inet_frag_queue_insert: beyond the last piece it starts or continues a
// run (overlapping the last piece discards); elsewhere, lying inside one
// run is a duplicate and touching any run otherwise is an overlap.
func (q *fragQueue) place(off, end int) (at int, cont, dup, overlap bool) {
	n := len(q.pieces)
	if n == 0 {
		return 0, false, false, false
	}
	if last := q.pieces[n-1]; last.end < end {
		if off < last.end {
			return n, false, false, true
		}
		return n, off == last.end, false, false
	}
	runStart := 0
	at = n
	for i := 0; i < n; i++ {
		if !q.pieces[i].cont {
			runStart = i
		}
		// Evaluate a run once its last piece is reached.
		if i+1 < n && q.pieces[i+1].cont {
			continue
		}
		rs, re := q.pieces[runStart].off, q.pieces[i].end
		switch {
		case end <= rs:
			if at == n {
				at = runStart
			}
		case off >= re:
		case off >= rs && end <= re:
			return 0, false, true, false
		default:
			return 0, false, false, true
		}
	}
	return at, false, false, false
}

func (t *fragTable) newQueue(key *fragKey, now int64, d *Decoder) *fragQueue {
	var q *fragQueue
	if n := len(t.free); n > 0 {
		q = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		q = new(fragQueue)
	}
	timeout := d.cfg.IPv4FragTimeout
	if key.v6 {
		timeout = d.cfg.IPv6FragTimeout
	}
	q.key = *key
	q.deadline = now + int64(timeout/time.Nanosecond)
	t.queues[*key] = q
	t.nextExpiry = min(t.nextExpiry, q.deadline)
	return q
}

// giveUp discards an incomplete datagram with the frames it holds.
func (t *fragTable) giveUp(q *fragQueue) {
	t.framesLost += uint64(len(q.pieces))
	t.release(q)
}

// waitingFrames is the number of frames held by incomplete datagrams.
func (t *fragTable) waitingFrames() uint64 {
	n := 0
	for _, q := range t.queues {
		n += len(q.pieces)
	}
	return uint64(n)
}

// release forgets a datagram and recycles its buffers.
func (t *fragTable) release(q *fragQueue) {
	delete(t.queues, q.key)
	t.held -= q.held
	if len(t.queues) == 0 {
		t.nextExpiry = math.MaxInt64
	}
	*q = fragQueue{hdr: q.hdr[:0], data: q.data[:0], pieces: q.pieces[:0]}
	if len(t.free) < maxFreeFrag {
		t.free = append(t.free, q)
	}
}

// expire gives up datagrams whose time is over at capture time now.
func (t *fragTable) expire(now int64) {
	next := int64(math.MaxInt64)
	for _, q := range t.queues {
		if now >= q.deadline {
			t.giveUp(q)
			t.expired++
			continue
		}
		next = min(next, q.deadline)
	}
	t.nextExpiry = next
}

// reassemble rebuilds a complete datagram into scratch and decodes it. Only
// the captured prefix is copied: a snaplen-cut fragment leaves the rest
// unknown, which the decoder sees as bytes cut from the end.
func (t *fragTable) reassemble(d *Decoder, q *fragQueue, p *flowtable.Packet) Kind {
	t.completed++
	captured := 0
	for _, pc := range q.pieces {
		if pc.off > captured {
			break
		}
		captured = max(captured, pc.capEnd)
		if pc.capEnd < pc.end {
			break
		}
	}
	buf := append(t.scratch[:0], q.hdr...)
	buf = append(buf, q.data[:captured]...)
	t.scratch = buf
	length, hl, v6 := q.length, len(q.hdr), q.key.v6
	nhoff, nexthdr := q.nhoff, q.nexthdr
	others := uint64(len(q.pieces) - 1) // the completing frame is counted by its Kind
	t.release(q)
	if !v6 {
		total := hl + length
		if total > maxDatagram {
			t.dropped++
			t.framesLost += others
			return Fragment
		}
		t.framesJoined += others
		binary.BigEndian.PutUint16(buf[2:], uint16(total))
		binary.BigEndian.PutUint16(buf[6:], be16(buf[6:])&0x4000) // keep DF only
		return d.ipv4(buf, length-captured, p, true)
	}
	payload := hl - 40 + length
	if payload > maxDatagram {
		t.dropped++
		t.framesLost += others
		return Fragment
	}
	t.framesJoined += others
	buf[nhoff] = nexthdr
	binary.BigEndian.PutUint16(buf[4:], uint16(payload))
	return d.ipv6(buf, length-captured, p, true)
}
