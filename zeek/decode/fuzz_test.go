package decode

import (
	"testing"

	"github.com/google/gopacket/layers"

	"github.com/tcptrack/tcptrack/zeek"
)

// FuzzDecode feeds arbitrary frames (several link types, cut or not,
// checksums verified or not) through the decoder and on into Zeek's
// connection model: nothing may panic, every segment handed over must be
// consistent with itself, and the same frame must decode the same way.
func FuzzDecode(f *testing.F) {
	seg := seg4(f)
	data := tcpIP4(f, ip4A, ip4B, 40000, 80, false, 30)
	f.Add(uint8(1), eth(0x0800, seg), uint8(0), false)
	f.Add(uint8(1), eth(0x8100, append([]byte{0, 5, 8, 0}, data...)), uint8(3), true)
	f.Add(uint8(101), tcpIP6Ext(f), uint8(0), false)
	f.Add(uint8(1), eth(0x0800, udpIP4(f, 50000, 4789, append([]byte{8, 0, 0, 0, 0, 0, 1, 0}, eth(0x0800, seg)...))), uint8(0), false)
	f.Add(uint8(1), eth(0x0800, udpIP4(f, 2152, 2152, append([]byte{0x30, 0xff, 0, byte(len(data)), 0, 0, 0, 1}, data...))), uint8(0), true)
	f.Add(uint8(1), eth(0x0800, ipProto(f, layers.IPProtocolGRE, append([]byte{0, 0, 0x82, 0}, amsdu(seg, data)...))), uint8(0), false)
	f.Add(uint8(1), eth(0x0800, udpIP4(f, 3797, 33000, tcpIP6Teredo(f))), uint8(0), false)
	f.Add(uint8(0), append([]byte{2, 0, 0, 0}, seg...), uint8(0), false)
	f.Add(uint8(113), append([]byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0, 0, 1, 8, 0}, seg...), uint8(0), false)
	links := []uint32{0, 1, 101, 105, 113, 228, 229, 276}
	f.Fuzz(func(t *testing.T, link uint8, frame []byte, cut uint8, ignore bool) {
		fr := Frame{TS: 1e18, LinkType: links[int(link)%len(links)], Data: frame, WireLen: len(frame) + int(cut)}
		d := New(Config{IgnoreChecksums: ignore})
		pkts := d.Decode(&fr)
		first := describe(pkts)
		tr := zeek.NewTracker(zeek.Config{}, nil)
		for i := range pkts {
			p := &pkts[i]
			if p.Skip == zeek.Process && p.Captured > p.TCP.PayloadLen {
				t.Fatalf("captured %d of a %d-byte payload", p.Captured, p.TCP.PayloadLen)
			}
			if !p.Src.IsValid() || !p.Dst.IsValid() {
				t.Fatalf("invalid address in %+v", p)
			}
			tr.Add(p)
		}
		tr.Flush()
		if again := describe(New(Config{IgnoreChecksums: ignore}).Decode(&fr)); again != first {
			t.Fatalf("decoded differently: %q then %q", first, again)
		}
	})
}
