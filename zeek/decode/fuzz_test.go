package decode

import (
	"testing"

	"github.com/google/gopacket/layers"

	"github.com/tcptrack/tcptrack/internal/testutil"
	"github.com/tcptrack/tcptrack/zeek"
)

// FuzzDecode feeds arbitrary frames (several link types, cut or not,
// checksums verified or not) through the decoder and on into Zeek's
// connection model: nothing may panic, every segment handed over must be
// consistent with itself, and the same frame must decode the same way.
func FuzzDecode(f *testing.F) {
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

// decodeSeeds start FuzzDecode: a frame of each link layer and tunnel.
func decodeSeeds(t testing.TB) []testutil.SeedFile {
	seg := seg4(t)
	data := tcpIP4(t, ip4A, ip4B, 40000, 80, false, 30)
	seed := func(name string, link uint8, frame []byte, cut uint8, ignore bool) testutil.SeedFile {
		return testutil.SeedFile{Name: name, Body: testutil.FuzzFile(link, frame, cut, ignore)}
	}
	return []testutil.SeedFile{
		seed("ethernet-syn", 1, eth(0x0800, seg), 0, false),
		seed("vlan-cut", 1, eth(0x8100, append([]byte{0, 5, 8, 0}, data...)), 3, true),
		seed("ipv6-options", 2, tcpIP6Ext(t), 0, false),
		seed("vxlan", 1, eth(0x0800, udpIP4(t, 50000, 4789, append([]byte{8, 0, 0, 0, 0, 0, 1, 0}, eth(0x0800, seg)...))), 0, false),
		seed("gtp", 1, eth(0x0800, udpIP4(t, 2152, 2152, append([]byte{0x30, 0xff, 0, byte(len(data)), 0, 0, 0, 1}, data...))), 0, true),
		seed("gre-amsdu", 1, eth(0x0800, ipProto(t, layers.IPProtocolGRE, append([]byte{0, 0, 0x82, 0}, amsdu(seg, data)...))), 0, false),
		seed("teredo", 1, eth(0x0800, udpIP4(t, 3797, 33000, tcpIP6Teredo(t))), 0, false),
		seed("null", 0, append([]byte{2, 0, 0, 0}, seg...), 0, false),
		seed("sll", 4, append([]byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0, 0, 1, 8, 0}, seg...), 0, false),
	}
}

// TestFuzzSeedCorpus keeps testdata/fuzz/FuzzDecode in step with
// decodeSeeds (go test -update rewrites it); a plain go test runs them.
func TestFuzzSeedCorpus(t *testing.T) {
	testutil.SeedFiles(t, "FuzzDecode", decodeSeeds(t))
}
