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

// tsOpts: NOP NOP TS, what most data segments carry.
var tsOpts = []byte{1, 1, 8, 10, 0, 1, 0, 0, 0, 2, 0, 0}

func benchDecode(b *testing.B, r Record) { benchDecodeWith(b, DecoderConfig{}, r) }

func benchDecodeWith(b *testing.B, cfg DecoderConfig, r Record) {
	d := NewDecoder(cfg)
	var p flowtable.Packet
	if d.Decode(&r, &p) != TCP {
		b.Fatal("not TCP")
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(r.Data)))
	b.ResetTimer()
	for range b.N {
		d.Decode(&r, &p)
	}
}

// BenchmarkDecode: the per-packet hot path, Ethernet IPv4 TCP.
func BenchmarkDecode(b *testing.B) {
	data := seg{sport: 443, dport: 50000, seq: 1, ack: 2, flags: fsm.ACK | fsm.PSH, win: 500, opts: tsOpts, payload: 1448}
	benchDecode(b, rec(LinkEthernet, ether(0x0800, v4{}.wrap(data.bytes()))))
}

// BenchmarkDecodeChecksum: the same with the TCP checksum verified (the
// command's default): full-size data and a pure ACK.
func BenchmarkDecodeChecksum(b *testing.B) {
	on := DecoderConfig{VerifyTCPChecksum: true}
	data := seg{sport: 443, dport: 50000, seq: 1, ack: 2, flags: fsm.ACK | fsm.PSH, win: 500, opts: tsOpts, payload: 1448}
	ack := seg{sport: 443, dport: 50000, seq: 1, ack: 2, flags: fsm.ACK, win: 500, opts: tsOpts}
	b.Run("data-1448", func(b *testing.B) {
		benchDecodeWith(b, on, rec(LinkEthernet, ether(0x0800, summed(v4{}.wrap(data.bytes()), 20))))
	})
	b.Run("ack", func(b *testing.B) {
		benchDecodeWith(b, on, rec(LinkEthernet, ether(0x0800, summed(v4{}.wrap(ack.bytes()), 20))))
	})
}

func BenchmarkDecodeVariants(b *testing.B) {
	ack := seg{sport: 443, dport: 50000, seq: 1, ack: 2, flags: fsm.ACK, win: 500, opts: tsOpts}
	sack := seg{sport: 443, dport: 50000, seq: 1, ack: 2, flags: fsm.ACK, win: 500, opts: []byte{1, 1, 8, 10, 0, 1, 0, 0, 0, 2, 0, 0, 1, 1, 5, 18, 0, 0, 0, 9, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30}}
	for _, c := range []struct {
		name string
		r    Record
	}{
		{"eth-ipv4-syn", rec(LinkEthernet, ether(0x0800, v4{}.wrap(synSeg.bytes())))},
		{"eth-ipv4-ack-snap96", cut(rec(LinkEthernet, ether(0x0800, v4{}.wrap(seg{flags: fsm.ACK, opts: tsOpts, payload: 1400}.bytes()))), 96)},
		{"eth-ipv4-sack", rec(LinkEthernet, ether(0x0800, v4{}.wrap(sack.bytes())))},
		{"eth-ipv6-ack", rec(LinkEthernet, ether(0x86dd, v6{}.wrap(ack.bytes())))},
		{"qinq-ipv4-ack", rec(LinkEthernet, ether(0x88a8, cat(vlanTag(1, 0x8100), vlanTag(2, 0x0800), v4{}.wrap(ack.bytes()))))},
		{"sll2-ipv4-ack", rec(LinkSLL2, cat(u16b(0x0800), u16b(0), u32b(3), u16b(1), []byte{0, 6}, make([]byte, 8), v4{}.wrap(ack.bytes())))},
		{"raw-ipv6-ext-ack", rec(LinkRaw, v6{nh: 0, ext: cat(ext6(60, 8), ext6(6, 8))}.wrap(ack.bytes()))},
	} {
		b.Run(c.name, func(b *testing.B) { benchDecode(b, c.r) })
	}
}

// BenchmarkDecodeFragments: a datagram in two IPv4 fragments per op (the
// reassembly path, which may allocate while its pools warm up).
func BenchmarkDecodeFragments(b *testing.B) {
	tcp := dataSeg.bytes()
	r1 := rec(LinkRaw, f4(tcp, 1, 0, 64, true))
	r2 := rec(LinkRaw, f4(tcp, 1, 64, 120, false))
	d := NewDecoder(DecoderConfig{})
	var p flowtable.Packet
	b.ReportAllocs()
	for range b.N {
		d.Decode(&r1, &p)
		if d.Decode(&r2, &p) != TCP {
			b.Fatal("not reassembled")
		}
	}
}

// loopReader serves a capture file header once, then the same records
// forever, so a Reader can be benchmarked for any b.N without allocating.
type loopReader struct {
	head, body []byte
	pos        int
}

func (l *loopReader) Read(p []byte) (int, error) {
	if len(l.head) > 0 {
		n := copy(p, l.head)
		l.head = l.head[n:]
		return n, nil
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], l.body[l.pos:])
		n += c
		l.pos = (l.pos + c) % len(l.body)
	}
	return n, nil
}

func benchRecords() []tRec {
	var recs []tRec
	for i, size := range []int{66, 1514, 66, 66, 590, 1514, 1514, 66} {
		recs = append(recs, tRec{ts: int64(i) * 1000, data: make([]byte, size)})
	}
	return recs
}

func benchReader(b *testing.B, head, body []byte) {
	r, err := NewReader(&loopReader{head: head, body: body}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body) / len(benchRecords())))
	b.ResetTimer()
	for range b.N {
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReaderNext: pcap records from memory through the Reader.
func BenchmarkReaderNext(b *testing.B) {
	file := pcapBytes(binary.LittleEndian, 0xa1b2c3d4, 1, benchRecords()...)
	benchReader(b, file[:24], file[24:])
}

func BenchmarkReaderNextPcapng(b *testing.B) {
	w := (&ng{o: binary.LittleEndian}).shb().idb(1, 0, opt{9, []byte{9}})
	head := len(w.b)
	for i, r := range benchRecords() {
		w.epb(0, uint64(i)*1000, r)
	}
	benchReader(b, w.b[:head], w.b[head:])
}

// BenchmarkReadDecode: Reader and Decoder together, one Ethernet IPv4
// data segment per record.
func BenchmarkReadDecode(b *testing.B) {
	file := pcapBytes(binary.LittleEndian, 0xa1b2c3d4, 1, tRec{ts: 1, data: ether(0x0800, v4{}.wrap(dataSeg.bytes()))})
	head, body := file[:24], file[24:]
	r, _ := NewReader(&loopReader{head: head, body: body}, "bench")
	d := NewDecoder(DecoderConfig{})
	var p flowtable.Packet
	b.ReportAllocs()
	for range b.N {
		rec, err := r.Next()
		if err != nil {
			b.Fatal(err)
		}
		d.Decode(&rec, &p)
	}
}

func BenchmarkMerger(b *testing.B) {
	file := pcapBytes(binary.LittleEndian, 0xa1b2c3d4, 1, benchRecords()...)
	var rs []*Reader
	for range 3 {
		r, _ := NewReader(&loopReader{head: file[:24], body: file[24:]}, "bench")
		rs = append(rs, r)
	}
	m := NewMerger(rs...)
	b.ReportAllocs()
	for range b.N {
		if _, err := m.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHotPathDoesNotAllocate keeps the zero-allocation promise under plain
// go test, not only in benchmarks.
func TestHotPathDoesNotAllocate(t *testing.T) {
	d := NewDecoder(DecoderConfig{})
	var p flowtable.Packet
	for _, tc := range decodeCases() {
		r := tc.rec
		if n := testing.AllocsPerRun(20, func() { d.Decode(&r, &p) }); n != 0 {
			t.Errorf("%s: %v allocs per Decode", tc.name, n)
		}
	}
	file := pcapBytes(binary.LittleEndian, 0xa1b2c3d4, 1, benchRecords()...)
	r, _ := NewReader(bytes.NewReader(append(file, bytes.Repeat(file[24:], 50)...)), "x")
	if n := testing.AllocsPerRun(300, func() {
		if _, err := r.Next(); err != nil && err != io.EOF {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%v allocs per Next", n)
	}
}

// BenchmarkReaderNextBatch: BenchmarkReaderNext's records, read in batches
// of 512 (one op is one record).
func BenchmarkReaderNextBatch(b *testing.B) {
	file := pcapBytes(binary.LittleEndian, 0xa1b2c3d4, 1, benchRecords()...)
	r, err := NewReader(&loopReader{head: file[:24], body: file[24:]}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]Record, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(file[24:]) / len(benchRecords())))
	b.ResetTimer()
	for n := 0; n < b.N; {
		k, err := r.NextBatch(dst[:min(len(dst), b.N-n)])
		if err != nil {
			b.Fatal(err)
		}
		n += k
	}
}

// BenchmarkParallelPipeline: Ethernet IPv4 data segments of 4096
// established connections, read in batches and fed through
// ParallelPipeline to a table (decoders = shards). One op is one packet,
// reading to state machine, the pipeline drained at the end.
func BenchmarkParallelPipeline(b *testing.B) {
	var recs []tRec
	for i := range 4096 {
		s := seg{sport: uint16(1024 + i), dport: 80, seq: 100, ack: 200, flags: fsm.ACK | fsm.PSH, win: 1000, payload: 100}
		recs = append(recs, tRec{ts: int64(i) * 1000, data: ether(etherIPv4, v4{}.wrap(s.bytes()))})
	}
	file := pcapBytes(binary.LittleEndian, 0xa1b2c3d4, 1, recs...)
	for _, shards := range []int{1, 2} {
		b.Run(fmt.Sprintf("shards=%d", shards), func(b *testing.B) {
			r, err := NewReader(&loopReader{head: file[:24], body: file[24:]}, "bench")
			if err != nil {
				b.Fatal(err)
			}
			table := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), Shards: shards})
			p := NewParallelPipeline(table, DecoderConfig{}, shards)
			dst := make([]Record, 512)
			feed := func(n int) {
				for n > 0 {
					k, err := r.NextBatch(dst[:min(len(dst), n)])
					if err != nil {
						b.Fatal(err)
					}
					for i := range dst[:k] {
						p.Add(&dst[i])
					}
					n -= k
				}
			}
			feed(3 * len(recs)) // every flow exists, buffers and jobs warm
			b.ReportAllocs()
			b.ResetTimer()
			feed(b.N)
			p.Close()
			b.StopTimer()
			table.Close(p.Now())
		})
	}
}
