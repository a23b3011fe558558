package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// benchCapture is the capture the scale-out benchmarks replay:
// TCPTRACK_BENCH_PCAP, else the 10 M-packet synthetic capture bench.sh
// caches (go run ./tools/synth -packets 10000000), else the kernel
// corpus's random capture.
func benchCapture(b *testing.B) string {
	if p := os.Getenv("TCPTRACK_BENCH_PCAP"); p != "" {
		return p
	}
	if p := "/tmp/tcptrack-bench/synth-mix-seed1-10000000.pcap"; fileExists(p) {
		return p
	}
	b.Logf("no 10 M-packet capture cached (see testdata/bench/bench.sh); using the kernel corpus's random capture")
	return filepath.Join("..", "..", "testdata", "pcaps", "kernel", "random", "capture.pcap")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// udpSink reads and drops datagrams: a collector that costs next to nothing.
func udpSink(b *testing.B) (addr string, datagrams func() int) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	pc.(*net.UDPConn).SetReadBuffer(8 << 20)
	var mu sync.Mutex
	n := 0
	go func() {
		buf := make([]byte, 65535)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			mu.Lock()
			n++
			mu.Unlock()
		}
	}()
	b.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// reportRate reports packets per second of wall time and CPU ns per packet.
func reportRate(b *testing.B, packets uint64, wall, cpu time.Duration) {
	b.ReportMetric(float64(packets)/wall.Seconds(), "pkts/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(packets), "cpu-ns/pkt")
}

// BenchmarkScaleOutRead: tcptrack read on the whole capture, one op per
// run, with and without IPFIX export (to a UDP sink and to a file).
// Run with -benchtime 1x -count N.
func BenchmarkScaleOutRead(b *testing.B) {
	file := benchCapture(b)
	addr, datagrams := udpSink(b)
	ipfixFile := filepath.Join(b.TempDir(), "flows.ipfix")
	for _, v := range []struct {
		name string
		args []string
	}{
		{"plain", nil},
		{"acct", []string{"--acct"}},
		{"ipfix-udp", []string{"--ipfix", addr}},
		{"ipfix-file", []string{"--ipfix-file", ipfixFile}},
	} {
		b.Run(v.name, func(b *testing.B) {
			var packets uint64
			var wall, cpu time.Duration
			sent0 := datagrams()
			for range b.N {
				args := append(append([]string{"read", "--stats=json", "--progress", "never"}, v.args...), file)
				var stderr bytes.Buffer
				w0, c0 := time.Now(), cpuTime()
				if code := run(args, nil, io.Discard, &stderr); code != exitOK {
					b.Fatalf("exit %d: %s", code, stderr.String())
				}
				wall += time.Since(w0)
				cpu += cpuTime() - c0
				packets += statsRead(b, stderr.Bytes())
			}
			reportRate(b, packets, wall, cpu)
			if v.name == "ipfix-udp" {
				b.ReportMetric(float64(datagrams()-sent0)/float64(b.N), "datagrams/op")
			}
		})
	}
}

// statsRead is the "read" count of --stats=json.
func statsRead(b *testing.B, stderr []byte) uint64 {
	i := bytes.LastIndex(stderr, []byte(`{"read":`))
	if i < 0 {
		b.Fatalf("no --stats=json in %q", stderr)
	}
	var n uint64
	for _, c := range stderr[i+len(`{"read":`):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}

// BenchmarkScaleOutLive: the live capture loop fed from the capture file
// at full speed on a fake clock (no kernel in the way), with and without
// --metrics (scraped every 100 ms, far more often than Prometheus would),
// with and without IPFIX export (--ipfix-active 60s).
func BenchmarkScaleOutLive(b *testing.B) {
	file := benchCapture(b)
	addr, _ := udpSink(b)
	for _, v := range []struct {
		name    string
		args    []string
		scrape  bool
		metrics bool
	}{
		{"plain", nil, false, false},
		{"metrics", []string{"--metrics", "127.0.0.1:0"}, true, true},
		{"ipfix", []string{"--ipfix", addr}, false, false},
		{"metrics+ipfix", []string{"--metrics", "127.0.0.1:0", "--ipfix", addr}, true, true},
	} {
		b.Run(v.name, func(b *testing.B) {
			var packets, scrapes uint64
			var wall, cpu time.Duration
			for range b.N {
				o := mustLiveFlags(b, append([]string{"--once", "-o", "conntrack"}, v.args...)...)
				var stop stopSignal
				src := newReplaySource(b, file, 0, &stop)
				var stderr syncBuffer
				done := make(chan struct{})
				var wg sync.WaitGroup
				if v.scrape {
					wg.Add(1)
					go func() {
						defer wg.Done()
						scrapes += scrapeLoop(&stderr, done)
					}()
				}
				w0, c0 := time.Now(), cpuTime()
				err := runLive(o, src, src.clock, &stop, nil, io.Discard, &stderr)
				wall += time.Since(w0)
				cpu += cpuTime() - c0
				close(done)
				wg.Wait()
				if err != nil {
					b.Fatalf("%v: %s", err, stderr.String())
				}
				packets += src.read
			}
			reportRate(b, packets, wall, cpu)
			if v.scrape {
				b.ReportMetric(float64(scrapes)/float64(b.N), "scrapes/op")
			}
		})
	}
}

// scrapeLoop scrapes the address live prints every 100 ms until done.
func scrapeLoop(stderr *syncBuffer, done <-chan struct{}) uint64 {
	var url string
	for url == "" {
		select {
		case <-done:
			return 0
		case <-time.After(time.Millisecond):
		}
		s := stderr.String()
		if i := bytes.Index([]byte(s), []byte("metrics at ")); i >= 0 {
			rest := s[i+len("metrics at "):]
			if j := bytes.IndexByte([]byte(rest), '\n'); j > 0 {
				url = rest[:j]
			}
		}
	}
	n := uint64(0)
	for {
		select {
		case <-done:
			return n
		case <-time.After(100 * time.Millisecond):
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				n++
			}
		}
		cancel()
	}
}
