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
// read a record, run it through the pipeline (time clamp, decode), hash
// and hand it to its shard, run the state machine. One op is one packet;
// it must not allocate.
func BenchmarkReplayHotPath(b *testing.B) {
	data, err := os.ReadFile("../../testdata/pcaps/sample.pcap")
	if err != nil {
		b.Fatal(err)
	}
	rd, err := assemble.NewReader(&loopReader{data: data}, "sample.pcap")
	if err != nil {
		b.Fatal(err)
	}
	table := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), Shards: 2})
	pl := assemble.NewPipeline(table, assemble.DecoderConfig{})
	step := func() {
		rec, err := rd.Next()
		if err != nil {
			b.Fatal(err)
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
}
