//go:build !linux

package main

import (
	"io"
	"os"
)

// Outside Linux no output is taken for a terminal, so the live view stays
// off and live prints its final table as when piped. These stubs keep the
// view's code compiling.

type terminal struct {
	out io.Writer
	in  *os.File
}

func isTerminal(w any) bool { return false }

func openTerminal(stdin io.Reader, stdout io.Writer) *terminal {
	return &terminal{out: stdout}
}

func (t *terminal) size() (w, h int) { return 80, 24 }

func (t *terminal) restore() {}
