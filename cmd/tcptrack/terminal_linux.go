package main

// The live view's screen on Linux: termios through ioctl(2) for raw
// single-key input and the window size.

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// terminal is the view's screen: the alternate screen buffer, and stdin
// in non-canonical mode for single-key commands.
type terminal struct {
	out   io.Writer
	outFd int
	in    *os.File
	saved *syscall.Termios
}

func ioctlTermios(fd int, req uintptr, t *syscall.Termios) error {
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), req, uintptr(unsafe.Pointer(t))); e != 0 {
		return e
	}
	return nil
}

// isTerminal is true for a tty (and false for /dev/null, which is a
// character device too).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	var t syscall.Termios
	return ioctlTermios(int(f.Fd()), syscall.TCGETS, &t) == nil
}

func openTerminal(stdin io.Reader, stdout io.Writer) *terminal {
	t := &terminal{out: stdout, outFd: -1}
	if f, ok := stdout.(*os.File); ok {
		t.outFd = int(f.Fd())
	}
	if f, ok := stdin.(*os.File); ok && isTerminal(f) {
		var saved syscall.Termios
		if ioctlTermios(int(f.Fd()), syscall.TCGETS, &saved) == nil {
			raw := saved
			// Keys arrive one by one and are not echoed; ^C still signals.
			raw.Lflag &^= syscall.ICANON | syscall.ECHO
			raw.Cc[syscall.VMIN], raw.Cc[syscall.VTIME] = 1, 0
			if ioctlTermios(int(f.Fd()), syscall.TCSETS, &raw) == nil {
				t.in, t.saved = f, &saved
			}
		}
	}
	io.WriteString(stdout, "\033[?1049h\033[?25l\033[H\033[2J")
	return t
}

type winsize struct{ Row, Col, X, Y uint16 }

func (t *terminal) size() (w, h int) {
	var ws winsize
	if t.outFd >= 0 {
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(t.outFd), syscall.TIOCGWINSZ, uintptr(unsafe.Pointer(&ws))); e == 0 && ws.Col > 0 && ws.Row > 0 {
			return int(ws.Col), int(ws.Row)
		}
	}
	return 80, 24
}

// restore leaves the alternate screen and gives the terminal back as found.
func (t *terminal) restore() {
	io.WriteString(t.out, "\033[?25h\033[?1049l")
	if t.saved != nil {
		ioctlTermios(int(t.in.Fd()), syscall.TCSETS, t.saved)
	}
}
