package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tcptrack/tcptrack/internal/kernelcorpus"
)

// The endpoint hosts' socket tables judge tcptrack's endpoint view as the
// router's conntrack -L judges its flow view. They are taken in the same
// shell, right after conntrack -L: ss -tanoeH in the client and in the
// server namespace, then netstat -tn in each, every call stamped before and
// after (date +%s.%N, the capture's clock).

// hostTimerSysctls are the settings that decide when a host's socket goes
// away by itself; recorded per host and passed to tcptrack as
// --host-timeout.
const hostTimerSysctls = `^net\.ipv4\.tcp_(fin_timeout|syn_retries|synack_retries|syn_linear_timeouts|rto_min_us|rfc1337|orphan_retries)$`

// listScript is conntrack -L in the router followed by the hosts' socket
// tables, as one shell script run in the router's namespace. It prints
// "NAME SECONDS" stamps on stdout.
func listScript(dir string, client, server node) string {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	var b strings.Builder
	b.WriteString("stamp() { echo \"$1 $(date +%s.%N)\"; }\n")
	b.WriteString("stamp list_before\n")
	fmt.Fprintf(&b, "conntrack -L -o extended -p tcp >%s 2>%s || echo \"list_failed $?\"\n",
		q(filepath.Join(dir, kernelcorpus.ConntrackFile)), q(filepath.Join(dir, ".conntrack.err")))
	b.WriteString("stamp list_after\n")
	hosts := []struct {
		name string
		n    node
	}{{"client", client}, {"server", server}}
	for _, h := range hosts {
		fmt.Fprintf(&b, "stamp ss_before_%s\n", h.name)
		fmt.Fprintf(&b, "ip netns exec %s ss -tanoeH >%s 2>/dev/null || echo \"ss_failed_%s $?\"\n",
			q(h.n.name), q(filepath.Join(dir, kernelcorpus.SocketsFile(h.name))), h.name)
		fmt.Fprintf(&b, "stamp ss_after_%s\n", h.name)
	}
	for _, h := range hosts {
		fmt.Fprintf(&b, "stamp netstat_before_%s\n", h.name)
		fmt.Fprintf(&b, "ip netns exec %s netstat -tn >%s 2>/dev/null || echo \"netstat_failed_%s $?\"\n",
			q(h.n.name), q(filepath.Join(dir, kernelcorpus.NetstatFile(h.name))), h.name)
		fmt.Fprintf(&b, "stamp netstat_after_%s\n", h.name)
	}
	return b.String()
}

// runList runs listScript and returns its stamps (Unix seconds).
func runList(ctx context.Context, router, client, server node, dir string) (map[string]float64, error) {
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", router.name, "sh", "-c", listScript(dir, client, server))
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("conntrack -L and socket tables: %w", err)
	}
	stamps := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		if strings.HasSuffix(f[0], "_failed") || strings.Contains(f[0], "_failed_") {
			msg, _ := os.ReadFile(filepath.Join(dir, ".conntrack.err"))
			return nil, fmt.Errorf("%s (exit %s): %s", f[0], f[1], strings.TrimSpace(string(msg)))
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return nil, fmt.Errorf("stamp %q: %w", sc.Text(), err)
		}
		stamps[f[0]] = v
	}
	os.Remove(filepath.Join(dir, ".conntrack.err"))
	for _, k := range []string{"list_before", "list_after", "ss_before_client", "ss_after_server", "netstat_after_server"} {
		if _, ok := stamps[k]; !ok {
			return nil, fmt.Errorf("socket tables: no %s stamp in %q", k, out)
		}
	}
	return stamps, nil
}

// hostSnapshots builds meta.json's hosts part from the stamps and each
// host's timer settings.
func hostSnapshots(ctx context.Context, client, server node, stamps map[string]float64) (map[string]kernelcorpus.HostSnapshot, error) {
	round := func(v float64) float64 { return float64(int64(v*1e6)) / 1e6 }
	out := map[string]kernelcorpus.HostSnapshot{}
	for _, h := range []struct {
		name  string
		n     node
		addrs []string
	}{{"client", client, []string{clientV4, clientV6}}, {"server", server, []string{serverV4, serverV6}}} {
		sysctl, err := readSysctl(ctx, h.n, hostTimerSysctls)
		if err != nil {
			return nil, err
		}
		if _, ok := sysctl["net.ipv4.tcp_fin_timeout"]; !ok {
			return nil, fmt.Errorf("sysctl in %s: no net.ipv4.tcp_fin_timeout", h.n.name)
		}
		s := kernelcorpus.HostSnapshot{Addrs: h.addrs, Sysctl: sysctl,
			SocketsBefore: round(stamps["ss_before_"+h.name]), SocketsAfter: round(stamps["ss_after_"+h.name]),
			NetstatBefore: round(stamps["netstat_before_"+h.name]), NetstatAfter: round(stamps["netstat_after_"+h.name])}
		s.SocketsAt = round((stamps["ss_before_"+h.name] + stamps["ss_after_"+h.name]) / 2)
		s.NetstatAt = round((stamps["netstat_before_"+h.name] + stamps["netstat_after_"+h.name]) / 2)
		out[h.name] = s
	}
	return out, nil
}

// readSysctl returns the namespace's sysctls whose names match pattern.
func readSysctl(ctx context.Context, n node, pattern string) (map[string]string, error) {
	out, err := n.run(ctx, "", "sysctl", "-a", "-r", pattern)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, " = "); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m, nil
}

// kernelHZ is the running kernel's CONFIG_HZ from its config (0 when the
// config is not readable).
func kernelHZ(ctx context.Context, release string) int {
	for _, args := range [][]string{{"sh", "-c", "zcat /proc/config.gz 2>/dev/null"}, {"cat", "/boot/config-" + release}} {
		out, err := runCmd(ctx, "", args...)
		if err != nil && out == "" {
			continue
		}
		for _, line := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(line, "CONFIG_HZ="); ok {
				if hz, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
					return hz
				}
			}
		}
	}
	return 0
}
