package output_test

import (
	"path/filepath"
	"testing"

	"github.com/tcptrack/tcptrack/internal/testutil"
	"github.com/tcptrack/tcptrack/output"
)

// TestJSONEvents: one JSON object per event (tcptrack read -e -o json).
func TestJSONEvents(t *testing.T) {
	_, events, _ := replay(t)
	var b []byte
	for i := range events {
		b = output.AppendJSONEvent(b, &events[i])
		b = append(b, '\n')
	}
	testutil.Golden(t, filepath.Join("testdata", "sample-events.json"), b)
}
