package output_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/tcptrack/tcptrack/internal/testutil"
	"github.com/tcptrack/tcptrack/output"
)

// TestCSV: a header, then one row per flow.
func TestCSV(t *testing.T) {
	res, _, now := replay(t)
	var b bytes.Buffer
	if err := output.Write(&b, &res, now, output.Options{Format: output.FormatCSV}); err != nil {
		t.Fatal(err)
	}
	testutil.Golden(t, filepath.Join("testdata", "sample.csv"), b.Bytes())
}
