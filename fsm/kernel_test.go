//go:build linux && amd64

package fsm

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/kmsg"
)

var kernelCheck = flag.Bool("kernel", false, "replay the scenarios through a live router namespace (root; creates and removes network namespaces)")

// TestKernel replays every scenario through the running
// kernel: a router namespace forwards crafted packets between two
// namespaces that silently drop them, and after each step the router's
// entry (state, remaining timer, [UNREPLIED]/[ASSURED], per-direction
// packet counters, or its absence) must match the model. Steps are 1.2 s
// apart so that a missing or extra timer refresh shows. Invalid and Ignore
// both leave the entry alone; the lines the router's conntrack logs for
// each packet (nf_conntrack_log_invalid) must be the model's reasons, word
// for word.
func TestKernel(t *testing.T) {
	if !*kernelCheck {
		t.Skip("needs -kernel")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	k := newKernelRig(t)
	defer k.close()

	var all []scenario
	all = append(all, scenarios...)
	all = append(all, hostScenarios...)
	all = append(all, probeScenarios()...)
	// Default-config scenarios run together; each other configuration
	// runs alone, as the router's sysctls are per namespace.
	groups := map[string][]int{}
	var order []string
	for i, sc := range all {
		key := strings.Join(sysctlsFor(sc.cfg), " ")
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], i)
	}
	for _, key := range order {
		k.sysctl(t, sysctlsFor(nil))
		k.sysctl(t, strings.Fields(key))
		var wg sync.WaitGroup
		var mu sync.Mutex
		var report []string
		for _, i := range groups[key] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r := k.replay(t, all[i], uint16(20000+i), uint16(30000+i)); r != "" {
					mu.Lock()
					report = append(report, r)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		for _, r := range report {
			t.Errorf("[%s] %s", key, r)
		}
	}
	// A test that saw no line at all would prove nothing about them.
	t.Logf("%d conntrack log lines, each the model's reason for its packet", k.logSeen)
	if k.logSeen == 0 {
		t.Error("the router's conntrack logged nothing: nf_conntrack_log_invalid did not work")
	}
}

// sysctlsFor gives the router settings matching a scenario's Config tweak.
func sysctlsFor(tweak func(*Config)) []string {
	cfg := DefaultConfig()
	if tweak != nil {
		tweak(&cfg)
	}
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	return []string{
		"net.netfilter.nf_conntrack_tcp_loose=" + b(cfg.Loose),
		"net.netfilter.nf_conntrack_tcp_be_liberal=" + b(cfg.Liberal),
		"net.netfilter.nf_conntrack_tcp_ignore_invalid_rst=" + b(cfg.IgnoreInvalidRST),
		"net.netfilter.nf_conntrack_tcp_max_retrans=" + strconv.Itoa(int(cfg.MaxRetrans)),
	}
}

func (k *kernelRig) sysctl(t *testing.T, settings []string) {
	args := append([]string{"netns", "exec", k.prefix + "r", "sysctl", "-qw"}, settings...)
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("sysctl %v: %v\n%s", settings, err, out)
	}
}

// sysSetns is setns(2) on amd64; package syscall does not name it.
const sysSetns = 308

const (
	kernA = "10.99.1.1"
	kernB = "10.99.2.1"
)

type kernelRig struct {
	prefix   string
	fdA, fdB int
	sleeper  *exec.Cmd
	procPath string

	// The router's conntrack log: lines read so far, by port pair.
	restoreLog func() error
	kmsg       *kmsg.Reader
	macs       [2]string // the router's interfaces: only their lines count
	logMu      sync.Mutex
	logs       map[[2]uint16][]string
	logSeen    int // lines handed out
}

func newKernelRig(t *testing.T) *kernelRig {
	k := &kernelRig{prefix: fmt.Sprintf("fsmk%d-", os.Getpid())}
	sh := func(args ...string) {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			k.close()
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	in := func(n string, args ...string) { sh(append([]string{"ip", "netns", "exec", k.prefix + n}, args...)...) }
	for _, n := range []string{"a", "r", "b"} {
		sh("ip", "netns", "add", k.prefix+n)
	}
	sh("ip", "link", "add", "ra", "netns", k.prefix+"r", "type", "veth", "peer", "name", "ar", "netns", k.prefix+"a")
	sh("ip", "link", "add", "rb", "netns", k.prefix+"r", "type", "veth", "peer", "name", "br", "netns", k.prefix+"b")
	in("r", "ip", "addr", "add", "10.99.1.254/24", "dev", "ra")
	in("r", "ip", "addr", "add", "10.99.2.254/24", "dev", "rb")
	in("a", "ip", "addr", "add", "10.99.1.2/24", "dev", "ar")
	in("b", "ip", "addr", "add", "10.99.2.2/24", "dev", "br")
	for _, x := range [][2]string{{"r", "ra"}, {"r", "rb"}, {"a", "ar"}, {"b", "br"}} {
		in(x[0], "ip", "link", "set", "dev", x[1], "mtu", "65535", "up") // room for unfragmented big segments
	}
	in("a", "ip", "route", "add", "default", "via", "10.99.1.254")
	in("b", "ip", "route", "add", "default", "via", "10.99.2.254")
	in("r", "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.netfilter.nf_conntrack_acct=1")
	mac := func(n, dev string) string {
		out, _ := exec.Command("ip", "netns", "exec", k.prefix+n, "cat", "/sys/class/net/"+dev+"/address").Output()
		return strings.TrimSpace(string(out))
	}
	// The injected addresses belong to nobody: a and b drop what reaches them.
	in("r", "ip", "neigh", "add", kernA, "lladdr", mac("a", "ar"), "dev", "ra", "nud", "permanent")
	in("r", "ip", "neigh", "add", kernB, "lladdr", mac("b", "br"), "dev", "rb", "nud", "permanent")
	// Any ct expression makes the namespace register conntrack's hooks.
	in("r", "nft", "add table inet fsmk; add chain inet fsmk c { type filter hook forward priority 0; }; add rule inet fsmk c ct state new counter")
	// Log every packet conntrack finds invalid or ignores (the kernel
	// writes a netns's lines only with nf_log_all_netns=1 in the initial
	// namespace, set for the test's duration).
	in("r", "sysctl", "-qw", "net.netfilter.nf_conntrack_log_invalid=6", "net.netfilter.nf_log.2=nf_log_ipv4")
	k.macs = [2]string{mac("r", "ra"), mac("r", "rb")}
	var lerr error
	if k.restoreLog, lerr = kmsg.EnableAllNetns(); lerr == nil {
		k.kmsg, lerr = kmsg.Open()
	}
	if lerr != nil {
		k.close()
		t.Fatal(lerr)
	}
	k.logs = map[[2]uint16][]string{}
	k.sleeper = exec.Command("ip", "netns", "exec", k.prefix+"r", "sleep", "3600")
	if err := k.sleeper.Start(); err != nil {
		k.close()
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	k.procPath = fmt.Sprintf("/proc/%d/net/nf_conntrack", k.sleeper.Process.Pid)
	var err error
	if k.fdA, err = rawSocketIn("/run/netns/" + k.prefix + "a"); err == nil {
		k.fdB, err = rawSocketIn("/run/netns/" + k.prefix + "b")
	}
	if err != nil {
		k.close()
		t.Fatal(err)
	}
	return k
}

func (k *kernelRig) close() {
	if k.kmsg != nil {
		k.kmsg.Close()
	}
	if k.restoreLog != nil {
		if err := k.restoreLog(); err != nil {
			fmt.Fprintln(os.Stderr, "fsm kernel test:", err)
		}
	}
	if k.sleeper != nil && k.sleeper.Process != nil {
		k.sleeper.Process.Kill()
		k.sleeper.Wait()
	}
	for _, n := range []string{"a", "r", "b"} {
		exec.Command("ip", "netns", "del", k.prefix+n).Run()
	}
}

// rawSocketIn opens an IPPROTO_RAW socket inside the named network
// namespace; the socket keeps working from any thread afterwards.
func rawSocketIn(nsPath string) (int, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return -1, err
	}
	defer self.Close()
	target, err := os.Open(nsPath)
	if err != nil {
		return -1, err
	}
	defer target.Close()
	if _, _, e := syscall.RawSyscall(sysSetns, target.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
		return -1, e
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
	if _, _, e := syscall.RawSyscall(sysSetns, self.Fd(), syscall.CLONE_NEWNET, 0); e != 0 {
		panic("cannot return to the original network namespace: " + e.Error())
	}
	return fd, err
}

// kernelEntry is one /proc/net/nf_conntrack line, seen from A/B.
type kernelEntry struct {
	state     string
	timeout   int
	unreplied bool
	assured   bool
	pkts      [2]int // sent by A, by B
}

func (k *kernelRig) lookup(portA, portB uint16) (kernelEntry, bool, error) {
	f, err := os.Open(k.procPath)
	if err != nil {
		return kernelEntry{}, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		i := 0
		for i < len(fs) && fs[i] != "tcp" {
			i++
		}
		if i+3 >= len(fs) {
			continue
		}
		var e kernelEntry
		var src string
		var ports, pk []int
		e.timeout, _ = strconv.Atoi(fs[i+2])
		e.state = fs[i+3]
		for _, x := range fs[i+4:] {
			k, v, _ := strings.Cut(x, "=")
			n, _ := strconv.Atoi(v)
			switch k {
			case "src":
				if src == "" {
					src = v
				}
			case "sport", "dport":
				ports = append(ports, n)
			case "packets":
				pk = append(pk, n)
			}
			e.unreplied = e.unreplied || x == "[UNREPLIED]"
			e.assured = e.assured || x == "[ASSURED]"
		}
		if len(ports) < 2 || len(pk) < 2 {
			continue
		}
		origA := src == kernA
		pa, pb := ports[0], ports[1]
		if !origA {
			pa, pb = pb, pa
			pk[0], pk[1] = pk[1], pk[0]
		}
		if uint16(pa) == portA && uint16(pb) == portB {
			e.pkts = [2]int{pk[0], pk[1]}
			return e, true, nil
		}
	}
	return kernelEntry{}, false, sc.Err()
}

// logLines hands over the conntrack log lines of the flow between
// 10.99.1.1:portA and 10.99.2.1:portB logged since the last call, as
// "REASON" each (the packet part is the injector's own).
func (k *kernelRig) logLines(portA, portB uint16) ([]string, error) {
	k.logMu.Lock()
	defer k.logMu.Unlock()
	err := k.kmsg.Drain(func(msg string) {
		e, ok := kmsg.Parse(msg)
		if !ok || !e.HasMAC(k.macs[0]) && !e.HasMAC(k.macs[1]) {
			return
		}
		sp, _ := strconv.Atoi(e.Field("SPT"))
		dp, _ := strconv.Atoi(e.Field("DPT"))
		key := [2]uint16{uint16(sp), uint16(dp)}
		if e.Field("SRC") != kernA {
			key = [2]uint16{uint16(dp), uint16(sp)}
		}
		k.logs[key] = append(k.logs[key], e.Reason)
	})
	if k.kmsg.Lost > 0 {
		err = fmt.Errorf("the kernel log overran: %d records lost", k.kmsg.Lost)
	}
	key := [2]uint16{portA, portB}
	lines := k.logs[key]
	delete(k.logs, key)
	k.logSeen += len(lines)
	return lines, err
}

// replay runs one scenario against model and kernel; it returns a report
// of the steps when any disagreed, else "".
func (k *kernelRig) replay(t *testing.T, sc scenario, portA, portB uint16) string {
	cfg := DefaultConfig()
	if sc.cfg != nil {
		sc.cfg(&cfg)
	}
	r := runner{cfg: &cfg}
	var expiry time.Time
	var count [2]int
	var lines []string
	bad := false
	for i, line := range sc.steps {
		st := parseStep(t, line)
		time.Sleep(1200 * time.Millisecond)
		pkt, dst := kernelPacket(&st.seg, st.dirA, portA, portB)
		fd := k.fdA
		if !st.dirA {
			fd = k.fdB
		}
		sent := time.Now()
		model := r.step(t, st)
		problem := ""
		if err := syscall.Sendto(fd, pkt, 0, &syscall.SockaddrInet4{Addr: dst}); err != nil {
			problem = " send: " + err.Error()
		}
		time.Sleep(100 * time.Millisecond)
		read := time.Now()
		e, ok, err := k.lookup(portA, portB)
		if err != nil {
			problem += " read: " + err.Error()
		}

		side := 0
		if !st.dirA {
			side = 1
		}
		if strings.HasPrefix(model.verdict, "reopen") {
			count, expiry = [2]int{}, time.Time{}
		}
		if n, err := strconv.Atoi(model.timeout); err == nil {
			count[side]++
			expiry = sent.Add(time.Duration(n) * time.Second)
		}
		wantLog := model.logged
		if n, ok := strings.CutPrefix(model.timeout, "shrink"); ok {
			to, _ := strconv.Atoi(n)
			res := Result{Verdict: Invalid, Shrink: true, Timeout: time.Duration(to) * time.Second}
			next := time.Unix(0, res.NextExpiry(sent.UnixNano(), expiry.UnixNano()))
			if !next.Equal(expiry) {
				// The kernel says so when it shortens the timer.
				wantLog = append(append([]string(nil), wantLog...), model.shrink)
			}
			expiry = next
		}
		gotLog, err := k.logLines(portA, portB)
		if err != nil {
			problem += " log: " + err.Error()
		}
		if strings.Join(gotLog, "; ") != strings.Join(wantLog, "; ") {
			problem += fmt.Sprintf(" log %q (want %q)", gotLog, wantLog)
		}
		gone := model.verdict == "nostart" || model.verdict == "kill" || !r.live
		got := "(no entry)"
		if ok {
			got = fmt.Sprintf("%s %d A%d/B%d", e.state, e.timeout, e.pkts[0], e.pkts[1])
			if e.unreplied {
				got += " [UNREPLIED]"
			}
			if e.assured {
				got += " [ASSURED]"
			}
		}
		switch {
		case gone && ok:
			problem += " entry exists"
		case gone:
		case !ok:
			problem += " no entry"
		default:
			if e.state != model.state {
				problem += " state"
			}
			if e.unreplied != (model.status == "-") || e.assured != (model.status == "RA") {
				problem += " flags"
			}
			if e.pkts != count {
				problem += fmt.Sprintf(" counters (want A%d/B%d)", count[0], count[1])
			}
			if !expiry.IsZero() {
				// /proc shows whole seconds, rounded down.
				d := read.Add(time.Duration(e.timeout)*time.Second + 500*time.Millisecond).Sub(expiry)
				if d > 700*time.Millisecond || d < -700*time.Millisecond {
					problem += fmt.Sprintf(" timer off by %.1fs", d.Seconds())
				}
			}
		}
		if gone {
			count, expiry = [2]int{}, time.Time{}
		}
		mark := "  "
		if problem != "" {
			mark, bad = "!!", true
		}
		lhs, _, _ := strings.Cut(line, "|")
		lines = append(lines, fmt.Sprintf("%s %2d %-36s| model %s %s %s %s | kernel %s%s",
			mark, i+1, strings.TrimSpace(lhs), model.verdict, model.state, model.timeout, model.status, got, problem))
	}
	if !bad {
		return ""
	}
	return sc.name + "\n" + strings.Join(lines, "\n")
}

// kernelPacket builds an IPv4 datagram for seg, with a correct TCP checksum
// (conntrack verifies it at PRE_ROUTING by default).
func kernelPacket(seg *Segment, fromA bool, portA, portB uint16) ([]byte, [4]byte) {
	src, dst := [4]byte{10, 99, 1, 1}, [4]byte{10, 99, 2, 1}
	sport, dport := portA, portB
	if !fromA {
		src, dst, sport, dport = dst, src, dport, sport
	}
	var opt []byte
	if seg.MSS != 0 {
		opt = binary.BigEndian.AppendUint16(append(opt, 2, 4), seg.MSS)
	}
	if seg.SackPerm {
		opt = append(opt, 4, 2)
	}
	if seg.HasTS {
		opt = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(append(opt, 8, 10), seg.TSVal), seg.TSEcr)
	}
	if seg.HasWScale {
		opt = append(opt, 3, 3, seg.WScale)
	}
	if seg.HasSack {
		opt = binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(append(opt, 5, 10), seg.SackRight-1), seg.SackRight)
	}
	for len(opt)%4 != 0 {
		opt = append(opt, 1)
	}
	hl := 20 + len(opt)
	tcp := make([]byte, hl+int(seg.PayloadLen))
	binary.BigEndian.PutUint16(tcp[0:], sport)
	binary.BigEndian.PutUint16(tcp[2:], dport)
	binary.BigEndian.PutUint32(tcp[4:], seg.Seq)
	binary.BigEndian.PutUint32(tcp[8:], seg.Ack)
	tcp[12] = byte(hl/4) << 4
	tcp[13] = byte(seg.Flags) // Flags uses the header's bit layout
	binary.BigEndian.PutUint16(tcp[14:], seg.Window)
	copy(tcp[20:], opt)
	pseudo := uint32(6 + len(tcp))
	for i := 0; i < 4; i += 2 {
		pseudo += uint32(binary.BigEndian.Uint16(src[i:])) + uint32(binary.BigEndian.Uint16(dst[i:]))
	}
	binary.BigEndian.PutUint16(tcp[16:], inetChecksum(tcp, pseudo))
	ip := make([]byte, 20, 20+len(tcp))
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(tcp)))
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF
	ip[8], ip[9] = 64, 6
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	binary.BigEndian.PutUint16(ip[10:], inetChecksum(ip, 0))
	return append(ip, tcp...), dst
}

func inetChecksum(b []byte, sum uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
