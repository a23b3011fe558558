package assemble

import (
	"io"
	"sync/atomic"
)

// readBuf is a Reader's buffered input. Unlike bufio it never moves bytes
// another goroutine may still be reading: when a block does not fit in
// what is left of the current buffer, the unread rest is copied to the
// start of a fresh buffer, and a buffer is reused only when nothing holds
// it any more (see Hold). A Record can therefore be kept past the next
// call to Next by retaining its hold, which is how ParallelPipeline hands
// packets to decoding goroutines without copying them.
type readBuf struct {
	rd   io.Reader
	size int // of a new buffer (bufSize; tests use small ones)
	cur  *Hold
	r, w int // unread bytes are cur.b[r:w]
	err  error
	pool chan *Hold // buffers nobody holds, ready for reuse
}

// bufSize is the size of each buffer. A block that does not fit with the
// unread rest before it (pcapng allows up to readBufSize) gets a buffer of
// its own size.
const bufSize = 512 << 10

// Hold keeps the buffer a Record's Data points into from being reused.
// The Reader holds its current buffer; Retain adds a holder, Release
// drops one, and the buffer goes back to its Reader once the count is 0.
type Hold struct {
	b    []byte
	refs atomic.Int32
	pool chan *Hold
}

// offset is where data, a slice of h's buffer as the Reader cut it (two-
// index slicing: its capacity runs to the buffer's end), starts in it.
func (h *Hold) offset(data []byte) int { return cap(h.b) - cap(data) }

// Retain keeps the buffer for one more holder.
func (h *Hold) Retain() { h.refs.Add(1) }

// Release drops a holder; the last one returns the buffer for reuse.
func (h *Hold) Release() {
	if h.refs.Add(-1) == 0 {
		select {
		case h.pool <- h:
		default: // enough spare buffers already: let the GC have it
		}
	}
}

func newReadBuf(rd io.Reader, size int) *readBuf {
	// Room for every buffer in flight (the jobs of a ParallelPipeline hold
	// a few each): a buffer dropped here would be garbage, and a new one
	// allocated in its place.
	b := &readBuf{rd: rd, size: size, pool: make(chan *Hold, 16)}
	b.cur = b.get(size)
	return b
}

// dropSpare empties the pool of spare buffers, for the collector.
func (b *readBuf) dropSpare() {
	for {
		select {
		case <-b.pool:
		default:
			return
		}
	}
}

// get returns a buffer of at least n bytes, held once (by the caller).
func (b *readBuf) get(n int) *Hold {
	var h *Hold
	select {
	case h = <-b.pool:
		if len(h.b) < n {
			h = nil
		}
	default:
	}
	if h == nil {
		h = &Hold{b: make([]byte, max(n, b.size)), pool: b.pool}
	}
	h.refs.Store(1)
	return h
}

// roll makes room for n unread bytes from r on: the unread rest moves to
// the start of the current buffer when nothing else holds it and it is big
// enough, else to a fresh one.
func (b *readBuf) roll(n int) {
	rest := b.w - b.r
	if b.cur.refs.Load() == 1 && len(b.cur.b) >= n {
		copy(b.cur.b, b.cur.b[b.r:b.w])
	} else {
		nb := b.get(n)
		copy(nb.b, b.cur.b[b.r:b.w])
		b.cur.Release()
		b.cur = nb
	}
	b.r, b.w = 0, rest
}

// fill reads once into the free end of the current buffer.
func (b *readBuf) fill() {
	for range 100 {
		m, err := b.rd.Read(b.cur.b[b.w:])
		b.w += m
		if err != nil {
			b.err = err
			return
		}
		if m > 0 {
			return
		}
	}
	b.err = io.ErrNoProgress
}

// Peek returns the next n bytes (n ≤ readBufSize) without consuming them;
// fewer, with the read error, at the end of the input.
func (b *readBuf) Peek(n int) ([]byte, error) {
	if b.w-b.r >= n { // the common case, small enough to inline
		return b.cur.b[b.r : b.r+n], nil
	}
	return b.peekMore(n)
}

func (b *readBuf) peekMore(n int) ([]byte, error) {
	for b.w-b.r < n && b.err == nil {
		if len(b.cur.b)-b.r < n {
			b.roll(n)
		}
		b.fill()
	}
	if b.w-b.r >= n {
		return b.cur.b[b.r : b.r+n], nil
	}
	return b.cur.b[b.r:b.w], b.err
}

// Discard skips n bytes, reading through the input as needed.
func (b *readBuf) Discard(n int) (int, error) {
	if b.w-b.r >= n {
		b.r += n
		return n, nil
	}
	return b.discardMore(n)
}

func (b *readBuf) discardMore(n int) (int, error) {
	done := 0
	for {
		k := min(n-done, b.w-b.r)
		b.r += k
		done += k
		if done == n || b.err != nil {
			if done < n {
				return done, b.err
			}
			return done, nil
		}
		b.roll(0)
		b.fill()
	}
}

// Read lets a decompressor read through the buffer (gzip input).
func (b *readBuf) Read(p []byte) (int, error) {
	if b.r == b.w {
		if b.err != nil {
			return 0, b.err
		}
		if len(b.cur.b)-b.w < len(b.cur.b)/2 {
			b.roll(0)
		}
		b.fill()
	}
	n := copy(p, b.cur.b[b.r:b.w])
	b.r += n
	if n == 0 {
		return 0, b.err
	}
	return n, nil
}
