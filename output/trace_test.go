package output

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
	"github.com/tcptrack/tcptrack/internal/testutil"
)

func TestFuzzTraceSeeds(t *testing.T) {
	// A handshake, data, an out-of-window RST, a FIN each way, a bad
	// checksum; and a SYN on the other port answered by RST.
	step := func(d0, flags byte, dseq int16, dack int8, win, n, dt byte) []byte {
		return []byte{d0, flags, byte(uint16(dseq) >> 8), byte(dseq), byte(dack), win, n, 0, dt}
	}
	var hs []byte
	for _, st := range [][]byte{
		step(0, byte(fsm.SYN), 0, 0, 250, 0, 1), step(1, byte(fsm.SYN|fsm.ACK), 0, 1, 250, 0, 1),
		step(0, byte(fsm.ACK), 0, 0, 250, 0, 1), step(0, byte(fsm.PSH|fsm.ACK), 0, 0, 250, 100, 1),
		step(0, byte(fsm.RST), 20000, 0, 0, 0, 1), step(8, byte(fsm.ACK), 0, 0, 250, 0, 1),
		step(0, byte(fsm.FIN|fsm.ACK), 0, 0, 250, 0, 1), step(1, byte(fsm.FIN|fsm.ACK), 0, 1, 250, 0, 1),
		step(0x80, byte(fsm.SYN), 0, 0, 250, 0, 200), step(0x81, byte(fsm.RST|fsm.ACK), 0, 1, 0, 0, 1),
	} {
		hs = append(hs, st...)
	}
	v4 := append([]byte(nil), hs...)
	v4[0] |= 2
	testutil.SeedCorpus(t, "FuzzTrace", []testutil.Seed{{Name: "v6", Data: hs}, {Name: "v4", Data: v4}})
}

// FuzzTrace: any sequence of segments between two hosts, through the flow
// table with every packet reported, draws as text and SVG without
// panicking, and the SVG is well-formed.
func FuzzTrace(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		ls := fuzzLadders(data)
		var b bytes.Buffer
		if err := ls.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		b.Reset()
		if err := ls.WriteSVG(&b); err != nil {
			t.Fatal(err)
		}
		testutil.SVG(t, b.Bytes())
	})
}

// fuzzLadders turns bytes into segments (9 bytes each: direction and
// options, flags, seq and ack deltas, window, payload, time step) between
// two hosts on two 4-tuples, tracked by a one-shard table that reports every
// packet and keeps the hosts' sockets (short timeouts, so entries expire in
// between too).
func fuzzLadders(data []byte) *Ladders {
	cfg := fsm.DefaultConfig()
	cfg.Timeouts[fsm.SynSent], cfg.Timeouts[fsm.Established], cfg.Timeouts[fsm.Close] = 2e9, 5e9, 1e9
	hcfg := fsm.DefaultHostConfig()
	ls := NewLadders(len(data) > 0 && data[0]&1 != 0, 200)
	tb := flowtable.New(flowtable.Config{FSM: cfg, Shards: 1, MaxFlows: 4, BatchSize: 1, Packets: flowtable.PacketsAll, Hosts: &hcfg,
		OnEvents: func(evs []flowtable.Event) {
			for i := range evs {
				ls.Add(&evs[i])
			}
		}})
	a, b := netip.MustParseAddr("fd00::1"), netip.MustParseAddr("fd00::2")
	if len(data) > 0 && data[0]&2 != 0 {
		a, b = netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	}
	next := [2]uint32{1000, 5000}
	ts := int64(1e18)
	frame := uint64(0)
	for len(data) >= 9 {
		d := data[:9]
		data = data[9:]
		from := int(d[0] & 1)
		port := uint16(40000 + int(d[0]>>7))
		src, dst, sp, dp := a, b, port, uint16(80)
		if from == 1 {
			src, dst, sp, dp = b, a, 80, port
		}
		seg := fsm.Segment{SrcPort: sp, DstPort: dp, Flags: fsm.Flags(d[1]),
			Seq: next[from] + uint32(int16(binary.BigEndian.Uint16(d[2:]))), Ack: next[1-from] + uint32(int8(d[4])),
			Window: uint16(d[5]) << 8, PayloadLen: uint32(d[6]), HasWScale: d[0]&2 != 0, WScale: d[7] & 15, SackPerm: d[0]&4 != 0}
		if end := seg.End(); int32(end-next[from]) > 0 {
			next[from] = end
		}
		ts += int64(d[8]) * 1e7
		frame++
		p := flowtable.Packet{TS: ts, Src: src, Dst: dst, IPLen: 40 + seg.PayloadLen, TCP: seg}
		if d[0]&8 != 0 {
			r := fsm.Reason{Code: fsm.ReasonBadChecksum}
			if d[0]&16 != 0 {
				r.Code = fsm.ReasonTruncated
			}
			tb.Refuse(&p, frame, r, nil)
		} else {
			tb.AddWire(&p, frame, nil)
		}
	}
	tb.Close(ts)
	return ls
}
