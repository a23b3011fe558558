package assemble

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/internal/testutil"
)

// Capture file builders.

type tRec struct {
	ts   int64 // ns
	data []byte
	orig int // 0: len(data)
}

func (r tRec) origLen() int {
	if r.orig == 0 {
		return len(r.data)
	}
	return r.orig
}

// pcapBytes writes a pcap file. magic is the canonical magic (a1b2c3d4,
// a1b23c4d or a1b2cd34), written in order.
func pcapBytes(order binary.AppendByteOrder, magic uint32, link uint32, recs ...tRec) []byte {
	b := order.AppendUint32(nil, magic)
	b = order.AppendUint16(b, 2)
	b = order.AppendUint16(b, 4)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, 0)
	b = order.AppendUint32(b, 65535)
	b = order.AppendUint32(b, link)
	for _, r := range recs {
		frac := uint32(r.ts % 1e9 / 1e3)
		if magic == 0xa1b23c4d {
			frac = uint32(r.ts % 1e9)
		}
		b = order.AppendUint32(b, uint32(r.ts/1e9))
		b = order.AppendUint32(b, frac)
		b = order.AppendUint32(b, uint32(len(r.data)))
		b = order.AppendUint32(b, uint32(r.origLen()))
		if magic == 0xa1b2cd34 {
			b = append(b, make([]byte, 8)...) // ifindex, protocol, pkt_type, pad
		}
		b = append(b, r.data...)
	}
	return b
}

// ng writes pcapng blocks.
type ng struct {
	o binary.AppendByteOrder
	b []byte
}

func (w *ng) block(typ uint32, body []byte) *ng {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	w.b = w.o.AppendUint32(w.b, typ)
	w.b = w.o.AppendUint32(w.b, n)
	w.b = append(w.b, body...)
	w.b = w.o.AppendUint32(w.b, n)
	return w
}

func (w *ng) shb() *ng {
	body := w.o.AppendUint32(nil, ngBOM)
	body = w.o.AppendUint16(body, 1)
	body = w.o.AppendUint16(body, 0)
	body = w.o.AppendUint64(body, ^uint64(0))
	return w.block(ngSHB, body)
}

// opt is one pcapng option.
type opt struct {
	code uint16
	val  []byte
}

func (w *ng) idb(link uint16, snap uint32, opts ...opt) *ng {
	body := w.o.AppendUint16(nil, link)
	body = w.o.AppendUint16(body, 0)
	body = w.o.AppendUint32(body, snap)
	for _, o := range opts {
		body = w.o.AppendUint16(body, o.code)
		body = w.o.AppendUint16(body, uint16(len(o.val)))
		body = append(body, o.val...)
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
	}
	if len(opts) > 0 {
		body = append(body, 0, 0, 0, 0)
	}
	return w.block(ngIDB, body)
}

func (w *ng) epb(iface uint32, ts uint64, r tRec) *ng {
	body := w.o.AppendUint32(nil, iface)
	body = w.o.AppendUint32(body, uint32(ts>>32))
	body = w.o.AppendUint32(body, uint32(ts))
	body = w.o.AppendUint32(body, uint32(len(r.data)))
	body = w.o.AppendUint32(body, uint32(r.origLen()))
	return w.block(ngEPB, append(body, r.data...))
}

func (w *ng) pb(iface uint16, ts uint64, r tRec) *ng {
	body := w.o.AppendUint16(nil, iface)
	body = w.o.AppendUint16(body, 0)
	body = w.o.AppendUint32(body, uint32(ts>>32))
	body = w.o.AppendUint32(body, uint32(ts))
	body = w.o.AppendUint32(body, uint32(len(r.data)))
	body = w.o.AppendUint32(body, uint32(r.origLen()))
	return w.block(ngPB, append(body, r.data...))
}

func (w *ng) spb(orig uint32, data []byte) *ng {
	return w.block(ngSPB, append(w.o.AppendUint32(nil, orig), data...))
}

func le64(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }

func readAll(t *testing.T, name string, b []byte) ([]Record, *Reader, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b), name)
	if err != nil {
		return nil, nil, err
	}
	recs, err := testutil.ReadAll(r.Next, func(rec Record) Record { rec.Data = bytes.Clone(rec.Data); return rec })
	return recs, r, err
}

func TestReaderPcap(t *testing.T) {
	recs := []tRec{
		{ts: 1700000000_123456000, data: []byte("first frame")},
		{ts: 1700000001_000001000, data: []byte("second"), orig: 1514},
		{ts: 1700000002_999999000, data: nil},
	}
	nanoRecs := append([]tRec(nil), recs...)
	nanoRecs[0].ts = 1700000000_123456789
	for _, tc := range []struct {
		name  string
		file  []byte
		recs  []tRec
		link  LinkType
		bytes int
	}{
		{"micro little-endian", pcapBytes(binary.LittleEndian, 0xa1b2c3d4, 1, recs...), recs, LinkEthernet, 0},
		{"micro big-endian", pcapBytes(binary.BigEndian, 0xa1b2c3d4, 113, recs...), recs, LinkSLL, 0},
		{"nano little-endian", pcapBytes(binary.LittleEndian, 0xa1b23c4d, 276, nanoRecs...), nanoRecs, LinkSLL2, 0},
		{"nano big-endian", pcapBytes(binary.BigEndian, 0xa1b23c4d, 101, nanoRecs...), nanoRecs, LinkRaw, 0},
		{"modified (kuznetzov)", pcapBytes(binary.LittleEndian, 0xa1b2cd34, 1, recs...), recs, LinkEthernet, 0},
		{"fcs bits in link type", pcapBytes(binary.LittleEndian, 0xa1b2c3d4, 1|0x14000000, recs...), recs, LinkEthernet, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, r, err := readAll(t, "x.pcap", tc.file)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.recs) || r.Count() != len(tc.recs) {
				t.Fatalf("%d records (Count %d), want %d", len(got), r.Count(), len(tc.recs))
			}
			for i, w := range tc.recs {
				g := got[i]
				if g.TS != w.ts || g.CapLen != len(w.data) || g.OrigLen != w.origLen() || g.LinkType != tc.link || g.Iface != 0 || !bytes.Equal(g.Data, w.data) {
					t.Errorf("record %d: %+v, want %+v link %v", i, g, w, tc.link)
				}
			}
			if r.Offset() != int64(len(tc.file)) {
				t.Errorf("Offset %d, want %d", r.Offset(), len(tc.file))
			}
			if r.LinkType() != tc.link || len(r.Interfaces()) != 1 {
				t.Errorf("LinkType %v, Interfaces %v", r.LinkType(), r.Interfaces())
			}
			if _, err := r.Next(); err != io.EOF {
				t.Errorf("after EOF: %v", err)
			}
		})
	}
}

func TestReaderPcapng(t *testing.T) {
	eth := []byte("ethernet frame")
	w := &ng{o: binary.LittleEndian}
	w.shb().
		idb(1, 0).                                              // iface 0: default µs
		idb(101, 128, opt{9, []byte{9}}, opt{2, []byte("lo")}). // iface 1: ns, named
		block(0xbad, []byte("unknown block type")).
		idb(113, 0, opt{9, []byte{0x80 | 20}}).             // iface 2: 2^-20 s
		idb(276, 0, opt{14, le64(100)}, opt{9, []byte{3}}). // iface 3: ms, offset 100 s (offset first)
		epb(0, 1700000000_123456, tRec{data: eth, orig: 1514}).
		epb(1, 1700000000_123456789, tRec{data: []byte("raw")}).
		block(4, []byte{0, 0, 0, 0}). // name resolution block
		epb(2, 3<<20|1<<19, tRec{data: []byte("sll")}).
		epb(3, 1500, tRec{data: []byte("sll2")}).
		block(5, make([]byte, 12)).    // interface statistics block
		spb(1514, []byte("simple!!")). // SPB data length includes padding: use a multiple of 4
		pb(1, 42, tRec{data: []byte("obsolete")})
	// A second section, big-endian, renumbers interfaces.
	w2 := &ng{o: binary.BigEndian}
	w2.shb().idb(228, 0, opt{9, []byte{6}}).epb(0, 5_000_000, tRec{data: []byte("v4")})
	file := append(w.b, w2.b...)

	got, r, err := readAll(t, "multi.pcapng", file)
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{
		{TS: 1700000000_123456000, CapLen: len(eth), OrigLen: 1514, LinkType: LinkEthernet, Iface: 0, Data: eth},
		{TS: 1700000000_123456789, CapLen: 3, OrigLen: 3, LinkType: LinkRaw, Iface: 1, Data: []byte("raw")},
		{TS: 3_500_000_000, CapLen: 3, OrigLen: 3, LinkType: LinkSLL, Iface: 2, Data: []byte("sll")},
		{TS: 101_500_000_000, CapLen: 4, OrigLen: 4, LinkType: LinkSLL2, Iface: 3, Data: []byte("sll2")},
		{TS: 101_500_000_000, CapLen: 8, OrigLen: 1514, LinkType: LinkEthernet, Iface: 0, Data: []byte("simple!!")}, // SPB: previous time
		{TS: 42, CapLen: 8, OrigLen: 8, LinkType: LinkRaw, Iface: 1, Data: []byte("obsolete")},
		{TS: 5_000_000_000, CapLen: 2, OrigLen: 2, LinkType: LinkIPv4, Iface: 4, Data: []byte("v4")},
	}
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.TS != w.TS || g.CapLen != w.CapLen || g.OrigLen != w.OrigLen || g.LinkType != w.LinkType || g.Iface != w.Iface || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	ifs := r.Interfaces()
	if len(ifs) != 5 || ifs[1] != (Interface{LinkType: LinkRaw, SnapLen: 128, Name: "lo"}) || ifs[4].Section != 1 || ifs[3].Section != 0 {
		t.Errorf("interfaces %+v", ifs)
	}
	if r.Offset() != int64(len(file)) || r.Count() != len(want) {
		t.Errorf("Offset %d Count %d", r.Offset(), r.Count())
	}
}

// SPB capture length is bounded by the interface snaplen.
func TestReaderSimplePacketSnaplen(t *testing.T) {
	w := &ng{o: binary.LittleEndian}
	w.shb().idb(1, 4).spb(1514, []byte("12345678"))
	got, _, err := readAll(t, "spb.pcapng", w.b)
	if err != nil || len(got) != 1 || string(got[0].Data) != "1234" || got[0].OrigLen != 1514 {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestReaderGzip(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(pcapBytes(binary.LittleEndian, 0xa1b2c3d4, 1, tRec{ts: 1e9, data: []byte("x")}, tRec{ts: 2e9, data: []byte("y")}))
	zw.Close()
	got, _, err := readAll(t, "x.pcap.gz", buf.Bytes())
	if err != nil || len(got) != 2 || string(got[1].Data) != "y" {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestReaderErrors(t *testing.T) {
	le := binary.LittleEndian
	three := pcapBytes(le, 0xa1b2c3d4, 1, tRec{ts: 1e9, data: make([]byte, 60)}, tRec{ts: 2e9, data: make([]byte, 60)}, tRec{ts: 3e9, data: make([]byte, 60)})
	absurd := pcapBytes(le, 0xa1b2c3d4, 1, tRec{ts: 1e9, data: make([]byte, 10)})
	le.PutUint32(absurd[24+8:], 0x7fffffff)
	badVersion := pcapBytes(le, 0xa1b2c3d4, 1)
	le.PutUint16(badVersion[4:], 3)
	ngOK := func() *ng { w := &ng{o: le}; return w.shb().idb(1, 0) }
	ngLen := func(mutate func(b []byte)) []byte {
		w := ngOK().epb(0, 1, tRec{data: make([]byte, 60)})
		mutate(w.b[len(w.b)-(12+20+60):])
		return w.b
	}
	for _, tc := range []struct {
		name    string
		file    []byte
		records int   // read fine before the error
		is      error // errors.Is target
		msg     string
	}{
		{name: "empty", file: nil, is: ErrNotCapture, msg: "f: not a pcap or pcapng file (empty file)"},
		{name: "text", file: []byte("hello, world\n"), is: ErrNotCapture, msg: `f: not a pcap or pcapng file (starts with "hell")`},
		{name: "tiny", file: []byte("hi"), is: ErrNotCapture, msg: `f: not a pcap or pcapng file (only 2 bytes: "hi")`},
		{name: "pcap header cut", file: three[:20], is: ErrTruncated, msg: "f: file header at offset 0: truncated: pcap file header needs 24 bytes, file ends after 20"},
		{name: "pcap version", file: badVersion, is: ErrCorrupt, msg: "f: file header at offset 0: corrupt: pcap version 3.4, want 2.x"},
		{name: "last record data cut", file: three[:len(three)-1], records: 2, is: ErrTruncated, msg: "f: record 3 at offset 176: truncated: record data needs 76 bytes, file ends after 75"},
		{name: "last record header cut", file: three[:176+7], records: 2, is: ErrTruncated, msg: "f: record 3 at offset 176: truncated: record header needs 16 bytes, file ends after 7"},
		{name: "absurd captured length", file: absurd, is: ErrCorrupt, msg: "f: record 1 at offset 24: corrupt: captured length 2147483647 exceeds 262144 (snaplen 65535)"},
		{name: "pcapng shb cut", file: ngOK().b[:20], is: ErrTruncated, msg: "f: file header at offset 0: truncated: section header block needs 28 bytes, file ends after 20"},
		{name: "pcapng bad byte-order magic", file: func() []byte { b := ngOK().b; b[8] = 0; return b }(), is: ErrCorrupt},
		{name: "pcapng block cut", file: func() []byte { b := ngOK().epb(0, 1, tRec{data: make([]byte, 60)}).b; return b[:len(b)-3] }(), is: ErrTruncated,
			msg: "f: record 1 at offset 48: truncated: block needs 92 bytes, file ends after 89"},
		{name: "pcapng length not multiple of 4", file: ngLen(func(b []byte) { le.PutUint32(b[4:], 90) }), is: ErrCorrupt,
			msg: "f: record 1 at offset 48: corrupt: block type 0x6 has length 90 (must be a multiple of 4, at least 12)"},
		{name: "pcapng length below 12", file: ngLen(func(b []byte) { le.PutUint32(b[4:], 8) }), is: ErrCorrupt},
		{name: "pcapng negative length", file: ngLen(func(b []byte) { le.PutUint32(b[4:], 0xfffffff0) }), is: ErrCorrupt,
			msg: "f: record 1 at offset 48: corrupt: block type 0x6 has length 4294967280, over 1048576"},
		{name: "pcapng huge unknown block", file: func() []byte {
			w := ngOK().epb(0, 1, tRec{data: []byte{1}})
			w.b = le.AppendUint32(w.b, 0x99)
			w.b = le.AppendUint32(w.b, 1<<30)
			return w.b
		}(), records: 1, is: ErrCorrupt, msg: "f: record 2 at offset 84: corrupt: block type 0x99 has length 1073741824, over 16777216"},
		{name: "pcapng unknown block cut", file: func() []byte { b := ngOK().block(0x99, make([]byte, 100)).b; return b[:len(b)-1] }(), is: ErrTruncated},
		{name: "pcapng trailer mismatch", file: ngLen(func(b []byte) { le.PutUint32(b[len(b)-4:], 12) }), is: ErrCorrupt,
			msg: "f: record 1 at offset 48: corrupt: block type 0x6 has length 92, trailer says 12"},
		{name: "pcapng captured length overruns block", file: ngLen(func(b []byte) { le.PutUint32(b[20:], 61) }), is: ErrCorrupt,
			msg: "f: record 1 at offset 48: corrupt: captured length 61 overruns its block (60 bytes of data room)"},
		{name: "pcapng absurd captured length", file: ngLen(func(b []byte) { le.PutUint32(b[20:], 1<<30) }), is: ErrCorrupt},
		{name: "pcapng undescribed interface", file: ngLen(func(b []byte) { le.PutUint32(b[8:], 1) }), is: ErrCorrupt,
			msg: "f: record 1 at offset 48: corrupt: packet on interface 1, but the section describes 1"},
		{name: "pcapng packet before any interface", file: (&ng{o: le}).shb().epb(0, 1, tRec{data: []byte{1}}).b, is: ErrCorrupt},
		{name: "pcapng version 2", file: func() []byte { b := ngOK().b; le.PutUint16(b[12:], 2); return b }(), is: ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, r, err := readAll(t, "f", tc.file)
			if err == nil {
				t.Fatalf("no error (%d records)", len(got))
			}
			if !errors.Is(err, tc.is) {
				t.Errorf("error %q is not %v", err, tc.is)
			}
			if tc.msg != "" && err.Error() != tc.msg {
				t.Errorf("error\n got %q\nwant %q", err, tc.msg)
			}
			if len(got) != tc.records {
				t.Errorf("%d records before the error, want %d", len(got), tc.records)
			}
			if !strings.HasPrefix(err.Error(), "f: ") {
				t.Errorf("error does not name the file: %q", err)
			}
			if r != nil {
				if _, again := r.Next(); again != err {
					t.Errorf("second Next: %v", again)
				}
			}
		})
	}
}

func TestReaderNextDoesNotAllocate(t *testing.T) {
	frame := ether(0x0800, v4{}.wrap(dataSeg.bytes()))
	recs := make([]tRec, 200)
	for i := range recs {
		recs[i] = tRec{ts: int64(i) * 1e6, data: frame}
	}
	files := map[string][]byte{"pcap": pcapBytes(binary.LittleEndian, 0xa1b2c3d4, 1, recs...)}
	w := (&ng{o: binary.LittleEndian}).shb().idb(1, 0)
	for i, r := range recs {
		w.epb(0, uint64(i), r)
	}
	files["pcapng"] = w.b
	for name, file := range files {
		r, err := NewReader(bytes.NewReader(file), name)
		if err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := r.Next(); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per Next", name, allocs)
		}
	}
}

func TestMerger(t *testing.T) {
	le := binary.LittleEndian
	a := pcapBytes(le, 0xa1b2c3d4, 1, tRec{ts: 1e9, data: []byte("a1")}, tRec{ts: 3e9, data: []byte("a3")}, tRec{ts: 2e9, data: []byte("a2-late")}, tRec{ts: 5e9, data: []byte("a5")})
	b := pcapBytes(le, 0xa1b23c4d, 101, tRec{ts: 1e9, data: []byte("b1")}, tRec{ts: 2e9, data: []byte("b2")}, tRec{ts: 4e9, data: []byte("b4")})
	c := pcapBytes(le, 0xa1b2c3d4, 1)
	ra, _ := NewReader(bytes.NewReader(a), "a")
	rb, _ := NewReader(bytes.NewReader(b), "b")
	rc, _ := NewReader(bytes.NewReader(c), "c")
	m := NewMerger(ra, rb, rc)
	var got []string
	var src []int
	for {
		rec, err := m.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(rec.Data))
		src = append(src, m.Source())
	}
	want := "a1 b1 b2 a3 a2-late b4 a5"
	if strings.Join(got, " ") != want {
		t.Errorf("order %q, want %q", strings.Join(got, " "), want)
	}
	if m.Count() != 7 || src[1] != 1 || src[0] != 0 {
		t.Errorf("Count %d, sources %v", m.Count(), src)
	}
}

func TestMergerError(t *testing.T) {
	le := binary.LittleEndian
	good := pcapBytes(le, 0xa1b2c3d4, 1, tRec{ts: 1e9, data: []byte("g1")}, tRec{ts: 4e9, data: []byte("g4")})
	bad := pcapBytes(le, 0xa1b2c3d4, 1, tRec{ts: 2e9, data: []byte("b2")}, tRec{ts: 3e9, data: []byte("b3")})
	bad = bad[:len(bad)-1]
	rg, _ := NewReader(bytes.NewReader(good), "good")
	rb, _ := NewReader(bytes.NewReader(bad), "bad")
	m := NewMerger(rg, rb)
	var got []string
	var errs int
	for {
		rec, err := m.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !errors.Is(err, ErrTruncated) || !strings.HasPrefix(err.Error(), "bad: record 2") {
				t.Errorf("error %v", err)
			}
			errs++
			continue
		}
		got = append(got, string(rec.Data))
	}
	if strings.Join(got, " ") != "g1 b2 g4" || errs != 1 {
		t.Errorf("got %q, %d errors", got, errs)
	}
}
