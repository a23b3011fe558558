package main

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// writeTable draws the netstat-style view: per connection both endpoints,
// each endpoint's own socket state, the conntrack state and flags,
// counters per direction and how long the flow has been idle.
func writeTable(w io.Writer, flows []flowtable.Flow, now int64) error {
	t := tablewriter.NewTable(w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAlignment(tw.AlignLeft),
	)
	t.Header("Original (client)", "Client state", "Reply (server)", "Server state", "Conntrack", "Flags", "Timeout", "Pkts o/r", "Bytes o/r", "Idle")
	for i := range flows {
		f := &flows[i]
		cs, ss := f.Conn.Sockets()
		if err := t.Append(
			endpoint(f.Key.SrcAddr(), f.Key.SrcPort),
			cs.String(),
			endpoint(f.Key.DstAddr(), f.Key.DstPort),
			ss.String(),
			f.Conn.State().String(),
			flagsText(f.Conn.Status()),
			strconv.FormatInt(f.TimeoutAt(now), 10),
			fmt.Sprintf("%d/%d", f.Packets[fsm.Original], f.Packets[fsm.Reply]),
			fmt.Sprintf("%d/%d", f.Bytes[fsm.Original], f.Bytes[fsm.Reply]),
			idle(now-f.Last),
		); err != nil {
			return err
		}
	}
	return t.Render()
}

func endpoint(a netip.Addr, port uint16) string {
	return netip.AddrPortFrom(a, port).String()
}

func flagsText(st fsm.Status) string {
	switch {
	case st&fsm.Assured != 0:
		return "ASSURED"
	case st&fsm.SeenReply == 0:
		return "UNREPLIED"
	}
	return "-"
}

func idle(d int64) string {
	if d < 0 {
		d = 0
	}
	return time.Duration(d).Round(time.Millisecond).String()
}
