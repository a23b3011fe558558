// Package testutil holds what the tests of every package share: one golden
// file compare/update (one -update flag for the whole tree), one
// read-every-record loop, one fuzz seed-corpus check, and the way to find
// the optional outside corpus (../shared beside the repository).
package testutil

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// update is the tree's one -update flag: go test ./... -update rewrites
// golden files and fuzz seed corpora instead of comparing with them.
var update = flag.Bool("update", false, "rewrite golden files and fuzz seed corpora instead of comparing")

// Updating reports whether the test run was asked to rewrite goldens.
func Updating() bool { return *update }

// Golden compares got with the file at path; with -update it writes got
// there instead (creating directories). A difference fails the test with a
// line diff.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("output differs from %s (review, then go test -update rewrites it):\n%s", path, LineDiff(string(want), string(got)))
	}
}

// GoldenLines is Golden for a line-oriented golden file of which only the
// lines keep accepts were produced by this run (the rest belong to inputs
// that are absent, e.g. an optional outside corpus). Only those lines are
// compared; -update refuses to rewrite a file it could only half produce.
func GoldenLines(t testing.TB, path string, got []byte, keep func(line string) bool) {
	t.Helper()
	if keep == nil {
		Golden(t, path, got)
		return
	}
	if *update {
		t.Fatalf("%s: not rewritten: part of its input is missing here (run -update where it is present)", path)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	var kept strings.Builder
	for _, line := range strings.SplitAfter(string(want), "\n") {
		if line != "" && keep(strings.TrimSuffix(line, "\n")) {
			kept.WriteString(line)
		}
	}
	if kept.String() != string(got) {
		t.Errorf("output differs from the lines of %s for the inputs present (review, then go test -update):\n%s", path, LineDiff(kept.String(), string(got)))
	}
}

// LineDiff lists the lines only in want (-) and only in got (+), in order.
func LineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	in := func(lines []string) map[string]int {
		m := map[string]int{}
		for _, l := range lines {
			m[l]++
		}
		return m
	}
	wc, gc := in(wl), in(gl)
	var b strings.Builder
	for _, l := range wl {
		if gc[l] > 0 {
			gc[l]--
			continue
		}
		fmt.Fprintf(&b, "- %s\n", l)
	}
	for _, l := range gl {
		if wc[l] > 0 {
			wc[l]--
			continue
		}
		fmt.Fprintf(&b, "+ %s\n", l)
	}
	if b.Len() == 0 {
		return "(same lines, different order or line endings)\n"
	}
	return b.String()
}

// ReadAll calls next until it returns io.EOF and returns every value, each
// passed through keep first (a reader may reuse its buffers: keep copies
// what must outlive the next call). Another error stops the loop and is
// returned with what was read before it.
func ReadAll[T any](next func() (T, error), keep func(T) T) ([]T, error) {
	var out []T
	for {
		v, err := next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if keep != nil {
			v = keep(v)
		}
		out = append(out, v)
	}
}

// Seed is one file of a fuzz target's seed corpus holding a single []byte.
type Seed struct {
	Name string
	Data []byte
}

// SeedCorpus keeps testdata/fuzz/TARGET holding each seed as a
// single-[]byte corpus file (go test -update rewrites them), so a plain go
// test runs them through the fuzz function and make fuzz starts from them.
func SeedCorpus(t testing.TB, target string, seeds []Seed) {
	t.Helper()
	files := make([]SeedFile, len(seeds))
	for i, s := range seeds {
		files[i] = SeedFile{s.Name, FuzzFile(s.Data)}
	}
	SeedFiles(t, target, files)
}

// SeedFile is one file of a fuzz target's seed corpus: its name and its
// text (FuzzFile makes it).
type SeedFile struct {
	Name, Body string
}

// SeedFiles keeps testdata/fuzz/TARGET holding each file as given (go test
// -update rewrites them). Other files there (inputs the fuzzer found,
// kept as regression tests) are left alone.
func SeedFiles(t testing.TB, target string, files []SeedFile) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(f.Body), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != f.Body {
			t.Errorf("%s missing or stale (go test -update rewrites it)", path)
		}
	}
}

// FuzzFile encodes a fuzz input in the go test fuzz v1 format; values are
// uint8, uint16, uint32, int, string or []byte, as the fuzz function takes
// them.
func FuzzFile(values ...any) string {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, v := range values {
		switch v := v.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		case string:
			fmt.Fprintf(&b, "string(%q)\n", v)
		default:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		}
	}
	return b.String()
}

// Root is the repository's top directory (the one holding go.mod), found
// from the test's working directory.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// Shared returns ../shared/SUB beside the repository ($TCPTRACK_SHARED
// instead of ../shared when set): the optional outside corpus of real
// captures. When it is absent it logs one line, "DIR not found: TEST skips
// WHAT", and returns ok false; the caller then tests what it has without it
// (or skips, when the test is about that corpus only).
func Shared(t testing.TB, sub, what string) (dir string, ok bool) {
	t.Helper()
	base := os.Getenv("TCPTRACK_SHARED")
	if base == "" {
		base = filepath.Join(filepath.Dir(Root(t)), "shared")
	}
	dir = filepath.Join(base, sub)
	if _, err := os.Stat(dir); err != nil {
		t.Logf("%s not found: %s skips %s", dir, t.Name(), what)
		return dir, false
	}
	return dir, true
}

// SVG requires b to be well-formed XML with an svg root element.
func SVG(t testing.TB, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	root := ""
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
}
