package flowtable

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"reflect"
	"testing"

	"github.com/tcptrack/tcptrack/internal/testutil"

	"github.com/tcptrack/tcptrack/fsm"
)

// Shard-level fuzzing: random segment sequences over a few tuples (some
// sharing addresses or ports, both families, both directions) go through
// one shard, which must never panic and whose accounting must add up after
// every packet; the same segments through Tables of 1 and 3 shards must
// give the same flows, statistics and event stream.

// fuzzTuples are the connections a fuzz input can address: v4 and v6,
// tuples sharing an address or a port, and one that is another's reverse
// with the ports swapped (a different flow that hashes near it).
var fuzzTuples = [...]struct {
	src, dst     netip.Addr
	sport, dport uint16
}{
	{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 40000, 80},
	{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 40001, 80},
	{netip.MustParseAddr("10.0.0.3"), netip.MustParseAddr("10.0.0.2"), 40000, 80},
	{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.1"), 40000, 80},
	{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"), 40000, 443},
	{netip.MustParseAddr("2001:db8::2"), netip.MustParseAddr("2001:db8::1"), 443, 40001},
	{netip.MustParseAddr("::ffff:10.0.0.1"), netip.MustParseAddr("::ffff:10.0.0.2"), 40000, 80},
	{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.1"), 7, 7}, // both ends alike
}

// shardStepLen is the bytes one step decodes from.
const shardStepLen = 8

// fuzzSetup is the first input byte: bits 0-1 the table limit (none, 1, 2,
// 4 flows), bit 2 Liberal, bit 3 Loose off, bits 4-5 timeouts scaled down
// (so expiry happens within a short input).
func fuzzSetup(b byte) (cfg fsm.Config, maxFlows int) {
	cfg = fsm.DefaultConfig()
	cfg.Liberal = b&0x04 != 0
	cfg.Loose = b&0x08 == 0
	if shift := (b >> 4) & 3; shift > 0 {
		for i := range cfg.Timeouts {
			cfg.Timeouts[i] >>= 4 * shift
		}
	}
	return cfg, [...]int{0, 1, 2, 4}[b&3]
}

// decodeShardSteps turns fuzz input into packets. Per step:
//
//	b0: bits 0-2 tuple, bit 3 reply direction, bits 4-7 time step
//	    (0: same instant, 15: one step back, else 2^(2n) ms forward)
//	b1: TCP flags   b2-3: seq delta   b4-5: ack delta   b6: window/256   b7: payload
//
// Sequence and ACK numbers are deltas from each side's running next
// sequence number, so that many inputs stay inside the windows.
func decodeShardSteps(data []byte, emit func(*Packet)) {
	var next [len(fuzzTuples)][2]uint32
	for i := range next {
		next[i] = [2]uint32{uint32(i) * 100000, 1<<31 + uint32(i)*100000}
	}
	ts := int64(1_700_000_000e9)
	var p Packet
	for len(data) >= shardStepLen {
		b := data[:shardStepLen]
		data = data[shardStepLen:]
		ti, dir := int(b[0]&7), int(b[0]>>3&1)
		switch step := b[0] >> 4; step {
		case 0:
		case 15:
			ts -= 1e9
		default:
			ts += int64(1e6) << (2 * (step - 1))
		}
		tu := fuzzTuples[ti]
		p = Packet{TS: ts, Src: tu.src, Dst: tu.dst}
		p.TCP.SrcPort, p.TCP.DstPort = tu.sport, tu.dport
		if dir == 1 {
			p.Src, p.Dst = p.Dst, p.Src
			p.TCP.SrcPort, p.TCP.DstPort = p.TCP.DstPort, p.TCP.SrcPort
		}
		s := &p.TCP
		s.Flags = fsm.Flags(b[1])
		s.Seq = next[ti][dir] + uint32(int32(int16(binary.BigEndian.Uint16(b[2:]))))
		s.Ack = next[ti][dir^1] + uint32(int32(int16(binary.BigEndian.Uint16(b[4:]))))
		s.Window = uint16(b[6]) << 8
		s.PayloadLen = uint32(b[7])
		if s.Flags&fsm.SYN != 0 {
			s.HasWScale, s.WScale, s.SackPerm, s.MSS = true, b[7]&0x0f, true, 1460
			s.PayloadLen = 0
		}
		p.IPLen = 40 + s.PayloadLen
		if p.Src.Is6() {
			p.IPLen += 20
		}
		if end := s.End(); int32(end-next[ti][dir]) > 0 {
			next[ti][dir] = end
		}
		emit(&p)
	}
}

// checkShard verifies what must hold after every packet.
func checkShard(s *shard) error {
	st := s.stats
	if st.Segments != st.Accepted+st.Ignored+st.Invalid+st.Dropped {
		return fmt.Errorf("segments %d != accepted %d + ignored %d + invalid %d + dropped %d",
			st.Segments, st.Accepted, st.Ignored, st.Invalid, st.Dropped)
	}
	if st.Created != st.Expired+st.Killed+st.Reopened+st.Evicted+uint64(s.len()) {
		return fmt.Errorf("created %d != expired %d + killed %d + reopened %d + evicted %d + live %d",
			st.Created, st.Expired, st.Killed, st.Reopened, st.Evicted, s.len())
	}
	if s.maxFlows > 0 && s.len() > s.maxFlows {
		return fmt.Errorf("%d flows held, limit %d", s.len(), s.maxFlows)
	}
	live := 0
	for pos := range s.flows.len() {
		f := s.flows.at(pos)
		if !f.live() {
			continue
		}
		live++
		if !f.Conn.State().Valid() || f.Conn.State() == fsm.None {
			return fmt.Errorf("flow %d in state %v", f.ID, f.Conn.State())
		}
		if got, reply, ok := s.ix.find(&s.flows, &f.Key, f.Key.Hash()); !ok || reply || got != pos {
			return fmt.Errorf("flow %d at %d not found by its key (got %d %v %v)", f.ID, pos, got, reply, ok)
		}
		a := s.acct.at(pos)
		for d := range 2 {
			if a.Bytes[d] < 40*a.Packets[d] {
				return fmt.Errorf("flow %d dir %d: %d bytes in %d packets", f.ID, d, a.Bytes[d], a.Packets[d])
			}
		}
	}
	if live != s.len() || s.ix.n != live {
		return fmt.Errorf("live flows %d, Len %d, index holds %d", live, s.len(), s.ix.n)
	}
	return nil
}

// countEvents counts NEW and DESTROY events.
func countEvents(evs []Event) (created, destroyed int) {
	for i := range evs {
		switch evs[i].Type {
		case EventNew:
			created++
		case EventDestroy:
			destroyed++
		}
	}
	return
}

func FuzzShard(f *testing.F) {
	for _, sd := range shardSeeds() {
		f.Add(sd.Data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		cfg, maxFlows := fuzzSetup(data[0])
		steps := data[1:]
		s := newShard(&cfg, maxFlows, true)
		s.keepAcct = true
		var seq uint64
		var last int64
		var accepted uint64
		backwards := false
		decodeShardSteps(steps, func(p *Packet) {
			seq++
			before := s.stats
			s.processPacket(p, seq)
			after := s.stats
			if after.Segments != before.Segments+1 {
				t.Fatalf("packet %d counted %d times", seq, after.Segments-before.Segments)
			}
			accepted += after.Accepted - before.Accepted
			if err := checkShard(s); err != nil {
				t.Fatalf("after packet %d (%v %v): %v", seq, p.TCP.Flags, p.TS, err)
			}
			backwards = backwards || p.TS < last
			last = max(last, p.TS)
			if seq%4 == 0 {
				s.sweep(last)
				if err := checkShard(s); err != nil {
					t.Fatalf("after sweep at packet %d: %v", seq, err)
				}
			}
		})
		flows := s.finish(last)
		if err := checkShard(s); err != nil {
			t.Fatalf("after finish: %v", err)
		}
		for i := range flows {
			if flows[i].Expires <= last {
				t.Fatalf("flow %d expired at %d still listed at %d", flows[i].ID, flows[i].Expires, last)
			}
		}
		evs := s.takeEvents(nil)
		created, destroyed := countEvents(evs)
		st := s.stats
		if uint64(created) != st.Created || uint64(destroyed) != st.Created-st.Active || st.Active != uint64(len(flows)) {
			t.Fatalf("events: %d new, %d destroy; stats %+v, %d flows", created, destroyed, st, len(flows))
		}
		// Every packet counted in a flow was accepted by the machine.
		var counted uint64
		for i := range evs {
			if evs[i].Type == EventDestroy {
				counted += evs[i].Flow.Packets[0] + evs[i].Flow.Packets[1]
			}
		}
		for i := range flows {
			counted += flows[i].Packets[0] + flows[i].Packets[1]
		}
		if counted > accepted {
			t.Fatalf("flows count %d packets, only %d accepted", counted, accepted)
		}

		// Sharding must not change the answer. Not with a limit (it is per
		// shard), nor when capture time steps back: what a step back finds
		// then depends on whether its flow's expiry was swept already.
		if maxFlows == 0 && !backwards {
			one := runTable(cfg, 1, steps)
			three := runTable(cfg, 3, steps)
			if d := one.diff(&three); d != "" {
				t.Fatalf("1 shard and 3 shards differ: %s", d)
			}
			if one.stats != st || len(one.flows) != len(flows) {
				t.Fatalf("table and shard differ: %+v vs %+v, %d vs %d flows", one.stats, st, len(one.flows), len(flows))
			}
		}
	})
}

type tableRun struct {
	flows  []Flow
	stats  Stats
	events []Event
}

// diff describes the first difference between two runs, or "".
func (r *tableRun) diff(o *tableRun) string {
	if r.stats != o.stats {
		return fmt.Sprintf("stats %+v vs %+v", r.stats, o.stats)
	}
	if len(r.flows) != len(o.flows) {
		return fmt.Sprintf("%d vs %d flows", len(r.flows), len(o.flows))
	}
	for i := range r.flows {
		a, b := &r.flows[i], &o.flows[i]
		// Timer links and slab positions are each shard's own business.
		if a.Key != b.Key || !reflect.DeepEqual(a.Conn, b.Conn) || a.ID != b.ID || a.Start != b.Start ||
			a.Last != b.Last || a.Expires != b.Expires || a.Packets != b.Packets || a.Bytes != b.Bytes {
			return fmt.Sprintf("flow %d: %+v vs %+v", i, r.flows[i], o.flows[i])
		}
	}
	if len(r.events) != len(o.events) {
		return fmt.Sprintf("%d vs %d events", len(r.events), len(o.events))
	}
	ra, ob := r.events, o.events
	for i := range ra {
		a, b := &ra[i], &ob[i]
		if a.Type != b.Type || a.TS != b.TS || a.Seq != b.Seq || a.Reason != b.Reason || a.Changes != b.Changes || a.Flow.ID != b.Flow.ID {
			return fmt.Sprintf("event %d: %v ts %d seq %d flow %d %v vs %v ts %d seq %d flow %d %v",
				i, a.Type, a.TS, a.Seq, a.Flow.ID, a.Reason, b.Type, b.TS, b.Seq, b.Flow.ID, b.Reason)
		}
	}
	return ""
}

func runTable(cfg fsm.Config, shards int, steps []byte) tableRun {
	var r tableRun
	tb := New(Config{FSM: cfg, Shards: shards, BatchSize: 3, TickEvery: 1e9, Acct: true, OnEvents: func(evs []Event) {
		r.events = append(r.events, evs...)
	}})
	var last int64
	decodeShardSteps(steps, func(p *Packet) {
		tb.Add(p)
		last = max(last, p.TS)
	})
	res := tb.Close(last)
	r.flows, r.stats = res.Flows(), res.Stats
	return r
}

// step encodes one fuzz step.
func step(tuple int, reply bool, dt byte, flags fsm.Flags, dseq, dack int16, win, plen byte) []byte {
	b := make([]byte, shardStepLen)
	b[0] = byte(tuple&7) | dt<<4
	if reply {
		b[0] |= 8
	}
	b[1] = byte(flags)
	binary.BigEndian.PutUint16(b[2:], uint16(dseq))
	binary.BigEndian.PutUint16(b[4:], uint16(dack))
	b[6], b[7] = win, plen
	return b
}

func join(setup byte, parts ...[]byte) []byte {
	out := []byte{setup}
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func handshake(tuple int) [][]byte {
	return [][]byte{
		step(tuple, false, 1, fsm.SYN, 0, 0, 200, 7),
		step(tuple, true, 1, fsm.SYN|fsm.ACK, 0, 0, 200, 7),
		step(tuple, false, 1, fsm.ACK, 0, 0, 200, 0),
	}
}

func shardSeeds() []testutil.Seed {
	var all [][]byte
	for ti := range fuzzTuples {
		all = append(all, handshake(ti)...)
		all = append(all, step(ti, false, 1, fsm.PSH|fsm.ACK, 0, 0, 200, 100))
	}
	closeT0 := [][]byte{
		step(0, false, 1, fsm.FIN|fsm.ACK, 0, 0, 200, 0),
		step(0, true, 1, fsm.FIN|fsm.ACK, 0, 0, 200, 0),
		step(0, false, 1, fsm.ACK, 0, 0, 200, 0),
		step(0, false, 2, fsm.SYN, 3000, 0, 200, 7), // reopen from TIME_WAIT
	}
	flood := [][]byte{}
	for ti := range fuzzTuples {
		flood = append(flood, step(ti, false, 0, fsm.SYN, 0, 0, 200, 0))
	}
	return []testutil.Seed{
		{Name: "all-tuples", Data: join(0x00, all...)},
		{Name: "open-close-reopen", Data: join(0x00, append(handshake(0), closeT0...)...)},
		{Name: "flood-limit-1", Data: join(0x01, flood...)},
		{Name: "flood-limit-2-assured", Data: join(0x02, append(append(handshake(0), handshake(4)...), flood...)...)},
		{Name: "expiry-fast-timeouts", Data: join(0x30, append(handshake(1), step(1, false, 14, fsm.ACK, 0, 0, 200, 0), step(2, false, 14, fsm.SYN, 0, 0, 200, 0))...)},
		{Name: "rst-kill-and-pickup", Data: join(0x00,
			step(0, false, 1, fsm.SYN, 0, 0, 200, 0),
			step(0, false, 1, fsm.RST, 1, 0, 0, 0),
			step(0, true, 1, fsm.PSH|fsm.ACK, 0, 0, 200, 50),
			step(0, false, 1, fsm.ACK, 0, 0, 200, 0))},
		{Name: "time-backwards", Data: join(0x10, append(handshake(3), step(3, false, 15, fsm.ACK, 0, 0, 200, 0), step(5, true, 15, fsm.SYN, 0, 0, 200, 0))...)},
		{Name: "no-loose-liberal", Data: join(0x0c, step(0, false, 1, fsm.ACK, 0, 0, 200, 10), step(0, true, 1, fsm.ACK, 30000, 0, 200, 10))},
	}
}

// TestShardFuzzSeeds keeps testdata/fuzz/FuzzShard in step with shardSeeds
// (go test -update rewrites it); go test runs the corpus as FuzzShard's seeds.
func TestShardFuzzSeeds(t *testing.T) {
	testutil.SeedCorpus(t, "FuzzShard", shardSeeds())
}
