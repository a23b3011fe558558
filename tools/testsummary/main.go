// Command testsummary reads `go test -json` from standard input and prints
// what a person wants from a long test run: one line per package as go
// test prints it, the whole output of every failing test (and of a
// package that did not build), one line per skipped test with its reason,
// and at the end a count of what passed, was skipped and failed. It exits
// 1 when anything failed, so `go test -json ./... | testsummary` can stand
// in for `go test ./...` in make test.
//
//	go test -race -json ./... | go run ./tools/testsummary [-note TEXT]...
//
// Each -note is printed just before the final count (make test says there
// what it installed and what it ran).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// event is one line of go test -json (cmd/test2json's TestEvent).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output and build-fail events
	Test       string
	Elapsed    float64
	Output     string
}

// counts is what a run adds up to.
type counts struct {
	packages, passed, skipped, failed int // top-level tests
	subPassed, subFailed              int // subtests
	buildFailed                       int // packages that did not build
}

// notes are the -note flags, in order.
type notes []string

func (n *notes) String() string     { return strings.Join(*n, "; ") }
func (n *notes) Set(v string) error { *n = append(*n, v); return nil }

func main() {
	var ns notes
	flag.Var(&ns, "note", "a line to print before the final count (repeatable)")
	flag.Parse()
	start := time.Now()
	c, err := summarize(os.Stdin, os.Stdout, ns)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	fmt.Printf("took %s\n", time.Since(start).Round(time.Second))
	if c.failed+c.subFailed+c.buildFailed > 0 {
		os.Exit(1)
	}
}

// summarize streams the events from r, printing as it goes, and returns
// the counts (also printed last).
func summarize(r io.Reader, w io.Writer, notes []string) (counts, error) {
	var c counts
	// Output of each test (and of each package, Test ""), kept until it
	// ends: printed only if it failed.
	output := map[[2]string][]string{}
	build := map[string][]string{} // compiler output per package
	var skips []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// go test prints build errors as plain text before the JSON.
			fmt.Fprintln(w, string(line))
			continue
		}
		key := [2]string{e.Package, e.Test}
		switch e.Action {
		case "output":
			output[key] = append(output[key], e.Output)
		case "build-output":
			build[e.ImportPath] = append(build[e.ImportPath], e.Output)
		case "pass", "fail", "skip":
			out := output[key]
			delete(output, key)
			if e.Test == "" { // the package
				if e.Action == "fail" {
					for _, l := range out {
						if !strings.HasPrefix(l, "FAIL") && !strings.HasPrefix(l, "ok") {
							fmt.Fprint(w, l)
						}
					}
				}
				if e.Action == "skip" {
					fmt.Fprintf(w, "?   \t%s\t[no test files]\n", e.Package)
					continue
				}
				c.packages++
				word := "ok  "
				if e.Action == "fail" {
					word = "FAIL"
				}
				fmt.Fprintf(w, "%s\t%s\t%.3fs\n", word, e.Package, e.Elapsed)
				continue
			}
			sub := strings.Contains(e.Test, "/")
			switch {
			case e.Action == "pass" && sub:
				c.subPassed++
			case e.Action == "pass":
				c.passed++
			case e.Action == "fail" && sub:
				c.subFailed++
			case e.Action == "fail":
				c.failed++
			case e.Action == "skip" && !sub:
				c.skipped++
				skips = append(skips, fmt.Sprintf("%s %s: %s", e.Package, e.Test, skipReason(out)))
			}
			if e.Action == "fail" && !sub {
				// The top-level test's output includes its subtests'.
				fmt.Fprintf(w, "--- FAIL: %s (%s)\n", e.Test, e.Package)
				for _, l := range out {
					fmt.Fprint(w, l)
				}
			}
		case "build-fail":
			c.buildFailed++
			for _, l := range build[e.ImportPath] {
				fmt.Fprint(w, l)
			}
			delete(build, e.ImportPath)
		}
	}
	if err := sc.Err(); err != nil {
		return c, err
	}
	sort.Strings(skips)
	if len(skips) > 0 {
		fmt.Fprintf(w, "\nskipped (%d):\n", len(skips))
		for _, s := range skips {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	fmt.Fprintln(w)
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	fmt.Fprintln(w, c)
	return c, nil
}

// skipReason is the last line a skipped test printed (t.Skip's message),
// without the file:line prefix.
func skipReason(out []string) string {
	for i := len(out) - 1; i >= 0; i-- {
		l := strings.TrimSpace(out[i])
		if l == "" || strings.HasPrefix(l, "--- SKIP") || strings.HasPrefix(l, "=== ") {
			continue
		}
		if _, rest, ok := strings.Cut(l, ": "); ok && strings.Contains(l[:len(l)-len(rest)], ".go:") {
			return rest
		}
		return l
	}
	return "(no reason given)"
}

func (c counts) String() string {
	s := fmt.Sprintf("%d tests passed (and %d subtests), %d skipped, %d failed", c.passed, c.subPassed, c.skipped, c.failed+c.subFailed)
	if c.buildFailed > 0 {
		s += fmt.Sprintf(", %d packages did not build", c.buildFailed)
	}
	return s + fmt.Sprintf(" in %d packages", c.packages)
}
