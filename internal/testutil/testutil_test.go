package testutil

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLineDiff(t *testing.T) {
	for _, c := range []struct{ want, got, diff string }{
		{"a\nb\nc\n", "a\nc\nd\n", "- b\n+ d\n"},
		{"a\na\n", "a\n", "- a\n"},
		{"x\n", "x\n", "(same lines, different order or line endings)\n"},
	} {
		if d := LineDiff(c.want, c.got); d != c.diff {
			t.Errorf("LineDiff(%q, %q) = %q, want %q", c.want, c.got, d, c.diff)
		}
	}
}

// compareMode runs a test of the compare path even under go test -update.
func compareMode(t *testing.T) {
	was := *update
	*update = false
	t.Cleanup(func() { *update = was })
}

func TestFuzzFile(t *testing.T) {
	got := FuzzFile(uint8(5), uint16(54), []byte("a\x00"), "s")
	want := "go test fuzz v1\nuint8(5)\nuint16(54)\n[]byte(\"a\\x00\")\nstring(\"s\")\n"
	if got != want {
		t.Errorf("FuzzFile = %q, want %q", got, want)
	}
}

// fakeT records failures instead of failing the real test.
type fakeT struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeT) Helper()                   {}
func (f *fakeT) Errorf(s string, a ...any) { f.failed = true; f.msg = s }
func (f *fakeT) Fatalf(s string, a ...any) { f.failed = true; f.msg = s }

func TestGolden(t *testing.T) {
	compareMode(t)
	path := filepath.Join(t.TempDir(), "g.txt")
	if err := os.WriteFile(path, []byte("one\ntwo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		got  string
		fail bool
	}{{"one\ntwo\n", false}, {"one\n", true}, {"one\ntwo\nthree\n", true}} {
		ft := &fakeT{TB: t}
		Golden(ft, path, []byte(c.got))
		if ft.failed != c.fail {
			t.Errorf("Golden(%q): failed %v, want %v", c.got, ft.failed, c.fail)
		}
	}
	ft := &fakeT{TB: t}
	Golden(ft, filepath.Join(t.TempDir(), "missing"), nil)
	if !ft.failed {
		t.Error("a missing golden file passed")
	}
}

func TestGoldenLines(t *testing.T) {
	compareMode(t)
	path := filepath.Join(t.TempDir(), "g.txt")
	if err := os.WriteFile(path, []byte("# head\nours 1\nshared 2\nours 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notShared := func(l string) bool { return !strings.HasPrefix(l, "shared") }
	for _, c := range []struct {
		got  string
		keep func(string) bool
		fail bool
	}{
		{"# head\nours 1\nours 3\n", notShared, false},
		{"# head\nours 1\n", notShared, true},
		{"# head\nours 1\nshared 2\nours 3\n", nil, false},
		{"# head\nours 1\nours 3\n", nil, true},
	} {
		ft := &fakeT{TB: t}
		GoldenLines(ft, path, []byte(c.got), c.keep)
		if ft.failed != c.fail {
			t.Errorf("GoldenLines(%q, filtered %v): failed %v, want %v", c.got, c.keep != nil, ft.failed, c.fail)
		}
	}
}

func TestReadAll(t *testing.T) {
	buf := []byte{0}
	i := 0
	next := func() ([]byte, error) {
		if i == 3 {
			return nil, io.EOF
		}
		i++
		buf[0] = byte(i) // reused buffer, as readers do
		return buf, nil
	}
	got, err := ReadAll(next, func(b []byte) []byte { return append([]byte(nil), b...) })
	if err != nil || len(got) != 3 || got[0][0] != 1 || got[2][0] != 3 {
		t.Errorf("ReadAll = %v, %v", got, err)
	}
	bad := errors.New("cut")
	n := 0
	ints, err := ReadAll(func() (int, error) {
		if n == 2 {
			return 0, bad
		}
		n++
		return n, nil
	}, nil)
	if !errors.Is(err, bad) || len(ints) != 2 {
		t.Errorf("ReadAll with an error = %v, %v; want the two values read and the error", ints, err)
	}
}

func TestSeedCorpus(t *testing.T) {
	compareMode(t)
	dir := t.TempDir()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	seeds := []Seed{{Name: "a", Data: []byte("x\x00y")}}
	ft := &fakeT{TB: t}
	SeedCorpus(ft, "FuzzX", seeds)
	if !ft.failed {
		t.Error("a missing seed file passed")
	}
	os.MkdirAll(filepath.Join("testdata", "fuzz", "FuzzX"), 0o755)
	os.WriteFile(filepath.Join("testdata", "fuzz", "FuzzX", "a"), []byte("go test fuzz v1\n[]byte(\"x\\x00y\")\n"), 0o644)
	ft = &fakeT{TB: t}
	SeedCorpus(ft, "FuzzX", seeds)
	if ft.failed {
		t.Errorf("an up-to-date seed file failed: %s", ft.msg)
	}
}

func TestRootAndShared(t *testing.T) {
	root := Root(t)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TCPTRACK_SHARED", filepath.Join(t.TempDir(), "nothing"))
	if _, ok := Shared(t, "pcaps", "nothing"); ok {
		t.Error("Shared found a directory that does not exist")
	}
	t.Setenv("TCPTRACK_SHARED", root)
	if dir, ok := Shared(t, "internal", "nothing"); !ok || dir != filepath.Join(root, "internal") {
		t.Errorf("Shared = %s, %v", dir, ok)
	}
}

// TestEveryTestPackageTakesUpdate: go test ./... -update passes -update to
// every test binary, and one that does not define it fails; so every
// package with tests imports this one.
func TestEveryTestPackageTakesUpdate(t *testing.T) {
	root := Root(t)
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			return nil
		}
		if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != root {
			return filepath.SkipDir // another module (examples/…)
		}
		tests, _ := filepath.Glob(filepath.Join(path, "*_test.go"))
		if len(tests) == 0 || filepath.Base(path) == "testutil" {
			return nil
		}
		for _, f := range tests {
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			if strings.Contains(string(b), `"github.com/tcptrack/tcptrack/internal/testutil"`) {
				return nil
			}
		}
		rel, _ := filepath.Rel(root, path)
		t.Errorf("%s: no test file imports internal/testutil, so go test ./... -update fails there", rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
