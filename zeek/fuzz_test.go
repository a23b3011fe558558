package zeek

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/tcptrack/tcptrack/fsm"
	"github.com/tcptrack/tcptrack/internal/testutil"
)

// fuzzPackets turns bytes into packets between a few endpoints: 8 bytes
// each (direction and tuple, flags, sequence and ack moves, payload, time
// step, what to skip).
func fuzzPackets(data []byte) []Packet {
	addrs := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("2001:db8::1")}
	ports := []uint16{80, 443, 22, 40000, 40001, 6667}
	var seq, ack [2]uint32
	ts := t0
	var out []Packet
	for len(data) >= 8 {
		b := data[:8]
		data = data[8:]
		dir := int(b[0] & 1)
		a, c := addrs[int(b[0]>>1)%len(addrs)], addrs[int(b[0]>>3)%len(addrs)]
		pa, pc := ports[int(b[0]>>5)%len(ports)], ports[int(b[7]>>4)%len(ports)]
		seq[dir] += uint32(int8(b[2])) * 97
		ack[dir] += uint32(int8(b[3])) * 89
		n := uint32(b[4]) * 7
		ts += int64(b[5]) * int64(b[5]) * 1e7 // up to ~11 minutes a step
		p := Packet{TS: ts, Src: a, Dst: c, IPLen: 40 + n, Captured: n,
			TCP: fsm.Segment{SrcPort: pa, DstPort: pc, Seq: seq[dir], Ack: ack[dir], Flags: fsm.Flags(b[1]), PayloadLen: n, Window: uint16(b[6])}}
		if dir == 1 {
			p.Src, p.Dst, p.TCP.SrcPort, p.TCP.DstPort = c, a, pc, pa
		}
		switch b[7] & 0x0f {
		case 1:
			p.Skip = BadChecksum
		case 2:
			p.Skip = BadHeader
		case 3:
			p.Captured /= 2
		case 4:
			p.Encap = uint64(b[6])
		}
		out = append(out, p)
	}
	return out
}

// FuzzTracker runs arbitrary segment sequences through the model and
// checks what must hold whatever they are: every processed packet is in
// exactly one record, every connection gets one record, histories use
// Zeek's letters, nothing is left after Flush.
func FuzzTracker(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		pkts := fuzzPackets(data)
		var recs, processed, counted uint64
		tr := NewTracker(Config{}, func(r *Record) {
			recs++
			counted += r.OrigPkts + r.RespPkts
			if r.Duration < 0 {
				t.Fatalf("negative duration %d", r.Duration)
			}
			for _, c := range r.History {
				if !bytes.ContainsRune([]byte("^SHADFRIQCTWGXshadfriqctwg"), rune(c)) {
					t.Fatalf("history %q has %q", r.History, c)
				}
			}
			if r.Duration == 0 && (r.OrigBytes != 0 || r.RespBytes != 0) {
				t.Fatalf("bytes without a duration")
			}
		})
		for i := range pkts {
			if pkts[i].Skip == Process {
				processed++
			}
			tr.Add(&pkts[i])
		}
		tr.Flush()
		st := tr.Stats()
		if counted != processed {
			t.Fatalf("%d packets processed, records count %d", processed, counted)
		}
		if st.Records != st.Created || recs != st.Records || st.Active != 0 || st.Packets != uint64(len(pkts)) {
			t.Fatalf("stats %+v, %d records", st, recs)
		}
	})
}

// trackerSeeds start FuzzTracker (8 bytes a packet, see fuzzPackets): a
// handshake with data, repeated data with some bad checksums and cut
// payloads, a RST then a SYN-ACK with a bad header a long time later.
func trackerSeeds() []testutil.Seed {
	return []testutil.Seed{
		{Name: "handshake", Data: []byte("\x00\x02\x00\x00\x00\x01\x10\x00\x01\x12\x20\x01\x00\x01\x10\x00\x00\x10\x01\x01\x00\x01\x10\x00")},
		{Name: "data-repeats", Data: bytes.Repeat([]byte("\x01\x18\x05\x03\x20\x02\x00\x31"), 20)},
		{Name: "rst-late-synack", Data: []byte("\x20\x04\x00\x00\x00\x00\x00\x02\x21\x11\x00\x00\x00\x80\x00\x04")},
	}
}

// TestFuzzSeedCorpus keeps testdata/fuzz/FuzzTracker in step with
// trackerSeeds (go test -update rewrites it); a plain go test runs them.
func TestFuzzSeedCorpus(t *testing.T) {
	testutil.SeedCorpus(t, "FuzzTracker", trackerSeeds())
}
