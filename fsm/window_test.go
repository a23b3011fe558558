package fsm

import "testing"

// White-box checks of tcp_in_window's bounds and updates, one rule per case.
func TestInWindow(t *testing.T) {
	// An established flow: A sent up to 1101 and B acked it with window
	// 1000; B sent up to 5001, A acked it with window 2000.
	est := func() Conn {
		var c Conn
		c.state = Established
		c.status = SeenReply | Assured
		c.seen[Original] = peer{tdEnd: 1101, tdMaxEnd: 2101, tdMaxWin: 2000, tdMaxAck: 5001, flags: flagMaxAckSet}
		c.seen[Reply] = peer{tdEnd: 5001, tdMaxEnd: 7001, tdMaxWin: 1000, tdMaxAck: 1101, flags: flagMaxAckSet}
		c.lastIndex = clsACK
		return c
	}
	for _, tc := range []struct {
		name    string
		cfg     func(*Config)
		setup   func(*Conn)
		dir     Dir
		seg     Segment
		want    windowAction
		why     string // the kernel's message for a failure
		check   func(*Conn) bool
		checkIs string
	}{
		{name: "in window data", dir: Original, seg: Segment{Seq: 1101, Ack: 5001, Flags: ACK, Window: 2000, PayloadLen: 500},
			want: winAccept, check: func(c *Conn) bool { return c.seen[0].tdEnd == 1601 && c.seen[0].flags&flagDataUnack != 0 },
			checkIs: "td_end advanced, DATA_UNACK set"},
		{name: "I: seq past td_maxend, small overshoot", dir: Original, seg: Segment{Seq: 2102, Ack: 5001, Flags: ACK, Window: 2000, PayloadLen: 10},
			want: winIgnore, why: "12 bytes more than expected", check: func(c *Conn) bool { return c.seen[0].tdEnd == 2112 && c.seen[0].flags&flagDataUnack != 0 },
			checkIs: "td_end moved to the overshooting end"},
		{name: "I: seq far past td_maxend", dir: Original, seg: Segment{Seq: 9000, Ack: 5001, Flags: ACK, Window: 2000, PayloadLen: 10},
			want: winInvalid, why: "SEQ is over upper bound 2102 (over the window of the receiver)",
			check: func(c *Conn) bool { return c.seen[0].tdEnd == 1101 }, checkIs: "nothing changed"},
		{name: "III: ACK for data not seen", dir: Original, seg: Segment{Seq: 1101, Ack: 5002, Flags: ACK, Window: 2000},
			want: winInvalid, why: "ACK is over upper bound 5002 (ACKed data not seen yet)"},
		{name: "II: data below the window", dir: Original, seg: Segment{Seq: 50, Ack: 5001, Flags: ACK, Window: 2000, PayloadLen: 10},
			want: winIgnore, why: "SEQ is under lower bound 100 (already ACKed data retransmitted)"},
		{name: "IV: ACK far below", dir: Original, seg: Segment{Seq: 1101, Ack: 5001 + (1<<32 - 70000), Flags: ACK, Window: 2000},
			want: winIgnore, why: "ignored ACK under lower bound 4294906296 (possible overly delayed)"},
		{name: "liberal: failure accepted without update", cfg: func(c *Config) { c.Liberal = true },
			dir: Original, seg: Segment{Seq: 9000, Ack: 5001, Flags: ACK, Window: 2000, PayloadLen: 10},
			want: winAccept, check: func(c *Conn) bool { return c.seen[0].tdEnd == 1101 && c.retrans == 0 && c.lastSeq == 0 },
			checkIs: "no update"},
		{name: "per-side BE_LIBERAL", setup: func(c *Conn) { c.seen[Original].flags |= flagBeLiberal },
			dir: Original, seg: Segment{Seq: 9000, Ack: 5001, Flags: ACK, Window: 2000}, want: winAccept},
		{name: "BE_LIBERAL on the other side does not help", setup: func(c *Conn) { c.seen[Reply].flags |= flagBeLiberal },
			dir: Original, seg: Segment{Seq: 9000, Ack: 5001, Flags: ACK, Window: 2000}, want: winInvalid,
			why: "SEQ is over upper bound 2102 (over the window of the receiver)"},
		{name: "no ACK flag: ack taken as receiver td_end", dir: Original, seg: Segment{Seq: 1101, Ack: 999999, Flags: RST},
			want: winAccept},
		{name: "RST+ACK with ack 0", dir: Original, seg: Segment{Seq: 1101, Ack: 0, Flags: RST | ACK},
			want: winAccept, check: func(c *Conn) bool { return c.seen[0].tdMaxAck == 5001 }, checkIs: "td_maxack = receiver td_end"},
		{name: "window update and receiver td_maxend", dir: Reply, seg: Segment{Seq: 5001, Ack: 1101, Flags: ACK, Window: 3000},
			want: winAccept, check: func(c *Conn) bool { return c.seen[0].tdMaxEnd == 4101 && c.seen[1].tdMaxWin == 3000 },
			checkIs: "A's td_maxend = ack+win, B's td_maxwin = 3000"},
		{name: "zero window bumps td_maxend by one", setup: func(c *Conn) { c.seen[0].tdMaxEnd = 1000 },
			dir: Reply, seg: Segment{Seq: 5001, Ack: 1101, Flags: ACK, Window: 0},
			want: winAccept, check: func(c *Conn) bool { return c.seen[0].tdMaxEnd == 1102 }, checkIs: "td_maxend = ack+1"},
		{name: "scaled window", setup: func(c *Conn) { c.seen[1].tdScale = 7 },
			dir: Reply, seg: Segment{Seq: 5001, Ack: 1101, Flags: ACK, Window: 100},
			want: winAccept, check: func(c *Conn) bool { return c.seen[0].tdMaxEnd == 1101+100<<7 }, checkIs: "td_maxend = ack + win<<7"},
		{name: "ACK clears the receiver's DATA_UNACK", setup: func(c *Conn) { c.seen[0].flags |= flagDataUnack },
			dir: Reply, seg: Segment{Seq: 5001, Ack: 1101, Flags: ACK, Window: 1000},
			want: winAccept, check: func(c *Conn) bool { return c.seen[0].flags&flagDataUnack == 0 }, checkIs: "cleared"},
		{name: "SACK edge needs the receiver's SACK_PERM", setup: func(c *Conn) { c.seen[1].tdEnd = 5001 },
			dir: Original, seg: Segment{Seq: 1101, Ack: 4001, Flags: ACK, Window: 2000, HasSack: true, SackRight: 6000},
			want: winAccept},
		{name: "SACK edge over td_end with SACK_PERM", setup: func(c *Conn) { c.seen[1].flags |= flagSackPerm },
			dir: Original, seg: Segment{Seq: 1101, Ack: 4001, Flags: ACK, Window: 2000, HasSack: true, SackRight: 6000},
			want: winInvalid, why: "ACK is over upper bound 5002 (ACKed data not seen yet)"},
		{name: "retransmission counter", setup: func(c *Conn) {
			c.lastDir, c.lastSeq, c.lastAck, c.lastEnd, c.lastWin = Original, 1101, 5001, 1101, 2000
		}, dir: Original, seg: Segment{Seq: 1101, Ack: 5001, Flags: ACK, Window: 2000},
			want: winAccept, check: func(c *Conn) bool { return c.retrans == 1 }, checkIs: "retrans = 1"},
		{name: "RST with seq 0 in SYN_SENT", setup: func(c *Conn) {
			c.state = SynSent
			c.seen[Reply] = peer{tdEnd: 5000, tdMaxEnd: 5000, tdMaxWin: 1}
		}, dir: Reply, seg: Segment{Seq: 0, Ack: 1101, Flags: RST | ACK},
			want: winAccept},
		{name: "pickup of the reply side", setup: func(c *Conn) { c.seen[Reply] = peer{} },
			dir: Reply, seg: Segment{Seq: 7000, Ack: 1101, Flags: ACK, Window: 500},
			want: winAccept, check: func(c *Conn) bool { return c.seen[1].tdEnd == 7000 && c.seen[1].tdMaxWin == 500 },
			checkIs: "td_end from the packet"},
		{name: "pickup answering a keep-alive", setup: func(c *Conn) { c.seen[Reply] = peer{}; c.seen[0].tdEnd = 1100 },
			dir: Reply, seg: Segment{Seq: 7000, Ack: 1101, Flags: ACK, Window: 500},
			want: winAccept, check: func(c *Conn) bool { return c.seen[0].tdEnd == 1101 }, checkIs: "receiver td_end + 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			c := est()
			if tc.setup != nil {
				tc.setup(&c)
			}
			idx := classify(tc.seg.Flags)
			got, why := c.inWindow(&cfg, tc.dir, idx, &tc.seg)
			if got != tc.want {
				t.Errorf("inWindow = %v, want %v", got, tc.want)
			}
			if wantWhy := tc.why; (got == winAccept) != (why.Code == NoReason) || (tc.why != "" && why.String() != wantWhy) {
				t.Errorf("reason %q (%v), want %q", why, why.Code, wantWhy)
			}
			if why.Code != NoReason && (why.Dir != tc.dir || why.Index != uint8(idx)) {
				t.Errorf("reason names index %d dir %d, want %d %d", why.Index, why.Dir, idx, tc.dir)
			}
			if tc.check != nil && !tc.check(&c) {
				t.Errorf("after: want %s; seen = %+v", tc.checkIs, c.seen)
			}
		})
	}
}

func TestParseOptions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start peer
		seg   Segment
		want  peer
	}{
		{"no options keeps everything", peer{tdScale: 3, flags: flagWindowScale | flagMaxAckSet}, Segment{},
			peer{tdScale: 3, flags: flagWindowScale | flagMaxAckSet}},
		{"options reset all but BE_LIBERAL", peer{tdScale: 3, flags: flagWindowScale | flagBeLiberal | flagCloseInit}, Segment{MSS: 1460},
			peer{flags: flagBeLiberal}},
		{"scale clamped to 14", peer{}, Segment{HasWScale: true, WScale: 15},
			peer{tdScale: 14, flags: flagWindowScale}},
		{"SACK permitted", peer{}, Segment{MSS: 1460, SackPerm: true}, peer{flags: flagSackPerm}},
	} {
		p := tc.start
		p.parseOptions(&tc.seg)
		if p != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, p, tc.want)
		}
	}
}

func TestSeqCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b   uint32
		before bool
	}{
		{1, 2, true}, {2, 1, false}, {1, 1, false}, {0xffffffff, 0, true}, {0, 0xffffffff, false},
		{0x7fffffff, 0, false}, {0x80000001, 0, true},
	} {
		if got := before(tc.a, tc.b); got != tc.before {
			t.Errorf("before(%#x, %#x) = %v", tc.a, tc.b, got)
		}
		if got := after(tc.b, tc.a); got != tc.before {
			t.Errorf("after(%#x, %#x) = %v", tc.b, tc.a, got)
		}
	}
}
