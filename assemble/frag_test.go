package assemble

import (
	"testing"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// fragIn is one frame fed to the decoder and what Decode must say.
type fragIn struct {
	rec  Record
	want Kind
}

// f4 is the IPv4 fragment carrying tcp[off:end] of datagram id.
func f4(tcp []byte, id uint16, off, end int, more bool, opts ...byte) []byte {
	return v4{id: id, fragOff: off, more: more, opts: opts}.wrap(tcp[off:end])
}

// f6 is the IPv6 fragment carrying payload[off:end]; pre is an
// unfragmentable extension header chain (its first next-header is pre[0]'s
// owner, given as nh) ending in a fragment header.
func f6(payload []byte, id uint32, off, end int, more bool) []byte {
	return v6{nh: 44, ext: frag6(6, off, more, id)}.wrap(payload[off:end])
}

func at(sec float64, lt LinkType, data []byte) Record {
	r := rec(lt, data)
	r.TS = int64(sec * 1e9)
	return r
}

func TestFragments(t *testing.T) {
	tcp := dataSeg.bytes() // 120 bytes: 20 header + 100 payload
	syn := synSeg.bytes()  // 40 bytes, all header
	other := v4{}.wrap(seg{sport: 7, dport: 8, flags: fsm.ACK}.bytes())
	want4 := pkt4(dataWant, 140)
	type stats struct{ held, completed, expired, dropped, dup int }
	cases := []struct {
		name   string
		cfg    DecoderConfig
		in     []fragIn
		pkt    *flowtable.Packet // the packet after the last TCP result
		stats  stats
		lastTS float64
	}{
		{
			name: "ipv4 in order",
			in: []fragIn{
				{at(1, LinkRaw, f4(tcp, 1, 0, 24, true)), Fragment},
				{at(1, LinkRaw, f4(tcp, 1, 24, 64, true)), Fragment},
				{at(1.5, LinkRaw, f4(tcp, 1, 64, 120, false)), TCP},
			},
			pkt: ptr(func() flowtable.Packet { p := want4; p.TS = 1.5e9; return p }()), stats: stats{completed: 1},
		},
		{
			name: "ipv4 out of order",
			in: []fragIn{
				{at(1, LinkRaw, f4(tcp, 1, 64, 120, false)), Fragment},
				{at(1, LinkRaw, f4(tcp, 1, 0, 24, true)), Fragment},
				{at(1, LinkRaw, f4(tcp, 1, 24, 64, true)), TCP},
			},
			pkt: ptr(want4), stats: stats{completed: 1},
		},
		{
			name: "ipv4 ethernet with padding, first fragment has options",
			in: []fragIn{
				{at(1, LinkEthernet, ether(0x0800, cat(f4(tcp, 9, 64, 120, false)))), Fragment},
				{at(1, LinkEthernet, ether(0x0800, cat(f4(tcp, 9, 0, 8, true, 1, 1, 1, 0), make([]byte, 6)))), Fragment},
				{at(1, LinkEthernet, ether(0x0800, f4(tcp, 9, 8, 64, true))), TCP},
			},
			pkt: ptr(pkt4(dataWant, 144)), stats: stats{completed: 1},
		},
		{
			name: "ipv4 tcp header split over fragments",
			in: []fragIn{
				{at(1, LinkRaw, f4(syn, 2, 0, 8, true)), Fragment},
				{at(1, LinkRaw, f4(syn, 2, 8, 16, true)), Fragment},
				{at(1, LinkRaw, f4(syn, 2, 16, 40, false)), TCP},
			},
			pkt: ptr(pkt4(synWant, 60)), stats: stats{completed: 1},
		},
		{
			name: "ipv4 duplicate ignored",
			in: []fragIn{
				{at(1, LinkRaw, f4(tcp, 1, 0, 24, true)), Fragment},
				{at(1, LinkRaw, f4(tcp, 1, 0, 24, true)), Fragment},
				{at(1, LinkRaw, f4(tcp, 1, 24, 120, false)), TCP},
			},
			pkt: ptr(want4), stats: stats{completed: 1, dup: 1},
		},
		{
			name: "ipv4 duplicate inside a run",
			in: []fragIn{
				{at(1, LinkRaw, f4(tcp, 1, 0, 24, true)), Fragment},
				{at(1, LinkRaw, f4(tcp, 1, 24, 48, true)), Fragment},
				{at(1, LinkRaw, f4(tcp, 1, 8, 40, true)), Fragment},
				{at(1, LinkRaw, f4(tcp, 1, 48, 120, false)), TCP},
			},
			pkt: ptr(want4), stats: stats{completed: 1, dup: 1},
		},
		{
			name: "ipv4 overlap discards the datagram",
			in: []fragIn{
				{at(1, LinkRaw, f4(tcp, 1, 0, 32, true)), Fragment},
				{at(1, LinkRaw, f4(tcp, 1, 24, 120, false)), Fragment},
				{at(1, LinkRaw, f4(tcp, 1, 32, 120, false)), Fragment}, // starts a new datagram
			},
			stats: stats{held: 1, dropped: 1},
		},
		{
			name: "ipv4 overlap in the middle (zeek fragmented-4 pattern)",
			in: []fragIn{
				{at(1, LinkRaw, f4(tcp, 1, 0, 24, true)), Fragment},
				{at(1, LinkRaw, f4(tcp, 1, 48, 72, true)), Fragment},
				{at(1, LinkRaw, f4(tcp, 1, 72, 120, false)), Fragment},
				{at(1, LinkRaw, f4(tcp, 1, 24, 80, true)), Fragment},
			},
			stats: stats{dropped: 1},
		},
		{
			name: "ipv4 missing piece expires after 30s",
			in: []fragIn{
				{at(1, LinkRaw, f4(tcp, 1, 0, 24, true)), Fragment},
				{at(30.9, LinkRaw, other), TCP},
				{at(31, LinkRaw, f4(tcp, 1, 64, 120, false)), Fragment}, // too late: a new datagram
				{at(31, LinkRaw, f4(tcp, 1, 24, 64, true)), Fragment},
			},
			stats: stats{held: 1, expired: 1},
		},
		{
			name: "ipv4 custom timeout",
			cfg:  DecoderConfig{IPv4FragTimeout: 2e9},
			in: []fragIn{
				{at(1, LinkRaw, f4(tcp, 1, 0, 24, true)), Fragment},
				{at(3, LinkRaw, other), TCP},
			},
			stats: stats{expired: 1},
		},
		{
			name: "ipv4 interleaved datagrams",
			in: []fragIn{
				{at(1, LinkRaw, f4(tcp, 1, 0, 24, true)), Fragment},
				{at(1, LinkRaw, f4(syn, 2, 0, 16, true)), Fragment},
				{at(1, LinkRaw, f4(tcp, 1, 24, 120, false)), TCP},
				{at(1, LinkRaw, f4(syn, 2, 16, 40, false)), TCP},
			},
			pkt: ptr(pkt4(synWant, 60)), stats: stats{completed: 2},
		},
		{
			name: "ipv4 non-final fragment trimmed to 8 bytes",
			in: []fragIn{
				{at(1, LinkRaw, f4(tcp, 1, 0, 20, true)), Fragment},
				{at(1, LinkRaw, f4(tcp, 1, 16, 120, false)), TCP},
			},
			pkt: ptr(want4), stats: stats{completed: 1},
		},
		{
			name: "ipv4 conflicting last fragments",
			in: []fragIn{
				{at(1, LinkRaw, f4(tcp, 1, 64, 120, false)), Fragment},
				{at(1, LinkRaw, f4(tcp, 1, 64, 112, false)), Fragment},
				{at(1, LinkRaw, f4(tcp, 1, 0, 64, true)), TCP},
			},
			pkt: ptr(want4), stats: stats{completed: 1, dropped: 1},
		},
		{
			name: "ipv4 memory bound",
			cfg:  DecoderConfig{MaxFragBytes: 100},
			in: []fragIn{
				{at(1, LinkRaw, f4(tcp, 1, 0, 64, true)), Fragment},    // 64+20 held
				{at(1, LinkRaw, f4(tcp, 1, 64, 120, false)), Fragment}, // would exceed
			},
			stats: stats{held: 1, dropped: 1},
		},
		{
			name: "ipv4 beyond 64k dropped",
			in: []fragIn{
				{at(1, LinkRaw, v4{id: 5, fragOff: 65528, more: false}.wrap(make([]byte, 16))), Fragment},
			},
			stats: stats{dropped: 1},
		},
		{
			name: "ipv4 snaplen-cut payload still reassembles",
			in: []fragIn{
				{cut(at(1, LinkRaw, f4(tcp, 1, 0, 64, true)), 20+30), Fragment},
				{cut(at(1, LinkRaw, f4(tcp, 1, 64, 120, false)), 20+4), TCP},
			},
			pkt: ptr(want4), stats: stats{completed: 1},
		},
		{
			name: "ipv4 snaplen-cut tcp header",
			in: []fragIn{
				{cut(at(1, LinkRaw, f4(tcp, 1, 0, 64, true)), 20+10), Fragment},
				{at(1, LinkRaw, f4(tcp, 1, 64, 120, false)), Truncated},
			},
			stats: stats{completed: 1},
		},

		{
			name: "ipv6 in order",
			in: []fragIn{
				{at(1, LinkRaw, f6(tcp, 77, 0, 48, true)), Fragment},
				{at(1, LinkRaw, f6(tcp, 77, 48, 96, true)), Fragment},
				{at(1, LinkRaw, f6(tcp, 77, 96, 120, false)), TCP},
			},
			pkt: ptr(pkt6(dataWant, 160)), stats: stats{completed: 1},
		},
		{
			name: "ipv6 out of order over vlan",
			in: []fragIn{
				{at(1, LinkEthernet, ether(0x8100, cat(vlanTag(6, 0x86dd), f6(tcp, 77, 96, 120, false)))), Fragment},
				{at(1, LinkEthernet, ether(0x8100, cat(vlanTag(6, 0x86dd), f6(tcp, 77, 0, 48, true)))), Fragment},
				{at(1, LinkEthernet, ether(0x8100, cat(vlanTag(6, 0x86dd), f6(tcp, 77, 48, 96, true)))), TCP},
			},
			pkt: ptr(withVLAN(pkt6(dataWant, 160), 6)), stats: stats{completed: 1},
		},
		{
			name: "ipv6 unfragmentable and fragmentable extension headers",
			in: []fragIn{
				{at(1, LinkRaw, v6{nh: 0, ext: cat(ext6(44, 8), frag6(60, 0, true, 5))}.wrap(cat(ext6(6, 16), tcp)[0:64])), Fragment},
				{at(1, LinkRaw, v6{nh: 0, ext: cat(ext6(44, 8), frag6(60, 64, false, 5))}.wrap(cat(ext6(6, 16), tcp)[64:])), TCP},
			},
			pkt: ptr(pkt6(dataWant, 40+8+16+120)), stats: stats{completed: 1},
		},
		{
			name: "ipv6 non-final fragment not a multiple of 8 kills the datagram",
			in: []fragIn{
				{at(1, LinkRaw, f6(tcp, 1, 0, 48, true)), Fragment},
				{at(1, LinkRaw, f6(tcp, 1, 48, 100, true)), Fragment},
				{at(1, LinkRaw, f6(tcp, 1, 100, 120, false)), Fragment},
			},
			stats: stats{held: 1, dropped: 1},
		},
		{
			name: "ipv6 overlap discards the datagram",
			in: []fragIn{
				{at(1, LinkRaw, f6(tcp, 1, 48, 120, false)), Fragment},
				{at(1, LinkRaw, f6(tcp, 1, 0, 56, true)), Fragment},
			},
			stats: stats{dropped: 1},
		},
		{
			name: "ipv6 first fragment without the whole tcp header",
			in: []fragIn{
				{at(1, LinkRaw, f6(syn, 1, 0, 16, true)), Malformed},
				{at(1, LinkRaw, f6(syn, 1, 16, 40, false)), Fragment},
			},
			stats: stats{held: 1},
		},
		{
			name: "ipv6 expires after 60s, not 30s",
			in: []fragIn{
				{at(1, LinkRaw, f6(tcp, 1, 0, 48, true)), Fragment},
				{at(40, LinkRaw, other), TCP},
				{at(40, LinkRaw, f6(tcp, 1, 48, 120, false)), TCP},
				{at(50, LinkRaw, f6(tcp, 2, 0, 48, true)), Fragment},
				{at(111, LinkRaw, other), TCP},
			},
			pkt: ptr(pkt4(fsm.Segment{SrcPort: 7, DstPort: 8, Flags: fsm.ACK}, 40)), lastTS: 111, stats: stats{completed: 1, expired: 1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(tc.cfg)
			var p, last flowtable.Packet
			for i, in := range tc.in {
				r := in.rec
				got := d.Decode(&r, &p)
				if got != in.want {
					t.Fatalf("frame %d: Decode = %v, want %v (stats %+v)", i, got, in.want, d.Stats())
				}
				if got == TCP {
					last = p
				}
			}
			if tc.pkt != nil {
				want := *tc.pkt
				if tc.lastTS != 0 {
					want.TS = int64(tc.lastTS * 1e9)
				}
				if last != want {
					t.Errorf("packet\n got %+v\nwant %+v", last, want)
				}
			}
			s := d.Stats()
			got := stats{s.FragHeld, int(s.FragCompleted), int(s.FragExpired), int(s.FragDropped), int(s.FragDuplicate)}
			if got != tc.stats {
				t.Errorf("stats %+v, want %+v", got, tc.stats)
			}
			if s.FragHeld == 0 && s.FragHeldBytes != 0 {
				t.Errorf("no datagram held but %d bytes", s.FragHeldBytes)
			}
		})
	}
}

// Queues are recycled; a long run of fragmented datagrams must not leak.
func TestFragmentRecycling(t *testing.T) {
	d := NewDecoder(DecoderConfig{})
	tcp := dataSeg.bytes()
	var p flowtable.Packet
	for id := range 1000 {
		for _, f := range []fragIn{
			{at(1, LinkRaw, f4(tcp, uint16(id), 64, 120, false)), Fragment},
			{at(1, LinkRaw, f4(tcp, uint16(id), 0, 64, true)), TCP},
		} {
			r := f.rec
			if got := d.Decode(&r, &p); got != f.want {
				t.Fatalf("id %d: %v, want %v", id, got, f.want)
			}
		}
	}
	if s := d.Stats(); s.FragHeld != 0 || s.FragHeldBytes != 0 || s.FragCompleted != 1000 {
		t.Errorf("stats %+v", s)
	}
	if len(d.frag.free) > maxFreeFrag {
		t.Errorf("%d free queues kept", len(d.frag.free))
	}
}
