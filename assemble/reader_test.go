package assemble

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/internal/testutil"
)

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

func readAll(t *testing.T, name string, b []byte) ([]Record, *Reader, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(b), name)
	if err != nil {
		return nil, nil, err
	}
	recs, err := testutil.ReadAll(r.Next, func(rec Record) Record { rec.Data = bytes.Clone(rec.Data); return rec })
	return recs, r, err
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
