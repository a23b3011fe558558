package main

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
	"github.com/tcptrack/tcptrack/output"
)

// viewFrame is what the capture loop hands the view (and the exporter)
// each refresh: a copy of the table and the counters at now.
type viewFrame struct {
	now      int64
	flows    []flowtable.Flow
	closed   []flowtable.Flow // destroyed since the last frame
	captured uint64
	bytes    uint64
	tcp      uint64
	pcap     captureStats
}

type sortKey uint8

const (
	sortRate sortKey = iota
	sortBytes
	sortPackets
	sortIdle
	sortAge
	sortState
	sortClient
	sortServer
	numSortKeys
)

var sortKeyNames = [numSortKeys]string{"rate", "bytes", "packets", "idle", "age", "state", "client", "server"}

func (k sortKey) String() string {
	if int(k) < len(sortKeyNames) {
		return sortKeyNames[k]
	}
	return "?"
}

func parseSortKey(s string) (sortKey, bool) {
	for i, n := range sortKeyNames {
		if n == s {
			return sortKey(i), true
		}
	}
	return 0, false
}

// flowID tells flows apart across frames: a tuple reused after its flow
// was destroyed is a new flow with a new ID.
type flowID struct {
	key flowtable.Key
	id  uint64
}

func idOf(f *flowtable.Flow) flowID { return flowID{f.Key, f.ID} }

type viewRow struct {
	f      flowtable.Flow
	rate   [2]float64 // bytes per second per direction since the last frame
	gone   bool       // destroyed; shown until the linger time is over
	goneAt int64
}

// liveView is the top-like screen. Only its own goroutine touches it.
type liveView struct {
	title   string
	loc     *time.Location // for the clock in the title
	sortKey sortKey
	reverse bool
	linger  int64
	start   int64

	prevAt    int64
	prevBytes map[flowID][2]uint64
	prevFlows map[flowID]*flowtable.Flow
	gone      map[flowID]viewRow
	rows      []viewRow
	last      *viewFrame

	lastCaptured uint64
	lastBytes    uint64
	lastAt       int64
	pps, bps     float64
}

func newLiveView(o *liveOptions, start int64) *liveView {
	title := fmt.Sprintf("tcptrack live on %s (%s) filter %q", o.iface, o.direction, o.filter)
	return &liveView{title: title, loc: time.Local, sortKey: o.sortKey, linger: int64(o.linger), start: start, lastAt: start,
		prevBytes: map[flowID][2]uint64{}, prevFlows: map[flowID]*flowtable.Flow{}, gone: map[flowID]viewRow{}}
}

// update folds a new frame in: per-flow rates against the last frame,
// closed flows into the linger list, rows sorted.
func (v *liveView) update(fr *viewFrame) {
	dt := float64(fr.now-v.prevAt) / 1e9
	bytesNow := make(map[flowID][2]uint64, len(fr.flows))
	flowsNow := make(map[flowID]*flowtable.Flow, len(fr.flows))
	v.rows = v.rows[:0]
	for i := range fr.flows {
		f := &fr.flows[i]
		id := idOf(f)
		cur := [2]uint64{f.Bytes[fsm.Original], f.Bytes[fsm.Reply]}
		bytesNow[id], flowsNow[id] = cur, f
		r := viewRow{f: *f}
		prev, seen := v.prevBytes[id]
		span := dt
		if !seen {
			// New since the last frame: its bytes came after it started.
			span = float64(fr.now-max(f.Start, v.prevAt)) / 1e9
		}
		if span > 0 {
			for d := range 2 {
				r.rate[d] = float64(cur[d]-prev[d]) / span
			}
		}
		v.rows = append(v.rows, r)
	}
	// Flows that left the table: the table's own copy at destruction when
	// it came, else the last one seen.
	for i := range fr.closed {
		f := &fr.closed[i]
		v.gone[idOf(f)] = viewRow{f: *f, gone: true, goneAt: fr.now}
	}
	for id, f := range v.prevFlows {
		if _, still := flowsNow[id]; !still {
			if _, known := v.gone[id]; !known {
				v.gone[id] = viewRow{f: *f, gone: true, goneAt: fr.now}
			}
		}
	}
	for id, g := range v.gone {
		if _, alive := flowsNow[id]; alive || fr.now-g.goneAt >= v.linger {
			delete(v.gone, id)
			continue
		}
		v.rows = append(v.rows, g)
	}
	v.prevBytes, v.prevFlows, v.prevAt = bytesNow, flowsNow, fr.now

	if span := float64(fr.now-v.lastAt) / 1e9; span > 0 {
		v.pps = float64(fr.captured-v.lastCaptured) / span
		v.bps = float64(fr.bytes-v.lastBytes) / span
	}
	v.lastCaptured, v.lastBytes, v.lastAt = fr.captured, fr.bytes, fr.now
	v.last = fr
	v.sortRows()
}

func (v *liveView) sortRows() {
	slices.SortFunc(v.rows, func(a, b viewRow) int {
		c := v.compare(&a, &b)
		if v.reverse {
			c = -c
		}
		if c == 0 {
			c = cmp.Compare(a.f.ID, b.f.ID)
		}
		if c == 0 { // IDs are per table; keep the order total anyway
			c = cmpEndpoint(a.f.Key.Src, a.f.Key.SrcPort, b.f.Key.Src, b.f.Key.SrcPort)
		}
		if c == 0 {
			c = cmpEndpoint(a.f.Key.Dst, a.f.Key.DstPort, b.f.Key.Dst, b.f.Key.DstPort)
		}
		return c
	})
}

// compare orders rows by the sort key, the most interesting first.
func (v *liveView) compare(a, b *viewRow) int {
	switch v.sortKey {
	case sortBytes:
		return cmp.Compare(b.f.Bytes[0]+b.f.Bytes[1], a.f.Bytes[0]+a.f.Bytes[1])
	case sortPackets:
		return cmp.Compare(b.f.Packets[0]+b.f.Packets[1], a.f.Packets[0]+a.f.Packets[1])
	case sortIdle:
		return cmp.Compare(b.f.Last, a.f.Last)
	case sortAge:
		return cmp.Compare(a.f.Start, b.f.Start)
	case sortState:
		return int(a.f.Conn.State()) - int(b.f.Conn.State())
	case sortClient:
		return cmpEndpoint(a.f.Key.Src, a.f.Key.SrcPort, b.f.Key.Src, b.f.Key.SrcPort)
	case sortServer:
		return cmpEndpoint(a.f.Key.Dst, a.f.Key.DstPort, b.f.Key.Dst, b.f.Key.DstPort)
	}
	ra, rb := a.rate[0]+a.rate[1], b.rate[0]+b.rate[1]
	switch {
	case ra > rb:
		return -1
	case ra < rb:
		return 1
	}
	return cmp.Compare(b.f.Last, a.f.Last)
}

func cmpEndpoint(a [16]byte, ap uint16, b [16]byte, bp uint16) int {
	if c := bytes.Compare(a[:], b[:]); c != 0 {
		return c
	}
	return int(ap) - int(bp)
}

var viewColumns = [...]string{"CLIENT", "CLIENT STATE", "SERVER", "SERVER STATE", "CONNTRACK", "FLAGS", "TIMEOUT", "PKTS o/r", "BYTES o/r", "RATE o", "RATE r", "IDLE"}

// numeric columns are right-aligned.
var viewNumeric = [len(viewColumns)]bool{6: true, 7: true, 8: true, 9: true, 10: true, 11: true}

// render draws the screen into b: at most width columns and height lines
// (0: no limit). styled adds terminal attributes (reverse-video header,
// dim closed flows).
func (v *liveView) render(b *bytes.Buffer, width, height int, styled bool) {
	fr := v.last
	var lines []string
	up := time.Duration(fr.now - v.start).Round(time.Second)
	order := "↓"
	if v.reverse {
		order = "↑"
	}
	keys := ""
	if styled {
		keys = "  (s/S sort, r reverse, q quit)"
	}
	lines = append(lines, fmt.Sprintf("%s  %s  up %v  sort: %s %s%s",
		v.title, time.Unix(0, fr.now).In(v.loc).Format("15:04:05"), up, v.sortKey, order, keys))

	var byState [16]int
	for i := range fr.flows {
		byState[fr.flows[i].Conn.State()&15]++
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "Flows: %d", len(fr.flows))
	for s := fsm.None; s.Valid(); s++ {
		if n := byState[s]; n > 0 {
			fmt.Fprintf(&sb, "  %s %d", s, n)
		}
	}
	if n := len(v.rows) - len(fr.flows); n > 0 {
		fmt.Fprintf(&sb, "  (+%d closed)", n)
	}
	lines = append(lines, sb.String())
	lines = append(lines, fmt.Sprintf("Packets: %d captured (%.0f/s, %s/s), %d tcp   pcap: %d received, %d dropped by kernel, %d dropped by interface",
		fr.captured, v.pps, humanBytes(v.bps), fr.tcp, fr.pcap.Received, fr.pcap.Dropped, fr.pcap.IfDropped))
	lines = append(lines, "")
	nHead := len(lines)

	rows := v.rows
	if height > 0 {
		room := max(height-nHead-1, 0)
		if len(rows) > room {
			rows = rows[:room]
		}
	}
	cells := make([][len(viewColumns)]string, 0, len(rows)+1)
	cells = append(cells, viewColumns)
	for i := range rows {
		cells = append(cells, rowCells(&rows[i], fr.now))
	}
	var widths [len(viewColumns)]int
	for _, c := range cells {
		for j, s := range c {
			widths[j] = max(widths[j], len(s))
		}
	}
	for i, c := range cells {
		var lb strings.Builder
		for j, s := range c {
			if j > 0 {
				lb.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[j]-len(s))
			if viewNumeric[j] {
				lb.WriteString(pad + s)
			} else if j < len(c)-1 {
				lb.WriteString(s + pad)
			} else {
				lb.WriteString(s)
			}
		}
		line := strings.TrimRight(lb.String(), " ")
		if width > 0 && len(line) > width {
			line = line[:width]
		}
		switch {
		case styled && i == 0:
			line = "\033[7m" + line + strings.Repeat(" ", max(width-len(line), 0)) + "\033[0m"
		case styled && rows[i-1].gone:
			line = "\033[2m" + line + "\033[0m"
		}
		lines = append(lines, line)
	}
	for i, l := range lines {
		if i < nHead && width > 0 {
			l = truncateRunes(l, width)
		}
		b.WriteString(l)
		if styled {
			b.WriteString("\033[K")
			if i == len(lines)-1 {
				break // a newline on the last screen line would scroll the title away
			}
		}
		b.WriteByte('\n')
	}
}

func rowCells(r *viewRow, now int64) [len(viewColumns)]string {
	f := &r.f
	cso, sso := f.Sockets(now)
	cs, ss := output.SocketText(cso), output.SocketText(sso)
	flags := output.StatusFlag(f.Conn.Status())
	timeout := strconv.FormatInt(f.TimeoutAt(now), 10)
	if r.gone {
		flags, timeout = "closed", "-"
	}
	return [len(viewColumns)]string{
		netip.AddrPortFrom(f.Key.SrcAddr(), f.Key.SrcPort).String(), cs,
		netip.AddrPortFrom(f.Key.DstAddr(), f.Key.DstPort).String(), ss,
		f.Conn.State().String(), flags, timeout,
		strconv.FormatUint(f.Packets[fsm.Original], 10) + "/" + strconv.FormatUint(f.Packets[fsm.Reply], 10),
		humanBytes(float64(f.Bytes[fsm.Original])) + "/" + humanBytes(float64(f.Bytes[fsm.Reply])),
		humanBytes(r.rate[fsm.Original]) + "/s", humanBytes(r.rate[fsm.Reply]) + "/s",
		shortDuration(now - f.Last),
	}
}

// humanBytes is n with a binary-prefix suffix, three significant digits.
func humanBytes(n float64) string {
	if n < 1024 {
		return strconv.FormatFloat(n, 'f', 0, 64)
	}
	for _, u := range []string{"K", "M", "G", "T"} {
		n /= 1024
		if n < 1024 || u == "T" {
			if n < 10 {
				return strconv.FormatFloat(n, 'f', 1, 64) + u
			}
			return strconv.FormatFloat(n, 'f', 0, 64) + u
		}
	}
	return ""
}

// shortDuration is an idle time the way top prints times: few characters.
func shortDuration(d int64) string {
	if d < 0 {
		d = 0
	}
	switch t := time.Duration(d); {
	case t < 10*time.Second:
		return strconv.FormatFloat(t.Seconds(), 'f', 1, 64) + "s"
	case t < 10*time.Minute:
		return strconv.FormatInt(int64(t/time.Second), 10) + "s"
	case t < 10*time.Hour:
		return strconv.FormatInt(int64(t/time.Minute), 10) + "m"
	default:
		return strconv.FormatInt(int64(t/time.Hour), 10) + "h"
	}
}

func truncateRunes(s string, width int) string {
	n := 0
	for i := range s {
		if n == width {
			return s[:i]
		}
		n++
	}
	return s
}

// run draws every frame it is handed and reacts to keys until frames is
// closed.
func (v *liveView) run(t *terminal, frames <-chan *viewFrame, keys <-chan byte, stop *stopSignal, done chan<- struct{}) {
	defer close(done)
	var buf bytes.Buffer
	draw := func() {
		if v.last == nil {
			return
		}
		w, h := t.size()
		buf.Reset()
		buf.WriteString("\033[H")
		v.render(&buf, w, h, true)
		buf.WriteString("\033[J")
		t.out.Write(buf.Bytes())
	}
	for {
		select {
		case fr, ok := <-frames:
			if !ok {
				return
			}
			v.update(fr)
			draw()
		case k := <-keys:
			switch k {
			case 's':
				v.sortKey = (v.sortKey + 1) % numSortKeys
			case 'S':
				v.sortKey = (v.sortKey + numSortKeys - 1) % numSortKeys
			case 'r':
				v.reverse = !v.reverse
			case 'q', 'Q', 3: // 3: ^C, should the terminal deliver it as a byte
				stop.set(time.Now())
				continue
			default:
				continue
			}
			v.sortRows()
			draw()
		}
	}
}

// printFinal leaves the last state on the normal screen, as the final
// table of a session on a terminal.
func (v *liveView) printFinal(w io.Writer, fr *viewFrame) error {
	v.update(fr)
	var buf bytes.Buffer
	v.render(&buf, 0, 0, false)
	_, err := w.Write(buf.Bytes())
	return err
}
