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
// read a record, run it through the pipeline (time clamp, decode with the
// TCP checksum verified, the default, or not), hash and hand it to its
// shard, run the state machine. One op is one packet; it must not
// allocate. "invalid" is the path of --invalid: every packet handed over
// with its number and headers, ignored and invalid ones reported (copies
// come from chunks, so allocations stay well below one a packet).
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
			cfg := flowtable.Config{FSM: fsm.DefaultConfig(), Shards: 2}
			if c.invalid {
				cfg.Packets = flowtable.PacketsNotAccepted
				cfg.OnEvents = func([]flowtable.Event) {}
			}
			table := flowtable.New(cfg)
			pl := assemble.NewPipeline(table, assemble.DecoderConfig{VerifyTCPChecksum: c.checksum})
			var shift, last int64
			step := func() {
				rec, err := rd.Next()
				if err != nil {
					b.Fatal(err)
				}
				if c.invalid {
					// Each pass over the sample starts later than the last
					// ended: with time standing still (the pipeline holds
					// a step back at the latest time seen) no event would
					// ever pass the table's watermark and be delivered.
					if rec.TS+shift < last {
						shift = last - rec.TS + 1e6
					}
					rec.TS += shift
					last = rec.TS
				}
				pl.Add(&rec)
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
			table.Close(pl.Now())
		})
	}
}
