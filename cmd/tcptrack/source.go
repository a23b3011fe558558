package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tcptrack/tcptrack/assemble"
)

// recordSource is what the replay loop reads from: one file or several
// merged in timestamp order.
type recordSource interface {
	Next() (assemble.Record, error)
	// NextBatch reads up to len(dst) records (at least one, unless it
	// returns an error); their Data stays valid until the next call.
	NextBatch(dst []assemble.Record) (int, error)
	Offset() int64
	Name() string // the file the last record came from
}

// openSources opens every file ("-" = stdin) as a capture reader; errors
// name the file. size is the total of the regular files' sizes (progress).
func openSources(names []string, stdin io.Reader) (recordSource, func(), int64, error) {
	var files []*os.File
	var readers []*assemble.Reader
	// closeAll closes the files and lets the readers' buffers go; calling
	// it again does nothing more.
	closeAll := func() {
		for _, r := range readers {
			r.Close()
		}
		for _, f := range files {
			f.Close()
		}
		readers, files = nil, nil
	}
	var size int64
	for _, name := range names {
		var r io.Reader
		if name == "-" {
			r = stdin
			name = "(stdin)"
		} else {
			f, err := os.Open(name)
			if err != nil {
				closeAll()
				return nil, nil, 0, fmt.Errorf("%s: %w", name, unwrapPathError(err))
			}
			files = append(files, f)
			fi, err := f.Stat()
			if err == nil && fi.IsDir() {
				closeAll()
				return nil, nil, 0, fmt.Errorf("%s: is a directory, not a capture file", name)
			}
			if err == nil {
				size += fi.Size()
			}
			r = f
		}
		rd, err := assemble.NewReader(r, name)
		if err != nil {
			closeAll()
			return nil, nil, 0, err
		}
		// A pcap file has its one link type in the header; pcapng
		// interfaces come later and are counted per record instead.
		if ifs := rd.Interfaces(); len(ifs) == 1 && !ifs[0].LinkType.Decodable() {
			closeAll()
			lt := ifs[0].LinkType
			return nil, nil, 0, fmt.Errorf("%s: link type %s (%d) is not supported (tcptrack decodes %s)", name, lt, uint32(lt), decodableLinks())
		}
		readers = append(readers, rd)
	}
	if len(readers) == 1 {
		return readers[0], closeAll, size, nil
	}
	return &mergedSource{Merger: assemble.NewMerger(readers...), readers: readers}, closeAll, size, nil
}

// mergedSource reports progress as the bytes read from all files.
type mergedSource struct {
	*assemble.Merger
	readers []*assemble.Reader
}

func (m *mergedSource) Name() string {
	if i := m.Source(); i >= 0 {
		return m.readers[i].Name()
	}
	return m.readers[0].Name()
}

// decodableLinks names the link types the decoder knows, for errors.
func decodableLinks() string {
	var names []string
	seen := map[string]bool{}
	for lt := assemble.LinkType(0); lt < 300; lt++ {
		if n := lt.String(); lt.Decodable() && !seen[n] {
			seen[n] = true
			names = append(names, fmt.Sprintf("%s (%d)", n, uint32(lt)))
		}
	}
	return strings.Join(names, ", ")
}

// NextBatch is one record at a time: each Next moves one reader on, which
// may reuse the buffer under a record already in the batch.
func (m *mergedSource) NextBatch(dst []assemble.Record) (int, error) {
	if len(dst) == 0 {
		return 0, nil
	}
	rec, err := m.Next()
	if err != nil {
		return 0, err
	}
	dst[0] = rec
	return 1, nil
}

func (m *mergedSource) Offset() int64 {
	var n int64
	for _, r := range m.readers {
		n += r.Offset()
	}
	return n
}

// unwrapPathError drops the "open NAME:" prefix: the caller names the file.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
