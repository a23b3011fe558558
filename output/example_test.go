package output_test

import (
	"fmt"
	"net/netip"
	"os"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
	"github.com/tcptrack/tcptrack/output"
)

// handshake is a client's SYN, the server's SYN-ACK and the client's ACK,
// 1 ms apart, as a decoder would hand them over.
func handshake() []flowtable.Packet {
	c, s := netip.MustParseAddr("10.1.0.2"), netip.MustParseAddr("10.2.0.2")
	const t0 = int64(1795239326236668000)
	return []flowtable.Packet{
		{TS: t0, Src: c, Dst: s, IPLen: 60, TCP: fsm.Segment{SrcPort: 40001, DstPort: 8001, Flags: fsm.SYN, Seq: 1000, Window: 64240}},
		{TS: t0 + 1e6, Src: s, Dst: c, IPLen: 60, TCP: fsm.Segment{SrcPort: 8001, DstPort: 40001, Flags: fsm.SYN | fsm.ACK, Seq: 5000, Ack: 1001, Window: 65160}},
		{TS: t0 + 2e6, Src: c, Dst: s, IPLen: 52, TCP: fsm.Segment{SrcPort: 40001, DstPort: 8001, Flags: fsm.ACK, Seq: 1001, Ack: 5001, Window: 64240}},
	}
}

// Print conntrack -E lines as the table reports changes.
func ExampleAppendEvent() {
	var line []byte
	table := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), OnEvents: func(evs []flowtable.Event) {
		for i := range evs {
			line = output.AppendEvent(line[:0], &evs[i], output.LineOptions{Timestamps: true})
			fmt.Printf("%s\n", line)
		}
	}})
	pkts := handshake()
	for i := range pkts {
		table.Add(&pkts[i])
	}
	table.Close(pkts[len(pkts)-1].TS)
	// Output:
	// [1795239326.236668]	    [NEW] tcp      6 120 SYN_SENT src=10.1.0.2 dst=10.2.0.2 sport=40001 dport=8001 [UNREPLIED] src=10.2.0.2 dst=10.1.0.2 sport=8001 dport=40001
	// [1795239326.237668]	 [UPDATE] tcp      6 60 SYN_RECV src=10.1.0.2 dst=10.2.0.2 sport=40001 dport=8001 src=10.2.0.2 dst=10.1.0.2 sport=8001 dport=40001
	// [1795239326.238668]	 [UPDATE] tcp      6 432000 ESTABLISHED src=10.1.0.2 dst=10.2.0.2 sport=40001 dport=8001 src=10.2.0.2 dst=10.1.0.2 sport=8001 dport=40001 [ASSURED]
}

// Write the table in one of the formats, here the netstat-style table with
// a few columns. The socket columns need the table to track the hosts'
// sockets (Config.Hosts); "?" marks a state nothing has confirmed yet (the
// server has not shown it got the client's ACK).
func ExampleWrite() {
	hosts := fsm.DefaultHostConfig()
	table := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), Acct: true, Hosts: &hosts})
	pkts := handshake()
	for i := range pkts {
		table.Add(&pkts[i])
	}
	now := pkts[len(pkts)-1].TS
	res := table.Close(now)
	cols, _ := output.ParseColumns("client,client-state,server,server-state,state,flags,pkts")
	output.Write(os.Stdout, &res, now, output.Options{Format: output.FormatTable, Columns: cols})
	// Output:
	// ┌───────────────────┬──────────────┬────────────────┬──────────────┬─────────────┬─────────┬──────────┐
	// │ Original (client) │ Client state │ Reply (server) │ Server state │  Conntrack  │  Flags  │ Pkts o/r │
	// ├───────────────────┼──────────────┼────────────────┼──────────────┼─────────────┼─────────┼──────────┤
	// │ 10.1.0.2:40001    │ ESTABLISHED  │ 10.2.0.2:8001  │ ESTABLISHED? │ ESTABLISHED │ ASSURED │ 2/1      │
	// └───────────────────┴──────────────┴────────────────┴──────────────┴─────────────┴─────────┴──────────┘
}

// Print what netstat -tno would print on one host: the table tracks the
// hosts' sockets with their settings (net.ipv4.tcp_* on the hosts).
func ExampleWriteNetstat() {
	hosts := fsm.DefaultHostConfig()
	table := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), Hosts: &hosts})
	pkts := handshake()
	for i := range pkts {
		table.Add(&pkts[i])
	}
	now := pkts[len(pkts)-1].TS
	res := table.Close(now)
	output.WriteNetstat(os.Stdout, res.HostPairs(), &hosts, now, output.NetstatOptions{Host: netip.MustParseAddr("10.1.0.2"), Timers: true})
	// Output:
	// Active Internet connections (w/o servers)
	// Proto Recv-Q Send-Q Local Address           Foreign Address         State       Timer
	// tcp        0      0 10.1.0.2:40001          10.2.0.2:8001           ESTABLISHED off (0.00/0/0)
}
