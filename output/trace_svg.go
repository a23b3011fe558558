package output

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tcptrack/tcptrack/fsm"
)

// The SVG ladder: per conversation a vertical line for each host, an arrow
// per packet from the sender's line down to the receiver's (labelled with
// its flags and numbers, dashed orange when conntrack ignored it, dashed
// red when it was invalid), each host's socket state written beside its
// line where it changes, and on the right conntrack's state where it
// changes and the verdict of packets it did not simply accept.

// Layout, in pixels (a monospace font of svgFont px is about 0.6 em wide).
const (
	svgFont     = 12
	svgCharW    = 7.3
	svgRowH     = 30
	svgSlant    = 12 // an arrow falls this much: time passes on the way
	svgFrameX   = 12
	svgTimeX    = 112 // right edge of the time column
	svgClientSX = 262 // right edge of the client's states
	svgClientX  = 280
	svgServerX  = 700
	svgServerSX = 718
	svgEntryX   = 830 // conntrack column
	svgVerdictX = 1020
	svgHeadH    = 78 // title and column heads
	svgGap      = 36 // between conversations
)

const (
	svgAccept  = "#1f2328"
	svgIgnore  = "#b35900"
	svgInvalid = "#c4141b"
	svgMuted   = "#6e7781"
)

// svgStateNote closes the legend.
const svgStateNote = "states are as they stand after each packet; ? not yet shown to have reached the host"

// WriteSVG draws every conversation's ladder in one SVG image.
func (ls *Ladders) WriteSVG(w io.Writer) error {
	width := float64(svgVerdictX + 200)
	height := 44
	for _, l := range ls.order {
		for i := range l.rows {
			for _, part := range strings.Split(l.rows[i].verdictText(), "; ") {
				width = max(width, svgVerdictX+svgCharW*float64(utf8.RuneCountInString(part))+20)
			}
		}
		height += svgHeadH + len(l.rows)*svgRowH + svgGap
	}
	if len(ls.order) == 0 {
		height += 40
	}
	legend := []struct{ text, color, marker, dash string }{
		{"accepted", svgAccept, "a", ""}, {"ignored", svgIgnore, "i", ` stroke-dasharray="6,4"`}, {"invalid", svgInvalid, "x", ` stroke-dasharray="6,4"`},
	}
	noteX := svgFrameX + 90
	for _, k := range legend {
		noteX += 48 + int(svgCharW*float64(len(k.text))) + 30
	}
	noteX += 10
	width = max(width, float64(noteX)+svgCharW*float64(len(svgStateNote))+20)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%d" viewBox="0 0 %.0f %d" font-family="DejaVu Sans Mono, Menlo, Consolas, monospace" font-size="%d">`+"\n",
		width, height, width, height, svgFont)
	b.WriteString(`<defs>`)
	for _, m := range []struct{ id, color string }{{"a", svgAccept}, {"i", svgIgnore}, {"x", svgInvalid}} {
		fmt.Fprintf(&b, `<marker id="arrow-%s" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="%s"/></marker>`, m.id, m.color)
	}
	b.WriteString("</defs>\n")
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	if len(ls.order) == 0 {
		fmt.Fprintf(&b, `<text x="20" y="40" fill="%s">no TCP packet selected</text>`+"\n", svgMuted)
	}
	// The legend: what the arrows' colours say.
	fmt.Fprintf(&b, `<text x="%d" y="20" fill="%s">verdicts: </text>`, svgFrameX, svgMuted)
	lx := svgFrameX + 90
	for _, k := range legend {
		fmt.Fprintf(&b, `<line x1="%d" y1="16" x2="%d" y2="16" stroke="%s" stroke-width="1.6"%s marker-end="url(#arrow-%s)"/><text x="%d" y="20" fill="%s">%s</text>`,
			lx, lx+40, k.color, k.dash, k.marker, lx+48, k.color, k.text)
		lx += 48 + int(svgCharW*float64(len(k.text))) + 30
	}
	fmt.Fprintf(&b, `<text x="%d" y="20" fill="%s">%s</text>`+"\n", noteX, svgMuted, svgStateNote)
	y := 44
	for _, l := range ls.order {
		y = svgLadder(&b, l, y)
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// svgLadder draws one conversation from y down and returns where the next
// one starts.
func svgLadder(b *strings.Builder, l *ladder, y int) int {
	title := fmt.Sprintf("%s ─▶ %s   %s", l.client, l.server, time.Unix(0, l.start).UTC().Format("2006-01-02 15:04:05.000000 MST"))
	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="14" font-weight="bold" fill="%s">%s</text>`+"\n", svgFrameX, y+14, svgAccept, esc(title))
	heads := y + 44
	fmt.Fprintf(b, `<text x="%d" y="%d" fill="%s">#</text>`, svgFrameX, heads, svgMuted)
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end" fill="%s">time (s)</text>`, svgTimeX, heads, svgMuted)
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" font-weight="bold" fill="%s">client %s</text>`, svgClientX, heads-14, svgAccept, esc(l.client.String()))
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" font-weight="bold" fill="%s">server %s</text>`, svgServerX, heads-14, svgAccept, esc(l.server.String()))
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end" fill="%s">socket state</text>`, svgClientSX, heads, svgMuted)
	fmt.Fprintf(b, `<text x="%d" y="%d" fill="%s">socket state</text>`, svgServerSX, heads, svgMuted)
	fmt.Fprintf(b, `<text x="%d" y="%d" fill="%s">conntrack</text>`, svgEntryX, heads, svgMuted)
	fmt.Fprintf(b, `<text x="%d" y="%d" fill="%s">verdict</text>`+"\n", svgVerdictX, heads, svgMuted)
	top := y + svgHeadH
	bottom := top + len(l.rows)*svgRowH
	for _, x := range []int{svgClientX, svgServerX} {
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n", x, heads+8, x, bottom, svgMuted)
	}
	prevSock := [2]ladderSock{{state: 255}, {state: 255}}
	prevEntry := ""
	for i := range l.rows {
		r := &l.rows[i]
		ry := top + i*svgRowH + 10 // where the arrow starts
		rel := strconv.FormatFloat(float64(r.ts-l.start)/1e9, 'f', 6, 64)
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="end" fill="%s">%s</text>`, svgTimeX, ry+4, svgMuted, rel)
		if r.marker {
			fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-dasharray="2,4"/>`, svgClientX-40, ry, svgServerX+40, ry, svgMuted)
			fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" font-style="italic" fill="%s">%s</text>`+"\n", (svgClientX+svgServerX)/2, ry-5, svgMuted, esc(r.note))
			if r.conntrack != prevEntry {
				fmt.Fprintf(b, `<text x="%d" y="%d" fill="%s">%s</text>`+"\n", svgEntryX, ry+4, svgMuted, esc(r.conntrack))
				prevEntry = r.conntrack
			}
			continue
		}
		fmt.Fprintf(b, `<text x="%d" y="%d" fill="%s">%d</text>`, svgFrameX, ry+4, svgMuted, r.frame)
		x1, x2 := svgClientX, svgServerX
		if !r.toServer {
			x1, x2 = x2, x1
		}
		color, marker, dash := svgAccept, "a", ""
		switch r.verdict {
		case fsm.Ignore:
			color, marker, dash = svgIgnore, "i", ` stroke-dasharray="6,4"`
		case fsm.Invalid:
			color, marker, dash = svgInvalid, "x", ` stroke-dasharray="6,4"`
		}
		fmt.Fprintf(b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="1.6"%s marker-end="url(#arrow-%s)"/>`,
			x1, ry, x2, ry+svgSlant, color, dash, marker)
		// The label sits above the arrow's middle, tilted with it.
		mx, my := (x1+x2)/2, ry+svgSlant/2-4
		angle := float64(svgSlant) / float64(x2-x1) * 57.2958
		fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="middle" fill="%s" transform="rotate(%.2f %d %d)">%s</text>`+"\n",
			mx, my, color, angle, mx, my, esc(segmentLabel(r)))
		// Each host's state where it changes, beside its line.
		if r.client != prevSock[0] && r.client.state != fsm.SockUnknown {
			fmt.Fprintf(b, `<circle cx="%d" cy="%d" r="3" fill="%s"/><text x="%d" y="%d" text-anchor="end" font-weight="bold" fill="%s">%s</text>`+"\n",
				svgClientX, svgSockY(r, true, ry), svgAccept, svgClientSX, svgSockY(r, true, ry)+4, svgAccept, esc(r.client.String()))
		}
		if r.server != prevSock[1] && r.server.state != fsm.SockUnknown {
			fmt.Fprintf(b, `<circle cx="%d" cy="%d" r="3" fill="%s"/><text x="%d" y="%d" font-weight="bold" fill="%s">%s</text>`+"\n",
				svgServerX, svgSockY(r, false, ry), svgAccept, svgServerSX, svgSockY(r, false, ry)+4, svgAccept, esc(r.server.String()))
		}
		prevSock = [2]ladderSock{r.client, r.server}
		if r.conntrack != prevEntry {
			fmt.Fprintf(b, `<text x="%d" y="%d" fill="%s">%s</text>`+"\n", svgEntryX, ry+svgSlant/2+4, svgAccept, esc(r.conntrack))
			prevEntry = r.conntrack
		}
		if v := r.verdictText(); v != "" {
			// One line per message: the kernel's second one goes below.
			fmt.Fprintf(b, `<text x="%d" y="%d" fill="%s">`, svgVerdictX, ry+svgSlant/2+4, color)
			for j, part := range strings.Split(v, "; ") {
				dy := 0
				if j > 0 {
					dy = svgFont + 1
				}
				fmt.Fprintf(b, `<tspan x="%d" dy="%d">%s</tspan>`, svgVerdictX, dy, esc(part))
			}
			b.WriteString("</text>\n")
		}
	}
	return bottom + svgGap
}

// svgSockY is where a host's new state is written: where the arrow leaves
// the sender, or reaches the receiver.
func svgSockY(r *ladderRow, client bool, ry int) int {
	if client == r.toServer {
		return ry
	}
	return ry + svgSlant
}

// segmentLabel is the arrow's text, as tcpdump words a segment: flags,
// sequence range, ack, window.
func segmentLabel(r *ladderRow) string {
	var b strings.Builder
	b.WriteString(r.flags.String())
	b.WriteByte(' ')
	b.WriteString(strconv.FormatUint(uint64(r.seq), 10))
	if r.length > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.FormatUint(uint64(r.seq+r.length), 10))
	}
	if r.hasAck {
		b.WriteString(" ack ")
		b.WriteString(strconv.FormatUint(uint64(r.ack), 10))
		if r.ackAbs {
			b.WriteByte('*')
		}
	}
	b.WriteString(" win ")
	b.WriteString(strconv.FormatUint(uint64(r.win), 10))
	if r.length > 0 {
		b.WriteString(" len ")
		b.WriteString(strconv.FormatUint(uint64(r.length), 10))
	}
	return b.String()
}

// esc makes text safe inside an SVG element.
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace(s)
}
