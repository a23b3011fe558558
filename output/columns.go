package output

// The netstat-style table (-o table): per connection both endpoints and
// their socket states, conntrack's view, and the summary's columns, chosen
// by --columns.

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

// WriteTable draws the netstat-style table with the chosen columns (nil:
// DefaultColumns: per connection both endpoints, each endpoint's own
// socket state, the conntrack state and flags, counters per direction and
// how long the flow has been idle). The flows' summaries, when there are
// any, feed the summary columns ("-" without them).
func WriteTable(w io.Writer, flows Flows, now int64, cols []Column) error {
	if cols == nil {
		cols, _ = ParseColumns("")
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

// Column is one column of the table: a value from the flow, or from its
// summary. ParseColumns makes them.
type Column struct {
	name, header string
	flow         func(f *flowtable.Flow, now int64) string
	sum          func(s *fsm.Summary) string
}

// DefaultColumns are the columns WriteTable draws when given none.
const DefaultColumns = "client,client-state,server,server-state,state,flags,timeout,pkts,bytes,idle"

// allColumns lists every column --columns knows, in a stable order.
func allColumns() []Column {
	perDir := func(v func(d *fsm.DirStats) uint64) func(s *fsm.Summary) string {
		return func(s *fsm.Summary) string {
			return fmt.Sprintf("%d/%d", v(&s.Dirs[fsm.Original]), v(&s.Dirs[fsm.Reply]))
		}
	}
	return []Column{
		{name: "client", header: "Original (client)", flow: func(f *flowtable.Flow, _ int64) string { return endpoint(f.Key.SrcAddr(), f.Key.SrcPort) }},
		{name: "client-state", header: "Client state", flow: func(f *flowtable.Flow, now int64) string { c, _ := f.Sockets(now); return SocketText(c) }},
		{name: "server", header: "Reply (server)", flow: func(f *flowtable.Flow, _ int64) string { return endpoint(f.Key.DstAddr(), f.Key.DstPort) }},
		{name: "server-state", header: "Server state", flow: func(f *flowtable.Flow, now int64) string { _, s := f.Sockets(now); return SocketText(s) }},
		{name: "state", header: "Conntrack", flow: func(f *flowtable.Flow, _ int64) string { return f.Conn.State().String() }},
		{name: "flags", header: "Flags", flow: func(f *flowtable.Flow, _ int64) string { return StatusFlag(f.Conn.Status()) }},
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

// ParseColumns reads a list of column names separated by commas (as
// --columns takes it): "default" (or empty) for DefaultColumns, "all" for
// every column, and a leading "+" to add to the defaults. From the flow:
// client client-state server server-state state flags timeout pkts bytes
// idle age; from its summary (per direction o/r): seen ip-bytes payload
// retrans retrans-bytes ooo zerowin dupack missed invalid rtt; also
// zeek-state history.
func ParseColumns(spec string) ([]Column, error) {
	all := allColumns()
	switch {
	case spec == "" || spec == "default":
		spec = DefaultColumns
	case spec == "all":
		return all, nil
	case strings.HasPrefix(spec, "+"):
		spec = DefaultColumns + "," + spec[1:]
	}
	var out []Column
	for _, name := range strings.Split(spec, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		i := slices.IndexFunc(all, func(c Column) bool { return c.name == name })
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

// ColumnsNeedSummaries reports whether any column reads the flow's
// summary (flowtable.Config.Summaries must be set for it).
func ColumnsNeedSummaries(cols []Column) bool {
	return slices.ContainsFunc(cols, func(c Column) bool { return c.sum != nil })
}

// ColumnsNeedHosts reports whether the columns (nil: the default ones)
// show the endpoints' sockets (flowtable.Config.Hosts must be set for
// them; without it they read "-").
func ColumnsNeedHosts(cols []Column) bool {
	return cols == nil || slices.ContainsFunc(cols, func(c Column) bool {
		return c.name == "client-state" || c.name == "server-state"
	})
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

// StatusFlag is the flag the table's Flags column shows for a status:
// ASSURED, UNREPLIED or -.
func StatusFlag(st fsm.Status) string {
	switch {
	case st.Assured():
		return "ASSURED"
	case !st.SeenReply():
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
