package flowtable_test

import (
	"fmt"
	"net/netip"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// With Config.Packets, the event stream also carries the packets the
// tracker did not simply accept, each with the kernel's reason.
func ExampleConfig_packets() {
	tb := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), Shards: 1, Packets: flowtable.PacketsNotAccepted,
		OnEvents: func(evs []flowtable.Event) {
			for _, e := range evs {
				if e.Type == flowtable.EventPacket {
					fmt.Printf("packet %d %s: %s: %s\n", e.Report.Frame, e.Report.TCP.Flags, e.Report.Verdict, e.Report.Reason)
				}
			}
		}})
	c, s := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	send := func(frame uint64, fromClient bool, seg fsm.Segment) {
		p := flowtable.Packet{TS: int64(frame) * 1e6, Src: c, Dst: s, IPLen: 40, TCP: seg}
		p.TCP.SrcPort, p.TCP.DstPort = 40000, 80
		if !fromClient {
			p.Src, p.Dst = s, c
			p.TCP.SrcPort, p.TCP.DstPort = 80, 40000
		}
		tb.AddWire(&p, frame, nil)
	}
	send(1, true, fsm.Segment{Flags: fsm.SYN, Seq: 1000, Window: 64240})
	send(2, false, fsm.Segment{Flags: fsm.SYN | fsm.ACK, Seq: 5000, Ack: 1001, Window: 64240})
	send(3, true, fsm.Segment{Flags: fsm.ACK, Seq: 1001, Ack: 5001, Window: 64240})
	send(4, false, fsm.Segment{Flags: fsm.SYN | fsm.ACK, Seq: 5000, Ack: 1001, Window: 64240}) // retransmitted
	send(5, true, fsm.Segment{Flags: fsm.ACK, Seq: 1001, Ack: 9999, Window: 64240})            // acks unseen data
	tb.Close(5e6)
	// Output:
	// packet 4 S.: ignore: packet (index 1) in dir 1 ignored, state ESTABLISHED
	// packet 5 .: invalid: ACK is over upper bound 5002 (ACKed data not seen yet)
}
