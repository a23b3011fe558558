package librarytest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/internal/testutil"
)

const module = "github.com/tcptrack/tcptrack"

// goCmd runs the go command in dir with extra environment and returns its
// stdout.
func goCmd(t *testing.T, dir string, env []string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s (in %s, %v): %v\n%s", strings.Join(args, " "), dir, env, err, stderr.String())
	}
	return out
}

// TestLayers: what each library package may import of this module, and
// that none of fsm, flowtable and output links cgo (runtime/cgo) even in a
// build with cgo on: embedding the tracker needs neither a C compiler nor
// libpcap.
func TestLayers(t *testing.T) {
	root := testutil.Root(t)
	allowed := map[string][]string{
		"fsm":       nil,
		"flowtable": {"fsm"},
		"output":    {"flowtable", "fsm"},
		"assemble":  {"flowtable", "fsm"},
	}
	for pkg, want := range allowed {
		deps := strings.Fields(string(goCmd(t, root, []string{"CGO_ENABLED=1"}, "list", "-deps", "./"+pkg)))
		var ours []string
		for _, d := range deps {
			if rest, ok := strings.CutPrefix(d, module+"/"); ok && rest != pkg {
				ours = append(ours, rest)
			}
		}
		slices.Sort(ours)
		if !slices.Equal(ours, want) {
			t.Errorf("%s imports %v of this module, want %v", pkg, ours, want)
		}
		if pkg != "assemble" && slices.Contains(deps, "runtime/cgo") {
			t.Errorf("%s links runtime/cgo", pkg)
		}
	}
}

// TestBuildsWithoutCgo: the library and the command build with
// CGO_ENABLED=0 (the command then reads files; live capture and BPF
// filters say they need libpcap).
func TestBuildsWithoutCgo(t *testing.T) {
	goCmd(t, testutil.Root(t), []string{"CGO_ENABLED=0"}, "build", "./fsm", "./flowtable", "./output", "./assemble", "./cmd/tcptrack")
}

// TestBuildsElsewhere: the library and the command build for systems
// other than Linux (the terminal view and --fanout are Linux's; the rest
// is portable Go).
func TestBuildsElsewhere(t *testing.T) {
	for _, goos := range []string{"darwin", "freebsd"} {
		goCmd(t, testutil.Root(t), []string{"CGO_ENABLED=0", "GOOS=" + goos}, "build", "-o", os.DevNull, "./cmd/tcptrack")
		goCmd(t, testutil.Root(t), []string{"CGO_ENABLED=0", "GOOS=" + goos}, "build", "./fsm", "./flowtable", "./output", "./assemble")
	}
}

// TestExampleProgram: examples/replay, a module of its own that imports
// the library through a replace directive, builds with CGO_ENABLED=0 and
// prints, for the shipped sample, the lines tcptrack read prints.
func TestExampleProgram(t *testing.T) {
	root := testutil.Root(t)
	bin := t.TempDir()
	goCmd(t, filepath.Join(root, "examples", "replay"), []string{"CGO_ENABLED=0"}, "build", "-o", filepath.Join(bin, "replay"), ".")
	goCmd(t, root, nil, "build", "-o", filepath.Join(bin, "tcptrack"), "./cmd/tcptrack")
	sample := filepath.Join(root, "testdata", "pcaps", "sample.pcap")
	run := func(name string, args ...string) []byte {
		out, err := exec.Command(filepath.Join(bin, name), args...).Output()
		if err != nil {
			t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
		}
		return out
	}
	want, got := run("tcptrack", "read", sample), run("replay", sample)
	if len(want) == 0 || !bytes.Equal(got, want) {
		t.Errorf("examples/replay and tcptrack read differ:\n%s", testutil.LineDiff(string(want), string(got)))
	}
}
