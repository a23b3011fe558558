package output_test

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
	"github.com/tcptrack/tcptrack/internal/testutil"
	"github.com/tcptrack/tcptrack/output"
)

// fuzzStepLen is the bytes one fuzz step decodes into a packet.
const fuzzStepLen = 10

// fuzzPackets turns bytes into packets among four endpoints (IPv4 and
// IPv6), each step: who sends to whom, flags, sequence and
// acknowledgement deltas, window, payload length, time step.
func fuzzPackets(data []byte) []flowtable.Packet {
	hosts := [4]netip.Addr{
		netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"),
		netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"),
	}
	var pkts []flowtable.Packet
	ts := int64(1795239326e9)
	seq := [4]uint32{1000, 5000, 90000, 7}
	for len(data) >= fuzzStepLen {
		b := data[:fuzzStepLen]
		data = data[fuzzStepLen:]
		from := int(b[0] & 3)
		to := from ^ 1 // v4 talks to v4, v6 to v6
		plen := uint32(b[7])
		p := flowtable.Packet{
			TS: ts, Src: hosts[from], Dst: hosts[to], IPLen: 40 + plen,
			TCP: fsm.Segment{
				SrcPort: 40000 + uint16(b[0]>>2&3), DstPort: 80,
				Flags: fsm.Flags(b[1]),
				Seq:   seq[from] + uint32(int8(b[2])), Ack: seq[to] + uint32(int8(b[3])),
				Window: uint16(b[4])<<8 | uint16(b[5]), PayloadLen: plen,
				WScale: b[6] & 15, HasWScale: b[6]&16 != 0, SackPerm: b[6]&32 != 0,
			},
		}
		seq[from] = p.TCP.End()
		ts += int64(b[8]) * int64(b[9]) * 1e7 // up to ~650 s: timeouts run out
		pkts = append(pkts, p)
	}
	return pkts
}

// FuzzWrite: whatever the table holds, every format writes without
// panicking, JSON lines parse, CSV rows have the header's width, each
// conntrack line is one line, and events write as lines and JSON.
func FuzzWrite(f *testing.F) {
	for _, s := range outputSeeds() {
		f.Add(s.Data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var events []flowtable.Event
		hosts := fsm.DefaultHostConfig()
		table := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), Acct: true, Summaries: true, MaxFlows: 3, Hosts: &hosts,
			OnEvents: func(evs []flowtable.Event) { events = append(events, evs...) }})
		pkts := fuzzPackets(data)
		now := int64(1795239326e9)
		for i := range pkts {
			table.Add(&pkts[i])
			now = pkts[i].TS
		}
		res := table.Close(now)
		cols, err := output.ParseColumns("all")
		if err != nil {
			t.Fatal(err)
		}
		for _, format := range []output.Format{output.FormatConntrack, output.FormatTable, output.FormatJSON, output.FormatCSV} {
			var buf bytes.Buffer
			o := output.Options{Format: format, Columns: cols, Line: output.LineOptions{Acct: true, Extended: true}}
			if err := output.Write(&buf, &res, now, o); err != nil {
				t.Fatalf("%v: %v", format, err)
			}
			switch format {
			case output.FormatConntrack:
				if n := strings.Count(buf.String(), "\n"); n != res.Len() {
					t.Fatalf("%d conntrack lines for %d flows:\n%s", n, res.Len(), buf.String())
				}
			case output.FormatJSON:
				sc := bufio.NewScanner(&buf)
				for sc.Scan() {
					var m output.JSONFlow
					if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
						t.Fatalf("%v in %s", err, sc.Bytes())
					}
				}
			case output.FormatCSV:
				rows, err := csv.NewReader(&buf).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rows {
					if len(r) != len(output.CSVHeader()) {
						t.Fatalf("CSV row of %d fields, header %d", len(r), len(output.CSVHeader()))
					}
				}
			}
		}
		// Each host's views: every socket line under its host's header, and
		// as many JSON sockets, GONE ones aside.
		pairs := res.HostPairs()
		var ns, js bytes.Buffer
		if err := output.WriteNetstat(&ns, pairs, &hosts, now, output.NetstatOptions{Timers: true}); err != nil {
			t.Fatal(err)
		}
		if err := output.WriteSockets(&js, pairs, &hosts, now, netip.Addr{}); err != nil {
			t.Fatal(err)
		}
		lines, gone := 0, 0
		for _, l := range strings.Split(ns.String(), "\n") {
			if strings.HasPrefix(l, "tcp") {
				lines++
				if f := strings.Fields(l); len(f) < 7 || f[1] != "0" {
					t.Fatalf("netstat line %q", l)
				}
			}
		}
		sc := bufio.NewScanner(&js)
		n := 0
		for sc.Scan() {
			var so output.JSONHostSocket
			if err := json.Unmarshal(sc.Bytes(), &so); err != nil {
				t.Fatalf("%v in %s", err, sc.Bytes())
			}
			n++
			if so.State == "GONE" {
				gone++
			}
		}
		if n-gone != lines {
			t.Fatalf("%d sockets (%d GONE) but %d netstat lines:\n%s\n%s", n, gone, lines, js.String(), ns.String())
		}
		var line []byte
		for i := range events {
			line = output.AppendEvent(line[:0], &events[i], output.LineOptions{Acct: true, Timestamps: true})
			if bytes.IndexByte(line, '\n') >= 0 || !bytes.Contains(line, []byte(" tcp      6 ")) {
				t.Fatalf("event line %q", line)
			}
			line = output.AppendJSONEvent(line[:0], &events[i])
			if !json.Valid(bytes.TrimSpace(line)) {
				t.Fatalf("JSON event %q", line)
			}
		}
	})
}

// outputSeeds are starting inputs: a handshake, data, close and a reopen
// on two tuples of each family.
func outputSeeds() []testutil.Seed {
	step := func(from byte, fl fsm.Flags, plen, dt byte) []byte {
		return []byte{from, byte(fl), 0, 0, 0xfa, 0xf0, 16 | 7, plen, dt, 1}
	}
	hs := func(a byte) []byte {
		return bytes.Join([][]byte{step(a, fsm.SYN, 0, 1), step(a^1, fsm.SYN|fsm.ACK, 0, 1), step(a, fsm.ACK, 0, 1)}, nil)
	}
	var all []byte
	for _, a := range []byte{0, 2, 4 | 0, 4 | 2} {
		all = append(all, hs(a)...)
		all = append(all, step(a, fsm.PSH|fsm.ACK, 100, 1)...)
	}
	closing := bytes.Join([][]byte{hs(0), step(0, fsm.FIN|fsm.ACK, 0, 1), step(1, fsm.FIN|fsm.ACK, 0, 1), step(0, fsm.ACK, 0, 1), step(0, fsm.SYN, 0, 3)}, nil)
	return []testutil.Seed{
		{Name: "four-flows", Data: all},
		{Name: "close-and-reopen", Data: closing},
		{Name: "rst", Data: append(hs(2), step(3, fsm.RST, 0, 200)...)},
	}
}

// TestOutputFuzzSeeds keeps testdata/fuzz/FuzzWrite in step with
// outputSeeds (go test -update rewrites it).
func TestOutputFuzzSeeds(t *testing.T) {
	testutil.SeedCorpus(t, "FuzzWrite", outputSeeds())
}
