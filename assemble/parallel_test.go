package assemble

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"testing"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// parallelStream is a capture that exercises everything ParallelPipeline
// must keep as Pipeline has it: connections opened, used and closed; a
// clock step back; IPv4 and IPv6 datagrams in fragments, completed out of
// order and long after they started (so across jobs), one never completed
// and expired, one duplicated; frames that are not TCP or cut short; flows
// that expire while others go on.
func parallelStream() []Record {
	var recs []Record
	ts := int64(1e9)
	add := func(lt LinkType, data []byte) {
		r := rec(lt, data)
		r.TS = ts
		recs = append(recs, r)
		ts += 7e6
	}
	tcpSeg := func(sport uint16, seq, ack uint32, fl fsm.Flags, payload int) []byte {
		return seg{sport: sport, dport: 80, seq: seq, ack: ack, flags: fl, win: 1000, payload: payload}.bytes()
	}
	reply := func(sport uint16, seq, ack uint32, fl fsm.Flags, payload int) []byte {
		return seg{sport: 80, dport: sport, seq: seq, ack: ack, flags: fl, win: 1000, payload: payload}.bytes()
	}
	big := dataSeg.bytes() // 120 bytes, fragmented below
	for c := range 40 {
		sport := uint16(40000 + c)
		src, dst := v4{}, v4{src: addrB, dst: addrA}
		if c%5 == 0 {
			add(LinkEthernet, ether(etherIPv6, v6{nh: 6}.wrap(tcpSeg(sport, 100, 0, fsm.SYN, 0))))
			add(LinkEthernet, ether(etherIPv6, v6{nh: 6, src: addr6B, dst: addr6A}.wrap(reply(sport, 500, 101, fsm.SYN|fsm.ACK, 0))))
			continue
		}
		add(LinkEthernet, ether(etherIPv4, src.wrap(tcpSeg(sport, 100, 0, fsm.SYN, 0))))
		add(LinkEthernet, ether(etherIPv4, dst.wrap(reply(sport, 500, 101, fsm.SYN|fsm.ACK, 0))))
		add(LinkEthernet, ether(etherIPv4, src.wrap(tcpSeg(sport, 101, 501, fsm.ACK, 10))))
		switch c % 4 {
		case 0:
			add(LinkEthernet, ether(etherIPv4, src.wrap(tcpSeg(sport, 111, 501, fsm.FIN|fsm.ACK, 0))))
			add(LinkEthernet, ether(etherIPv4, dst.wrap(reply(sport, 501, 112, fsm.FIN|fsm.ACK, 0))))
		case 1:
			add(LinkEthernet, ether(etherIPv4, dst.wrap(reply(sport, 501, 111, fsm.RST, 0))))
		}
		switch c {
		case 3: // a datagram in three fragments, the middle one much later
			add(LinkRaw, f4(big, 7, 64, 120, false))
			add(LinkRaw, f4(big, 7, 0, 24, true))
			// This connection's next segment in two fragments, then its
			// close: the reassembled segment must reach the table before
			// the FIN that follows it.
			data := tcpSeg(sport, 111, 501, fsm.ACK|fsm.PSH, 100)
			add(LinkRaw, src.wrapFrag(data, 5, 24, 120, false))
			add(LinkRaw, src.wrapFrag(data, 5, 0, 24, true))
			add(LinkEthernet, ether(etherIPv4, src.wrap(tcpSeg(sport, 211, 501, fsm.FIN|fsm.ACK, 0))))
			add(LinkEthernet, ether(etherIPv4, dst.wrap(reply(sport, 501, 212, fsm.FIN|fsm.ACK, 0))))
		case 17:
			add(LinkRaw, f4(big, 7, 24, 64, true))
		case 6: // a datagram that never completes (expires after 30 s)
			add(LinkRaw, f4(big, 8, 0, 24, true))
		case 8: // IPv6, with a duplicate fragment
			add(LinkRaw, f6(big, 9, 0, 64, true))
			add(LinkRaw, f6(big, 9, 0, 64, true))
		case 9:
			add(LinkRaw, f6(big, 9, 64, 120, false))
		case 11:
			add(LinkEthernet, ether(etherIPv4, v4{proto: 17}.wrap(make([]byte, 8))))
			add(LinkEthernet, cut(rec(LinkEthernet, ether(etherIPv4, v4{}.wrap(tcpSeg(1, 2, 0, fsm.SYN, 0)))), 20).Data)
			recs[len(recs)-1].OrigLen = 74
		case 21:
			ts -= 3e9 // the clock steps back
		case 26:
			ts += 200e9 // an idle gap: half-open flows and the fragment time out
		}
	}
	return recs
}

// runPipeline feeds recs through a table with Pipeline (workers 0) or
// ParallelPipeline, and returns what can be compared: flows, events and
// accounting, with flow IDs and event numbers left out (Pipeline numbers by
// segment, ParallelPipeline by record; the order is the same).
func runPipeline(t *testing.T, recs []Record, shards, workers, jobLen int) string {
	t.Helper()
	var out bytes.Buffer
	table := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), Shards: shards, Acct: true, Summaries: true,
		OnEvents: func(evs []flowtable.Event) {
			for _, e := range evs {
				fmt.Fprintf(&out, "event %v %d %v %v %v %v\n", e.Type, e.TS, e.Reason, e.Flow.Key, e.Flow.Conn.State(), e.Flow.Packets)
				if e.Summary != nil {
					fmt.Fprintf(&out, "  summary %+v\n", *e.Summary)
				}
			}
		}})
	var now int64
	var ps PipelineStats
	if workers == 0 {
		p := NewPipeline(table, DecoderConfig{})
		for i := range recs {
			r := recs[i]
			p.Add(&r)
		}
		now, ps = p.Now(), p.Stats()
	} else {
		p := newParallelPipeline(table, DecoderConfig{}, workers, jobLen)
		for i := range recs {
			r := recs[i]
			p.Add(&r)
		}
		p.Close()
		now, ps = p.Now(), p.Stats()
	}
	res := table.Close(now)
	fmt.Fprintf(&out, "pipeline %+v\ntable %+v\n", ps, res.Stats)
	for i := range res.Len() {
		f, s := res.At(i)
		f.ID = 0
		fmt.Fprintf(&out, "flow %+v\n  summary %+v\n", f, *s)
	}
	return out.String()
}

func TestParallelPipelineMatchesPipeline(t *testing.T) {
	recs := parallelStream()
	want := runPipeline(t, recs, 1, 0, 0)
	if !bytes.Contains([]byte(want), []byte("FragCompleted:3 FragExpired:1")) {
		t.Fatalf("the stream does not exercise reassembly and expiry:\n%s", want)
	}
	for _, tc := range []struct{ shards, workers, job int }{
		{1, 1, 3}, {1, 2, 1}, {2, 1, 7}, {2, 2, 2}, {3, 3, 5}, {2, 3, 64}, {1, 1, jobRecords},
	} {
		t.Run(fmt.Sprintf("shards=%d/workers=%d/job=%d", tc.shards, tc.workers, tc.job), func(t *testing.T) {
			if got := runPipeline(t, recs, tc.shards, tc.workers, tc.job); got != want {
				t.Errorf("ParallelPipeline differs from Pipeline:\n%s", diffLines(want, got))
			}
		})
	}
}

// TestParallelPipelineHolds feeds records straight from a Reader with tiny
// buffers, so that jobs hold (and release) many of them while the reader
// goes on: the table must see what Pipeline sees over the same file.
func TestParallelPipelineHolds(t *testing.T) {
	recs := parallelStream()
	var file []byte
	for i, r := range recs {
		if i == 0 {
			file = pcapBytes(binary.LittleEndian, 0xa1b23c4d, 1)
		}
		eth := r.Data
		if r.LinkType == LinkRaw { // one link type per pcap file: put raw IP in Ethernet
			et := uint16(etherIPv4)
			if eth[0]>>4 == 6 {
				et = etherIPv6
			}
			eth = ether(et, eth)
		}
		file = append(file, pcapBytes(binary.LittleEndian, 0xa1b23c4d, 1, tRec{ts: r.TS, data: eth, orig: r.OrigLen + len(eth) - len(r.Data)})[24:]...)
	}
	read := func(workers int) string {
		rd, err := newReader(bytes.NewReader(file), "holds", 300)
		if err != nil {
			t.Fatal(err)
		}
		var got []Record
		batch := make([]Record, 5)
		var out bytes.Buffer
		table := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), Shards: 2, Acct: true})
		var now int64
		var ps PipelineStats
		var pp *ParallelPipeline
		var sp *Pipeline
		if workers > 0 {
			pp = newParallelPipeline(table, DecoderConfig{}, workers, 4)
		} else {
			sp = NewPipeline(table, DecoderConfig{})
		}
		for {
			n, err := rd.NextBatch(batch)
			for i := range batch[:n] {
				got = append(got, batch[i])
				if pp != nil {
					pp.Add(&batch[i])
				} else {
					sp.Add(&batch[i])
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if pp != nil {
			pp.Close()
			now, ps = pp.Now(), pp.Stats()
		} else {
			now, ps = sp.Now(), sp.Stats()
		}
		res := table.Close(now)
		fmt.Fprintf(&out, "%d records\npipeline %+v\ntable %+v\n", len(got), ps, res.Stats)
		for i := range res.Len() {
			f, _ := res.At(i)
			f.ID = 0
			fmt.Fprintf(&out, "flow %+v\n", f)
		}
		return out.String()
	}
	want := read(0)
	for _, w := range []int{1, 2, 3} {
		if got := read(w); got != want {
			t.Errorf("%d workers:\n%s", w, diffLines(want, got))
		}
	}
}

// TestParallelPipelineAllocs: once its jobs and chunks have been used, the
// pipeline allocates nothing per record, with or without a Reader's buffer
// behind the record.
func TestParallelPipelineAllocs(t *testing.T) {
	table := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), Shards: 2})
	p := NewParallelPipeline(table, DecoderConfig{}, 2)
	defer func() {
		p.Close()
		table.Close(p.Now())
	}()
	data := ether(etherIPv4, v4{}.wrap(seg{sport: 40000, dport: 80, seq: 100, flags: fsm.ACK, win: 1000, payload: 10}.bytes()))
	r := rec(LinkEthernet, data)
	for range 50000 {
		r.TS += 1e6
		p.Add(&r)
	}
	if n := testing.AllocsPerRun(20000, func() {
		r.TS += 1e6
		p.Add(&r)
	}); n != 0 {
		t.Errorf("%v allocations per record", n)
	}
}

// wrapFrag is the IPv4 fragment of datagram id carrying tcp[off:end],
// between h's addresses.
func (h v4) wrapFrag(tcp []byte, id uint16, off, end int, more bool) []byte {
	h.id, h.fragOff, h.more = id, off, more
	return h.wrap(tcp[off:end])
}

// diffLines shows the first lines where two multi-line strings differ.
func diffLines(want, got string) string {
	w, g := bytes.Split([]byte(want), []byte("\n")), bytes.Split([]byte(got), []byte("\n"))
	var out bytes.Buffer
	for i := 0; i < max(len(w), len(g)) && out.Len() < 4000; i++ {
		var a, b []byte
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if !bytes.Equal(a, b) {
			fmt.Fprintf(&out, "line %d\n  want %s\n  got  %s\n", i+1, a, b)
		}
	}
	return out.String()
}
