package main

// End-to-end proof of tcptrack live with real traffic: network namespaces
// client — router — server joined by veth pairs, the router forwarding with
// conntrack on (an nft ct rule, nf_conntrack_acct=1). tcptrack live sniffs
// the router (-i any -Q in: each forwarded packet once, at ingress, where
// conntrack sees it) while a few hundred connections of mixed kinds run;
// its final table must equal the router's own conntrack -L taken at the
// same moment, its --events the router's conntrack -E, and its top-like
// view must render under tmux. Needs root; skipped otherwise unless CI=true.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/kernelcorpus"
)

const (
	liveNSPrefix   = "tcptrack-live-"
	liveClientV4   = "10.31.0.2"
	liveRouterCV4  = "10.31.0.1"
	liveServerV4   = "10.32.0.2"
	liveRouterSV4  = "10.32.0.1"
	liveClientV6   = "fd31::2"
	liveRouterCV6  = "fd31::1"
	liveServerV6   = "fd32::2"
	liveRouterSV6  = "fd32::1"
	livePort       = 9000
	liveClosedPort = 9001
	liveConns      = 300
)

// liveTimeouts shorten two of the router's timeouts (and tcptrack's, with
// --timeout) so that flows expire on the wall clock during the test while
// nothing arrives for them: aborted ones leave CLOSE after 2 s, early
// closed ones leave TIME_WAIT while later ones are still listed.
var liveTimeouts = []string{"close=2", "time_wait=4"}

func liveTimeoutFlags() []string {
	var args []string
	for _, kv := range liveTimeouts {
		args = append(args, "--timeout", kv)
	}
	return args
}

// requireRoot skips the test when it cannot create namespaces, except in
// CI, where a skipped proof would pass silently.
func requireRoot(t *testing.T, tools ...string) {
	t.Helper()
	ci := os.Getenv("CI") == "true"
	miss := func(format string, a ...any) {
		t.Helper()
		if ci {
			t.Fatalf(format+" (CI=true: this test must run)", a...)
		}
		t.Skipf(format, a...)
	}
	if os.Geteuid() != 0 {
		miss("needs root for network namespaces and packet capture")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			miss("needs %s (see .ci/deps)", tool)
		}
	}
}

// liveNS is one namespace of the test topology.
type liveNS string

func (n liveNS) cmd(args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", string(n)}, args...)...)
}

func (n liveNS) run(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := n.cmd(args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %s: %v: %s", n, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// liveTopo builds client — router — server; every namespace is deleted
// when the test ends, whatever happens.
type liveTopo struct{ client, router, server liveNS }

var liveStaleNS = regexp.MustCompile(`^` + liveNSPrefix + `(\d+)-`)

func newLiveTopo(t *testing.T) *liveTopo {
	t.Helper()
	// Leftovers of a killed run (its pid is gone) would only waste memory.
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			if m := liveStaleNS.FindStringSubmatch(f[0]); m != nil {
				pid, _ := strconv.Atoi(m[1])
				if syscall.Kill(pid, 0) == syscall.ESRCH {
					exec.Command("ip", "netns", "del", f[0]).Run()
				}
			}
		}
	}
	base := fmt.Sprintf("%s%d-", liveNSPrefix, os.Getpid())
	tp := &liveTopo{client: liveNS(base + "c"), router: liveNS(base + "r"), server: liveNS(base + "s")}
	for _, n := range []liveNS{tp.client, tp.router, tp.server} {
		mustRun(t, "ip", "netns", "add", string(n))
		t.Cleanup(func() { exec.Command("ip", "netns", "del", string(n)).Run() })
		// Before the links exist, so that they inherit it: no IPv6 DAD wait.
		n.run(t, "", "sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0")
	}
	sysctl := []string{"sysctl", "-q", "-w", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
		"net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0", "net.netfilter.nf_conntrack_acct=1"}
	for _, kv := range liveTimeouts {
		k, v, _ := strings.Cut(kv, "=")
		sysctl = append(sysctl, "net.netfilter.nf_conntrack_tcp_timeout_"+k+"="+v)
	}
	tp.router.run(t, "", sysctl...)
	mustRun(t, "ip", "-n", string(tp.client), "link", "add", "eth0", "type", "veth", "peer", "name", "c0", "netns", string(tp.router))
	mustRun(t, "ip", "-n", string(tp.server), "link", "add", "eth0", "type", "veth", "peer", "name", "s0", "netns", string(tp.router))
	// Wire-sized packets: no segmentation offload, so the capture and
	// conntrack count the same packets the endpoints sent.
	if _, err := exec.LookPath("ethtool"); err == nil {
		for _, e := range []struct {
			n   liveNS
			dev string
		}{{tp.client, "eth0"}, {tp.server, "eth0"}, {tp.router, "c0"}, {tp.router, "s0"}} {
			e.n.run(t, "", "ethtool", "-K", e.dev, "tx", "off", "tso", "off", "gso", "off", "gro", "off")
		}
	}
	tp.client.run(t, strings.Join([]string{"link set lo up", "link set eth0 up",
		"addr add " + liveClientV4 + "/24 dev eth0", "addr add " + liveClientV6 + "/64 dev eth0 nodad",
		"route add default via " + liveRouterCV4, "route add default via " + liveRouterCV6}, "\n")+"\n", "ip", "-batch", "-")
	tp.server.run(t, strings.Join([]string{"link set lo up", "link set eth0 up",
		"addr add " + liveServerV4 + "/24 dev eth0", "addr add " + liveServerV6 + "/64 dev eth0 nodad",
		"route add default via " + liveRouterSV4, "route add default via " + liveRouterSV6}, "\n")+"\n", "ip", "-batch", "-")
	tp.router.run(t, strings.Join([]string{"link set lo up", "link set c0 up", "link set s0 up",
		"addr add " + liveRouterCV4 + "/24 dev c0", "addr add " + liveRouterCV6 + "/64 dev c0 nodad",
		"addr add " + liveRouterSV4 + "/24 dev s0", "addr add " + liveRouterSV6 + "/64 dev s0 nodad"}, "\n")+"\n", "ip", "-batch", "-")
	// A ct expression in a forward chain makes conntrack track forwarded
	// packets in this namespace; everything is accepted.
	tp.router.run(t, `table inet tcptrack_live {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state new counter
		ct state established counter
		ct state invalid counter
		counter accept
	}
}
`, "nft", "-f", "-")
	return tp
}

// buildTcptrack builds the command under test into a temporary directory.
func buildTcptrack(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tcptrack")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	return bin
}

// bgProc is a background process whose output goes to files.
type bgProc struct {
	name string
	cmd  *exec.Cmd
	out  string // stdout file
	errb *syncBuffer
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startBG starts cmd with stdout to a file in dir and stderr kept; it is
// killed when the test ends if still running.
func startBG(t *testing.T, dir, name string, cmd *exec.Cmd) *bgProc {
	t.Helper()
	p := &bgProc{name: name, cmd: cmd, out: filepath.Join(dir, name+".out"), errb: &syncBuffer{}, done: make(chan error, 1)}
	f, err := os.Create(p.out)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, p.errb
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.done <- cmd.Wait()
		f.Close()
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *bgProc) kill() {
	select {
	case <-p.done:
		p.done <- nil
	default:
		p.cmd.Process.Kill()
	}
}

// stop sends sig and waits for the exit.
func (p *bgProc) stop(t *testing.T, sig os.Signal, within time.Duration) error {
	t.Helper()
	p.cmd.Process.Signal(sig)
	return p.wait(t, within)
}

// wait waits for the exit; it kills the process after within.
func (p *bgProc) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(within):
		p.cmd.Process.Kill()
		t.Fatalf("%s did not exit within %v; stderr: %s", p.name, within, p.errb.String())
	}
	return nil
}

// waitFor polls until the process's stderr (or stdout file) holds want.
func (p *bgProc) waitFor(t *testing.T, stdout bool, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		s := p.errb.String()
		if stdout {
			b, _ := os.ReadFile(p.out)
			s = string(b)
		}
		if strings.Contains(s, want) {
			return
		}
		select {
		case err := <-p.done:
			p.done <- err
			b, _ := os.ReadFile(p.out)
			t.Fatalf("%s exited (%v) before %q; stdout: %s; stderr: %s", p.name, err, want, b, p.errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("%s: no %q within %v; stderr: %s", p.name, want, within, p.errb.String())
}

// roleCmd re-executes this test binary as a traffic role inside a namespace.
func roleCmd(n liveNS, role string, env ...string) *exec.Cmd {
	cmd := n.cmd(os.Args[0], "-test.run=^TestLiveRole$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), "TCPTRACK_LIVE_ROLE="+role), env...)
	return cmd
}

func TestLiveNetns(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces and real traffic: not in -short")
	}
	requireRoot(t, "ip", "nft", "conntrack", "tmux")
	start := time.Now()
	bin := buildTcptrack(t)
	t.Logf("built %s in %v", bin, time.Since(start).Round(time.Millisecond))
	tp := newLiveTopo(t)
	dir := t.TempDir()

	kernelEvents := startBG(t, dir, "conntrack-E", tp.router.cmd("conntrack", "-E", "-o", "timestamp", "-p", "tcp", "-b", "16777216"))
	liveArgs := append([]string{bin, "live", "-i", "any", "-Q", "in", "-e", "-o", "conntrack", "--extended", "--acct", "--shards", "2"},
		liveTimeoutFlags()...)
	live := startBG(t, dir, "tcptrack", tp.router.cmd(append(liveArgs, "tcp")...))
	live.waitFor(t, false, "listening on any", 10*time.Second)

	// The top-like view, on a terminal: tmux gives it one.
	sock := fmt.Sprintf("tcptrack-live-%d", os.Getpid())
	t.Cleanup(func() { exec.Command("tmux", "-L", sock, "kill-server").Run() })
	viewCmd := fmt.Sprintf("ip netns exec %s %s live -i any -Q in --refresh 300ms --linger 2s %s 2>%s",
		tp.router, bin, strings.Join(liveTimeoutFlags(), " "), filepath.Join(dir, "view.err"))
	mustRun(t, "tmux", "-L", sock, "-f", "/dev/null", "new-session", "-d", "-s", "view", "-x", "200", "-y", "50", viewCmd)
	time.Sleep(150 * time.Millisecond) // conntrack -E subscribes within milliseconds of exec

	server := startBG(t, dir, "server", roleCmd(tp.server, "server"))
	server.waitFor(t, true, "ready", 10*time.Second)
	ccmd := roleCmd(tp.client, "client", fmt.Sprintf("TCPTRACK_LIVE_CONNS=%d", liveConns), "TCPTRACK_LIVE_SEED=1")
	// The client holds its idle connections until this pipe closes.
	holdR, holdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holdW.Close() })
	ccmd.Stdin = holdR
	client := startBG(t, dir, "client", ccmd)
	holdR.Close()
	client.waitFor(t, true, "done", 60*time.Second)
	summary, _ := os.ReadFile(client.out)
	t.Logf("traffic: %s (%v since start)", strings.TrimSpace(string(summary)), time.Since(start).Round(time.Millisecond))
	time.Sleep(1500 * time.Millisecond) // last FIN/ACKs, and a view refresh

	screen := mustRun(t, "tmux", "-L", sock, "capture-pane", "-p", "-t", "view")
	checkLiveScreen(t, screen)
	exec.Command("tmux", "-L", sock, "kill-server").Run()

	// The same moment: stop tcptrack (its table is taken on the signal)
	// and list the kernel's table.
	listBefore := time.Now()
	live.cmd.Process.Signal(syscall.SIGINT)
	var kernelList []byte
	kernelList, err = tp.router.cmd("conntrack", "-L", "-p", "tcp", "-o", "extended").Output()
	listAfter := time.Now()
	if err != nil {
		t.Fatalf("conntrack -L: %v", err)
	}
	if err := live.wait(t, 10*time.Second); err != nil {
		t.Fatalf("tcptrack live exited with %v: %s", err, live.errb.String())
	}
	time.Sleep(time.Until(listAfter.Add(500 * time.Millisecond))) // -L evicts expired entries: record their DESTROY
	kernelEvents.stop(t, syscall.SIGINT, 5*time.Second)
	holdW.Close()
	client.wait(t, 5*time.Second)
	server.kill()
	stderr := live.errb.String()
	t.Logf("tcptrack live stderr:\n%s", stderr)
	if !strings.Contains(stderr, "\n0 packets dropped by kernel\n") {
		t.Errorf("capture dropped packets: %s", stderr)
	}
	if msg := kernelEvents.errb.String(); strings.Contains(msg, "ENOBUFS") || strings.Contains(msg, "WARNING") {
		t.Fatalf("conntrack -E lost events: %s", msg)
	}

	ourOut, err := os.ReadFile(live.out)
	if err != nil {
		t.Fatal(err)
	}
	var ourEvents, ourList []ctLine
	for _, l := range parseCTText(t, "tcptrack", ourOut) {
		if l.event != "" {
			ourEvents = append(ourEvents, l)
		} else {
			ourList = append(ourList, l)
		}
	}
	kernList := parseCTText(t, "conntrack -L", kernelList)
	kernOut, _ := os.ReadFile(kernelEvents.out)
	kernEvents := parseCTText(t, "conntrack -E", kernOut)
	t.Logf("kernel: %d flows listed, %d events; tcptrack: %d flows, %d events",
		len(kernList), len(kernEvents), len(ourList), len(ourEvents))
	if len(kernList) < liveConns/10 || len(kernEvents) < liveConns {
		t.Errorf("too little traffic reached the router's conntrack: %d flows, %d events", len(kernList), len(kernEvents))
	}
	for _, want := range []string{"ESTABLISHED", "TIME_WAIT"} {
		if !hasState(kernList, want) {
			t.Errorf("no %s flow in the kernel's list: the traffic mix did not do what it should", want)
		}
	}
	if m := regexp.MustCompile(`flows created: +\d+ \(expired (\d+)`).FindStringSubmatch(stderr); m == nil || m[1] == "0" {
		t.Errorf("no flow expired on the wall clock during the test: %q", m)
	}
	listAt := float64(listBefore.Add(listAfter.Sub(listBefore)/2).UnixMicro()) / 1e6
	kl, ol := dropEdgeFlows(t, kernList, ourList)
	compareLists(t, kl, ol)
	table := map[string]ctLine{}
	for _, l := range ourList {
		table[l.orig] = l
	}
	compareEvents(t, &kernelcorpus.Meta{ListAt: listAt}, kernEvents, ourEvents, table)
	t.Logf("whole test %v", time.Since(start).Round(time.Millisecond))
}

func hasState(ls []ctLine, state string) bool {
	for _, l := range ls {
		if l.state == state {
			return true
		}
	}
	return false
}

// dropEdgeFlows removes flows listed on one side only whose timeout there
// was about to run out: the two lists are taken some milliseconds apart.
func dropEdgeFlows(t *testing.T, kernel, ours []ctLine) ([]ctLine, []ctLine) {
	t.Helper()
	in := func(ls []ctLine) map[string]bool {
		m := map[string]bool{}
		for _, l := range ls {
			m[l.orig] = true
		}
		return m
	}
	kin, oin := in(kernel), in(ours)
	keep := func(ls []ctLine, other map[string]bool, side string) []ctLine {
		var out []ctLine
		for _, l := range ls {
			if !other[l.orig] && l.timeout <= 1 {
				t.Logf("%s only, expiring at the edge: %v", side, l)
				continue
			}
			out = append(out, l)
		}
		return out
	}
	return keep(kernel, oin, "kernel"), keep(ours, kin, "tcptrack")
}

// checkLiveScreen: the header lines and connection rows are on screen.
func checkLiveScreen(t *testing.T, screen string) {
	t.Helper()
	lines := strings.Split(screen, "\n")
	bad := func(why string) {
		t.Errorf("view: %s; screen:\n%s", why, screen)
	}
	if len(lines) < 6 || !strings.HasPrefix(lines[0], "tcptrack live on any (in)") {
		bad("no title line")
		return
	}
	if !strings.HasPrefix(lines[1], "Flows: ") || !strings.Contains(lines[1], "ESTABLISHED") {
		bad("no flow totals by state")
	}
	if !strings.HasPrefix(lines[2], "Packets: ") || !strings.Contains(lines[2], "dropped by kernel") {
		bad("no packet and drop counters")
	}
	if !strings.HasPrefix(lines[4], "CLIENT") || !strings.Contains(lines[4], "CONNTRACK") {
		bad("no column header")
	}
	rows := 0
	for _, l := range lines[5:] {
		if strings.HasPrefix(l, liveClientV4+":") || strings.HasPrefix(l, liveClientV6) || strings.HasPrefix(l, "["+liveClientV6) {
			rows++
		}
	}
	if rows < 10 {
		bad(fmt.Sprintf("%d connection rows, want a screenful", rows))
	}
}

// TestLiveRole is not a test of its own: TestLiveNetns re-executes the
// test binary as the server or the client inside their namespaces.
func TestLiveRole(t *testing.T) {
	role := os.Getenv("TCPTRACK_LIVE_ROLE")
	if role == "" {
		t.Skip("helper process of TestLiveNetns")
	}
	var err error
	switch role {
	case "server":
		err = liveServer()
	case "client":
		n, _ := strconv.Atoi(os.Getenv("TCPTRACK_LIVE_CONNS"))
		seed, _ := strconv.ParseUint(os.Getenv("TCPTRACK_LIVE_SEED"), 10, 64)
		err = liveClient(n, seed)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", role, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Connection kinds of the mix; the client names the kind in the first
// byte it sends so that the server plays its part.
type liveKind byte

const (
	liveCloseClient liveKind = iota // request/response, client closes first
	liveCloseServer                 // server closes first
	liveRefused                     // SYN to a closed port: RST
	liveAbortClient                 // client resets after the exchange
	liveAbortServer                 // server resets after the exchange
	liveHalfClose                   // client shuts down writing, server answers, then closes
	liveIdle                        // exchange, then silence until after the lists
	numLiveKinds
)

var liveKindNames = [numLiveKinds]string{"close-client", "close-server", "refused", "abort-client", "abort-server", "half-close", "idle"}

const liveIOTimeout = 10 * time.Second

func liveServer() error {
	var lns []net.Listener
	for _, a := range []string{liveServerV4, liveServerV6} {
		lc := net.ListenConfig{KeepAlive: -1}
		ln, err := lc.Listen(context.Background(), "tcp", net.JoinHostPort(a, strconv.Itoa(livePort)))
		if err != nil {
			return err
		}
		lns = append(lns, ln)
	}
	for _, ln := range lns {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go liveServe(c.(*net.TCPConn))
			}
		}()
	}
	fmt.Println("ready")
	select {} // until killed
}

func liveServe(c *net.TCPConn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(liveIOTimeout))
	var hdr [5]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return
	}
	kind := liveKind(hdr[0])
	req, resp := int(hdr[1])<<8|int(hdr[2]), int(hdr[3])<<8|int(hdr[4])
	if kind == liveHalfClose {
		io.Copy(io.Discard, c) // the request, then the client's FIN
	} else if _, err := io.ReadFull(c, make([]byte, req)); err != nil {
		return
	}
	if _, err := c.Write(bytes.Repeat([]byte{'s'}, resp)); err != nil {
		return
	}
	switch kind {
	case liveCloseClient, liveAbortClient:
		io.Copy(io.Discard, c) // until the client's FIN or RST
	case liveAbortServer:
		c.SetLinger(0)
	case liveIdle:
		c.SetDeadline(time.Time{})
		io.Copy(io.Discard, c) // held until the client process ends
	}
}

func liveClient(n int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0x71c))
	type plan struct {
		kind      liveKind
		v6        bool
		delay     time.Duration
		req, resp int
	}
	weights := [numLiveKinds]int{30, 20, 8, 8, 8, 10, 16}
	total := 0
	for _, w := range weights {
		total += w
	}
	plans := make([]plan, n)
	for i := range plans {
		x, k := rng.IntN(total), liveKind(0)
		for x >= weights[k] {
			x -= weights[k]
			k++
		}
		plans[i] = plan{kind: k, v6: rng.IntN(4) == 0, delay: time.Duration(rng.IntN(3000)) * time.Millisecond,
			req: 10 + rng.IntN(2000), resp: 10 + rng.IntN(6000)}
	}
	var mu sync.Mutex
	var idle []*net.TCPConn
	var errs []error
	counts := map[string]int{}
	var wg sync.WaitGroup
	for _, p := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(p.delay)
			c, err := liveOne(p.kind, p.v6, p.req, p.resp)
			mu.Lock()
			defer mu.Unlock()
			counts[liveKindNames[p.kind]]++
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", liveKindNames[p.kind], err))
			}
			if c != nil {
				idle = append(idle, c)
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	fmt.Printf("done: %d connections %v\n", n, counts)
	// Idle connections stay open, silent, until the test closes stdin.
	io.Copy(io.Discard, os.Stdin)
	for _, c := range idle {
		c.Close()
	}
	return nil
}

// liveOne runs one connection of the mix; an idle one is returned open.
func liveOne(kind liveKind, v6 bool, req, resp int) (*net.TCPConn, error) {
	host := liveServerV4
	if v6 {
		host = liveServerV6
	}
	port := livePort
	if kind == liveRefused {
		port = liveClosedPort
	}
	d := net.Dialer{KeepAlive: -1, Timeout: liveIOTimeout}
	nc, err := d.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if kind == liveRefused {
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
			if nc != nil {
				nc.Close()
			}
			return nil, fmt.Errorf("want connection refused, got %v", err)
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c := nc.(*net.TCPConn)
	c.SetDeadline(time.Now().Add(liveIOTimeout))
	msg := append([]byte{byte(kind), byte(req >> 8), byte(req), byte(resp >> 8), byte(resp)}, bytes.Repeat([]byte{'c'}, req)...)
	if _, err := c.Write(msg); err != nil {
		c.Close()
		return nil, err
	}
	if kind == liveHalfClose {
		if err := c.CloseWrite(); err != nil {
			c.Close()
			return nil, err
		}
	}
	if kind == liveAbortServer {
		io.Copy(io.Discard, c) // the answer, then the RST
		c.Close()
		return nil, nil
	}
	if _, err := io.ReadFull(c, make([]byte, resp)); err != nil {
		c.Close()
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	switch kind {
	case liveCloseClient:
		return nil, c.Close()
	case liveCloseServer, liveHalfClose:
		if _, err := io.Copy(io.Discard, c); err != nil {
			c.Close()
			return nil, err
		}
		return nil, c.Close()
	case liveAbortClient:
		c.SetLinger(0)
		return nil, c.Close()
	}
	c.SetDeadline(time.Time{})
	return c, nil
}
