package assemble

import "io"

// Merger interleaves the records of several Readers in timestamp order,
// as if they had been captured into one file. Records with equal
// timestamps come in reader order (a.pcap before b.pcap); each reader's
// own records keep their file order even if their timestamps go
// backwards. A returned Record's Data stays valid until the next call to
// Next, as with a single Reader.
type Merger struct {
	rs   []*Reader
	head []Record
	has  []bool // head[i] holds a record not yet returned
	done []bool // reader i hit EOF or an error
	last int    // reader whose record Next returned last; -1 before the first
}

// NewMerger merges rs. Readers are few (one per file on the command line),
// so the earliest head is found by a linear scan rather than a heap.
func NewMerger(rs ...*Reader) *Merger {
	return &Merger{rs: rs, head: make([]Record, len(rs)), has: make([]bool, len(rs)), done: make([]bool, len(rs)), last: -1}
}

// fill reads the next record of reader i unless it already has one.
func (m *Merger) fill(i int) error {
	if m.has[i] || m.done[i] {
		return nil
	}
	rec, err := m.rs[i].Next()
	if err != nil {
		m.done[i] = true
		if err == io.EOF {
			return nil
		}
		return err
	}
	m.head[i], m.has[i] = rec, true
	return nil
}

// Next returns the earliest pending record, or io.EOF when every reader is
// exhausted. A reader's error (already naming its file) is returned once;
// that reader is then dropped and later calls go on with the others.
func (m *Merger) Next() (Record, error) {
	// Advancing a reader invalidates the Data of its previous record, so
	// only the reader whose record was handed out last is advanced here.
	if m.last >= 0 {
		m.has[m.last] = false
		if err := m.fill(m.last); err != nil {
			return Record{}, err
		}
	} else {
		// First call, or a retry after one of the first reads failed.
		for i := range m.rs {
			if err := m.fill(i); err != nil {
				return Record{}, err
			}
		}
	}
	best := -1
	for i := range m.rs {
		if !m.has[i] {
			continue
		}
		if best < 0 || m.head[i].TS < m.head[best].TS {
			best = i
		}
	}
	if best < 0 {
		return Record{}, io.EOF
	}
	m.last = best
	return m.head[best], nil
}

// Source is the index (in NewMerger's argument order) of the reader that
// produced the record Next returned last.
func (m *Merger) Source() int { return m.last }

// Count is the number of records read from all readers so far.
func (m *Merger) Count() int {
	n := 0
	for _, r := range m.rs {
		n += r.Count()
	}
	return n
}
