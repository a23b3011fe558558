package main

// Differential test of the endpoint view against the real hosts: each
// scenario of the kernel corpus holds, taken right after conntrack -L,
// `ss -tanoeH` and `netstat -tn` inside the client and the server
// namespace (tools/corpusgen). Replaying the capture up to the instant each
// table was taken must give every real endpoint's socket as its host has
// it: the state, and for TIME-WAIT, FIN-WAIT-2, SYN-SENT and SYN-RECV the
// timer left (±1 s). A state tcptrack marks unconfirmed, or "-", is allowed
// to differ (the wire did not decide it); each is counted and reported.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
	"github.com/tcptrack/tcptrack/internal/kernelcorpus"
	"github.com/tcptrack/tcptrack/output"
)

// ssSocket is one line of ss -tanoeH.
type ssSocket struct {
	state    string // tcptrack's name (ESTABLISHED, FIN_WAIT2, ...)
	local    netip.AddrPort
	remote   netip.AddrPort
	recvQ    int64
	sendQ    int64
	timer    string // "", "on", "timewait", "keepalive", "persist"
	left     time.Duration
	coarse   time.Duration // ss printed left cut to this step (whole seconds above 9 s)
	hasTimer bool
}

var ssStates = map[string]string{
	"ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECV", "FIN-WAIT-1": "FIN_WAIT1",
	"FIN-WAIT-2": "FIN_WAIT2", "TIME-WAIT": "TIME_WAIT", "CLOSE-WAIT": "CLOSE_WAIT", "LAST-ACK": "LAST_ACK",
	"CLOSING": "CLOSING", "UNCONN": "CLOSE", "LISTEN": "LISTEN",
}

var ssTimerRE = regexp.MustCompile(`timer:\(([a-z_]+),([0-9a-z.]*),(\d+)\)`)

// parseSSDuration reads iproute2's print_ms_timer format back: "1min3sec",
// "15sec", "1.500ms" (1.5 s), "120ms", "" (ran out).
func parseSSDuration(s string) (time.Duration, error) {
	var d time.Duration
	rest := s
	num := func() (int64, string) {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		n, _ := strconv.ParseInt(rest[:i], 10, 64)
		return n, rest[i:]
	}
	for rest != "" {
		n, r := num()
		switch {
		case strings.HasPrefix(r, "min"):
			d += time.Duration(n) * time.Minute
			rest = r[3:]
		case strings.HasPrefix(r, "sec"):
			d += time.Duration(n) * time.Second
			rest = r[3:]
		case strings.HasPrefix(r, "."):
			d += time.Duration(n) * time.Second
			rest = r[1:]
		case strings.HasPrefix(r, "ms"):
			d += time.Duration(n) * time.Millisecond
			rest = r[2:]
		default:
			return 0, fmt.Errorf("bad ss time %q", s)
		}
	}
	return d, nil
}

func parseSS(t *testing.T, path string) []ssSocket {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []ssSocket
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		st, ok := ssStates[f[0]]
		if !ok {
			t.Fatalf("%s: unknown ss state in %q", path, line)
		}
		s := ssSocket{state: st}
		s.recvQ, _ = strconv.ParseInt(f[1], 10, 64)
		s.sendQ, _ = strconv.ParseInt(f[2], 10, 64)
		if st == "LISTEN" {
			continue
		}
		if s.local, err = netip.ParseAddrPort(f[3]); err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
		if s.remote, err = netip.ParseAddrPort(f[4]); err != nil {
			t.Fatalf("%s: %q: %v", path, line, err)
		}
		if m := ssTimerRE.FindStringSubmatch(line); m != nil {
			s.timer, s.hasTimer = m[1], true
			if s.left, err = parseSSDuration(m[2]); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			// print_ms_timer drops the milliseconds from 10 s on and
			// the seconds from 10 min on: the true value lies in
			// [left, left+coarse).
			switch {
			case s.left >= 10*time.Minute:
				s.coarse = time.Minute
			case s.left >= 10*time.Second:
				s.coarse = time.Second
			}
		}
		out = append(out, s)
	}
	return out
}

// hostFlags are the --host-timeout settings of a host as recorded.
func hostFlags(t *testing.T, m *kernelcorpus.Meta, h kernelcorpus.HostSnapshot) []string {
	var kv []string
	keys := make([]string, 0, len(h.Sysctl))
	for k := range h.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := strings.TrimPrefix(k, "net.ipv4.tcp_")
		if name == "orphan_retries" {
			continue // not modelled: orphans that exhaust their retries are rare and unconfirmed
		}
		kv = append(kv, name+"="+h.Sysctl[k])
	}
	if m.KernelHZ > 0 {
		kv = append(kv, "hz="+strconv.Itoa(m.KernelHZ))
	}
	return []string{"--host-timeout", strings.Join(kv, ",")}
}

// ourSocket is one line of -o sockets.
type ourSocket struct {
	Host      string   `json:"host"`
	Local     string   `json:"local"`
	Remote    string   `json:"remote"`
	State     string   `json:"state"`
	Confirmed bool     `json:"confirmed"`
	Timer     *string  `json:"timer"`
	Left      *float64 `json:"timer_seconds"`
	Retrans   int      `json:"retrans"`
	SendQ     uint32   `json:"send_q"`
}

// ourSockets replays dir's capture up to at and returns the sockets of the
// host with one of addrs, by "local remote".
func ourSockets(t *testing.T, dir string, m *kernelcorpus.Meta, h kernelcorpus.HostSnapshot, at float64) map[string]ourSocket {
	args := []string{"read", "-o", "sockets", "--now", strconv.FormatFloat(at, 'f', 6, 64)}
	args = append(args, hostFlags(t, m, h)...)
	args = append(args, filepath.Join(dir, kernelcorpus.CaptureFile))
	out := runTool(t, args...)
	mine := map[string]bool{}
	for _, a := range h.Addrs {
		mine[netip.MustParseAddr(a).String()] = true
	}
	socks := map[string]ourSocket{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var s ourSocket
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("-o sockets: %v in %q", err, sc.Text())
		}
		if mine[s.Host] {
			socks[s.Local+" "+s.Remote] = s
		}
	}
	return socks
}

// edgeState reports whether tcptrack gives endpoint k the state ss showed at
// one end of the ss call, ss_before or ss_after (edges caches those two
// replays): ss reads each socket at some instant in between.
func edgeState(t *testing.T, dir string, m *kernelcorpus.Meta, host string, h kernelcorpus.HostSnapshot, k, ssState string, edges *[2]map[string]ourSocket) bool {
	t.Helper()
	for i, at := range []float64{h.SocketsBefore, h.SocketsAfter} {
		if edges[i] == nil {
			edges[i] = ourSockets(t, dir, m, h, at)
		}
		if o, ok := edges[i][k]; ok && o.Confirmed && o.State == ssState {
			t.Logf("%s %s: ss %s, tcptrack's at the %s of the ss call", host, k, ssState, [...]string{"start", "end"}[i])
			return true
		}
	}
	return false
}

// crafted reports whether an endpoint is one of the scenario's crafted ones.
func crafted(m *kernelcorpus.Meta, ap netip.AddrPort) bool {
	for _, c := range m.Crafted {
		if c == ap.Addr().String() || c == ap.String() {
			return true
		}
	}
	return false
}

// hiddenEnds returns the endpoints (ADDR:PORT) whose last segment before
// at was dropped on its way to the router (kernelcorpus.DroppedFile): what
// that segment did (a RST is never sent again) no observer there can know.
func hiddenEnds(t *testing.T, dir string, at float64) map[string]bool {
	data, err := os.ReadFile(filepath.Join(dir, kernelcorpus.DroppedFile))
	if err != nil {
		return nil // not an impaired scenario
	}
	lastDrop := map[string]float64{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		ts, _ := strconv.ParseFloat(f[0], 64)
		if ts > at {
			continue
		}
		port, _ := strconv.Atoi(f[2])
		k := netip.AddrPortFrom(netip.MustParseAddr(f[1]), uint16(port)).String()
		lastDrop[k] = math.Max(lastDrop[k], ts)
	}
	// When each endpoint last sent, by the capture: a copy stamped older
	// than one it sent before is a segment the impairing bridge delayed,
	// sent earlier than it arrived (possibly before the drop), and does
	// not count.
	lastSeen := map[string]float64{}
	tsMax := map[string]uint32{}
	dec := assemble.NewDecoder(assemble.DecoderConfig{})
	var pkt flowtable.Packet
	recs := readAllRecords(t, filepath.Join(dir, kernelcorpus.CaptureFile))
	for i := range recs {
		if dec.Decode(&recs[i], &pkt) != assemble.TCP {
			continue
		}
		ts := float64(pkt.TS) / 1e9
		if ts > at {
			continue
		}
		k := netip.AddrPortFrom(pkt.Src.Unmap(), pkt.TCP.SrcPort).String()
		if pkt.TCP.HasTS {
			if m, ok := tsMax[k]; ok && int32(pkt.TCP.TSVal-m) < 0 {
				continue
			}
			tsMax[k] = pkt.TCP.TSVal
		}
		lastSeen[k] = math.Max(lastSeen[k], ts)
	}
	hidden := map[string]bool{}
	for k, d := range lastDrop {
		if d > lastSeen[k] {
			hidden[k] = true
		}
	}
	return hidden
}

// gotRST returns the endpoints (ADDR:PORT) sent a RST before at: a socket
// ended that way never says it got it.
func gotRST(t *testing.T, dir string, at float64) map[string]bool {
	got := map[string]bool{}
	dec := assemble.NewDecoder(assemble.DecoderConfig{})
	var pkt flowtable.Packet
	recs := readAllRecords(t, filepath.Join(dir, kernelcorpus.CaptureFile))
	for i := range recs {
		if dec.Decode(&recs[i], &pkt) != assemble.TCP || float64(pkt.TS)/1e9 > at {
			continue
		}
		if pkt.TCP.Flags&fsm.RST != 0 {
			got[netip.AddrPortFrom(pkt.Dst.Unmap(), pkt.TCP.DstPort).String()] = true
		}
	}
	return got
}

// socketTally counts endpoints by how they compared.
type socketTally struct {
	endpoints, match, unknown, unconfirmed, unconfirmedWrong, timers, hidden int
	unconfirmedRST                                                           int // unconfirmed GONE after a RST
}

func (s *socketTally) add(o socketTally) {
	s.endpoints += o.endpoints
	s.match += o.match
	s.unknown += o.unknown
	s.unconfirmed += o.unconfirmed
	s.unconfirmedWrong += o.unconfirmedWrong
	s.timers += o.timers
	s.hidden += o.hidden
	s.unconfirmedRST += o.unconfirmedRST
}

func (s socketTally) String() string {
	pct := func(n int) float64 {
		if s.endpoints == 0 {
			return 0
		}
		return 100 * float64(n) / float64(s.endpoints)
	}
	return fmt.Sprintf("%d endpoints: %d equal to ss (%.1f%%; %d timers within 1 s), %d unknown \"-\" (%.1f%%), %d unconfirmed (%.1f%%; %d of them differ from ss; "+
		"%d GONE after a RST, which nothing can confirm, the other %d = %.1f%%), %d hidden by a drop before the capture point",
		s.endpoints, s.match, pct(s.match), s.timers, s.unknown, pct(s.unknown), s.unconfirmed, pct(s.unconfirmed), s.unconfirmedWrong,
		s.unconfirmedRST, s.unconfirmed-s.unconfirmedRST, pct(s.unconfirmed-s.unconfirmedRST), s.hidden)
}

// timedStates are those whose timer the test compares.
var timedStates = map[string]bool{"TIME_WAIT": true, "FIN_WAIT2": true, "SYN_SENT": true, "SYN_RECV": true}

// TestKernelSockets: every real endpoint equals its host's ss.
func TestKernelSockets(t *testing.T) {
	var total, random socketTally
	for _, dir := range corpusDirs(t) {
		var tally socketTally
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m := loadMeta(t, dir)
			if len(m.HostSockets) == 0 {
				t.Fatalf("no socket tables in meta.json (regenerate the corpus: make corpus)")
			}
			for _, host := range kernelcorpus.Hosts {
				h, ok := m.HostSockets[host]
				if !ok {
					t.Fatalf("meta.json: no host %q", host)
				}
				tally.add(compareSockets(t, dir, m, host, h))
			}
		})
		total.add(tally)
		if filepath.Base(dir) == "random" {
			random.add(tally)
		}
	}
	t.Logf("all scenarios: %v", total)
	t.Logf("random: %v", random)
}

func compareSockets(t *testing.T, dir string, m *kernelcorpus.Meta, host string, h kernelcorpus.HostSnapshot) socketTally {
	t.Helper()
	var n socketTally
	ours := ourSockets(t, dir, m, h, h.SocketsAt)
	var edges [2]map[string]ourSocket // ours at ss_before and ss_after, when needed
	hidden := hiddenEnds(t, dir, h.SocketsAt)
	rst := gotRST(t, dir, h.SocketsAt)
	theirs := map[string]ssSocket{}
	for _, s := range parseSS(t, filepath.Join(dir, kernelcorpus.SocketsFile(host))) {
		if crafted(m, s.local) {
			continue
		}
		theirs[s.local.String()+" "+s.remote.String()] = s
	}
	keys := map[string]bool{}
	for k := range ours {
		keys[k] = true
	}
	for k := range theirs {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		o, haveOurs := ours[k]
		s, haveSS := theirs[k]
		if haveOurs {
			if ap, err := netip.ParseAddrPort(o.Local); err == nil && crafted(m, ap) {
				continue
			}
		}
		n.endpoints++
		ssState := "GONE"
		if haveSS {
			ssState = s.state
		}
		ourState := "(none)"
		if haveOurs {
			ourState = o.State
		}
		desc := fmt.Sprintf("%s %s: ss %s", host, k, ssLine(s, haveSS))
		switch {
		case !haveOurs:
			t.Errorf("%s; tcptrack has no such socket", desc)
			continue
		case o.State == "-":
			n.unknown++
			continue
		}
		same := ourState == ssState
		timerOK := true
		if same && timedStates[ssState] {
			switch {
			case (o.Timer != nil) != s.hasTimer:
				timerOK = false
			case o.Timer != nil:
				// Within 1 s of the true value, which ss shows cut down.
				lo, hi := s.left.Seconds(), (s.left + s.coarse).Seconds()
				timerOK = *o.Left >= lo-1 && *o.Left <= hi+1 && (s.coarse == 0 || *o.Left <= hi+1)
				if s.coarse == 0 {
					timerOK = math.Abs(*o.Left-lo) <= 1
				}
			}
		}
		ok := same && timerOK
		if !ok && o.Confirmed && !same && edgeState(t, dir, m, host, h, k, ssState, &edges) {
			// The socket changed state (a timer ran out) while ss ran,
			// and ss read it on the other side of that instant.
			ok = true
		}
		switch {
		case !o.Confirmed:
			n.unconfirmed++
			if o.State == "GONE" && rst[o.Local] {
				n.unconfirmedRST++
			}
			if !ok {
				n.unconfirmedWrong++
				t.Logf("%s; tcptrack %s (unconfirmed)", desc, ourLine(o))
			}
		case !ok && hidden[o.Local]:
			n.hidden++
			t.Logf("%s; tcptrack %s (its last segment was dropped before the capture point)", desc, ourLine(o))
		case !ok:
			t.Errorf("%s; tcptrack %s", desc, ourLine(o))
		default:
			n.match++
			if timedStates[ssState] && s.hasTimer {
				n.timers++
			}
		}
	}
	return n
}

func ssLine(s ssSocket, ok bool) string {
	if !ok {
		return "has none"
	}
	if s.hasTimer {
		return fmt.Sprintf("%s timer %s %.3fs", s.state, s.timer, s.left.Seconds())
	}
	return s.state
}

func ourLine(o ourSocket) string {
	if o.Timer != nil {
		return fmt.Sprintf("%s timer %s %.3fs", o.State, *o.Timer, *o.Left)
	}
	return o.State
}

// netstatLine is one line of netstat -tn.
type netstatLine struct {
	proto, local, remote, state string
	recvQ, sendQ                int64
}

func parseNetstat(t *testing.T, name string, data []byte) []netstatLine {
	t.Helper()
	var out []netstatLine
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || (f[0] != "tcp" && f[0] != "tcp6") {
			continue
		}
		l := netstatLine{proto: f[0], local: f[3], remote: f[4], state: f[5]}
		var err1, err2 error
		l.recvQ, err1 = strconv.ParseInt(f[1], 10, 64)
		l.sendQ, err2 = strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: bad queue sizes in %q", name, line)
		}
		out = append(out, l)
	}
	return out
}

// TestKernelNetstat: -o netstat --host prints the host's netstat -tn, line
// for line: protocol, addresses and state exactly; Recv-Q and Send-Q are
// lower bounds (what the application has not read, or has written but the
// wire has not carried, is invisible). Lines of unconfirmed or unknown
// sockets may differ; lines are compared as sets (netstat's order is the
// kernel's hash order, keyed by a secret drawn at boot).
func TestKernelNetstat(t *testing.T) {
	lines, exact := 0, 0
	for _, dir := range corpusDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m := loadMeta(t, dir)
			if len(m.HostSockets) == 0 {
				t.Fatalf("no socket tables in meta.json (regenerate the corpus: make corpus)")
			}
			for _, host := range kernelcorpus.Hosts {
				h := m.HostSockets[host]
				path := filepath.Join(dir, kernelcorpus.NetstatFile(host))
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				want := parseNetstat(t, path, data)
				var edges [3]map[string]ourSocket // ours at netstat_at, _before, _after
				edges[0] = ourSockets(t, dir, m, h, h.NetstatAt)
				hidden := hiddenEnds(t, dir, h.NetstatAt)
				var got []netstatLine
				for _, a := range h.Addrs {
					args := []string{"read", "-o", "netstat", "--host", a, "--now", strconv.FormatFloat(h.NetstatAt, 'f', 6, 64)}
					args = append(args, hostFlags(t, m, h)...)
					args = append(args, filepath.Join(dir, kernelcorpus.CaptureFile))
					out := runTool(t, args...)
					if !bytes.HasPrefix(out, []byte("Active Internet connections (w/o servers)\nProto Recv-Q Send-Q Local Address           Foreign Address         State      \n")) {
						t.Errorf("-o netstat --host %s: not netstat's header:\n%s", a, out)
					}
					got = append(got, parseNetstat(t, "tcptrack", out)...)
				}
				key := func(l netstatLine) string { return l.proto + " " + l.local + " " + l.remote }
				ours := map[string]netstatLine{}
				for _, l := range got {
					ours[key(l)] = l
				}
				sureOf := func(l netstatLine) bool {
					if ap, err := netip.ParseAddrPort(ssAddr(l.local)); err == nil && hidden[ap.String()] {
						return false // its last segment never reached the capture point
					}
					// The socket behind the line: confirmed and known, and
					// in the same state all through the netstat call (which
					// reads each socket at some instant of it)?
					sure := true
					for i, at := range []float64{h.NetstatAt, h.NetstatBefore, h.NetstatAfter} {
						if edges[i] == nil {
							edges[i] = ourSockets(t, dir, m, h, at)
						}
						for _, s := range edges[i] {
							if netstatEndpointString(s.Local) == l.local && netstatEndpointString(s.Remote) == l.remote {
								if i == 0 {
									sure = s.Confirmed && s.State != "-"
								} else if s.State != edges[0][s.Local+" "+s.Remote].State {
									sure = false
								}
							}
						}
					}
					return sure
				}
				for _, w := range want {
					if ap, err := netip.ParseAddrPort(ssAddr(w.local)); err == nil && crafted(m, ap) {
						delete(ours, key(w))
						continue
					}
					lines++
					g, ok := ours[key(w)]
					delete(ours, key(w))
					switch {
					case !ok:
						if sureOf(w) {
							t.Errorf("%s: netstat has, tcptrack lacks: %+v", host, w)
						}
					case g.state != w.state || g.recvQ > w.recvQ || g.sendQ > w.sendQ:
						if sureOf(g) {
							t.Errorf("%s: netstat %+v, tcptrack %+v", host, w, g)
						}
					default:
						if g.recvQ == w.recvQ && g.sendQ == w.sendQ {
							exact++
						} else {
							t.Logf("%s: queues: netstat %+v, tcptrack %+v", host, w, g)
						}
					}
				}
				for _, g := range ours {
					if ap, err := netip.ParseAddrPort(ssAddr(g.local)); err == nil && crafted(m, ap) {
						continue
					}
					if sureOf(g) {
						t.Errorf("%s: tcptrack has, netstat lacks: %+v", host, g)
					}
				}
			}
		})
	}
	t.Logf("%d netstat lines compared, %d with Recv-Q and Send-Q equal too", lines, exact)
}

// netstatEndpointString is an -o sockets endpoint as netstat prints it.
func netstatEndpointString(s string) string {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return s
	}
	return output.NetstatEndpoint(ap)
}

// ssAddr turns netstat's ADDR:PORT (IPv6 without brackets) into a form
// netip parses.
func ssAddr(s string) string {
	i := strings.LastIndexByte(s, ':')
	if i < 0 || strings.Count(s, ":") == 1 {
		return s
	}
	return "[" + s[:i] + "]" + s[i:]
}
