package kernelcorpus

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/testutil"
)

func TestMetaRoundTrip(t *testing.T) {
	dir := t.TempDir()
	m := &Meta{Scenario: "x", Seed: 7, ListAt: UnixSeconds(time.Unix(1795239467, 29677000)),
		Sysctl: map[string]string{"net.netfilter.nf_conntrack_acct": "1"}, Expect: []string{"e"}}
	if m.ListAt != 1795239467.029677 {
		t.Errorf("UnixSeconds = %f", m.ListAt)
	}
	if err := WriteMeta(dir, m); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMeta(dir)
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Errorf("ReadMeta = %+v, %v; want %+v", got, err, m)
	}
}

// TestCommittedCorpus: every meta.json of the committed corpus decodes
// into Meta with no field left over, so generator and tests agree.
func TestCommittedCorpus(t *testing.T) {
	dirs, err := Dirs(filepath.Join(testutil.Root(t), "testdata", "pcaps", "kernel"))
	if err != nil || len(dirs) < 10 {
		t.Fatalf("Dirs: %d scenarios, %v", len(dirs), err)
	}
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, MetaFile))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		var m Meta
		if err := dec.Decode(&m); err != nil {
			t.Errorf("%s: %v", d, err)
		}
		if m.Scenario != filepath.Base(d) || m.ListAt == 0 {
			t.Errorf("%s: scenario %q list_at %f", d, m.Scenario, m.ListAt)
		}
		for _, f := range []string{CaptureFile, ConntrackFile, EventsFile} {
			if _, err := os.Stat(filepath.Join(d, f)); err != nil {
				t.Error(err)
			}
		}
	}
}
