package main

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
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
	path   string
	format string // conntrack, table, csv or json
	lo     lineOpts
	done   chan struct{} // closed when run returns
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
	switch e.format {
	case "table":
		err = writeTable(w, flows, now)
	case "json":
		err = writeJSON(w, flows, now)
	case "csv":
		err = writeCSV(w, flows, now)
	default:
		var line []byte
		for i := range flows {
			line = appendConntrack(line[:0], &flows[i], now, e.lo)
			line = append(line, '\n')
			if _, err = w.Write(line); err != nil {
				break
			}
		}
	}
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

var csvHeader = []string{"client", "client_port", "client_state", "server", "server_port", "server_state",
	"conntrack", "assured", "unreplied", "timeout", "packets_orig", "packets_reply", "bytes_orig", "bytes_reply",
	"first_seen", "last_seen", "idle_seconds"}

// writeCSV is the netstat-style table as RFC 4180 CSV, one flow per row.
func writeCSV(w io.Writer, flows []flowtable.Flow, now int64) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	rec := make([]string, len(csvHeader))
	for i := range flows {
		f := &flows[i]
		k := &f.Key
		cs, ss := f.Sockets(now)
		st := f.Conn.Status()
		rec[0], rec[1], rec[2] = k.SrcAddr().String(), strconv.Itoa(int(k.SrcPort)), cs.State.String()
		rec[3], rec[4], rec[5] = k.DstAddr().String(), strconv.Itoa(int(k.DstPort)), ss.State.String()
		rec[6] = f.Conn.State().String()
		rec[7] = strconv.FormatBool(st&fsm.Assured != 0)
		rec[8] = strconv.FormatBool(st&fsm.SeenReply == 0)
		rec[9] = strconv.FormatInt(f.TimeoutAt(now), 10)
		rec[10] = strconv.FormatUint(f.Packets[fsm.Original], 10)
		rec[11] = strconv.FormatUint(f.Packets[fsm.Reply], 10)
		rec[12] = strconv.FormatUint(f.Bytes[fsm.Original], 10)
		rec[13] = strconv.FormatUint(f.Bytes[fsm.Reply], 10)
		rec[14] = time.Unix(0, f.Start).UTC().Format(time.RFC3339Nano)
		rec[15] = time.Unix(0, f.Last).UTC().Format(time.RFC3339Nano)
		rec[16] = strconv.FormatFloat(float64(max(now-f.Last, 0))/1e9, 'f', 3, 64)
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
