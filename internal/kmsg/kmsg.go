// Package kmsg reads the kernel log and the lines conntrack writes to it for
// packets it marks invalid or ignores (net.netfilter.nf_conntrack_log_invalid),
// for the tools and tests that take the running kernel as the judge: the
// corpus generator records them, the fsm's kernel test compares them packet
// by packet. It needs Linux and root; nothing in tcptrack itself uses it.
package kmsg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Reader reads /dev/kmsg from the moment it was opened on: each open file
// has its own position, so several readers (parallel scenarios, other
// programs) do not take lines from each other.
type Reader struct {
	f    *os.File
	buf  []byte
	Lost int // records overwritten in the ring buffer before they were read
}

// Open positions a new reader after the last record in the log.
func Open() (*Reader, error) {
	fd, err := syscall.Open("/dev/kmsg", syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/kmsg: %w", err)
	}
	if _, err := syscall.Seek(fd, 0, 2 /* SEEK_END: after the last record */); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("seek /dev/kmsg: %w", err)
	}
	return &Reader{f: os.NewFile(uintptr(fd), "/dev/kmsg"), buf: make([]byte, 16<<10)}, nil
}

// Drain calls fn with the text of every record logged since the last call
// (the message only: no priority, sequence or timestamp; continuation
// lines dropped) and returns when none is left. Records the kernel
// overwrote before they were read are counted in Lost.
func (r *Reader) Drain(fn func(msg string)) error {
	for {
		n, err := syscall.Read(int(r.f.Fd()), r.buf)
		switch {
		case errors.Is(err, syscall.EAGAIN):
			return nil
		case errors.Is(err, syscall.EPIPE):
			// The next read continues with the oldest record left.
			r.Lost++
			continue
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil:
			return fmt.Errorf("read /dev/kmsg: %w", err)
		case n == 0:
			return nil
		}
		if msg, ok := recordText(r.buf[:n]); ok {
			fn(msg)
		}
	}
}

// Close releases the file.
func (r *Reader) Close() error { return r.f.Close() }

// recordText takes the message out of one /dev/kmsg record:
// "PRIO,SEQ,USEC,FLAGS[,…];TEXT\n" then optional " KEY=VALUE" lines.
func recordText(rec []byte) (string, bool) {
	s := string(rec)
	_, text, ok := strings.Cut(s, ";")
	if !ok {
		return "", false
	}
	text, _, _ = strings.Cut(text, "\n")
	return unescape(text), true
}

// unescape undoes /dev/kmsg's \xNN escapes of unprintable bytes.
func unescape(s string) string {
	if !strings.Contains(s, `\x`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// The global switch. The kernel writes nf_log lines from a namespace other
// than the initial one only while net.netfilter.nf_log_all_netns=1 there (a
// guard against containers flooding the log). Several programs may need it
// at once (a corpus run and a kernel test, by different people on one
// machine), so holders register under stateDir and the last one out puts
// back the value the first one found.
const (
	allNetnsPath = "/proc/sys/net/netfilter/nf_log_all_netns"
	stateDir     = "/run/tcptrack-nflog"
)

// EnableAllNetns sets nf_log_all_netns=1 for this process and returns the
// function that gives it back (restoring the original value when no other
// live holder remains). Call the restore function on every exit path,
// signals included; holders that died without it are cleaned up by the
// next call of either.
func EnableAllNetns() (restore func() error, err error) {
	unlock, err := lockState()
	if err != nil {
		return nil, err
	}
	defer unlock()
	holders := liveHolders()
	saved := filepath.Join(stateDir, "saved")
	if _, err := os.Stat(saved); len(holders) == 0 && err != nil {
		// The first holder; a saved value left by holders that all died
		// is the original still, and stays.
		cur, err := os.ReadFile(allNetnsPath)
		if err != nil {
			return nil, fmt.Errorf("nf_log_all_netns: %w", err)
		}
		if err := os.WriteFile(saved, cur, 0o644); err != nil {
			return nil, err
		}
	}
	me := filepath.Join(stateDir, "pid-"+strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(me, nil, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(allNetnsPath, []byte("1\n"), 0o644); err != nil {
		os.Remove(me)
		return nil, fmt.Errorf("set nf_log_all_netns: %w", err)
	}
	done := false
	return func() error {
		if done {
			return nil
		}
		done = true
		unlock, err := lockState()
		if err != nil {
			return err
		}
		defer unlock()
		os.Remove(me)
		if len(liveHolders()) > 0 {
			return nil
		}
		return restoreSaved(saved)
	}, nil
}

func restoreSaved(saved string) error {
	orig, err := os.ReadFile(saved)
	if err != nil {
		return fmt.Errorf("nf_log_all_netns: no saved value: %w", err)
	}
	if err := os.WriteFile(allNetnsPath, orig, 0o644); err != nil {
		return fmt.Errorf("restore nf_log_all_netns: %w", err)
	}
	return os.Remove(saved)
}

// lockState takes the state directory's lock (flock, released on exit
// even if the process dies).
func lockState() (func(), error) {
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(stateDir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// liveHolders lists the registered pids still running, removing the files
// of dead ones; when every holder died, their saved value is put back.
func liveHolders() []int {
	names, _ := filepath.Glob(filepath.Join(stateDir, "pid-*"))
	var live []int
	for _, n := range names {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(n), "pid-"))
		if err != nil {
			continue
		}
		if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
			live = append(live, pid)
			continue
		}
		os.Remove(n)
	}
	return live
}

// RecoverStale puts back the value a crashed holder left changed: when no
// registered holder is alive but a saved value is still there.
func RecoverStale() error {
	unlock, err := lockState()
	if err != nil {
		return err
	}
	defer unlock()
	saved := filepath.Join(stateDir, "saved")
	if len(liveHolders()) > 0 {
		return nil
	}
	if _, err := os.Stat(saved); err != nil {
		return nil
	}
	return restoreSaved(saved)
}
