package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/output"
)

// exportFormat picks the --export format: -o when given, else the file's
// extension.
func exportFormat(path, output string) (string, error) {
	if output != "" {
		return output, nil
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".txt":
		return "table", nil
	case ".csv":
		return "csv", nil
	case ".json":
		return "json", nil
	}
	return "", fmt.Errorf("--export %s: cannot tell the format from the name: use .txt, .csv or .json, or give -o", path)
}

// exporter writes the state table to a file atomically: readers see the
// previous table or the new one, never a part.
type exporter struct {
	path string
	opts output.Options // format from -o or the extension: conntrack, table, csv or json
	done chan struct{}  // closed when run returns
}

// run writes each frame it is handed until in is closed; failures are
// reported, once per distinct message, and do not stop the capture.
func (e *exporter) run(in <-chan *viewFrame, stderr io.Writer) {
	defer close(e.done)
	last := ""
	for fr := range in {
		err := e.write(fr.flows, fr.now)
		if err != nil && err.Error() != last {
			fmt.Fprintf(stderr, "tcptrack: warning: %v\n", err)
		}
		last = ""
		if err != nil {
			last = err.Error()
		}
	}
}

func (e *exporter) write(flows []flowtable.Flow, now int64) error {
	dir, base := filepath.Split(e.path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return fmt.Errorf("--export %s: %w", e.path, unwrapPathError(err))
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("--export %s: %w", e.path, err)
	}
	w := bufio.NewWriterSize(tmp, 1<<16)
	err = writeFlows(w, nil, output.FlowSlice{Flows: flows}, now, e.opts)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		// CreateTemp makes the file 0600; a state table is for others to read.
		err = tmp.Chmod(0o644)
	}
	if err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("--export %s: %w", e.path, err)
	}
	if err := os.Rename(tmp.Name(), e.path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("--export %s: %w", e.path, err)
	}
	return nil
}
