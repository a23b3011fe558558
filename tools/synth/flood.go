package main

import (
	"encoding/binary"
	"math/rand/v2"
)

// clock stamps packets: a link carrying about rate packets/s, with gaps
// drawn uniformly from [0, 2/rate] so arrivals are irregular but the mean
// rate holds.
type clock struct {
	now    int64 // Unix nanoseconds
	maxGap uint64
}

func newClock(startUnix int64, rate float64) clock {
	return clock{now: startUnix * 1e9, maxGap: uint64(2e9 / rate)}
}

func (c *clock) tick(r *rand.Rand) int64 {
	c.now += int64(r.Uint64N(c.maxGap + 1))
	return c.now
}

// tupleBits is the source space of the SYN flood: 24 bits of address in
// 10.0.0.0/8 and 15 bits of port in 32768-65535.
const tupleBits = 39

// scramble is a bijection on [0, 2^39): distinct i give distinct source
// tuples, in an order that looks random.
func scramble(i, key uint64) uint64 {
	const mask = 1<<tupleBits - 1
	x := (i*0x9e3779b97f4a7c15 + key) & mask
	x ^= x >> 19
	x = (x * 0xbf58476d1ce4e5b9) & mask
	x ^= x >> 17
	return x
}

// synFlood writes n SYNs from n distinct sources to one server: n half-open
// flows for a tracker, for measuring memory per tracked flow.
func synFlood(pw *pcapWriter, r *rand.Rand, clk clock, n int64) error {
	var fb frameBuilder
	key := r.Uint64()
	h := l2{srcMAC: clientMAC(1), dstMAC: gatewayMAC, dst: [16]byte{192, 0, 2, 1}}
	c := conn{opts: optTS | optWS | optSACK, mss: 1448}
	c.ep[client].wscale = 7
	for i := int64(0); i < n; i++ {
		ts := clk.tick(r)
		x := scramble(uint64(i), key)
		binary.BigEndian.PutUint32(h.src[:4], 10<<24|uint32(x>>15))
		h.ipID = uint16(r.Uint32())
		c.ep[client].tsBase = r.Uint32()
		opts := c.options(&fb, &c.ep[client], &c.ep[server], flagSYN, ts)
		frame := fb.tcp(&h, uint16(32768|x&0x7fff), 443, r.Uint32(), 0, flagSYN, 64240, opts, nil)
		if err := pw.write(ts, frame); err != nil {
			return err
		}
	}
	return nil
}

// garbage writes n frames of random bytes. Half get a plausible EtherType
// and IP version/protocol so decoders get past the first byte before
// finding the damage.
func garbage(pw *pcapWriter, r *rand.Rand, clk clock, n int64) error {
	var fb frameBuilder
	pool := randomPool(r, poolSize)
	types := [...]uint16{etherIPv4, etherIPv4, etherIPv6, etherVLAN, etherARP}
	for i := int64(0); i < n; i++ {
		ts := clk.tick(r)
		var size int
		switch x := r.IntN(10); {
		case x == 0:
			size = r.IntN(ethLen)
		case x < 7:
			size = ethLen + r.IntN(128)
		default:
			size = 128 + r.IntN(1514-128)
		}
		off := r.IntN(poolSize - maxFrame)
		b := fb.buf[:size]
		copy(b, pool[off:])
		if size >= ethLen+ipv6Len && r.IntN(2) == 0 {
			et := types[r.IntN(len(types))]
			binary.BigEndian.PutUint16(b[12:], et)
			switch et {
			case etherIPv4:
				b[14] = 0x45
				b[23] = protoTCP
			case etherIPv6:
				b[14] = 0x60
				b[20] = protoTCP
			}
		}
		if err := pw.write(ts, b); err != nil {
			return err
		}
	}
	return nil
}
