package fsm_test

import (
	"fmt"

	"github.com/tcptrack/tcptrack/fsm"
)

// A connection opens; then the client sends a RST far past the server's
// window. The tracker marks it invalid and says why, as the kernel logs it.
func ExampleReason() {
	cfg := fsm.DefaultConfig()
	var c fsm.Conn
	syn := fsm.Segment{Flags: fsm.SYN, Seq: 1000, Window: 64240, MSS: 1460}
	c.Start(&cfg, &syn)
	for _, p := range []struct {
		dir fsm.Dir
		seg fsm.Segment
	}{
		{fsm.Original, syn},
		{fsm.Reply, fsm.Segment{Flags: fsm.SYN | fsm.ACK, Seq: 5000, Ack: 1001, Window: 64240, MSS: 1460}},
		{fsm.Original, fsm.Segment{Flags: fsm.ACK, Seq: 1001, Ack: 5001, Window: 64240}},
		{fsm.Original, fsm.Segment{Flags: fsm.RST, Seq: 3_000_000}},
	} {
		r := c.Update(&cfg, p.dir, &p.seg)
		fmt.Printf("%-3s %-7s %-12s %q\n", p.seg.Flags, r.Verdict, c.State(), r.Reason)
	}
	// Output:
	// S   accept  SYN_SENT     "accepted"
	// S.  accept  SYN_RECV     "accepted"
	// .   accept  ESTABLISHED  "accepted"
	// R   invalid ESTABLISHED  "SEQ is over upper bound 65242 (over the window of the receiver)"
}

// RefusalReason says why a packet cannot start a connection.
func ExampleRefusalReason() {
	cfg := fsm.DefaultConfig()
	for _, f := range []fsm.Flags{fsm.SYN | fsm.ACK, fsm.SYN | fsm.FIN, fsm.ACK} {
		fmt.Printf("%-3s %q\n", f, fsm.RefusalReason(&cfg, &fsm.Segment{Flags: f}))
	}
	// Output:
	// S.  "invalid new"
	// SF  "invalid tcp flag combination"
	// .   "accepted"
}
