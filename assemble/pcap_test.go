package assemble

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"
)

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
