package decode

import (
	"math"
	"net/netip"
)

// Zeek reassembles IP fragments itself (Frag.cc), differently from the
// kernel: fragments are keyed by addresses and ID only, overlapping data
// keeps what arrived first, the reassembled datagram carries the header of
// the first fragment that arrived (with its length fixed), and a datagram
// waits frag_timeout (5 minutes) for its missing pieces.

type fragKey struct {
	src, dst netip.Addr
	id       uint32
}

type span struct{ lo, hi int }

type fragBuf struct {
	hdr     []byte // header(s) of the first fragment that arrived
	data    []byte // the fragmentable part, by offset
	have    []span // ranges of data received, sorted, disjoint
	size    int    // the datagram's payload size, once the last fragment says (0: unknown)
	v4      bool
	nhPos   int   // IPv6: the next-header byte in hdr that named the fragment header
	next    uint8 // IPv6: the protocol of the fragmentable part
	expires int64
}

type fragTable struct {
	bufs    map[fragKey]*fragBuf
	held    int   // bytes held in all buffers
	next    int64 // earliest expiry (math.MaxInt64: none)
	scratch []byte
}

func (t *fragTable) init() {
	t.bufs = make(map[fragKey]*fragBuf)
	t.next = math.MaxInt64
}

func (t *fragTable) drop(k fragKey, f *fragBuf) {
	t.held -= len(f.hdr) + len(f.data)
	delete(t.bufs, k)
}

// expire drops datagrams past their timeout.
func (t *fragTable) expire(now int64) {
	if now < t.next {
		return
	}
	t.next = math.MaxInt64
	for k, f := range t.bufs {
		if f.expires <= now {
			t.drop(k, f)
		} else if f.expires < t.next {
			t.next = f.expires
		}
	}
}

// add takes the fragment b (its headers and payload, exactly its total
// length) and returns the whole datagram once complete, nil before. The
// slice is reused by the next completion.
func (t *fragTable) add(d *Decoder, h *ipHdr, b []byte) []byte {
	k := fragKey{h.src, h.dst, h.frag.id}
	f := t.bufs[k]
	hl := h.hdrLen
	if !h.v4 {
		hl = h.frag.at + 8 // the fragment header is part of the chain
	}
	if f == nil {
		f = &fragBuf{v4: h.v4, expires: d.now + int64(d.cfg.FragTimeout)}
		if h.v4 {
			f.hdr = append([]byte(nil), b[:h.hdrLen]...)
		} else {
			f.hdr = append([]byte(nil), b[:h.frag.at]...)
			f.nhPos, f.next = h.frag.nhPos, h.frag.next
		}
		if t.held+len(f.hdr) > d.cfg.MaxFragBytes {
			return nil
		}
		t.held += len(f.hdr)
		t.bufs[k] = f
		if f.expires < t.next {
			t.next = f.expires
		}
	}
	if len(b) < hl {
		return nil
	}
	off := h.frag.offset
	upper := off + len(b) - hl
	if off == 0 && !h.v4 {
		f.next = h.frag.next
	}
	if !h.frag.more {
		if f.size == 0 || upper > f.size {
			f.size = upper
		}
	}
	if f.size != 0 && upper > f.size {
		f.size = upper
	}
	if upper > len(f.data) {
		if t.held+upper-len(f.data) > d.cfg.MaxFragBytes || upper > 1<<20 {
			t.drop(k, f)
			return nil
		}
		t.held += upper - len(f.data)
		f.data = append(f.data, make([]byte, upper-len(f.data))...)
	}
	f.fill(off, b[hl:])
	return t.complete(k, f)
}

// fill copies p at off where nothing arrived yet: earlier data wins.
func (f *fragBuf) fill(off int, p []byte) {
	lo, hi := off, off+len(p)
	if lo == hi {
		return
	}
	var out []span
	pos := lo
	for _, s := range f.have {
		if s.hi < lo || s.lo > hi {
			continue
		}
		if pos < s.lo {
			copy(f.data[pos:s.lo], p[pos-off:s.lo-off])
		}
		pos = max(pos, s.hi)
	}
	if pos < hi {
		copy(f.data[pos:hi], p[pos-off:])
	}
	// Merge [lo, hi) into the covered ranges.
	for _, s := range f.have {
		if s.hi < lo || s.lo > hi {
			out = append(out, s)
			continue
		}
		lo, hi = min(lo, s.lo), max(hi, s.hi)
	}
	out = append(out, span{lo, hi})
	for i := len(out) - 1; i > 0 && out[i].lo < out[i-1].lo; i-- {
		out[i], out[i-1] = out[i-1], out[i]
	}
	f.have = out
}

// complete returns the datagram when data covers [0, size).
func (t *fragTable) complete(k fragKey, f *fragBuf) []byte {
	if f.size == 0 || len(f.have) == 0 || f.have[0].lo != 0 {
		return nil
	}
	if f.have[0].hi < f.size {
		return nil
	}
	n := len(f.hdr) + f.size
	out := append(t.scratch[:0], f.hdr...)
	out = append(out, f.data[:f.size]...)
	t.scratch = out
	if f.v4 {
		out[2], out[3] = byte(n>>8), byte(n)
	} else {
		out[f.nhPos] = f.next
		pl := n - 40
		out[4], out[5] = byte(pl>>8), byte(pl)
	}
	t.drop(k, f)
	return out[:n]
}
