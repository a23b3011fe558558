package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

// These tests replay generated captures through a reduced model of the
// kernel's TCP window tracking (design/conntrack-tcp.md §3): every segment
// must pass the four in-window conditions, so a faithful tracker does
// real work instead of flagging packets invalid.

type tcpSeg struct {
	src, dst [16]byte
	sport    uint16
	dport    uint16
	seq, ack uint32
	flags    uint8
	win      uint16
	payload  int
	wscale   int // -1: no option
	tcpOff   int // offset of the TCP header in the frame
}

// decodeTCP peels Ethernet, one 802.1Q tag, IPv4/IPv6 and TCP; ok is
// false for anything else (UDP, ARP).
func decodeTCP(f []byte, s *tcpSeg) (ok bool, err error) {
	if len(f) < ethLen {
		return false, fmt.Errorf("short frame (%d bytes)", len(f))
	}
	et, off := binary.BigEndian.Uint16(f[12:]), ethLen
	if et == etherVLAN {
		et, off = binary.BigEndian.Uint16(f[16:]), off+vlanLen
	}
	var l4 []byte
	*s = tcpSeg{wscale: -1}
	switch et {
	case etherIPv4:
		ip := f[off:]
		if ip[9] != protoTCP {
			return false, nil
		}
		if fold(sum32(ip[:ipv4Len], 0)) != 0xffff {
			return false, fmt.Errorf("bad IPv4 header checksum")
		}
		copy(s.src[:4], ip[12:16])
		copy(s.dst[:4], ip[16:20])
		l4 = ip[ipv4Len:binary.BigEndian.Uint16(ip[2:])]
		s.tcpOff = off + ipv4Len
	case etherIPv6:
		ip := f[off:]
		if ip[6] != protoTCP {
			return false, nil
		}
		copy(s.src[:], ip[8:24])
		copy(s.dst[:], ip[24:40])
		l4 = ip[ipv6Len : ipv6Len+int(binary.BigEndian.Uint16(ip[4:]))]
		s.tcpOff = off + ipv6Len
	default:
		return false, nil
	}
	s.sport, s.dport = binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
	s.seq, s.ack = binary.BigEndian.Uint32(l4[4:]), binary.BigEndian.Uint32(l4[8:])
	hl := int(l4[12]>>4) * 4
	s.flags, s.win = l4[13], binary.BigEndian.Uint16(l4[14:])
	s.payload = len(l4) - hl
	for o := l4[tcpLen:hl]; len(o) > 0; {
		switch o[0] {
		case 0:
			o = nil
		case 1:
			o = o[1:]
		default:
			if len(o) < 2 || int(o[1]) < 2 || int(o[1]) > len(o) {
				return false, fmt.Errorf("bad TCP option % x", o)
			}
			if o[0] == 3 {
				s.wscale = int(o[2])
			}
			o = o[o[1]:]
		}
	}
	return true, nil
}

type dirState struct {
	seen           bool
	end, maxend    uint32
	maxwin         uint32
	scale          uint8
	offeredWS      bool
	finSent, reset bool
}

type flowKey struct {
	a, b   [16]byte
	pa, pb uint16
}

type flowState struct {
	dir  [2]dirState
	isn  uint32
	done bool
}

func after(a, b uint32) bool { return int32(a-b) > 0 }

// windowChecker holds every flow's per-direction window data.
type windowChecker struct {
	flows map[flowKey]*flowState
}

func (w *windowChecker) check(s *tcpSeg) error {
	k := flowKey{s.src, s.dst, s.sport, s.dport}
	d := 0
	f := w.flows[k]
	if f == nil {
		if f = w.flows[flowKey{s.dst, s.src, s.dport, s.sport}]; f != nil {
			d = 1
		}
	}
	syn := s.flags&flagSYN != 0
	if f == nil {
		if !syn || s.flags&flagACK != 0 {
			return fmt.Errorf("flow starts without a SYN (flags %#x)", s.flags)
		}
		f = &flowState{isn: s.seq}
		w.flows[k] = f
	} else if d == 0 && syn && s.flags&flagACK == 0 && s.seq != f.isn {
		return fmt.Errorf("4-tuple reused with a new ISN")
	}
	if f.done {
		return fmt.Errorf("packet after RST")
	}
	snd, rcv := &f.dir[d], &f.dir[1-d]
	end := s.seq + uint32(s.payload)
	if syn {
		end++
	}
	if s.flags&flagFIN != 0 {
		end++
	}
	if s.flags&flagRST != 0 {
		// Only RSTs the kernel takes at once: acking our SYN (refusal) or
		// carrying exactly the next sequence number the peer expects.
		switch {
		case s.seq == 0 && d == 1 && s.ack == rcv.end:
		case s.seq == snd.end:
		default:
			return fmt.Errorf("RST seq %d, want %d", s.seq, snd.end)
		}
		f.done = true
		return nil
	}
	win := uint32(s.win)
	if !snd.seen {
		if !syn {
			return fmt.Errorf("direction %d starts without SYN", d)
		}
		snd.seen, snd.end, snd.maxend, snd.maxwin = true, end, end, max(win, 1)
		if s.wscale >= 0 {
			snd.offeredWS, snd.scale = true, uint8(min(s.wscale, 14))
		}
		if d == 1 && !(snd.offeredWS && rcv.offeredWS) {
			snd.scale, rcv.scale = 0, 0
		}
		if s.flags&flagACK == 0 {
			return nil
		}
	}
	ack := s.ack
	if s.flags&flagACK == 0 {
		ack = rcv.end
	}
	maxAckWin := max(snd.maxwin, 66000)
	switch {
	case after(s.seq, snd.maxend):
		return fmt.Errorf("seq %d beyond the receiver's window (maxend %d)", s.seq, snd.maxend)
	case rcv.maxwin != 0 && !after(end, snd.end-rcv.maxwin-1):
		return fmt.Errorf("end %d too old (td_end %d, maxwin %d)", end, snd.end, rcv.maxwin)
	case after(ack, rcv.end):
		return fmt.Errorf("ack %d beyond what the peer sent (%d)", ack, rcv.end)
	case !after(ack, rcv.end-maxAckWin-1):
		return fmt.Errorf("ack %d too old", ack)
	}
	if !syn {
		win <<= snd.scale
	}
	snd.maxwin = max(snd.maxwin, win)
	if after(end, snd.end) {
		snd.end = end
	}
	if rcv.maxwin != 0 && after(end, snd.maxend) {
		rcv.maxwin += end - snd.maxend
	}
	if after(ack+win, rcv.maxend-1) {
		rcv.maxend = ack + win
		if win == 0 {
			rcv.maxend++
		}
	}
	return nil
}

// replayWindows runs records through the checker; it returns the TCP
// packet and flow counts.
func replayWindows(recs []record) (packets, flows int, err error) {
	w := &windowChecker{flows: map[flowKey]*flowState{}}
	var s tcpSeg
	for i, rec := range recs {
		ok, err := decodeTCP(rec.frame, &s)
		if err == nil && ok {
			packets++
			err = w.check(&s)
		}
		if err != nil {
			return packets, len(w.flows), fmt.Errorf("packet %d (%d bytes): %w", i+1, len(rec.frame), err)
		}
	}
	return packets, len(w.flows), nil
}

func checkWindows(t testing.TB, capture []byte) int {
	t.Helper()
	n, flows, err := replayWindows(readPcap(t, capture))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d TCP packets in window, %d flows", n, flows)
	return n
}

// TestWindowCheckerCatches makes sure the checker is not vacuous: a data
// segment moved far ahead in sequence space must be rejected.
func TestWindowCheckerCatches(t *testing.T) {
	recs := readPcap(t, gen(t, "-seed", "1", "-packets", "20000"))
	var s tcpSeg
	for i := range recs {
		f := recs[i].frame
		if ok, _ := decodeTCP(f, &s); !ok || s.payload == 0 || s.flags&flagRST != 0 {
			continue
		}
		moved := append([]byte(nil), f...)
		binary.BigEndian.PutUint32(moved[s.tcpOff+4:], s.seq+1<<30)
		recs[i].frame = moved
		if _, _, err := replayWindows(recs[:i+1]); err == nil {
			t.Fatalf("segment %d moved 2^30 ahead was accepted", i+1)
		} else {
			t.Logf("rejected as expected: %v", err)
		}
		return
	}
	t.Fatal("no data segment found")
}

func TestWindowsStayValid(t *testing.T) {
	for _, args := range []string{
		"-seed 1 -size small",
		"-seed 3 -packets 50000 -flows 20",
		"-seed 4 -packets 50000 -flows 1 -mix short=0,bulk=1,interactive=0,halfclose=0,aborted=0,refused=0,unanswered=0",
		"-seed 5 -packets 50000 -mix halfclose=1,aborted=1 -retrans 0.3",
		"-seed 6 -packets 50000 -ipv6 1 -vlan 1",
	} {
		t.Run(args, func(t *testing.T) {
			if n := checkWindows(t, gen(t, strings.Fields(args)...)); n == 0 {
				t.Fatal("no TCP packets")
			}
		})
	}
}

// FuzzMix: whatever the seed, concurrency and mix, the capture has the
// asked-for packet count and every segment stays in window.
func FuzzMix(f *testing.F) {
	f.Add(uint64(1), uint16(100), uint8(0xff), uint8(10))
	f.Add(uint64(42), uint16(1), uint8(0x02), uint8(200))
	f.Fuzz(func(t *testing.T, seed uint64, conc uint16, kinds uint8, retransPct uint8) {
		cfg := defaultMix()
		cfg.concurrency = 1 + int(conc%2000)
		cfg.retrans = float64(retransPct%101) / 100
		for k := range cfg.weights {
			if kinds&(1<<k) == 0 {
				cfg.weights[k] = 0
			}
		}
		if kinds&(1<<numKinds-1) == 0 {
			cfg.weights[kindShort] = 1
		}
		var buf strings.Builder
		pw, err := newPcapWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(seed, 1))
		g := newMixGen(r, cfg, newClock(startUnix, 1e6))
		if err := g.run(pw, 3000); err != nil {
			t.Fatal(err)
		}
		if err := pw.flush(); err != nil {
			t.Fatal(err)
		}
		b := []byte(buf.String())
		if got := len(readPcap(t, b)); got != 3000 {
			t.Fatalf("%d records", got)
		}
		checkWindows(t, b)
	})
}

// BenchmarkMix measures generation alone (to io.Discard): the per-packet
// path must not allocate.
func BenchmarkMix(b *testing.B) {
	pw, err := newPcapWriter(io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	g := newMixGen(rand.New(rand.NewPCG(1, 2)), defaultMix(), newClock(startUnix, 1e6))
	// Warm up so every slot holds a connection, as in a long run.
	if err := g.run(pw, 200000); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := g.run(pw, pw.packets+int64(b.N)); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpackets/s")
}

func BenchmarkSynFlood(b *testing.B) {
	pw, err := newPcapWriter(io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := synFlood(pw, rand.New(rand.NewPCG(1, 2)), newClock(startUnix, 1e6), int64(b.N)); err != nil {
		b.Fatal(err)
	}
}
