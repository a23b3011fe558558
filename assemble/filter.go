package assemble

import (
	"fmt"
	"maps"
	"slices"
)

// Filter selects records with a tcpdump expression ("tcp port 80 and host
// 10.0.0.1"). libpcap compiles the expression once per link type, lazily,
// and a Go interpreter runs the compiled program on each record. A Filter
// caches programs as it goes: use it from one goroutine.
type Filter struct {
	expr  string
	progs map[LinkType][]bpfInsn // nil entry: the expression does not compile for that link type
	errs  map[LinkType]error

	lastLink LinkType
	last     []bpfInsn
	haveLast bool
}

// NewFilter compiles expr for the common link types and fails if it fits
// none of them (a syntax error, an unknown host name ...).
func NewFilter(expr string) (*Filter, error) {
	f := &Filter{expr: expr, progs: make(map[LinkType][]bpfInsn), errs: make(map[LinkType]error)}
	var first error
	for _, lt := range []LinkType{LinkEthernet, LinkSLL, LinkSLL2, LinkRaw} {
		if _, err := f.program(lt); err == nil {
			return f, nil
		} else if first == nil {
			first = err
		}
	}
	return nil, first
}

// String is the expression.
func (f *Filter) String() string { return f.expr }

// program compiles (once) and returns the program for a link type.
func (f *Filter) program(lt LinkType) ([]bpfInsn, error) {
	if p, ok := f.progs[lt]; ok {
		return p, f.errs[lt]
	}
	p, err := compileBPF(lt, f.expr)
	if err == nil {
		err = validateBPF(p)
	}
	if err != nil {
		p = nil
		err = fmt.Errorf("filter %q on link type %v: %w", f.expr, lt, err)
		f.errs[lt] = err
	}
	f.progs[lt] = p
	return p, err
}

// Match reports whether the record passes the filter. A record of a link
// type the expression cannot be compiled for does not match; Err tells why.
func (f *Filter) Match(rec *Record) bool {
	if !f.haveLast || rec.LinkType != f.lastLink {
		f.last, _ = f.program(rec.LinkType)
		f.lastLink, f.haveLast = rec.LinkType, true
	}
	if f.last == nil {
		return false
	}
	return runBPF(f.last, rec.Data, max(rec.OrigLen, len(rec.Data))) != 0
}

// Err returns an error for every link type Match met that the expression
// could not be compiled for (e.g. "ether host ..." on raw IP), or nil.
func (f *Filter) Err() error {
	var errs []error
	for _, lt := range slices.Sorted(maps.Keys(f.errs)) {
		errs = append(errs, f.errs[lt])
	}
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return fmt.Errorf("%w (and %d more link types)", errs[0], len(errs)-1)
}
