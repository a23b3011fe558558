package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tcptrack/tcptrack/internal/kernelcorpus"
)

// recorder runs the router-side observers of one scenario: tcpdump at
// PRE_ROUTING (-Q in on every interface, so a forwarded packet is written
// once, when it arrives) and conntrack -E; it ends with conntrack -L.
type recorder struct {
	router, client, server node
	dir                    string

	events      *exec.Cmd
	eventsOut   *os.File
	eventsErr   *strings.Builder
	eventsStart time.Time
	eventsStop  time.Time

	tcpdump    *exec.Cmd
	tcpdumpErr *strings.Builder
	tcpdumpEnd chan error

	listBefore, listAfter time.Time
	sysctl                map[string]string
	hosts                 map[string]kernelcorpus.HostSnapshot // the endpoint hosts' socket tables (hostsnap.go)

	klog *kernelLog

	opts recordOpts
	// lost says what tcpdump or conntrack -E lost, when opts.tolerateLoss
	// turned that from an error into a note.
	lost []string
}

// recordOpts tunes the recorder for a scenario.
type recordOpts struct {
	bufKiB       int  // tcpdump -B (KiB); 0: 32768
	eventsBuf    int  // conntrack -E -b (bytes); 0: 16 MiB
	tolerateLoss bool // lost packets or events are a note, not a failure (big captures for benchmarks)
}

// startRecording starts reading the kernel log, conntrack -E, then
// tcpdump, and returns once all are listening. They run until finish. The
// kernel log lines of frames to or from the router's interfaces (their MACs
// are this scenario's) are the scenario's.
func startRecording(ctx context.Context, t *topology, dir string, opts recordOpts) (*recorder, error) {
	router := t.router
	r := &recorder{router: router, client: t.client, server: t.server, dir: dir, opts: opts}
	if r.opts.bufKiB == 0 {
		r.opts.bufKiB = 32768
	}
	if r.opts.eventsBuf == 0 {
		r.opts.eventsBuf = 16 << 20
	}
	klog, err := startKernelLog(t.routerCMAC, t.routerSMAC)
	if err != nil {
		return nil, err
	}
	r.klog = klog
	f, err := os.Create(filepath.Join(dir, kernelcorpus.EventsFile))
	if err != nil {
		r.abort()
		return nil, fmt.Errorf("events file: %w", err)
	}
	r.eventsOut = f
	r.eventsErr = &strings.Builder{}
	// A large socket buffer: a burst of events must not overflow (ENOBUFS
	// would silently lose lines; the check after stop catches it).
	r.events = exec.Command("ip", "netns", "exec", router.name,
		"conntrack", "-E", "-o", "timestamp", "-p", "tcp", "-b", strconv.Itoa(r.opts.eventsBuf))
	r.events.Stdout = f
	r.events.Stderr = r.eventsErr
	r.events.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // terminal ^C goes to us, we stop it cleanly
	if err := r.events.Start(); err != nil {
		f.Close()
		r.events = nil
		r.abort()
		return nil, fmt.Errorf("start conntrack -E: %w", err)
	}
	r.eventsStart = time.Now()

	// --immediate-mode: without it libpcap hands packets over in ring
	// blocks that are retired only by a 1s timer, and the packets of a block
	// still open at SIGINT never reach the file. Immediate mode uses one
	// ring slot per packet sized by the snap length, so the snap length is
	// cut to what a 1500-byte MTU needs and the ring made large, or bursts
	// overflow it.
	r.tcpdumpErr = &strings.Builder{}
	r.tcpdump = exec.Command("ip", "netns", "exec", router.name,
		"tcpdump", "-i", "any", "-Q", "in", "--immediate-mode", "-s", "2048", "-B", strconv.Itoa(r.opts.bufKiB), "-U", "-n", "-Z", "root",
		"-w", filepath.Join(dir, kernelcorpus.CaptureFile), "tcp")
	r.tcpdump.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, err := r.tcpdump.StderrPipe()
	if err != nil {
		r.abort()
		return nil, err
	}
	if err := r.tcpdump.Start(); err != nil {
		r.tcpdump = nil
		r.abort()
		return nil, fmt.Errorf("start tcpdump: %w", err)
	}
	ready := make(chan bool, 1)
	r.tcpdumpEnd = make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			r.tcpdumpErr.WriteString(line + "\n")
			if !sent && strings.Contains(line, "listening on") {
				ready <- true
				sent = true
			}
		}
		if !sent {
			ready <- false
		}
		io.Copy(io.Discard, pr)
		r.tcpdumpEnd <- r.tcpdump.Wait()
	}()
	select {
	case ok := <-ready:
		if !ok {
			r.abort()
			return nil, fmt.Errorf("tcpdump exited before listening: %s", r.tcpdumpErr.String())
		}
	case <-time.After(10 * time.Second):
		r.abort()
		return nil, errors.New("tcpdump did not start listening within 10s")
	case <-ctx.Done():
		r.abort()
		return nil, ctx.Err()
	}
	// conntrack -E prints nothing when ready: wait until its netlink socket
	// has joined the conntrack event groups in the router's namespace. (A
	// fixed pause was not enough: under load ip netns exec can take over a
	// second, and a scenario's whole traffic then went unrecorded.)
	if err := waitEventsSubscribed(ctx, r.events.Process.Pid, router); err != nil {
		r.abort()
		return nil, err
	}
	return r, nil
}

// waitEventsSubscribed returns once process pid runs in n's namespace with a
// NETLINK_NETFILTER socket subscribed to some multicast group, which only
// conntrack -E has there.
func waitEventsSubscribed(ctx context.Context, pid int, n node) error {
	want, err := os.Stat(n.path())
	if err != nil {
		return err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if ns, err := os.Stat(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && os.SameFile(ns, want) {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/netlink", pid)); err == nil && netfilterSubscribed(string(b)) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return errors.New("conntrack -E did not subscribe to conntrack events within 20s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// netfilterSubscribed reports whether a /proc/net/netlink table lists a
// NETLINK_NETFILTER (12) socket with a nonzero Groups mask.
func netfilterSubscribed(table string) bool {
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[1] != "12" {
			continue
		}
		if g, err := strconv.ParseUint(f[3], 16, 32); err == nil && g != 0 {
			return true
		}
	}
	return false
}

// finish takes the final conntrack -L and, in the same shell right after
// it, the endpoint hosts' socket tables (hostsnap.go); then the router's
// tracking sysctls and the hosts' timer settings; then stops tcpdump and,
// half a second after the list, conntrack -E (the dump evicts expired
// entries, and their DESTROY events must be recorded).
func (r *recorder) finish(ctx context.Context) error {
	stamps, err := runList(ctx, r.router, r.client, r.server, r.dir)
	if err != nil {
		return err
	}
	r.listBefore = time.UnixMicro(int64(stamps["list_before"] * 1e6))
	r.listAfter = time.UnixMicro(int64(stamps["list_after"] * 1e6))
	if r.hosts, err = hostSnapshots(ctx, r.client, r.server, stamps); err != nil {
		return err
	}
	r.sysctl, err = readTrackingSysctl(ctx, r.router)
	if err != nil {
		return err
	}
	if err := r.stopTcpdump(); err != nil {
		return err
	}
	// The capture is closed: a packet in it was logged (if at all) within
	// the same softirq that handed it to tcpdump.
	if err := r.klog.finish(r.dir); err != nil {
		return fmt.Errorf("kernel log: %w", err)
	}
	r.klog = nil
	time.Sleep(time.Until(r.listAfter.Add(500 * time.Millisecond)))
	return r.stopEvents()
}

func (r *recorder) stopTcpdump() error {
	if r.tcpdump == nil {
		return nil
	}
	_ = r.tcpdump.Process.Signal(syscall.SIGINT)
	var err error
	select {
	case err = <-r.tcpdumpEnd:
	case <-time.After(5 * time.Second):
		_ = r.tcpdump.Process.Kill()
		err = <-r.tcpdumpEnd
		err = fmt.Errorf("tcpdump ignored SIGINT: %v", err)
	}
	r.tcpdump = nil
	if err != nil {
		return fmt.Errorf("tcpdump: %w: %s", err, r.tcpdumpErr.String())
	}
	if strings.Contains(r.tcpdumpErr.String(), " dropped by kernel") &&
		!strings.Contains(r.tcpdumpErr.String(), "\n0 packets dropped by kernel") {
		if !r.opts.tolerateLoss {
			return fmt.Errorf("tcpdump lost packets: %s", r.tcpdumpErr.String())
		}
		r.lost = append(r.lost, "tcpdump: "+strings.Join(strings.Fields(lastLines(r.tcpdumpErr.String(), 3)), " "))
	}
	return nil
}

func (r *recorder) stopEvents() error {
	if r.events == nil {
		return nil
	}
	_ = r.events.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- r.events.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(5 * time.Second):
		_ = r.events.Process.Kill()
		<-done
		err = errors.New("conntrack -E ignored SIGINT")
	}
	r.eventsStop = time.Now()
	r.events = nil
	r.eventsOut.Close()
	// conntrack exits non-zero on SIGINT in some versions; only a message
	// about lost events makes the recording unusable.
	if msg := r.eventsErr.String(); strings.Contains(msg, "ENOBUFS") || strings.Contains(msg, "WARNING") {
		if !r.opts.tolerateLoss {
			return fmt.Errorf("conntrack -E lost events: %s", msg)
		}
		r.lost = append(r.lost, "conntrack -E lost events: "+strings.Join(strings.Fields(lastLines(msg, 2)), " "))
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return fmt.Errorf("conntrack -E: %w", err)
	}
	// On SIGINT it says how many events it printed: all must be in the file.
	if m := shownRE.FindStringSubmatch(r.eventsErr.String()); m != nil {
		b, err := os.ReadFile(r.eventsOut.Name())
		if err != nil {
			return err
		}
		if lines := strings.Count(string(b), "\n"); strconv.Itoa(lines) != m[1] {
			return fmt.Errorf("conntrack -E showed %s events, the file has %d lines", m[1], lines)
		}
	}
	return nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var shownRE = regexp.MustCompile(`(\d+) flow events have been shown`)

// abort stops whatever still runs, for error paths.
func (r *recorder) abort() {
	if r.klog != nil {
		r.klog.abort()
		r.klog.r.Close()
		r.klog = nil
	}
	if r.tcpdump != nil && r.tcpdump.Process != nil {
		_ = r.stopTcpdump()
	}
	if r.events != nil {
		_ = r.stopEvents()
	}
}

// readTrackingSysctl returns every nf_conntrack_tcp_* value,
// nf_conntrack_acct, nf_conntrack_checksum and nf_conntrack_log_invalid of
// the namespace.
func readTrackingSysctl(ctx context.Context, n node) (map[string]string, error) {
	out, err := n.run(ctx, "", "sysctl", "-a", "-r", `^net\.netfilter\.nf_conntrack_(tcp_|acct|checksum|log_invalid)`)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, " = ")
		if ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if _, ok := m["net.netfilter.nf_conntrack_tcp_loose"]; !ok {
		return nil, fmt.Errorf("sysctl in %s: no nf_conntrack_tcp_* keys in %q", n.name, out)
	}
	return m, nil
}

func (r *recorder) writeMeta(m kernelcorpus.Meta) error {
	m.ListBefore = kernelcorpus.UnixSeconds(r.listBefore)
	m.ListAfter = kernelcorpus.UnixSeconds(r.listAfter)
	m.ListAt = kernelcorpus.UnixSeconds(r.listBefore.Add(r.listAfter.Sub(r.listBefore) / 2))
	m.EventsStart = kernelcorpus.UnixSeconds(r.eventsStart)
	m.EventsStop = kernelcorpus.UnixSeconds(r.eventsStop)
	m.Sysctl = r.sysctl
	m.HostSockets = r.hosts
	return kernelcorpus.WriteMeta(r.dir, &m)
}
