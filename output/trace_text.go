package output

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The text ladder: per conversation a header, then one line per packet:
//
//	10.1.0.2:40001 ─▶ 10.2.0.2:8001   2026-11-21 05:35:29.998895 UTC, 4 packets, relative sequence numbers
//	  #       time  dir  flags  seq  ack  len    win  conntrack              client       server    verdict
//	  1   0.000000  ─▶   S        0    -    0  64240  SYN_SENT [UNREPLIED]   SYN_SENT     -
//	  2   0.000060  ◀─   S.       0    1    0  65160  SYN_RECV               SYN_SENT     SYN_RECV
//
// time is seconds since the conversation's first packet; ─▶ is client to
// server. conntrack, client and server are the states after the packet.

var ladderHeader = []string{"#", "time", "dir", "flags", "seq", "ack", "len", "win", "conntrack", "client", "server", "verdict"}

// rightAligned are the numeric columns.
var rightAligned = map[int]bool{0: true, 1: true, 4: true, 5: true, 6: true, 7: true}

// WriteText writes every conversation's ladder as text.
func (ls *Ladders) WriteText(w io.Writer) error {
	for i, l := range ls.order {
		if i > 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
		if err := writeLadderText(w, l, ls.absolute); err != nil {
			return err
		}
	}
	return nil
}

func writeLadderText(w io.Writer, l *ladder, absolute bool) error {
	numbers := "relative sequence numbers"
	if absolute {
		numbers = "absolute sequence numbers"
	}
	packets := 0
	for i := range l.rows {
		if !l.rows[i].marker {
			packets++
		}
	}
	plural := "s"
	if packets == 1 {
		plural = ""
	}
	if _, err := fmt.Fprintf(w, "%s ─▶ %s   %s, %d packet%s, %s\n", l.client, l.server,
		time.Unix(0, l.start).UTC().Format("2006-01-02 15:04:05.000000 MST"), packets, plural, numbers); err != nil {
		return err
	}
	cells := [][]string{ladderHeader}
	for i := range l.rows {
		cells = append(cells, ladderCells(l, &l.rows[i]))
	}
	width := make([]int, len(ladderHeader))
	for _, row := range cells {
		if len(row) == 1 {
			continue // a marker spans the line
		}
		for j, c := range row {
			if j < len(width) {
				width[j] = max(width[j], utf8.RuneCountInString(c))
			}
		}
	}
	var b strings.Builder
	for ri, row := range cells {
		b.Reset()
		if len(row) == 1 { // a marker: one line across
			b.WriteString("  ")
			b.WriteString(row[0])
		} else {
			for j, c := range row {
				if j == len(row)-1 && c == "" {
					break
				}
				pad := strings.Repeat(" ", width[j]-utf8.RuneCountInString(c))
				b.WriteString("  ")
				if rightAligned[j] && ri > 0 {
					b.WriteString(pad)
					b.WriteString(c)
				} else if j < len(row)-1 {
					b.WriteString(c)
					b.WriteString(pad)
				} else {
					b.WriteString(c)
				}
			}
		}
		line := strings.TrimRight(b.String(), " ") + "\n"
		if _, err := io.WriteString(w, line); err != nil {
			return err
		}
	}
	return nil
}

// ladderCells is one row's text cells, in ladderHeader's order (a marker is
// one cell).
func ladderCells(l *ladder, r *ladderRow) []string {
	rel := strconv.FormatFloat(float64(r.ts-l.start)/1e9, 'f', 6, 64)
	if r.marker {
		return []string{fmt.Sprintf("%*s  ── %s ──", 0, rel, r.note)}
	}
	dir := "◀─"
	if r.toServer {
		dir = "─▶"
	}
	ack := "-"
	if r.hasAck {
		ack = strconv.FormatUint(uint64(r.ack), 10)
		if r.ackAbs {
			ack += "*"
		}
	}
	return []string{
		strconv.FormatUint(r.frame, 10), rel, dir, r.flags.String(),
		strconv.FormatUint(uint64(r.seq), 10), ack,
		strconv.FormatUint(uint64(r.length), 10), strconv.FormatUint(uint64(r.win), 10),
		r.conntrack, r.client.String(), r.server.String(), r.verdictText(),
	}
}
