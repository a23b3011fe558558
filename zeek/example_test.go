package zeek_test

import (
	"fmt"
	"net/netip"

	"github.com/tcptrack/tcptrack/fsm"
	"github.com/tcptrack/tcptrack/zeek"
)

// A SYN-ACK seen first, then the client's ACK and data: Zeek flips the
// roles (^h) and the connection is still open when the input ends.
func ExampleTracker() {
	tr := zeek.NewTracker(zeek.Config{}, func(r *zeek.Record) {
		fmt.Println(r.Orig, r.Resp, r.State, string(r.History), r.OrigPkts, r.RespPkts, r.OrigBytes)
	})
	c, s := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.7")
	ts := int64(1_700_000_000e9)
	add := func(src, dst netip.Addr, sp, dp uint16, f fsm.Flags, seq, ack, n uint32) {
		ts += 1e6
		p := zeek.Packet{TS: ts, Src: src, Dst: dst, IPLen: 40 + n, Captured: n,
			TCP: fsm.Segment{SrcPort: sp, DstPort: dp, Flags: f, Seq: seq, Ack: ack, PayloadLen: n, Window: 512}}
		tr.Add(&p)
	}
	add(s, c, 8443, 50000, fsm.SYN|fsm.ACK, 7000, 1001, 0)
	add(c, s, 50000, 8443, fsm.ACK, 1001, 7001, 0)
	add(c, s, 50000, 8443, fsm.ACK|fsm.PSH, 1001, 7001, 120)
	tr.Flush()
	// Output:
	// 192.0.2.1:50000 198.51.100.7:8443 OTH ^hAD 2 1 120
}
