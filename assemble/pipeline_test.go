package assemble

import (
	"testing"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// TestPipeline: a record stamped before the one read before it is tracked
// at the latest time seen, and every record is accounted for once.
func TestPipeline(t *testing.T) {
	const sec = int64(1e9)
	syn := rec(LinkEthernet, ether(etherIPv4, v4{}.wrap(seg{sport: 40000, dport: 80, seq: 100, flags: fsm.SYN, win: 1000}.bytes())))
	syn.TS = 10 * sec
	synAck := rec(LinkEthernet, ether(etherIPv4, v4{src: addrB, dst: addrA}.wrap(seg{sport: 80, dport: 40000, seq: 500, ack: 101, flags: fsm.SYN | fsm.ACK, win: 1000}.bytes())))
	synAck.TS = 9 * sec // the clock stepped back a second
	udp := rec(LinkEthernet, ether(etherIPv4, v4{proto: 17}.wrap(make([]byte, 8))))
	udp.TS = 11 * sec
	cutShort := cut(rec(LinkEthernet, ether(etherIPv4, v4{}.wrap(seg{sport: 1, dport: 2, flags: fsm.SYN}.bytes()))), 20)
	cutShort.TS = 11 * sec

	var events []flowtable.Event
	table := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), Shards: 1, Acct: true, OnEvents: func(evs []flowtable.Event) {
		events = append(events, evs...)
	}})
	p := NewPipeline(table, DecoderConfig{})
	var kinds []Kind
	for _, r := range []Record{syn, synAck, udp, cutShort} {
		kinds = append(kinds, p.Add(&r))
	}
	if want := []Kind{TCP, TCP, NotTCP, Truncated}; !equalKinds(kinds, want) {
		t.Errorf("kinds %v, want %v", kinds, want)
	}
	if p.Now() != 11*sec {
		t.Errorf("Now = %d, want %d", p.Now(), 11*sec)
	}
	res := table.Close(p.Now())
	st := p.Stats()
	if st.Records != 4 || st.Backwards != 1 || st.MaxStepBack != sec ||
		st.Decode.TCP != 2 || st.Decode.NotTCP != 1 || st.Decode.Truncated != 1 {
		t.Errorf("stats %+v", st)
	}
	if st.WireBytes != uint64(syn.OrigLen+synAck.OrigLen+udp.OrigLen+cutShort.OrigLen) {
		t.Errorf("wire bytes %d", st.WireBytes)
	}
	if res.Stats.Segments != st.Decode.TCP {
		t.Errorf("table took %d segments, decoder found %d", res.Stats.Segments, st.Decode.TCP)
	}
	if len(events) != 2 || events[1].Type != flowtable.EventUpdate || events[1].TS != 10*sec {
		t.Fatalf("events %+v: want NEW, then UPDATE at the latest time seen (10 s)", events)
	}
	if f, _ := res.At(0); res.Len() != 1 || f.Conn.State() != fsm.SynRecv || f.Last != 10*sec {
		t.Errorf("flow %+v", f)
	}
}

func equalKinds(a, b []Kind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestPipelineAllocs guards the zero-allocation per-record path.
func TestPipelineAllocs(t *testing.T) {
	table := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), Shards: 2})
	p := NewPipeline(table, DecoderConfig{})
	data := ether(etherIPv4, v4{}.wrap(seg{sport: 40000, dport: 80, seq: 100, flags: fsm.ACK, win: 1000, payload: 10}.bytes()))
	r := rec(LinkEthernet, data)
	for range 5000 {
		r.TS += 1e6
		p.Add(&r)
	}
	if n := testing.AllocsPerRun(5000, func() {
		r.TS += 1e6
		p.Add(&r)
	}); n != 0 {
		t.Errorf("%v allocations per record, want 0", n)
	}
	table.Close(p.Now())
}

// TestPipelineReports: with a table that reports packets, the pipeline
// hands over each packet's number and headers; a segment with a wrong
// checksum is refused (counted invalid by the table) and reported with its
// reason, in order.
func TestPipelineReports(t *testing.T) {
	syn := rec(LinkRaw, summed(v4{}.wrap(seg{sport: 40000, dport: 80, seq: 100, flags: fsm.SYN, win: 1000, opts: []byte{2, 4, 5, 0xb4}}.bytes()), 20))
	badAck := rec(LinkRaw, flip(summed(v4{}.wrap(seg{sport: 40000, dport: 80, seq: 101, ack: 7, flags: fsm.ACK, win: 1000}.bytes()), 20), 20+16))
	synAck := rec(LinkRaw, summed(v4{src: addrB, dst: addrA}.wrap(seg{sport: 80, dport: 40000, seq: 500, ack: 999, flags: fsm.SYN | fsm.ACK, win: 1000}.bytes()), 20))
	for i, r := range []*Record{&syn, &badAck, &synAck} {
		r.TS = int64(i+1) * 1e9
	}
	var reports []*flowtable.PacketReport
	table := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), Shards: 1, Packets: flowtable.PacketsAll,
		OnEvents: func(evs []flowtable.Event) {
			for _, e := range evs {
				if e.Type == flowtable.EventPacket {
					reports = append(reports, e.Report)
				}
			}
		}})
	p := NewPipeline(table, DecoderConfig{VerifyTCPChecksum: true})
	kinds := []Kind{p.AddNumbered(&syn, 7), p.AddNumbered(&badAck, 8), p.AddNumbered(&synAck, 9)}
	if want := []Kind{TCP, Rejected, TCP}; !equalKinds(kinds, want) {
		t.Fatalf("kinds %v, want %v", kinds, want)
	}
	res := table.Close(p.Now())
	if len(reports) != 3 {
		t.Fatalf("%d reports, want 3", len(reports))
	}
	for i, want := range []struct {
		frame  uint64
		wire   int
		reason fsm.ReasonCode
	}{{7, 44, fsm.NoReason}, {8, 40, fsm.ReasonBadChecksum}, {9, 40, fsm.ReasonAckOver}} {
		r := reports[i]
		if r.Frame != want.frame || len(r.Wire) != want.wire || r.Reason.Code != want.reason {
			t.Errorf("report %d: frame %d, %d header bytes, reason %v; want %d, %d, %v", i, r.Frame, len(r.Wire), r.Reason.Code, want.frame, want.wire, want.reason)
		}
	}
	if res.Stats.Refused != 1 || res.Stats.Invalid != 2 || res.Stats.Segments != 3 {
		t.Errorf("table stats %+v", res.Stats)
	}
}
