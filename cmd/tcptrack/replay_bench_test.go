package main

import (
	"fmt"
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

// BenchmarkReplayParallel is the same path as read runs it now: records in
// batches, the reading goroutine only clamping and collecting them, decoders
// and shards on their own goroutines; the TCP checksum verified (the
// default) or not, and the --invalid path (every packet with its number and
// headers, ignored and invalid ones reported). One op is one packet, from
// reading to the state machine; b.N packets are fed, then the pipeline is
// drained.
func BenchmarkReplayParallel(b *testing.B) {
	data, err := os.ReadFile("../../testdata/pcaps/sample.pcap")
	if err != nil {
		b.Fatal(err)
	}
	for _, shards := range []int{1, 2} {
		for _, c := range []struct {
			name     string
			checksum bool
			invalid  bool
		}{{"checksum", true, false}, {"no-checksum", false, false}, {"invalid", true, true}} {
			b.Run(fmt.Sprintf("shards=%d/%s", shards, c.name), func(b *testing.B) {
				rd, err := assemble.NewReader(&loopReader{data: data}, "sample.pcap")
				if err != nil {
					b.Fatal(err)
				}
				cfg := flowtable.Config{FSM: fsm.DefaultConfig(), Shards: shards}
				if c.invalid {
					cfg.Packets = flowtable.PacketsNotAccepted
					cfg.OnEvents = func([]flowtable.Event) {}
				}
				table := flowtable.New(cfg)
				pl := assemble.NewParallelPipeline(table, assemble.DecoderConfig{VerifyTCPChecksum: c.checksum}, shards)
				recs := make([]assemble.Record, readBatch)
				var shift, last int64
				var frame uint64
				feed := func(n int) {
					for n > 0 {
						k, err := rd.NextBatch(recs[:min(n, len(recs))])
						if err != nil {
							b.Fatal(err)
						}
						for i := range recs[:k] {
							rec := &recs[i]
							if c.invalid {
								// As in BenchmarkReplayHotPath: each pass
								// starts after the last, or no event would
								// pass the watermark.
								if rec.TS+shift < last {
									shift = last - rec.TS + 1e6
								}
								rec.TS += shift
								last = rec.TS
							}
							frame++
							pl.AddNumbered(rec, frame)
						}
						n -= k
					}
				}
				feed(20000) // warm up: buffers, jobs, chunks, flows exist
				b.ReportAllocs()
				b.ResetTimer()
				feed(b.N)
				pl.Close()
				b.StopTimer()
				table.Close(pl.Now())
			})
		}
	}
}
