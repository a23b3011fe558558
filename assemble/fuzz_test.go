package assemble

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/internal/testutil"
)

// fuzzLinks are the link types FuzzDecode picks from (by index, so that
// every one of them is reached).
var fuzzLinks = []LinkType{LinkEthernet, LinkSLL, LinkSLL2, LinkNull, LinkLoop, LinkRaw, LinkRawBSD, LinkRawOBSD, LinkIPv4, LinkIPv6, LinkPPP}

// frameSep splits FuzzDecode's input into several frames, so that one
// input can carry the fragments of a datagram.
var frameSep = []byte("\xf0FRAME\x0f")

// FuzzDecode feeds frames of every link type through one Decoder and
// checks what it says about those it calls TCP.
func FuzzDecode(f *testing.F) {
	f.Add(uint8(0), uint16(0), ether(0x0800, v4{}.wrap(synSeg.bytes())))
	f.Add(uint8(5), uint16(0), bytes.Join([][]byte{f4(dataSeg.bytes(), 1, 0, 24, true), f4(dataSeg.bytes(), 1, 24, 120, false)}, frameSep))
	f.Fuzz(func(t *testing.T, link uint8, cutBy uint16, data []byte) {
		lt := fuzzLinks[int(link)%len(fuzzLinks)]
		cfg := DecoderConfig{MaxFragBytes: 1 << 16}
		d := NewDecoder(cfg)
		keep := NewDecoder(DecoderConfig{MaxFragBytes: 1 << 16, KeepCutOptions: true})
		frames := bytes.Split(data, frameSep)
		for i, fr := range frames {
			r := Record{TS: int64(i) * 1e9, CapLen: len(fr), OrigLen: len(fr) + int(cutBy), LinkType: lt, Data: fr}
			var p, q flowtable.Packet
			k := d.Decode(&r, &p)
			k2 := keep.Decode(&r, &q)
			if k == TCP {
				checkPacket(t, &p, &r)
				if k2 != TCP || p != q {
					t.Fatalf("frame %d: KeepCutOptions changed a full header: %v %+v vs %+v", i, k2, q, p)
				}
			}
			if k2 == TCP {
				checkPacket(t, &q, &r)
			}
			if k == Unsupported && lt != LinkPPP {
				t.Fatalf("frame %d: Unsupported for %v", i, lt)
			}
		}
		s := d.Stats()
		if n := s.TCP + s.NotTCP + s.Fragment + s.Malformed + s.Truncated + s.Unsupported + s.Rejected; n != uint64(len(frames)) {
			t.Fatalf("stats count %d frames, decoded %d", n, len(frames))
		}
		if n := s.FragJoined + s.FragLost + s.FragWaiting + s.FragDropped + s.FragDuplicate; n != s.Fragment {
			t.Fatalf("fragment frames: %d accounted for, %d decoded as Fragment: %+v", n, s.Fragment, s)
		}
		if s.FragHeldBytes > cfg.MaxFragBytes || s.FragHeldBytes < 0 || (s.FragHeld == 0) != (len(d.frag.queues) == 0) {
			t.Fatalf("fragment accounting: %+v", s)
		}
	})
}

func checkPacket(t *testing.T, p *flowtable.Packet, r *Record) {
	t.Helper()
	if !p.Src.IsValid() || !p.Dst.IsValid() || p.Src.Is4() != p.Dst.Is4() {
		t.Fatalf("addresses %v %v", p.Src, p.Dst)
	}
	min := uint32(20 + 20)
	if p.Src.Is6() {
		min = 40 + 20
	}
	if p.IPLen < min || p.TCP.PayloadLen+min > p.IPLen {
		t.Fatalf("IPLen %d, payload %d", p.IPLen, p.TCP.PayloadLen)
	}
	if p.TS != r.TS {
		t.Fatalf("TS %d, record %d", p.TS, r.TS)
	}
}

// FuzzReader reads arbitrary bytes as a capture file: it must never panic,
// never return more than it was given, and fail only with a located error.
func FuzzReader(f *testing.F) {
	f.Add(pcapBytes(binary.LittleEndian, 0xa1b2c3d4, 1, tRec{ts: 1e9, data: []byte("frame")}))
	f.Add((&ng{o: binary.LittleEndian}).shb().idb(1, 0, opt{9, []byte{9}}).epb(0, 7, tRec{data: []byte("frame")}).b)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), "fuzz")
		if err != nil {
			checkReaderError(t, err)
			return
		}
		last := r.Offset()
		gz := len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b
		var recs []Record
		var lastErr error
		for i := 0; ; i++ {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				checkReaderError(t, err)
				lastErr = err
				break
			}
			rec.Data = bytes.Clone(rec.Data)
			recs = append(recs, rec)
			if rec.CapLen != len(rec.Data) || rec.CapLen > MaxCapLen {
				t.Fatalf("record %d: CapLen %d, %d bytes", i, rec.CapLen, len(rec.Data))
			}
			if r.Count() != i+1 {
				t.Fatalf("Count %d after %d records", r.Count(), i+1)
			}
			if r.Offset() <= last || (!gz && r.Offset() > int64(len(data))) {
				t.Fatalf("offset went from %d to %d (file %d bytes)", last, r.Offset(), len(data))
			}
			last = r.Offset()
		}
		// NextBatch, with small buffers, reads the same records and stops
		// at the same error.
		b, err := newReader(bytes.NewReader(data), "fuzz", 64)
		if err != nil {
			t.Fatalf("NewReader accepted the file, newReader with small buffers: %v", err)
		}
		dst := make([]Record, 3)
		n := 0
		for {
			k, err := b.NextBatch(dst)
			for _, rec := range dst[:k] {
				if n >= len(recs) || rec.TS != recs[n].TS || rec.OrigLen != recs[n].OrigLen || rec.Iface != recs[n].Iface || !bytes.Equal(rec.Data, recs[n].Data) {
					t.Fatalf("NextBatch record %d differs from Next's", n)
				}
				n++
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				if lastErr == nil || err.Error() != lastErr.Error() {
					t.Fatalf("NextBatch: %v; Next: %v", err, lastErr)
				}
				break
			}
		}
		if n != len(recs) {
			t.Fatalf("NextBatch read %d records, Next %d", n, len(recs))
		}
	})
}

func checkReaderError(t *testing.T, err error) {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) || fe.File != "fuzz" {
		t.Fatalf("error without location: %v", err)
	}
	if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotCapture) {
		// Only gzip streams can fail otherwise (bad checksum, bad data).
		if !bytes.Contains([]byte(err.Error()), []byte("gzip")) && !bytes.Contains([]byte(err.Error()), []byte("flate")) {
			t.Fatalf("unclassified error: %v", err)
		}
	}
}

// TestFuzzSeeds keeps the seed corpora under testdata/fuzz in step with
// what builds them (go test -update rewrites them): the decoder table
// cases, the fragment sequences, and the heads of the shared corpus
// captures (checked, and rewritable, only where that corpus is present).
// Inputs the fuzzer found stay beside them under their own names.
func TestFuzzSeeds(t *testing.T) {
	linkIndex := func(lt LinkType) uint8 {
		for i, l := range fuzzLinks {
			if l == lt {
				return uint8(i)
			}
		}
		return uint8(len(fuzzLinks) - 1)
	}
	var dec, rd []testutil.SeedFile
	writeDecode := func(lt LinkType, cutBy int, frames ...[]byte) {
		dec = append(dec, testutil.SeedFile{Name: fmt.Sprintf("seed%03d", len(dec)+1),
			Body: testutil.FuzzFile(linkIndex(lt), uint16(cutBy), bytes.Join(frames, frameSep))})
	}
	writeReader := func(b []byte) {
		rd = append(rd, testutil.SeedFile{Name: fmt.Sprintf("seed%03d", len(rd)+1), Body: testutil.FuzzFile(b)})
	}
	for _, tc := range decodeCases() {
		writeDecode(tc.rec.LinkType, tc.rec.OrigLen-tc.rec.CapLen, tc.rec.Data)
	}
	tcp := dataSeg.bytes()
	writeDecode(LinkRaw, 0, f4(tcp, 1, 64, 120, false), f4(tcp, 1, 0, 24, true), f4(tcp, 1, 24, 64, true))
	writeDecode(LinkRaw, 0, f4(tcp, 1, 0, 32, true), f4(tcp, 1, 24, 120, false))
	writeDecode(LinkRaw, 0, f4(tcp, 1, 0, 24, true), f4(tcp, 1, 0, 24, true), f4(tcp, 1, 24, 120, false))
	writeDecode(LinkRaw, 0, f6(tcp, 7, 0, 48, true), f6(tcp, 7, 96, 120, false), f6(tcp, 7, 48, 96, true))
	writeDecode(LinkEthernet, 0, ether(0x8100, cat(vlanTag(6, 0x86dd), f6(tcp, 77, 0, 48, true))), ether(0x8100, cat(vlanTag(6, 0x86dd), f6(tcp, 77, 48, 120, false))))
	w := (&ng{o: binary.BigEndian}).shb().idb(113, 64, opt{9, []byte{0x80 | 10}}, opt{14, make([]byte, 8)}).block(0xbad, []byte("x")).spb(100, make([]byte, 64)).pb(0, 1, tRec{data: []byte("pb")})
	writeReader(w.b)
	writeReader(pcapBytes(binary.BigEndian, 0xa1b23c4d, 101, tRec{ts: 5, data: []byte("nano")}))
	writeReader(pcapBytes(binary.LittleEndian, 0xa1b2cd34, 1, tRec{ts: 5, data: []byte("kuz")}))

	dir, shared := testutil.Shared(t, "pcaps", "the seeds taken from the shared captures")
	if !shared && testutil.Updating() {
		t.Fatal("not rewriting the seed corpora without the shared captures they partly come from")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		// The head of each file (whole if small), and frames from it.
		writeReader(b[:min(len(b), 1536)])
		r, err := NewReader(bytes.NewReader(b), file)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			rec, err := r.Next()
			if err != nil {
				break
			}
			writeDecode(rec.LinkType, rec.OrigLen-rec.CapLen, rec.Data[:min(len(rec.Data), 256)])
		}
	}
	testutil.SeedFiles(t, "FuzzDecode", dec)
	testutil.SeedFiles(t, "FuzzReader", rd)
}
