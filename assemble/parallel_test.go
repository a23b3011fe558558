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

// pipelineRun says how runPipeline runs: the table's shards, the decoders
// (0: Pipeline) and their job size, checksum verification, and whether the
// table reports every packet (fed with numbers that are not the records'
// places, to see them carried).
type pipelineRun struct {
	shards, workers, job int
	checksum, report     bool
}

// runPipeline feeds recs through a table with Pipeline (workers 0) or
// ParallelPipeline, and returns what can be compared: flows, events (packet
// reports included) and accounting, with flow IDs and event numbers left
// out (Pipeline numbers by segment, ParallelPipeline by record; the order
// is the same).
func runPipeline(t *testing.T, recs []Record, o pipelineRun) string {
	t.Helper()
	var out bytes.Buffer
	cfg := flowtable.Config{FSM: fsm.DefaultConfig(), Shards: o.shards, Acct: true, Summaries: true,
		OnEvents: func(evs []flowtable.Event) {
			for _, e := range evs {
				fmt.Fprintf(&out, "event %v %d %v %v %v %v\n", e.Type, e.TS, e.Reason, e.Flow.Key, e.Flow.Conn.State(), e.Flow.Packets)
				if e.Summary != nil {
					fmt.Fprintf(&out, "  summary %+v\n", *e.Summary)
				}
				if r := e.Report; r != nil {
					fmt.Fprintf(&out, "  packet %d %v %v %q %q %+v %d %x\n", r.Frame, r.Dir, r.Verdict, r.Reason, r.Also, r.TCP, r.IPLen, r.Wire)
				}
			}
		}}
	if o.report {
		cfg.Packets = flowtable.PacketsAll
	}
	table := flowtable.New(cfg)
	dc := DecoderConfig{VerifyTCPChecksum: o.checksum}
	frame := func(i int) uint64 { return uint64(3*i + 5) }
	var now int64
	var ps PipelineStats
	if o.workers == 0 {
		p := NewPipeline(table, dc)
		for i := range recs {
			r := recs[i]
			p.AddNumbered(&r, frame(i))
		}
		now, ps = p.Now(), p.Stats()
	} else {
		p := newParallelPipeline(table, dc, o.workers, o.job)
		for i := range recs {
			r := recs[i]
			p.AddNumbered(&r, frame(i))
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

// withChecksums is recs with the TCP checksum of every unfragmented
// segment filled in, and spoilt in every fifth (fragments keep a zero
// field: their datagrams fail when reassembled).
func withChecksums(recs []Record) []Record {
	out := make([]Record, len(recs))
	n := 0
	for i, r := range recs {
		out[i] = r
		b := r.Data
		if r.LinkType == LinkEthernet {
			b = b[14:]
		}
		var off int
		switch {
		case len(b) >= 40 && b[0]>>4 == 4 && b[9] == 6 && binary.BigEndian.Uint16(b[6:])&0x3fff == 0 && len(r.Data) == r.OrigLen:
			off = int(b[0]&15) * 4
		case len(b) >= 60 && b[0]>>4 == 6 && b[6] == 6:
			off = 40
		default:
			continue
		}
		ip := summed(b, off)
		if n++; n%5 == 0 {
			ip = flip(ip, off+16)
		}
		out[i].Data = append(append([]byte(nil), r.Data[:len(r.Data)-len(b)]...), ip...)
	}
	return out
}

func TestParallelPipelineMatchesPipeline(t *testing.T) {
	for _, mode := range []struct {
		name             string
		checksum, report bool
	}{{"plain", false, false}, {"checksum", true, false}, {"reports", false, true}, {"checksum+reports", true, true}} {
		recs := parallelStream()
		if mode.checksum {
			recs = withChecksums(recs)
		}
		want := runPipeline(t, recs, pipelineRun{shards: 1, checksum: mode.checksum, report: mode.report})
		if !bytes.Contains([]byte(want), []byte("FragCompleted:3 FragExpired:1")) {
			t.Fatalf("%s: the stream does not exercise reassembly and expiry:\n%s", mode.name, want)
		}
		if mode.checksum && !bytes.Contains([]byte(want), []byte("BadChecksum:")) || bytes.Contains([]byte(want), []byte("Refused:0 ")) == mode.checksum {
			t.Fatalf("%s: refused segments: %v:\n%s", mode.name, mode.checksum, want)
		}
		if mode.report && !bytes.Contains([]byte(want), []byte("packet 5 ")) {
			t.Fatalf("%s: no packet reports:\n%s", mode.name, want)
		}
		for _, tc := range []struct{ shards, workers, job int }{
			{1, 1, 3}, {1, 2, 1}, {2, 1, 7}, {2, 2, 2}, {3, 3, 5}, {2, 3, 64}, {1, 1, jobRecords},
		} {
			t.Run(fmt.Sprintf("%s/shards=%d/workers=%d/job=%d", mode.name, tc.shards, tc.workers, tc.job), func(t *testing.T) {
				o := pipelineRun{shards: tc.shards, workers: tc.workers, job: tc.job, checksum: mode.checksum, report: mode.report}
				if got := runPipeline(t, recs, o); got != want {
					t.Errorf("ParallelPipeline differs from Pipeline:\n%s", diffLines(want, got))
				}
			})
		}
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
// behind the record, with the TCP checksum verified or not, good or bad.
func TestParallelPipelineAllocs(t *testing.T) {
	good := ether(etherIPv4, summed(v4{}.wrap(seg{sport: 40000, dport: 80, seq: 100, flags: fsm.ACK, win: 1000, payload: 10}.bytes()), 20))
	bad := flip(good, 14+20+16)
	for _, tc := range []struct {
		name     string
		checksum bool
		data     []byte
	}{{"unverified", false, bad}, {"good", true, good}, {"bad", true, bad}} {
		t.Run(tc.name, func(t *testing.T) {
			table := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), Shards: 2})
			p := NewParallelPipeline(table, DecoderConfig{VerifyTCPChecksum: tc.checksum}, 2)
			r := rec(LinkEthernet, tc.data)
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
			p.Close()
			res := table.Close(p.Now())
			if ps := p.Stats(); (ps.Decode.Rejected != 0) != (tc.name == "bad") || res.Stats.Refused != ps.Decode.Rejected {
				t.Errorf("decoded %+v, table %+v", ps.Decode, res.Stats)
			}
		})
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
