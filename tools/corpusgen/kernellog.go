package main

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tcptrack/tcptrack/internal/kernelcorpus"
	"github.com/tcptrack/tcptrack/internal/kmsg"
)

// The router's conntrack logs every packet it marks invalid or ignores
// (nf_conntrack_log_invalid=6) to the kernel log, which all namespaces
// share. Every scenario has the same addresses and interface names, so a
// scenario's lines are told apart by the MAC addresses of its router
// interfaces (the log's MAC= field holds the frame's destination and
// source): each veth gets an address made of a random run id, the
// scenario number and the link, unique across parallel scenarios and
// concurrent runs.

// routerLogSysctl turns the logging on in a router namespace: log TCP's
// invalid packets, through the syslog loggers for IPv4 and IPv6.
var routerLogSysctl = []string{
	"net.netfilter.nf_conntrack_log_invalid=6",
	"net.netfilter.nf_log.2=nf_log_ipv4",
	"net.netfilter.nf_log.10=nf_log_ipv6",
}

// runID is this process's part of every veth MAC address.
var runID = func() [2]byte {
	var b [2]byte
	if _, err := rand.Read(b[:]); err != nil {
		binary.BigEndian.PutUint16(b[:], uint16(os.Getpid()))
	}
	return b
}()

// vethMAC is the address of one end of one link of scenario idx:
// locally administered, unicast.
func vethMAC(idx, link, end int) net.HardwareAddr {
	return net.HardwareAddr{0x02, runID[0], runID[1], byte(idx), byte(link), byte(end)}
}

// kernelLog collects one scenario's conntrack log lines while it runs.
// The kernel's ring buffer is finite, so it is drained every 100 ms.
type kernelLog struct {
	r    *kmsg.Reader
	macs []string

	mu    sync.Mutex
	lines []string
	err   error

	stop chan struct{}
	done chan struct{}
}

// startKernelLog begins collecting the lines of frames to or from any of
// macs (the router's interfaces).
func startKernelLog(macs ...net.HardwareAddr) (*kernelLog, error) {
	r, err := kmsg.Open()
	if err != nil {
		return nil, err
	}
	k := &kernelLog{r: r, stop: make(chan struct{}), done: make(chan struct{})}
	for _, m := range macs {
		k.macs = append(k.macs, m.String())
	}
	go func() {
		defer close(k.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-k.stop:
				return
			case <-t.C:
				k.drain()
			}
		}
	}()
	return k, nil
}

func (k *kernelLog) drain() {
	k.mu.Lock()
	defer k.mu.Unlock()
	err := k.r.Drain(func(msg string) {
		if e, ok := kmsg.Parse(msg); ok && k.ours(e) {
			k.lines = append(k.lines, msg)
		}
	})
	if err == nil && k.r.Lost > 0 {
		err = fmt.Errorf("the kernel log overran: %d records lost before they were read", k.r.Lost)
	}
	if err != nil && k.err == nil {
		k.err = err
	}
}

func (k *kernelLog) ours(e kmsg.Entry) bool {
	for _, m := range k.macs {
		if e.HasMAC(m) {
			return true
		}
	}
	return false
}

// finish reads what is left, stops, and writes the lines to dir.
func (k *kernelLog) finish(dir string) error {
	k.abort()
	k.drain()
	k.r.Close()
	if k.err != nil {
		return k.err
	}
	var b strings.Builder
	for _, l := range k.lines {
		b.WriteString(strings.TrimRight(l, " "))
		b.WriteByte('\n')
	}
	return os.WriteFile(filepath.Join(dir, kernelcorpus.InvalidLogFile), []byte(b.String()), 0o644)
}

// abort stops the background reader (finish calls it too).
func (k *kernelLog) abort() {
	select {
	case <-k.stop:
	default:
		close(k.stop)
	}
	<-k.done
}

// loggedReasons are the TCP tracker's messages a capture can show (the
// kernel's nf_conntrack_proto_tcp.c, 6.x); the full corpus must make the
// routers log each at least once.
var loggedReasons = []string{
	`truncated packet`,
	`bad checksum`,
	`invalid tcp flag combination`,
	`invalid new`,
	`packet \(index \d\) in dir \d ignored, state [A-Z_0-9]+`,
	`packet \(index \d\) in dir \d invalid, state [A-Z_0-9]+`,
	`challenge-ack ignored`,
	`invalid rst`,
	`\d+ bytes more than expected`,
	`SEQ is over upper bound \d+ \(over the window of the receiver\)`,
	`ACK is over upper bound \d+ \(ACKed data not seen yet\)`,
	`SEQ is under lower bound \d+ \(already ACKed data retransmitted\)`,
	`ignored ACK under lower bound \d+ \(possible overly delayed\)`,
	`packet \(index \d, dir \d\) response for index \d lower timeout to \d+`,
}

// logCoverage names each message no scenario's kernel log shows.
func logCoverage(out string, scs []*scenario) []string {
	var reasons []string
	for _, sc := range scs {
		b, err := os.ReadFile(filepath.Join(out, sc.name, kernelcorpus.InvalidLogFile))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if e, ok := kmsg.Parse(l); ok {
				reasons = append(reasons, e.Reason)
			}
		}
	}
	var miss []string
	for _, want := range loggedReasons {
		re := regexp.MustCompile(`^` + want + `$`)
		if !slices.ContainsFunc(reasons, re.MatchString) {
			miss = append(miss, fmt.Sprintf("no scenario's kernel log shows %q", want))
		}
	}
	return miss
}
