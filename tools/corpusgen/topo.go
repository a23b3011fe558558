package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// Addresses are the same in every scenario: each scenario owns a private set
// of namespaces, so nothing collides and the corpus reads the same everywhere.
const (
	clientV4     = "10.1.0.2"
	routerCV4    = "10.1.0.1"
	fakeClientV4 = "10.1.0.100" // crafted client: no kernel owns it, so nobody answers
	serverV4     = "10.2.0.2"
	routerSV4    = "10.2.0.1"
	fakeServerV4 = "10.2.0.100"
	clientV6     = "fd00:1::2"
	routerCV6    = "fd00:1::1"
	fakeClientV6 = "fd00:1::100"
	serverV6     = "fd00:2::2"
	routerSV6    = "fd00:2::1"
	fakeServerV6 = "fd00:2::100"
)

// nsPrefix starts every namespace name this program creates; the pid that
// follows lets a later run remove leftovers of a killed run.
const nsPrefix = "tcptrack"

// topology is one client — router — server chain, optionally with an
// impairing bridge namespace on either side of the router.
//
//	client[eth0] — [c0]router[s0] — [eth0]server
//	client[eth0] — [c]impC[r] — [c0]router[s0] — [r]impS[s] — [eth0]server
type topology struct {
	client, router, server node
	impC, impS             *node
	// MACs of the four interfaces facing each other across the router,
	// needed to inject crafted frames.
	clientMAC, routerCMAC, serverMAC, routerSMAC net.HardwareAddr
}

type topoOpts struct {
	impairClientSide bool
	impairServerSide bool
	endpointSysctl   []string // extra key=value for client and server
	// endpointChecksumOffload leaves TX checksum offload on at the client's
	// and server's veths: their packets reach the router (and its capture)
	// with the pseudo-header sum in the checksum field, as from a host
	// whose NIC fills checksums in.
	endpointChecksumOffload bool
	clientSysctl            []string
	serverSysctl            []string
	routerSysctl            []string
}

// endpointBaseSysctl keeps kernel waits short on client and server.
func endpointBaseSysctl() []string {
	return []string{
		"net.ipv4.tcp_syn_retries=2",
		"net.ipv4.tcp_synack_retries=2",
		"net.ipv4.tcp_fin_timeout=3",
		"net.ipv4.tcp_orphan_retries=2",
	}
}

var nsNameRE = regexp.MustCompile(`^` + nsPrefix + `-(\d+)-`)

// cleanStale deletes namespaces left behind by runs whose process is gone.
func cleanStale(ctx context.Context) {
	out, err := runCmd(ctx, "", "ip", "netns", "list")
	if err != nil {
		return
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		m := nsNameRE.FindStringSubmatch(f[0])
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if pid == os.Getpid() || pidAlive(pid) {
			continue
		}
		_, _ = runCmd(ctx, "", "ip", "netns", "del", f[0])
	}
}

// newTopology creates the namespaces and links; on error everything created
// so far is removed again.
func newTopology(ctx context.Context, idx int, o topoOpts) (t *topology, err error) {
	base := fmt.Sprintf("%s-%d-%02d", nsPrefix, os.Getpid(), idx)
	t = &topology{client: node{base + "-c"}, router: node{base + "-r"}, server: node{base + "-s"}}
	if o.impairClientSide {
		t.impC = &node{base + "-ic"}
	}
	if o.impairServerSide {
		t.impS = &node{base + "-is"}
	}
	defer func() {
		if err != nil {
			t.teardown(context.WithoutCancel(ctx))
			t = nil
		}
	}()
	for _, n := range t.nodes() {
		if _, err := runCmd(ctx, "", "ip", "netns", "add", n.name); err != nil {
			return t, err
		}
	}
	// Sysctls before links so new interfaces inherit the defaults (no DAD).
	noDAD := []string{"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"}
	for _, n := range []node{t.client, t.server} {
		kv := append(append([]string{}, noDAD...), endpointBaseSysctl()...)
		kv = append(kv, o.endpointSysctl...)
		if n == t.client {
			kv = append(kv, o.clientSysctl...)
		} else {
			kv = append(kv, o.serverSysctl...)
		}
		if err := n.sysctl(ctx, kv...); err != nil {
			return t, err
		}
	}
	rkv := append(append([]string{}, noDAD...),
		"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
		"net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
		"net.netfilter.nf_conntrack_acct=1")
	rkv = append(rkv, routerLogSysctl...)
	if err := t.router.sysctl(ctx, append(rkv, o.routerSysctl...)...); err != nil {
		return t, err
	}
	for _, n := range []*node{t.impC, t.impS} {
		if n != nil {
			// The bridge namespaces must stay silent: no addresses, no IPv6.
			if err := n.sysctl(ctx, "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"); err != nil {
				return t, err
			}
		}
	}

	// Links. Creating the peer directly in its target namespace keeps every
	// interface name private to its namespace (no clashes between runs).
	type veth struct {
		a  node
		an string
		b  node
		bn string
	}
	var links []veth
	if t.impC != nil {
		links = append(links, veth{t.client, "eth0", *t.impC, "c"}, veth{t.router, "c0", *t.impC, "r"})
	} else {
		links = append(links, veth{t.client, "eth0", t.router, "c0"})
	}
	if t.impS != nil {
		links = append(links, veth{t.server, "eth0", *t.impS, "s"}, veth{t.router, "s0", *t.impS, "r"})
	} else {
		links = append(links, veth{t.server, "eth0", t.router, "s0"})
	}
	for i, l := range links {
		// Addresses unique to this scenario and run: they mark its lines
		// in the shared kernel log (kernellog.go).
		if _, err := runCmd(ctx, "", "ip", "-n", l.a.name, "link", "add", l.an, "address", vethMAC(idx, i, 0).String(),
			"type", "veth", "peer", "name", l.bn, "address", vethMAC(idx, i, 1).String(), "netns", l.b.name); err != nil {
			return t, err
		}
	}
	// Wire-sized packets with real checksums: no segmentation or checksum
	// offload anywhere, so the capture and the bridges see what TCP sent.
	for _, l := range links {
		for _, e := range []struct {
			n   node
			dev string
		}{{l.a, l.an}, {l.b, l.bn}} {
			tx := "off"
			if o.endpointChecksumOffload && (e.n == t.client || e.n == t.server) {
				tx = "on"
			}
			if _, err := e.n.run(ctx, "", "ethtool", "-K", e.dev, "tx", tx, "tso", "off", "gso", "off", "gro", "off"); err != nil {
				return t, err
			}
		}
	}

	batch := map[node][]string{
		t.client: {
			"link set lo up", "link set eth0 up",
			"addr add " + clientV4 + "/24 dev eth0",
			"addr add " + clientV6 + "/64 dev eth0 nodad",
			"route add default via " + routerCV4,
			"route add default via " + routerCV6,
		},
		t.server: {
			"link set lo up", "link set eth0 up",
			"addr add " + serverV4 + "/24 dev eth0",
			"addr add " + serverV6 + "/64 dev eth0 nodad",
			"route add default via " + routerSV4,
			"route add default via " + routerSV6,
		},
		t.router: {
			"link set lo up", "link set c0 up", "link set s0 up",
			"addr add " + routerCV4 + "/24 dev c0",
			"addr add " + routerCV6 + "/64 dev c0 nodad",
			"addr add " + routerSV4 + "/24 dev s0",
			"addr add " + routerSV6 + "/64 dev s0 nodad",
		},
	}
	if t.impC != nil {
		batch[*t.impC] = []string{"link set c up promisc on", "link set r up promisc on"}
	}
	if t.impS != nil {
		batch[*t.impS] = []string{"link set s up promisc on", "link set r up promisc on"}
	}
	for n, cmds := range batch {
		if _, err := runCmd(ctx, strings.Join(cmds, "\n")+"\n", "ip", "-n", n.name, "-batch", "-"); err != nil {
			return t, err
		}
	}

	if _, t.clientMAC, err = t.client.linkInfo("eth0"); err != nil {
		return t, err
	}
	if _, t.serverMAC, err = t.server.linkInfo("eth0"); err != nil {
		return t, err
	}
	if _, t.routerCMAC, err = t.router.linkInfo("c0"); err != nil {
		return t, err
	}
	if _, t.routerSMAC, err = t.router.linkInfo("s0"); err != nil {
		return t, err
	}
	// Crafted endpoints use addresses no kernel owns; the router reaches them
	// through static neighbours, and the endpoint kernels (not forwarding)
	// drop what arrives for them without answering.
	neigh := []string{
		fmt.Sprintf("neigh add %s lladdr %s dev c0 nud permanent", fakeClientV4, t.clientMAC),
		fmt.Sprintf("neigh add %s lladdr %s dev c0 nud permanent", fakeClientV6, t.clientMAC),
		fmt.Sprintf("neigh add %s lladdr %s dev s0 nud permanent", fakeServerV4, t.serverMAC),
		fmt.Sprintf("neigh add %s lladdr %s dev s0 nud permanent", fakeServerV6, t.serverMAC),
	}
	if _, err := runCmd(ctx, strings.Join(neigh, "\n")+"\n", "ip", "-n", t.router.name, "-batch", "-"); err != nil {
		return t, err
	}
	// One CPU takes every packet the router receives (RPS): packets that
	// arrive on c0 and s0 within microseconds are then tapped for the
	// capture and run through conntrack in one order, the order the capture
	// file keeps. Spread over CPUs, the two could pass conntrack in the
	// other order than the capture shows, which the state mostly hides but
	// the invalid log does not (a SYN just before or after the SYN-ACK).
	if _, err := t.router.run(ctx, "", "sh", "-c", "for q in /sys/class/net/c0/queues/rx-* /sys/class/net/s0/queues/rx-*; do echo 1 > $q/rps_cpus; done"); err != nil {
		return t, fmt.Errorf("router RPS: %w", err)
	}
	if err := t.router.nft(ctx, routerRuleset); err != nil {
		return t, err
	}
	return t, nil
}

// routerRuleset makes conntrack track every forwarded packet (a ct
// expression in a forward-hook chain registers the conntrack hooks in this
// namespace) while accepting everything: the router must never change what
// the endpoints see.
const routerRuleset = `
table inet tcptrack {
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state new counter
		ct state established counter
		ct state related counter
		ct state invalid counter
		ct state untracked counter
		counter accept
	}
}
`

func (t *topology) nodes() []node {
	ns := []node{t.client, t.router, t.server}
	if t.impC != nil {
		ns = append(ns, *t.impC)
	}
	if t.impS != nil {
		ns = append(ns, *t.impS)
	}
	return ns
}

// teardown deletes every namespace (and with them the veths). It keeps
// going on errors so that a half-built topology is removed too.
func (t *topology) teardown(ctx context.Context) error {
	var errs []error
	for _, n := range t.nodes() {
		if !fileExists(n.path()) {
			continue
		}
		if _, err := runCmd(ctx, "", "ip", "netns", "del", n.name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
