package main

import (
	"fmt"
	"math/rand/v2"
	"net"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tcptrack/tcptrack/internal/kernelcorpus"
)

// The random-big scenario: the random scenario's mix at benchmark size
// (-big-conns, e.g. 200 000 connections), started at a steady rate
// (-big-rate per second) so that the kernels, tcpdump and conntrack -E keep
// up on a small machine. It is not part of the default corpus and its
// directory is not committed: it exists to give the benchmarks a capture
// made by real kernels (bench.sh FILE). There are no impairing bridges:
// their per-frame userspace forwarding would be the bottleneck, and the
// kernels retransmit on their own when the machine is slow.

// etherCaptureFile is random-big's capture rewritten as Ethernet (toEthernet).
const etherCaptureFile = "capture-ether.pcap"

const (
	bigPortBase = 9100 // the servers listen on bigPortBase … bigPortBase+bigPorts-1
	// bigPorts spreads connections over server ports: the client's
	// ephemeral ports are unique per server address and port, and client
	// sockets wait 60 s in TIME_WAIT, so one port would run out of them
	// (64 k) long before 200 k connections.
	bigPorts = 32
	// bigDialers is how many threads sit in the client namespace dialling
	// (a thread per connection would be created and thrown away 200 k times).
	bigDialers = 32
	// bigInFlight bounds the client roles running at once (idle
	// connections stay open but do not count once their exchange is done).
	bigInFlight = 2048
)

// bigOpts are the random-big scenario's flags.
type bigOpts struct {
	conns int
	rate  int // connection starts per second
}

// window is how long the starts are spread over, in milliseconds.
func (b bigOpts) window() int {
	return max(1, int(int64(b.conns)*1000/int64(max(b.rate, 1))))
}

// planBig plans the big mix: planMixOver's kinds and sizes, starts spread
// over the whole window, and a server port each. Idle connections beyond
// maxIdle become client-closed ones (each idle connection holds two open
// files until the end).
func planBig(rng *rand.Rand, b bigOpts, maxIdle int) []connPlan {
	plans := planMixOver(rng, b.conns, b.window())
	idle := 0
	for i := range plans {
		plans[i].port = bigPortBase + rng.IntN(bigPorts)
		if plans[i].kind == kindIdle {
			if idle++; idle > maxIdle {
				plans[i].kind = kindCloseClient
			}
		}
	}
	sort.SliceStable(plans, func(i, j int) bool { return plans[i].start < plans[j].start })
	return plans
}

func bigRandomScenario(b bigOpts) *scenario {
	maxIdle := b.conns
	return &scenario{
		name: "random-big",
		description: fmt.Sprintf("Benchmark capture: seeded random mix of %d connections started at %d per second over %.0f s "+
			"(IPv4 and IPv6; closes from either side, refused, aborts from either side, half-closes, idle, bulk uploads), "+
			"client and server kernels talking through the router without impairment.", b.conns, b.rate, float64(b.window())/1000),
		topo: topoOpts{
			clientSysctl: []string{
				"net.ipv4.ip_local_port_range=1024 65535",
				"net.ipv4.tcp_tw_reuse=1",
			},
			serverSysctl: []string{
				"net.core.somaxconn=65535",
				"net.ipv4.tcp_max_syn_backlog=65535",
			},
		},
		// A quarter-gigabyte capture ring and event buffer: bursts must not
		// overflow them. Loss
		// (a busy machine) is noted in meta.json rather than failing a
		// capture that is only ever replayed for timing.
		record: recordOpts{bufKiB: 262144, tolerateLoss: true},
		prepare: func() error {
			// Two sockets per idle connection and per running role, and
			// room for everything else.
			limit := raiseFileLimit(2*b.conns + 2*bigInFlight + 1024)
			maxIdle = max(0, (limit-2*bigInFlight-1024)/2)
			return nil
		},
		checks: []check{
			inList(`ESTABLISHED .*\[ASSURED\]`, "idle connections ESTABLISHED [ASSURED] at -L"),
			inList(`TIME_WAIT`, "closed connections in TIME_WAIT"),
			inEvents(`\[DESTROY\]`, "refused connections destroyed by RST"),
		},
		after: func(r *run, dir string) error {
			// The same capture as Ethernet, for the tools in bench.sh that
			// read nothing else.
			macs := map[uint32]net.HardwareAddr{}
			for _, dev := range []string{"c0", "s0"} {
				idx, mac, err := r.t.router.linkInfo(dev)
				if err != nil {
					return err
				}
				macs[uint32(idx)] = mac
			}
			_, err := toEthernet(filepath.Join(dir, kernelcorpus.CaptureFile), filepath.Join(dir, etherCaptureFile), macs)
			return err
		},
		traffic: func(r *run) error {
			plans := planBig(r.rng, b, maxIdle)
			if n := countKind(planMixOver(scenarioRNG(r.seed, "random-big"), b.conns, b.window()), kindIdle); n > maxIdle {
				r.note("idle connections limited to %d of %d planned by the open-file limit; the rest close from the client side", maxIdle, n)
			}
			return runBigMix(r, plans, b)
		},
		settle: 2 * time.Second,
	}
}

// raiseFileLimit raises the open-file limit towards want as far as the
// process may, and returns the limit in force.
func raiseFileLimit(want int) int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 1024
	}
	if lim.Cur < uint64(want) {
		// Past the hard limit needs CAP_SYS_RESOURCE, which a container
		// may lack; then up to the hard limit.
		up := syscall.Rlimit{Cur: uint64(want), Max: max(lim.Max, uint64(want))}
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up) != nil {
			up = syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
			_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &up)
		}
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	return int(min(lim.Cur, 1<<30))
}

func countKind(plans []connPlan, k connKind) int {
	n := 0
	for _, p := range plans {
		if p.kind == k {
			n++
		}
	}
	return n
}

// runBigMix starts the servers, then the planned clients at their start
// times from a pool of dialling threads in the client namespace, and waits
// for every connection that is meant to finish.
func runBigMix(r *run, plans []connPlan, b bigOpts) error {
	for _, fam := range []family{ipv4, ipv6} {
		for port := bigPortBase; port < bigPortBase+bigPorts; port++ {
			ln, err := r.t.server.listen(hostPort(fam.serverIP(), port))
			if err != nil {
				return err
			}
			r.keep(ln)
			r.background(func() { acceptLoop(r, ln) })
		}
	}
	var (
		mu       sync.Mutex
		failures = map[string]int{}
		counts   = map[connKind]int{}
		late     atomic.Int64 // starts more than 100 ms behind plan
		roles    sync.WaitGroup
	)
	done := func(k connKind, err error) {
		if err != nil {
			mu.Lock()
			failures[k.String()]++
			mu.Unlock()
		}
	}
	jobs := make(chan connPlan, bigDialers)
	inflight := make(chan struct{}, bigInFlight)
	var dialers sync.WaitGroup
	for range bigDialers {
		dialers.Add(1)
		go func() {
			defer dialers.Done()
			// One thread in the client namespace for many connections.
			_ = r.t.client.do(func() error {
				for p := range jobs {
					var c *net.TCPConn
					var err error
					if r.ctx.Err() == nil {
						c, err = dialHere(r.ctx, hostPort(p.fam.serverIP(), p.serverPort()), dialOpts{timeout: 8 * time.Second})
					} else {
						err = r.ctx.Err()
					}
					go func() {
						defer roles.Done()
						defer func() { <-inflight }()
						done(p.kind, playClient(r, p, c, err))
					}()
				}
				return nil
			})
		}()
	}
	start := time.Now()
	for _, p := range plans {
		counts[p.kind]++
		if d := time.Until(start.Add(p.start)); d > 0 {
			if r.sleep(d) != nil {
				break
			}
		} else if d < -100*time.Millisecond {
			late.Add(1)
		}
		select {
		case inflight <- struct{}{}:
		case <-r.ctx.Done():
		}
		if r.ctx.Err() != nil {
			<-inflight
			break
		}
		roles.Add(1)
		jobs <- p
	}
	close(jobs)
	elapsed := time.Since(start)
	dialers.Wait()
	roles.Wait()
	var mix []string
	for k := connKind(0); k < numKinds; k++ {
		mix = append(mix, fmt.Sprintf("%s %d", k, counts[k]))
	}
	r.note("mix: %s", strings.Join(mix, ", "))
	r.note("started %d connections in %.1f s (planned %.1f s; %d started over 100 ms late)", len(plans), elapsed.Seconds(),
		float64(b.window())/1000, late.Load())
	if len(failures) > 0 {
		var fs []string
		for k, n := range failures {
			fs = append(fs, fmt.Sprintf("%s %d", k, n))
		}
		sort.Strings(fs)
		r.note("client roles that ended with an error: %s", strings.Join(fs, ", "))
	}
	r.log("random-big: %d connections started in %.1f s, all done after %.1f s", len(plans), elapsed.Seconds(), time.Since(start).Seconds())
	return r.ctx.Err()
}
