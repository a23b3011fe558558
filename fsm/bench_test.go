package fsm

import "testing"

// benchFlow is a realistic connection: handshake with options, 20 data
// segments each acknowledged, a close from each side.
func benchFlow() (segs []Segment, dirs []Dir) {
	add := func(d Dir, s Segment) { segs, dirs = append(segs, s), append(dirs, d) }
	add(Original, Segment{Flags: SYN, Seq: 1000, Window: 64240, MSS: 1460, HasWScale: true, WScale: 7, SackPerm: true, HasTS: true})
	add(Reply, Segment{Flags: SYN | ACK, Seq: 5000, Ack: 1001, Window: 65160, MSS: 1460, HasWScale: true, WScale: 7, SackPerm: true, HasTS: true})
	add(Original, Segment{Flags: ACK, Seq: 1001, Ack: 5001, Window: 502, HasTS: true})
	a, b := uint32(1001), uint32(5001)
	for i := 0; i < 20; i++ {
		add(Original, Segment{Flags: PSH | ACK, Seq: a, Ack: b, Window: 502, PayloadLen: 1448, HasTS: true})
		a += 1448
		add(Reply, Segment{Flags: ACK, Seq: b, Ack: a, Window: 501, HasTS: true})
	}
	add(Original, Segment{Flags: FIN | ACK, Seq: a, Ack: b, Window: 502, HasTS: true})
	add(Reply, Segment{Flags: FIN | ACK, Seq: b, Ack: a + 1, Window: 501, HasTS: true})
	add(Original, Segment{Flags: ACK, Seq: a + 1, Ack: b + 1, Window: 502, HasTS: true})
	return segs, dirs
}

func BenchmarkUpdate(b *testing.B) {
	cfg := DefaultConfig()
	segs, dirs := benchFlow()
	var c Conn
	// Sanity: the flow must end in TIME_WAIT with every packet accepted.
	c.Start(&cfg, &segs[0])
	for i := range segs {
		if r := c.Update(&cfg, dirs[i], &segs[i]); r.Verdict != Accept {
			b.Fatalf("packet %d: %v", i, r.Verdict)
		}
	}
	if c.State() != TimeWait {
		b.Fatalf("flow ends in %v", c.State())
	}
	b.ReportAllocs()
	b.ResetTimer()
	var sink Verdict
	for n := 0; n < b.N; n++ {
		c.Start(&cfg, &segs[0])
		for i := range segs {
			sink |= c.Update(&cfg, dirs[i], &segs[i]).Verdict
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(segs)), "ns/pkt")
	_ = sink
}

// TestUpdateAllocs keeps the hot path allocation-free under plain go test.
func TestUpdateAllocs(t *testing.T) {
	cfg := DefaultConfig()
	segs, dirs := benchFlow()
	var c Conn
	n := testing.AllocsPerRun(100, func() {
		c.Start(&cfg, &segs[0])
		for i := range segs {
			c.Update(&cfg, dirs[i], &segs[i])
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per connection, want 0", n)
	}
}

func BenchmarkHostsUpdate(b *testing.B) {
	cfg := DefaultHostConfig()
	segs, dirs := benchFlow()
	var h Hosts
	for i := range segs {
		h.Update(&cfg, dirs[i], &segs[i], int64(i)*1e6)
	}
	if so := h.Socket(&cfg, Original, int64(len(segs))*1e6); so.State != SockTimeWait {
		b.Fatalf("the client ends in %v", so.State)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		h = Hosts{}
		for i := range segs {
			h.Update(&cfg, dirs[i], &segs[i], int64(i)*1e6)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(segs)), "ns/pkt")
}

// TestHostsUpdateAllocs: the host model allocates nothing either.
func TestHostsUpdateAllocs(t *testing.T) {
	cfg := DefaultHostConfig()
	segs, dirs := benchFlow()
	var h Hosts
	n := testing.AllocsPerRun(100, func() {
		h = Hosts{}
		for i := range segs {
			h.Update(&cfg, dirs[i], &segs[i], int64(i)*1e6)
		}
		_ = h.Socket(&cfg, Reply, int64(len(segs))*1e6)
	})
	if n != 0 {
		t.Errorf("%v allocations per connection, want 0", n)
	}
}
