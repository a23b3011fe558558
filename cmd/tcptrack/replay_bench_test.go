package main

import (
	"io"
	"os"
	"testing"

	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// loopReader serves a pcap's file header once, then its records forever.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	if l.off == len(l.data) {
		l.off = 24
	}
	n := copy(p, l.data[l.off:])
	l.off += n
	return n, nil
}

var _ io.Reader = (*loopReader)(nil)

// BenchmarkReplayHotPath is the whole per-packet path of `tcptrack read`:
// read a record, decode it (TCP checksum verified, the default, or not),
// hash and hand it to its shard, run the state machine. One op is one
// packet; it must not allocate. "invalid" is the path of --invalid: every
// packet handed over with its headers, ignored and invalid ones reported
// (copies come from chunks, so allocations stay well below one a packet).
func BenchmarkReplayHotPath(b *testing.B) {
	data, err := os.ReadFile("../../testdata/pcaps/sample.pcap")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		checksum bool
		invalid  bool
	}{{"checksum", true, false}, {"no-checksum", false, false}, {"invalid", true, true}} {
		b.Run(c.name, func(b *testing.B) {
			rd, err := assemble.NewReader(&loopReader{data: data}, "sample.pcap")
			if err != nil {
				b.Fatal(err)
			}
			dec := assemble.NewDecoder(assemble.DecoderConfig{VerifyTCPChecksum: c.checksum})
			cfg := flowtable.Config{FSM: fsm.DefaultConfig(), Shards: 2}
			reported := 0
			if c.invalid {
				cfg.Packets = flowtable.PacketsNotAccepted
				cfg.OnEvents = func(evs []flowtable.Event) { reported += len(evs) }
			}
			table := flowtable.New(cfg)
			var pkt assemble.Packet
			var n uint64
			step := func() {
				rec, err := rd.Next()
				if err != nil {
					b.Fatal(err)
				}
				n++
				if dec.Decode(&rec, &pkt) == assemble.TCP {
					if c.invalid {
						seg := flowtable.SegmentOf(&pkt)
						table.AddSegment(&seg, n, dec.Wire())
					} else {
						table.Add(&pkt)
					}
				}
			}
			for range 10000 { // warm up: buffers, batches, flows exist
				step()
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step()
			}
			b.StopTimer()
			table.Close(pkt.TS)
		})
	}
}
