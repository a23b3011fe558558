package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// node is one network namespace created by this program.
type node struct {
	name string // name under /var/run/netns
}

func (n node) path() string { return "/var/run/netns/" + n.name }

// do runs fn on a dedicated OS thread that has joined n's network namespace.
// Sockets created inside fn belong to that namespace for their whole life and
// may be used from any goroutine afterwards. The thread is never unlocked, so
// the Go runtime discards it when fn returns instead of reusing a thread that
// sits in a foreign namespace.
func (n node) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := syscall.Open(n.path(), syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			errc <- fmt.Errorf("open netns %s: %w", n.name, err)
			return
		}
		err = setns(fd, syscall.CLONE_NEWNET)
		syscall.Close(fd)
		if err != nil {
			errc <- fmt.Errorf("setns %s: %w", n.name, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// run executes a command inside the namespace and returns its stdout.
func (n node) run(ctx context.Context, stdin string, args ...string) (string, error) {
	return runCmd(ctx, stdin, append([]string{"ip", "netns", "exec", n.name}, args...)...)
}

// runCmd executes a command with a bounded run time; stderr is folded into
// the error so a failing tool explains itself.
func runCmd(ctx context.Context, stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// sysctl sets kernel parameters in the namespace, "key=value" each.
func (n node) sysctl(ctx context.Context, kv ...string) error {
	if len(kv) == 0 {
		return nil
	}
	_, err := n.run(ctx, "", append([]string{"sysctl", "-q", "-w"}, kv...)...)
	return err
}

// nft loads an nftables ruleset (nft -f syntax) into the namespace.
func (n node) nft(ctx context.Context, ruleset string) error {
	_, err := n.run(ctx, ruleset, "nft", "-f", "-")
	return err
}

// listen opens a TCP listener inside the namespace. Keep-alives are off so
// idle connections stay silent on the wire.
func (n node) listen(addr string) (*net.TCPListener, error) {
	var ln net.Listener
	err := n.do(func() error {
		lc := net.ListenConfig{KeepAlive: -1}
		var err error
		ln, err = lc.Listen(context.Background(), "tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listen %s in %s: %w", addr, n.name, err)
	}
	return ln.(*net.TCPListener), nil
}

// dialOpts tunes a client socket before connect.
type dialOpts struct {
	local   string        // local address (ip:port) to bind, "" for any
	timeout time.Duration // connect timeout, default 5s
	reuse   bool          // SO_REUSEADDR on the bound socket
	rcvbuf  int           // SO_RCVBUF before connect (affects the window), 0 = default
}

// dial connects from inside the namespace; the connect itself runs on the
// namespace thread because Go creates the socket in the calling goroutine.
func (n node) dial(ctx context.Context, raddr string, o dialOpts) (*net.TCPConn, error) {
	var c net.Conn
	err := n.do(func() error {
		d := net.Dialer{KeepAlive: -1, Timeout: o.timeout}
		if d.Timeout == 0 {
			d.Timeout = 5 * time.Second
		}
		if o.local != "" {
			la, err := net.ResolveTCPAddr("tcp", o.local)
			if err != nil {
				return err
			}
			d.LocalAddr = la
		}
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				if o.reuse {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
				}
				if serr == nil && o.rcvbuf > 0 {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, o.rcvbuf)
				}
			})
			if err != nil {
				return err
			}
			return serr
		}
		var err error
		c, err = d.DialContext(ctx, "tcp", raddr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dial %s from %s: %w", raddr, n.name, err)
	}
	return c.(*net.TCPConn), nil
}

// linkInfo returns the interface index and MAC of dev inside the namespace.
func (n node) linkInfo(dev string) (int, net.HardwareAddr, error) {
	var ifi *net.Interface
	err := n.do(func() error {
		var err error
		ifi, err = net.InterfaceByName(dev)
		return err
	})
	if err != nil {
		return 0, nil, fmt.Errorf("interface %s in %s: %w", dev, n.name, err)
	}
	return ifi.Index, ifi.HardwareAddr, nil
}

// packetSocket opens an AF_PACKET socket bound to dev inside the namespace.
// proto 0 makes a send-only socket; ETH_P_ALL receives every frame.
func (n node) packetSocket(dev string, proto uint16, rcvTimeout time.Duration) (int, int, error) {
	idx, _, err := n.linkInfo(dev)
	if err != nil {
		return -1, 0, err
	}
	fd := -1
	err = n.do(func() error {
		var err error
		fd, err = syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, int(htons(proto)))
		if err != nil {
			return err
		}
		if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: htons(proto), Ifindex: idx}); err != nil {
			syscall.Close(fd)
			return err
		}
		if rcvTimeout > 0 {
			tv := syscall.NsecToTimeval(rcvTimeout.Nanoseconds())
			if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
				syscall.Close(fd)
				return err
			}
		}
		return nil
	})
	if err != nil {
		return -1, 0, fmt.Errorf("packet socket on %s in %s: %w", dev, n.name, err)
	}
	return fd, idx, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// setns moves the calling thread into the namespace behind fd. The syscall
// package has no wrapper and no SYS_SETNS on every architecture, and the
// generator avoids dependencies that go mod tidy cannot see (it skips
// testdata), so the number is looked up here.
func setns(fd, nstype int) error {
	var nr uintptr
	switch runtime.GOARCH {
	case "amd64":
		nr = 308
	case "arm64", "riscv64", "loong64":
		nr = 268
	case "386":
		nr = 346
	case "arm":
		nr = 375
	case "ppc64", "ppc64le":
		nr = 350
	case "s390x":
		nr = 339
	default:
		return fmt.Errorf("setns: unknown syscall number on %s", runtime.GOARCH)
	}
	if _, _, e := syscall.RawSyscall(nr, uintptr(fd), uintptr(nstype), 0); e != 0 {
		return e
	}
	return nil
}

// pidAlive reports whether a process with this pid exists.
func pidAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// fileExists is used by the preflight checks.
func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
