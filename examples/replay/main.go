// Command replay is tcptrack used as a library from another module: it
// reads pcap/pcapng files with assemble, tracks every TCP connection with
// flowtable (each one through fsm) and prints the table as conntrack -L
// would, through output: the same lines as `tcptrack read FILE...`. It
// needs no cgo: CGO_ENABLED=0 go build builds it.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
	"github.com/tcptrack/tcptrack/output"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: replay FILE...")
		os.Exit(2)
	}
	if err := replay(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "replay:", err)
		os.Exit(1)
	}
}

// records is what the loop reads from: one file, or several merged in
// timestamp order.
type records interface {
	Next() (assemble.Record, error)
}

func replay(files []string, stdout, stderr io.Writer) error {
	var readers []*assemble.Reader
	for _, name := range files {
		rd, err := assemble.Open(name)
		if err != nil {
			return err
		}
		defer rd.Close()
		readers = append(readers, rd)
	}
	var src records = readers[0]
	if len(readers) > 1 {
		src = assemble.NewMerger(readers...)
	}

	// The kernel's defaults (nf_conntrack_tcp_*), as tcptrack read uses
	// them without flags.
	table := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), Shards: 2})
	pl := assemble.NewPipeline(table, assemble.DecoderConfig{})
	for {
		rec, err := src.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, assemble.ErrTruncated) && len(readers) == 1 {
			// A cut-short last record: the table covers what was read.
			fmt.Fprintf(stderr, "replay: warning: %v\n", err)
			break
		}
		if err != nil {
			table.Close(pl.Now())
			return err
		}
		pl.Add(&rec)
	}
	res := table.Close(pl.Now())
	if err := output.WriteConntrack(stdout, &res, pl.Now(), output.LineOptions{}); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "replay (conntrack-style): %d flow entries have been shown.\n", res.Len())
	return nil
}
