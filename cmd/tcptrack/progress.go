package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progress draws one status line on a terminal: bytes read of the total,
// packets per second, flows held.
type progress struct {
	w     io.Writer
	on    bool
	size  int64
	start time.Time
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, mode string, size int64) *progress {
	on := mode == "always"
	if mode == "auto" {
		if f, ok := w.(*os.File); ok {
			if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
				on = true
			}
		}
	}
	now := time.Now()
	return &progress{w: w, on: on, size: size, start: now, last: now}
}

func (p *progress) update(off int64, pkts uint64, flows int) {
	if !p.on {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < 250*time.Millisecond {
		return
	}
	p.last = now
	rate := float64(pkts) / now.Sub(p.start).Seconds()
	if p.size > 0 {
		fmt.Fprintf(p.w, "\r%s / %s (%.0f%%)  %.0f pkt/s  %d flows   ", mib(off), mib(p.size), 100*float64(off)/float64(p.size), rate, flows)
	} else {
		fmt.Fprintf(p.w, "\r%s  %.0f pkt/s  %d flows   ", mib(off), rate, flows)
	}
	p.drawn = true
}

func (p *progress) done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
