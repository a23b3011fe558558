package fsm_test

import (
	"fmt"

	"github.com/tcptrack/tcptrack/fsm"
)

// Track one connection: a handshake, data, and a close from the client,
// each segment given with the direction it travelled. After every segment
// the connection has conntrack's state and status; fsm.Hosts, fed the same
// segments with their capture times, gives each endpoint the socket state
// netstat on that host would show ("?": not yet confirmed).
func ExampleConn() {
	cfg := fsm.DefaultConfig()
	client, server := fsm.Original, fsm.Reply
	steps := []struct {
		dir fsm.Dir
		seg fsm.Segment
	}{
		{client, fsm.Segment{Flags: fsm.SYN, Seq: 1000, Window: 64240, MSS: 1460, SackPerm: true}},
		{server, fsm.Segment{Flags: fsm.SYN | fsm.ACK, Seq: 5000, Ack: 1001, Window: 65160, MSS: 1460, SackPerm: true}},
		{client, fsm.Segment{Flags: fsm.ACK, Seq: 1001, Ack: 5001, Window: 64240}},
		{client, fsm.Segment{Flags: fsm.PSH | fsm.ACK, Seq: 1001, Ack: 5001, Window: 64240, PayloadLen: 100}},
		{server, fsm.Segment{Flags: fsm.ACK, Seq: 5001, Ack: 1101, Window: 65160}},
		{client, fsm.Segment{Flags: fsm.FIN | fsm.ACK, Seq: 1101, Ack: 5001, Window: 64240}},
		{server, fsm.Segment{Flags: fsm.ACK, Seq: 5001, Ack: 1102, Window: 65160}},
	}
	var c fsm.Conn
	var hosts fsm.Hosts
	hcfg := fsm.DefaultHostConfig()
	sock := func(d fsm.Dir, now int64) string {
		so := hosts.Socket(&hcfg, d, now)
		if so.State != fsm.SockUnknown && !so.Confirmed {
			return so.State.String() + "?"
		}
		return so.State.String()
	}
	if !c.Start(&cfg, &steps[0].seg) {
		fmt.Println("this segment cannot start a connection")
		return
	}
	for i, s := range steps {
		now := int64(i) * 1e6 // a millisecond apart
		r := c.Update(&cfg, s.dir, &s.seg)
		hosts.Update(&hcfg, s.dir, &s.seg, now)
		cs, ss := sock(client, now), sock(server, now)
		fmt.Printf("%-8s %-3s %-6s %-11s timeout=%-6v %-18s client=%s server=%s\n",
			s.dir, s.seg.Flags, r.Verdict, c.State(), r.Timeout, c.Status(), cs, ss)
	}
	// Output:
	// original S   accept SYN_SENT    timeout=2m0s   none               client=SYN_SENT server=-
	// reply    S.  accept SYN_RECV    timeout=1m0s   seen-reply         client=ESTABLISHED? server=SYN_RECV
	// original .   accept ESTABLISHED timeout=120h0m0s seen-reply|assured client=ESTABLISHED server=ESTABLISHED?
	// original P.  accept ESTABLISHED timeout=5m0s   seen-reply|assured client=ESTABLISHED server=ESTABLISHED?
	// reply    .   accept ESTABLISHED timeout=120h0m0s seen-reply|assured client=ESTABLISHED server=ESTABLISHED
	// original F.  accept FIN_WAIT    timeout=2m0s   seen-reply|assured client=FIN_WAIT1 server=CLOSE_WAIT?
	// reply    .   accept CLOSE_WAIT  timeout=1m0s   seen-reply|assured client=FIN_WAIT2? server=CLOSE_WAIT
}
