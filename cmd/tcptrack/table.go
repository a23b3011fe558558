package main

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// writeTable draws the netstat-style view with the default columns: per
// connection both endpoints, each endpoint's own socket state, the
// conntrack state and flags, counters per direction and how long the flow
// has been idle.
func writeTable(w io.Writer, flows []flowtable.Flow, now int64) error {
	return writeTableColumns(w, flowSlice{flows: flows}, now, nil)
}

// writeTableColumns draws the chosen columns (nil: the defaults); the
// flows' summaries, when there are any, feed the summary columns ("-"
// without them).
func writeTableColumns(w io.Writer, flows flowList, now int64, cols []tableColumn) error {
	if cols == nil {
		cols, _ = parseColumns("")
	}
	t := tablewriter.NewTable(w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAlignment(tw.AlignLeft),
	)
	header := make([]any, len(cols))
	for i, c := range cols {
		header[i] = c.header
	}
	t.Header(header...)
	row := make([]any, len(cols))
	for i := range flows.Len() {
		f, s := flows.At(i)
		for j, c := range cols {
			switch {
			case c.flow != nil:
				row[j] = c.flow(&f, now)
			case s != nil:
				row[j] = c.sum(s)
			default:
				row[j] = "-"
			}
		}
		if err := t.Append(row...); err != nil {
			return err
		}
	}
	return t.Render()
}

// tableColumn is one --columns choice: a value from the flow, or from its
// summary.
type tableColumn struct {
	name, header string
	flow         func(f *flowtable.Flow, now int64) string
	sum          func(s *fsm.Summary) string
}

const defaultColumns = "client,client-state,server,server-state,state,flags,timeout,pkts,bytes,idle"

// tableColumns lists every column --columns knows, in a stable order.
func tableColumns() []tableColumn {
	perDir := func(v func(d *fsm.DirStats) uint64) func(s *fsm.Summary) string {
		return func(s *fsm.Summary) string {
			return fmt.Sprintf("%d/%d", v(&s.Dirs[fsm.Original]), v(&s.Dirs[fsm.Reply]))
		}
	}
	return []tableColumn{
		{name: "client", header: "Original (client)", flow: func(f *flowtable.Flow, _ int64) string { return endpoint(f.Key.SrcAddr(), f.Key.SrcPort) }},
		{name: "client-state", header: "Client state", flow: func(f *flowtable.Flow, now int64) string { c, _ := f.Sockets(now); return socketText(c) }},
		{name: "server", header: "Reply (server)", flow: func(f *flowtable.Flow, _ int64) string { return endpoint(f.Key.DstAddr(), f.Key.DstPort) }},
		{name: "server-state", header: "Server state", flow: func(f *flowtable.Flow, now int64) string { _, s := f.Sockets(now); return socketText(s) }},
		{name: "state", header: "Conntrack", flow: func(f *flowtable.Flow, _ int64) string { return f.Conn.State().String() }},
		{name: "flags", header: "Flags", flow: func(f *flowtable.Flow, _ int64) string { return flagsText(f.Conn.Status()) }},
		{name: "timeout", header: "Timeout", flow: func(f *flowtable.Flow, now int64) string { return strconv.FormatInt(f.TimeoutAt(now), 10) }},
		{name: "pkts", header: "Pkts o/r", flow: func(f *flowtable.Flow, _ int64) string {
			return fmt.Sprintf("%d/%d", f.Packets[fsm.Original], f.Packets[fsm.Reply])
		}},
		{name: "bytes", header: "Bytes o/r", flow: func(f *flowtable.Flow, _ int64) string {
			return fmt.Sprintf("%d/%d", f.Bytes[fsm.Original], f.Bytes[fsm.Reply])
		}},
		{name: "idle", header: "Idle", flow: func(f *flowtable.Flow, now int64) string { return idle(now - f.Last) }},
		{name: "age", header: "Age", flow: func(f *flowtable.Flow, now int64) string { return idle(now - f.Start) }},
		// From the summary: every segment of the flow, conntrack-invalid ones too.
		{name: "seen", header: "Seen o/r", sum: perDir(func(d *fsm.DirStats) uint64 { return d.Packets })},
		{name: "ip-bytes", header: "IP bytes o/r", sum: perDir(func(d *fsm.DirStats) uint64 { return d.IPBytes })},
		{name: "payload", header: "Payload o/r", sum: func(s *fsm.Summary) string {
			return fmt.Sprintf("%d/%d", s.PayloadBytes(fsm.Original), s.PayloadBytes(fsm.Reply))
		}},
		{name: "retrans", header: "Retrans o/r", sum: perDir(func(d *fsm.DirStats) uint64 { return d.Retransmits })},
		{name: "retrans-bytes", header: "Retrans B o/r", sum: perDir(func(d *fsm.DirStats) uint64 { return d.RetransBytes })},
		{name: "ooo", header: "OOO o/r", sum: perDir(func(d *fsm.DirStats) uint64 { return d.OutOfOrder })},
		{name: "zerowin", header: "ZeroWin o/r", sum: perDir(func(d *fsm.DirStats) uint64 { return d.ZeroWindows })},
		{name: "dupack", header: "DupACK o/r", sum: perDir(func(d *fsm.DirStats) uint64 { return d.DupAcks })},
		{name: "missed", header: "Missed o/r", sum: perDir(func(d *fsm.DirStats) uint64 { return d.MissedBytes })},
		{name: "invalid", header: "Invalid o/r", sum: perDir(func(d *fsm.DirStats) uint64 { return d.Invalid })},
		{name: "rtt", header: "RTT o/r", sum: func(s *fsm.Summary) string {
			return rttText(&s.Dirs[fsm.Original]) + "/" + rttText(&s.Dirs[fsm.Reply])
		}},
		{name: "zeek-state", header: "Zeek", sum: func(s *fsm.Summary) string { return s.ConnState().String() }},
		{name: "history", header: "History", sum: func(s *fsm.Summary) string {
			if h := s.History(); h != "" {
				return h
			}
			return "-"
		}},
	}
}

// parseColumns reads a --columns value: names separated by commas,
// "default" (or empty) for the default set, "all" for every column, and a
// leading "+" to add to the default set.
func parseColumns(spec string) ([]tableColumn, error) {
	all := tableColumns()
	switch {
	case spec == "" || spec == "default":
		spec = defaultColumns
	case spec == "all":
		return all, nil
	case strings.HasPrefix(spec, "+"):
		spec = defaultColumns + "," + spec[1:]
	}
	var out []tableColumn
	for _, name := range strings.Split(spec, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		i := slices.IndexFunc(all, func(c tableColumn) bool { return c.name == name })
		if i < 0 {
			names := make([]string, len(all))
			for j, c := range all {
				names[j] = c.name
			}
			return nil, fmt.Errorf("unknown column %q (known: %s)", name, strings.Join(names, ", "))
		}
		out = append(out, all[i])
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--columns names no column")
	}
	return out, nil
}

// columnsNeedSummaries reports whether any column reads the summary.
func columnsNeedSummaries(cols []tableColumn) bool {
	return slices.ContainsFunc(cols, func(c tableColumn) bool { return c.sum != nil })
}

func rttText(d *fsm.DirStats) string {
	if !d.HasRTT {
		return "-"
	}
	return time.Duration(d.RTT).Round(time.Microsecond).String()
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
