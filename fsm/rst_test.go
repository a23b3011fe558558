package fsm

import "testing"

func TestCheckRST(t *testing.T) {
	// Assured ESTABLISHED; B's highest ACK is 1101, A's is 5001; the last
	// packet was A's data ending at 1101.
	base := func() Conn {
		var c Conn
		c.state = Established
		c.status = SeenReply | Assured
		c.seen[Original] = peer{tdEnd: 1101, tdMaxEnd: 2101, tdMaxWin: 2000, tdMaxAck: 5001, flags: flagMaxAckSet}
		c.seen[Reply] = peer{tdEnd: 5001, tdMaxEnd: 7001, tdMaxWin: 1000, tdMaxAck: 1101, flags: flagMaxAckSet}
		c.lastIndex, c.lastDir, c.lastEnd = clsACK, Original, 1101
		return c
	}
	for _, tc := range []struct {
		name      string
		setup     func(*Conn)
		ignoreRST bool
		dir       Dir
		seg       Segment
		wantState State
		want      rstCheck
	}{
		{"exact: seq == peer's max ack", nil, false, Original, Segment{Flags: RST, Seq: 1101}, Close, rstWindow},
		{"below peer's max ack", func(c *Conn) { c.lastIndex = clsFIN }, false, Original, Segment{Flags: RST, Seq: 1050}, Close, rstInvalid},
		{"below, ignore_invalid_rst", func(c *Conn) { c.lastIndex = clsFIN }, true, Original, Segment{Flags: RST, Seq: 1050}, Established, rstWindow},
		{"in window, inexact: keep state", func(c *Conn) { c.lastIndex = clsFIN }, false, Original, Segment{Flags: RST, Seq: 1200}, Established, rstWindow},
		{"right behind own data", func(c *Conn) { c.lastEnd = 1200 }, false, Original, Segment{Flags: RST, Seq: 1200}, Close, rstWindow},
		{"seq 0 before assured", func(c *Conn) { c.status = SeenReply }, false, Original, Segment{Flags: RST, Seq: 0}, Close, rstWindow},
		{"seq 0 when assured: below max ack", nil, false, Original, Segment{Flags: RST, Seq: 0}, Close, rstInvalid},
		{"not assured, any seq: window check", func(c *Conn) { c.status = SeenReply; c.lastIndex = clsFIN }, false, Original, Segment{Flags: RST, Seq: 1200}, Close, rstWindow},
		{"closing states skip validation", func(c *Conn) { c.state = FinWait }, false, Original, Segment{Flags: RST, Seq: 1}, Close, rstInWindow},
		{"after an ignored SYN: answers it", func(c *Conn) {
			c.lastIndex, c.lastDir, c.lastEnd = clsSYN, Original, 7001
		}, false, Reply, Segment{Flags: RST | ACK, Seq: 0, Ack: 7001}, Close, rstInWindow},
		{"half-open, unassured, answering the ACK we let through", func(c *Conn) {
			c.status = SeenReply
			c.seen[Original].flags = 0
			c.lastIndex, c.lastDir, c.lastEnd = clsACK, Original, 1101
		}, false, Reply, Segment{Flags: RST | ACK, Seq: 77, Ack: 1101}, Close, rstInWindow},
		{"after a challenge ACK to our SYN", func(c *Conn) {
			c.state, c.status = SynSent, SeenReply
			c.seen[Reply] = peer{}
			c.lastIndex, c.lastDir, c.lastAck, c.lastEnd = clsACK, Reply, 77, 5000
		}, false, Original, Segment{Flags: RST, Seq: 77}, Close, rstInWindow},
	} {
		c := base()
		if tc.setup != nil {
			tc.setup(&c)
		}
		cfg := DefaultConfig()
		cfg.IgnoreInvalidRST = tc.ignoreRST
		next, got := c.checkRST(&cfg, tc.dir, &tc.seg, c.state, Close)
		if got != tc.want || next != tc.wantState {
			t.Errorf("%s: checkRST = %v %v, want %v %v", tc.name, next, got, tc.wantState, tc.want)
		}
	}
}
