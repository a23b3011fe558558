package ipfix

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"

	"github.com/tcptrack/tcptrack/internal/testutil"
)

// FuzzRoundTrip: whatever record is encoded decodes to the same record,
// alone or packed with others into size-limited messages.
func FuzzRoundTrip(f *testing.F) {
	for _, r := range testRecords {
		a, b := r.Src.AsSlice(), r.Dst.AsSlice()
		f.Add(a, b, r.SrcPort, r.DstPort, r.Start, r.End, r.Octets[0], r.Octets[1], r.Packets[0], r.Packets[1],
			r.TCPFlags[0], r.TCPFlags[1], uint8(r.EndReason), r.State, 400)
	}
	f.Fuzz(func(t *testing.T, src, dst []byte, sp, dp uint16, start, end int64, o0, o1, p0, p1 uint64,
		f0, f1 uint16, reason uint8, state string, max int) {
		s, ok1 := netip.AddrFromSlice(src)
		d, ok2 := netip.AddrFromSlice(dst)
		if !ok1 || !ok2 || len(src) != len(dst) || len(state) > 60000 {
			return
		}
		r := Record{Src: s, Dst: d, SrcPort: sp, DstPort: dp, Start: start, End: end,
			Octets: [2]uint64{o0, o1}, Packets: [2]uint64{p0, p1}, TCPFlags: [2]uint16{f0, f1},
			EndReason: EndReason(reason), State: state}
		recs := []Record{r, testRecords[1], r, testRecords[0]}
		max = 16 + 4 + 200 + 4 + 100 + 16 + len(state) + max&0xffff
		msgs := encodeAll(t, recs, min(max, 65535))
		if got := decodeAll(t, msgs); !reflect.DeepEqual(got, recs) {
			t.Fatalf("round trip\n got %+v\nwant %+v", got, recs)
		}
	})
}

// decodeSeeds are FuzzDecode's seed corpus (testdata/fuzz/FuzzDecode,
// kept by TestDecodeSeeds): messages as tcptrack sends them.
func decodeSeeds(t testing.TB) []testutil.Seed {
	var seeds []testutil.Seed
	for i, m := range encodeAll(t, testRecords, 300) {
		seeds = append(seeds, testutil.Seed{Name: fmt.Sprintf("message-%d", i), Data: m})
	}
	return seeds
}

func TestDecodeSeeds(t *testing.T) { testutil.SeedCorpus(t, "FuzzDecode", decodeSeeds(t)) }

// FuzzDecode: any bytes give records or an error, never a panic.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg []byte) {
		d := NewDecoder()
		d.Decode(msg, nil)
		d.Decode(msg, nil) // again, with whatever templates it learnt
	})
}
