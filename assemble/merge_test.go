package assemble

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
)

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
