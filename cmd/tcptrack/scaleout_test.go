package main

// The scale-out paths on real traffic (root, namespaces): on the live
// test's client — router — server topology, three tcptrack live processes
// share the router's capture through an AF_PACKET fanout group, each
// exporting IPFIX to nfdump's nfcapd and serving metrics that a real
// Prometheus server scrapes. Judges:
//   - fanout: the union of the three final tables equals the router's own
//     conntrack -L, and no connection shows up in two members;
//   - IPFIX: nfdump reads back every connection with the members' --acct
//     counters per direction (ended flows and active-timeout reports
//     included);
//   - metrics: Prometheus' per-state flow counts equal each member's final
//     table, every target is up, and promtool check metrics passes.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const scaleMembers = 3

func TestScaleOutNetns(t *testing.T) {
	if testing.Short() {
		t.Skip("network namespaces and real traffic: not in -short")
	}
	requireRoot(t, "ip", "nft", "conntrack", "nfcapd", "nfdump", "prometheus", "promtool", "curl")
	start := time.Now()
	bin := buildTcptrack(t)
	tp := newLiveTopo(t)
	dir := t.TempDir()

	col := startNfcapd(t, tp.router.cmd)

	// The members: one fanout group, each its own IPFIX observation domain
	// and metrics port.
	var members []*bgProc
	var targets []string
	for i := range scaleMembers {
		maddr := fmt.Sprintf("127.0.0.1:%d", 9470+i)
		targets = append(targets, maddr)
		args := append([]string{bin, "live", "-i", "any", "-Q", "in", "--once", "-e", "-o", "conntrack", "--extended", "--acct",
			"--shards", "1", "--fanout", "4242", "--ipfix", col.addr, "--ipfix-domain", strconv.Itoa(i + 1),
			"--ipfix-active", "2s", "--metrics", maddr}, liveTimeoutFlags()...)
		// Not the loopback: Prometheus, nfcapd and the queries talk there.
		m := startBG(t, dir, fmt.Sprintf("member%d", i), tp.router.cmd(append(args, "tcp and not net 127.0.0.0/8")...))
		m.waitFor(t, false, "metrics at http://", 10*time.Second)
		members = append(members, m)
	}

	prom := startPrometheus(t, tp.router, targets)

	server := startBG(t, dir, "server", roleCmd(tp.server, "server"))
	server.waitFor(t, true, "ready", 10*time.Second)
	ccmd := roleCmd(tp.client, "client", fmt.Sprintf("TCPTRACK_LIVE_CONNS=%d", liveConns), "TCPTRACK_LIVE_SEED=2")
	holdR, holdW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holdW.Close() })
	ccmd.Stdin = holdR
	client := startBG(t, dir, "client", ccmd)
	holdR.Close()
	client.waitFor(t, true, "done", 60*time.Second)
	t.Logf("traffic done after %v", time.Since(start).Round(time.Millisecond))
	// Let the closed flows leave (TIME_WAIT 4 s, CLOSE 2 s here) and wait
	// until the tables hold still: two queries 1.5 s apart (three scrapes)
	// see the same flows and no packet in between. Then the last scrape
	// and the final tables taken on the signal describe the same moment.
	time.Sleep(4 * time.Second)
	var promFlows []promSample
	for deadline := time.Now().Add(30 * time.Second); ; {
		q := `sum by (instance, state) (tcptrack_flows) or sum by (instance) (tcptrack_packets_total)`
		before := prom.query(t, q)
		time.Sleep(1500 * time.Millisecond)
		promFlows = prom.query(t, q)
		if fmt.Sprint(before) == fmt.Sprint(promFlows) {
			break
		}
		if os.Getenv("TCPTRACK_DEBUG") != "" {
			t.Logf("before %v\nafter %v\n%s", before, promFlows, tp.router.run(t, "", "conntrack", "-L", "-p", "tcp"))
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tables did not settle within 30 s: %v", promFlows)
		}
	}
	ups := prom.query(t, `up{job="tcptrack"}`)
	seenEstablished := prom.query(t, `max_over_time(sum(tcptrack_flows{state="ESTABLISHED"})[2m:500ms])`)
	metricsText := tp.router.run(t, "", "curl", "-sS", "--max-time", "5", "http://"+targets[0]+"/metrics")

	for _, m := range members {
		m.cmd.Process.Signal(syscall.SIGINT)
	}
	kernelList, err := tp.router.cmd("conntrack", "-L", "-p", "tcp", "-o", "extended").Output()
	if err != nil {
		t.Fatalf("conntrack -L: %v", err)
	}
	for _, m := range members {
		if err := m.wait(t, 10*time.Second); err != nil {
			t.Fatalf("%s exited with %v: %s", m.name, err, m.errb.String())
		}
	}
	holdW.Close()
	client.wait(t, 5*time.Second)
	server.kill()
	collected := col.stop(t)

	// Fanout: a connection lives in one member only; together they are
	// the router's table.
	owner := map[string]int{}
	var union []ctLine
	acct := map[string]*acctTotals{}
	finals := make([][]ctLine, scaleMembers)
	for i, m := range members {
		out, err := os.ReadFile(m.out)
		if err != nil {
			t.Fatal(err)
		}
		lines := parseCTText(t, m.name, out)
		for _, l := range lines {
			if o, ok := owner[l.orig]; ok && o != i {
				t.Errorf("connection %s in member %d and member %d", l.orig, o, i)
			}
			owner[l.orig] = i
			if l.event == "" {
				finals[i] = append(finals[i], l)
			}
		}
		union = append(union, finals[i]...)
		addAcct(t, acct, lines)
		stderr := m.errb.String()
		if !strings.Contains(stderr, "\n0 packets dropped by kernel\n") {
			t.Errorf("%s dropped packets: %s", m.name, stderr)
		}
		created := regexp.MustCompile(`flows created: +(\d+)`).FindStringSubmatch(stderr)
		t.Logf("%s: %d flows at the end, %s created", m.name, len(finals[i]), created[1])
		if created[1] == "0" {
			t.Errorf("%s tracked nothing: the fanout did not spread the connections", m.name)
		}
	}
	var kernList []ctLine
	for _, l := range parseCTText(t, "conntrack -L", kernelList) {
		if !strings.HasPrefix(l.orig, "127.") {
			kernList = append(kernList, l)
		}
	}
	t.Logf("kernel: %d flows; members together: %d", len(kernList), len(union))
	if len(kernList) < liveConns/10 || !hasState(kernList, "ESTABLISHED") {
		t.Errorf("too little traffic reached the router's conntrack: %d flows", len(kernList))
	}
	kl, ul := dropEdgeFlows(t, kernList, union)
	compareLists(t, kl, ul)

	// Prometheus: the per-state counts each member served equal its final
	// table; every target answered.
	for _, u := range ups {
		if u.value != 1 {
			t.Errorf("target %s: up = %v", u.metric["instance"], u.value)
		}
	}
	if len(ups) != scaleMembers {
		t.Errorf("%d targets up, want %d", len(ups), scaleMembers)
	}
	if len(seenEstablished) != 1 || seenEstablished[0].value < 10 {
		t.Errorf("Prometheus never saw the established connections: %+v", seenEstablished)
	}
	for i, tgt := range targets {
		want := map[string]float64{}
		for _, l := range finals[i] {
			want[l.state]++
		}
		got := map[string]float64{}
		for _, s := range promFlows {
			if s.metric["instance"] == tgt && s.metric["state"] != "" && s.value != 0 {
				got[s.metric["state"]] = s.value
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("member %d: Prometheus says flows by state %v, its final table %v", i, got, want)
		} else {
			t.Logf("member %d: Prometheus and the final table: flows by state %v", i, got)
		}
	}
	check := tp.router.cmd("promtool", "check", "metrics")
	check.Stdin = strings.NewReader(metricsText)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v: %s", err, out)
	}

	// IPFIX: nfdump has every connection, with the counters tcptrack
	// printed for it (summed over its records).
	t.Logf("IPFIX: %d records in nfdump for %d connections", len(collected), len(acct))
	compareCollected(t, acct, collected, true)
	if len(collected) <= len(acct) {
		t.Errorf("no active-timeout record (%d records for %d connections)", len(collected), len(acct))
	}
	t.Logf("whole test %v", time.Since(start).Round(time.Millisecond))
}

// prometheus is a Prometheus server running in a namespace.
type prometheus struct {
	ns   liveNS
	addr string
}

// startPrometheus runs Debian's prometheus in ns, scraping targets every
// 500 ms, with its storage in a temporary directory.
func startPrometheus(t *testing.T, ns liveNS, targets []string) *prometheus {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 500ms
  scrape_timeout: 400ms
scrape_configs:
  - job_name: tcptrack
    static_configs:
      - targets: ['%s']
`, strings.Join(targets, "', '"))
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &prometheus{ns: ns, addr: "127.0.0.1:9090"}
	proc := startBG(t, dir, "prometheus", ns.cmd("prometheus", "--config.file="+path, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+p.addr, "--log.level=warn"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := ns.cmd("curl", "-sf", "--max-time", "1", "http://"+p.addr+"/-/ready").Run(); err == nil {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready within 30 s: %s", proc.errb.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// promSample is one element of an instant vector.
type promSample struct {
	metric map[string]string
	value  float64
}

// query runs an instant query with promtool, as a user would.
func (p *prometheus) query(t *testing.T, expr string) []promSample {
	t.Helper()
	out := p.ns.run(t, "", "promtool", "query", "instant", "-o", "json", "http://"+p.addr, expr)
	var vec []struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	if err := json.Unmarshal([]byte(out), &vec); err != nil {
		t.Fatalf("promtool query %q: %v: %s", expr, err, out)
	}
	var res []promSample
	for _, v := range vec {
		s, _ := v.Value[1].(string)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("promtool query %q: value %v", expr, v.Value)
		}
		res = append(res, promSample{metric: v.Metric, value: f})
	}
	return res
}
