package assemble

import (
	"bytes"
	"encoding/binary"
	"testing"
)

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
