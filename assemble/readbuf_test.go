package assemble

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"testing"
)

// batchFiles are captures whose records straddle small buffers in every
// way: pcap in both byte orders and the Kuznetzov variant, pcapng with
// every block kind, gzip.
func batchFiles(t *testing.T) map[string][]byte {
	t.Helper()
	var recs []tRec
	for i := range 300 {
		recs = append(recs, tRec{ts: int64(i) * 1e6, data: bytes.Repeat([]byte{byte(i)}, 1+i*7%190)})
	}
	ng := (&ng{o: binary.LittleEndian}).shb().idb(1, 0)
	for i, r := range recs {
		switch i % 5 {
		case 0:
			ng.block(0xbad, make([]byte, 4*(i%9)))
		case 1:
			ng.spb(uint32(len(r.data)), r.data[:len(r.data)&^3])
			continue
		}
		ng.epb(0, uint64(r.ts/1e3), r)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(pcapBytes(binary.LittleEndian, 0xa1b2c3d4, 1, recs...))
	zw.Close()
	return map[string][]byte{
		"pcap-le":    pcapBytes(binary.LittleEndian, 0xa1b2c3d4, 1, recs...),
		"pcap-be-ns": pcapBytes(binary.BigEndian, 0xa1b23c4d, 1, recs...),
		"kuznetzov":  pcapBytes(binary.LittleEndian, 0xa1b2cd34, 1, recs...),
		"pcapng":     ng.b,
		"gzip":       gz.Bytes(),
	}
}

// TestNextBatch: NextBatch returns what Next does, record for record,
// whatever the batch and buffer sizes; and a record whose Hold is retained
// keeps its bytes while the reader goes on through many buffers.
func TestNextBatch(t *testing.T) {
	for name, file := range batchFiles(t) {
		want, _, err := readAll(t, name, file)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, bufLen := range []int{256, 1000, 4096, bufSize} {
			for _, batch := range []int{1, 3, 64, 1000} {
				t.Run(fmt.Sprintf("%s/buf=%d/batch=%d", name, bufLen, batch), func(t *testing.T) {
					r, err := newReader(bytes.NewReader(file), name, bufLen)
					if err != nil {
						t.Fatal(err)
					}
					type kept struct {
						rec  Record
						data []byte
					}
					var held []kept
					dst := make([]Record, batch)
					n := 0
					for {
						k, err := r.NextBatch(dst)
						if k == 0 && err == nil {
							t.Fatal("no record and no error")
						}
						for _, rec := range dst[:k] {
							w := want[n]
							if rec.TS != w.TS || rec.OrigLen != w.OrigLen || rec.LinkType != w.LinkType || rec.CapLen != len(rec.Data) || !bytes.Equal(rec.Data, w.Data) {
								t.Fatalf("record %d: %+v, want %+v", n, rec, w)
							}
							if h := rec.Hold(); n%7 == 0 && h != nil {
								h.Retain()
								held = append(held, kept{rec, bytes.Clone(rec.Data)})
							}
							n++
						}
						if err == io.EOF {
							break
						}
						if err != nil {
							t.Fatal(err)
						}
					}
					if n != len(want) || r.Count() != n {
						t.Fatalf("%d records (Count %d), want %d", n, r.Count(), len(want))
					}
					for i, k := range held {
						if !bytes.Equal(k.rec.Data, k.data) {
							t.Fatalf("held record %d changed after the reader went on", i)
						}
						k.rec.Hold().Release()
					}
				})
			}
		}
	}
}

// TestHoldOffset: a record's Data starts where Hold.offset says, for pcap
// (parsed in batches or one by one) and pcapng.
func TestHoldOffset(t *testing.T) {
	for name, file := range batchFiles(t) {
		r, err := newReader(bytes.NewReader(file), name, 1000)
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]Record, 4)
		for {
			k, err := r.NextBatch(dst)
			for _, rec := range dst[:k] {
				if h := rec.Hold(); h != nil && len(rec.Data) > 0 {
					off := h.offset(rec.Data)
					if &h.b[off] != &rec.Data[0] {
						t.Fatalf("%s: offset %d is not where Data starts", name, off)
					}
				}
			}
			if err != nil {
				break
			}
		}
	}
}
