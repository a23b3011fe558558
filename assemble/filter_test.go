//go:build cgo

package assemble

import (
	"encoding/binary"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/internal/testutil"

	"github.com/tcptrack/tcptrack/fsm"
)

func TestFilter(t *testing.T) {
	syn80 := v4{}.wrap(synSeg.bytes()) // dport 80
	to81 := v4{}.wrap(seg{sport: 40000, dport: 81, flags: fsm.SYN}.bytes())
	syn6 := v6{}.wrap(synSeg.bytes())
	sll2 := func(proto uint16, p []byte) []byte {
		return cat(u16b(proto), u16b(0), u32b(3), u16b(1), []byte{0, 6}, make([]byte, 8), p)
	}
	le2 := []byte{2, 0, 0, 0}
	cases := []struct {
		expr string
		rec  Record
		want bool
	}{
		{"tcp port 80", rec(LinkEthernet, ether(0x0800, syn80)), true},
		{"tcp port 80", rec(LinkEthernet, ether(0x0800, to81)), false},
		{"tcp port 80", rec(LinkRaw, syn80), true},
		{"tcp port 80", rec(LinkRaw, syn6), true},
		{"tcp port 80", rec(LinkSLL2, sll2(0x0800, syn80)), true},
		{"tcp port 80", rec(LinkSLL2, sll2(0x0800, to81)), false},
		{"tcp port 80", rec(LinkNull, cat(le2, syn80)), true},
		{"tcp port 80", rec(LinkIPv4, syn80), true},
		{"tcp[tcpflags] & tcp-syn != 0 and host 10.0.0.1", rec(LinkEthernet, ether(0x0800, syn80)), true},
		{"ip6", rec(LinkEthernet, ether(0x0800, syn80)), false},
		{"ip6", rec(LinkEthernet, ether(0x86dd, syn6)), true},
		{"vlan 42 and tcp", rec(LinkEthernet, ether(0x8100, cat(vlanTag(42, 0x0800), syn80))), true},
		{"vlan 43 and tcp", rec(LinkEthernet, ether(0x8100, cat(vlanTag(42, 0x0800), syn80))), false},
		{"len > 100", rec(LinkRaw, syn80), false},
		{"len > 100", cut(func() Record { r := rec(LinkRaw, syn80); r.OrigLen = 1500; return r }(), 60), true}, // len is the wire length
		{"", rec(LinkRaw, syn80), true},
		{"", rec(LinkType(147), nil), true},
		{"tcp", rec(LinkRaw, nil), false},
	}
	for _, tc := range cases {
		f, err := NewFilter(tc.expr)
		if err != nil {
			t.Fatalf("%q: %v", tc.expr, err)
		}
		r := tc.rec
		if got := f.Match(&r); got != tc.want {
			t.Errorf("%q on %v frame: %v, want %v", tc.expr, r.LinkType, got, tc.want)
		}
		if f.Err() != nil {
			t.Errorf("%q: Err %v", tc.expr, f.Err())
		}
		if f.String() != tc.expr {
			t.Errorf("String %q", f.String())
		}
	}
}

func TestFilterErrors(t *testing.T) {
	for _, expr := range []string{"tcp port", "tcp and and", "no such thing", "port 99999999"} {
		_, err := NewFilter(expr)
		if err == nil {
			t.Errorf("%q: no error", expr)
			continue
		}
		if !strings.Contains(err.Error(), `filter "`+expr+`"`) {
			t.Errorf("%q: error does not name the expression: %v", expr, err)
		}
	}
	// Valid in general, impossible on some link types.
	f, err := NewFilter("ether host 01:02:03:04:05:06")
	if err != nil {
		t.Fatal(err)
	}
	r := rec(LinkRaw, v4{}.wrap(synSeg.bytes()))
	if f.Match(&r) {
		t.Error("ether host matched a raw IP frame")
	}
	if err := f.Err(); err == nil || !strings.Contains(err.Error(), "RAW") {
		t.Errorf("Err = %v", err)
	}
}

func TestFilterMatchDoesNotAllocate(t *testing.T) {
	f, err := NewFilter("tcp port 80 and host 10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	a := rec(LinkEthernet, ether(0x0800, v4{}.wrap(synSeg.bytes())))
	b := rec(LinkRaw, v4{}.wrap(synSeg.bytes()))
	if n := testing.AllocsPerRun(1000, func() { f.Match(&a); f.Match(&b) }); n != 0 {
		t.Errorf("%v allocs per Match", n)
	}
}

// The Go interpreter must agree with libpcap's bpf_filter on every corpus
// record for a handful of expressions.
func TestFilterMatchesLibpcapOnCorpus(t *testing.T) {
	exprs := []string{"tcp", "tcp port 80", "tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", "ip6 and tcp", "vlan and tcp", "len > 200", "ip[6:2] & 0x3fff != 0", "net 10.0.0.0/8 or host ::1", "ip and tcp[20:4] = 0x47455420"}
	// Our own captures always, the shared corpus when it is there.
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "*.pcap"))
	kernel, _ := filepath.Glob(filepath.Join("..", "testdata", "pcaps", "kernel", "*", "capture.pcap"))
	files = append(files, kernel...)
	if dir, ok := testutil.Shared(t, "pcaps", "the shared captures (in-repo captures still checked)"); ok {
		shared, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
		files = append(files, shared...)
	}
	progs := map[string]map[LinkType][]bpfInsn{}
	checked := 0
	for _, file := range files {
		r, err := Open(file)
		if err != nil {
			t.Fatal(err)
		}
		for {
			rec, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range exprs {
				if progs[e] == nil {
					progs[e] = map[LinkType][]bpfInsn{}
				}
				p, ok := progs[e][rec.LinkType]
				if !ok {
					p, _ = compileBPF(rec.LinkType, e)
					progs[e][rec.LinkType] = p
				}
				if p == nil {
					continue
				}
				wire := max(rec.OrigLen, len(rec.Data))
				if got, want := runBPF(p, rec.Data, wire), libpcapRun(p, rec.Data, wire); got != want {
					t.Errorf("%s record %d, %q: Go %d, libpcap %d", filepath.Base(file), r.Count(), e, got, want)
				}
				checked++
			}
		}
		r.Close()
	}
	t.Logf("%d record/expression pairs agree", checked)
}

func TestValidateBPF(t *testing.T) {
	ret := bpfInsn{op: bpfRET | bpfK, k: 1}
	for name, prog := range map[string][]bpfInsn{
		"empty":                nil,
		"no return":            {{op: bpfLD | bpfIMM}},
		"jump out":             {{op: bpfJMP | bpfJA, k: 1}, ret},
		"conditional out":      {{op: bpfJMP | bpfJEQ | bpfK, jt: 0, jf: 5}, ret},
		"scratch out":          {{op: bpfST, k: 16}, ret},
		"load scratch out":     {{op: bpfLD | bpfMEM, k: 99}, ret},
		"division by zero":     {{op: bpfALU | bpfDIV | bpfK, k: 0}, ret},
		"modulo by zero":       {{op: bpfALU | bpfMOD | bpfK, k: 0}, ret},
		"unknown load":         {{op: bpfLD | bpfB | bpfLEN}, ret},
		"unknown ALU":          {{op: bpfALU | 0xb0}, ret},
		"unknown jump":         {{op: bpfJMP | 0x50}, ret},
		"unknown return":       {{op: bpfRET | 0x18}},
		"unknown misc":         {{op: bpfMISC | 0x40}, ret},
		"unknown ldx":          {{op: bpfLDX | bpfH | bpfABS}, ret},
		"store with mode bits": {{op: bpfST | bpfABS}, ret},
	} {
		if validateBPF(prog) == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := validateBPF([]bpfInsn{{op: bpfALU | bpfDIV | bpfX}, ret}); err != nil {
		t.Errorf("division by X rejected: %v", err)
	}
}

// Hand-written programs exercising every instruction, compared with
// libpcap's interpreter.
func TestRunBPFAgainstLibpcap(t *testing.T) {
	pkt := []byte{0x45, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xa0, 0xb0}
	ld := func(op uint16, k uint32) bpfInsn { return bpfInsn{op: op, k: k} }
	retA := bpfInsn{op: bpfRET | bpfA}
	var progs [][]bpfInsn
	for _, op := range []uint16{bpfADD, bpfSUB, bpfMUL, bpfDIV, bpfOR, bpfAND, bpfLSH, bpfRSH, bpfNEG, bpfMOD, bpfXOR} {
		for _, k := range []uint32{0, 1, 3, 31, 32, 0xffffffff} {
			if op == bpfNEG {
				progs = append(progs, []bpfInsn{ld(bpfLD|bpfIMM, k), {op: bpfALU | bpfNEG}, retA})
				continue
			}
			progs = append(progs, []bpfInsn{ld(bpfLDX|bpfW|bpfIMM, k), ld(bpfLD|bpfH|bpfABS, 2), {op: bpfALU | op | bpfX}, retA})
			if k == 0 && (op == bpfDIV || op == bpfMOD) || k >= 32 && (op == bpfLSH || op == bpfRSH) {
				continue
			}
			progs = append(progs, []bpfInsn{ld(bpfLD|bpfW|bpfABS, 0), {op: bpfALU | op | bpfK, k: k}, retA})
		}
	}
	for _, k := range []uint32{0, 1, 7, 8, 9, 11, 12, 0xfffffffe} {
		progs = append(progs,
			[]bpfInsn{ld(bpfLD|bpfB|bpfABS, k), retA},
			[]bpfInsn{ld(bpfLD|bpfH|bpfABS, k), retA},
			[]bpfInsn{ld(bpfLD|bpfW|bpfABS, k), retA},
			[]bpfInsn{ld(bpfLDX|bpfB|bpfMSH, k), {op: bpfMISC | bpfTXA}, retA},
			[]bpfInsn{ld(bpfLDX|bpfW|bpfIMM, 4), ld(bpfLD|bpfB|bpfIND, k), retA},
			[]bpfInsn{ld(bpfLDX|bpfW|bpfIMM, k), ld(bpfLD|bpfH|bpfIND, 4), retA},
			[]bpfInsn{ld(bpfLDX|bpfW|bpfIMM, 2), ld(bpfLD|bpfW|bpfIND, k), retA},
			[]bpfInsn{ld(bpfLD|bpfIMM, k), {op: bpfST, k: 3}, ld(bpfLDX|bpfW|bpfMEM, 3), {op: bpfSTX, k: 15}, ld(bpfLD|bpfMEM, 15), retA},
			[]bpfInsn{ld(bpfLD|bpfW|bpfLEN, 0), ld(bpfLDX|bpfW|bpfLEN, 0), {op: bpfALU | bpfADD | bpfX}, {op: bpfMISC | bpfTAX}, {op: bpfMISC | bpfTXA}, retA},
		)
		for _, j := range []uint16{bpfJEQ, bpfJGT, bpfJGE, bpfJSET} {
			progs = append(progs,
				[]bpfInsn{ld(bpfLD|bpfB|bpfABS, 1), {op: bpfJMP | j | bpfK, k: k, jt: 1}, {op: bpfRET | bpfK, k: 7}, {op: bpfRET | bpfK, k: 9}},
				[]bpfInsn{ld(bpfLDX|bpfW|bpfIMM, k), ld(bpfLD|bpfB|bpfABS, 1), {op: bpfJMP | j | bpfX, jf: 1}, {op: bpfRET | bpfK, k: 7}, {op: bpfJMP | bpfJA, k: 0}, {op: bpfRET | bpfK, k: 9}})
		}
	}
	progs = append(progs, []bpfInsn{ld(bpfLDX|bpfW|bpfIMM, 0), ld(bpfLD|bpfIMM, 5), {op: bpfALU | bpfDIV | bpfX}, retA})
	for i, p := range progs {
		if err := validateBPF(p); err != nil {
			t.Fatalf("program %d: %v", i, err)
		}
		for _, data := range [][]byte{pkt, pkt[:3], nil} {
			if got, want := runBPF(p, data, 1500), libpcapRun(p, data, 1500); got != want {
				t.Errorf("program %d %v on %d bytes: Go %#x, libpcap %#x", i, p, len(data), got, want)
			}
		}
	}
}

// FuzzBPF compares the Go interpreter with libpcap's on arbitrary valid
// programs and packets.
func FuzzBPF(f *testing.F) {
	for _, e := range []string{"tcp port 80", "vlan and ip6", "len > 100 and tcp[13] & 7 != 0"} {
		p, err := compileBPF(LinkEthernet, e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(encodeBPF(p), ether(0x0800, v4{}.wrap(synSeg.bytes())), uint16(80))
	}
	f.Fuzz(func(t *testing.T, code, pkt []byte, wire uint16) {
		prog := decodeBPF(code)
		if validateBPF(prog) != nil || readsUnsetScratch(prog) {
			return
		}
		if got, want := runBPF(prog, pkt, int(wire)), libpcapRun(prog, pkt, int(wire)); got != want {
			t.Errorf("%v on %x: Go %#x, libpcap %#x", prog, pkt, got, want)
		}
	})
}

// readsUnsetScratch reports whether some path loads a scratch memory slot
// before storing it: libpcap leaves the slots uninitialised (stack
// garbage) where the Go interpreter has zeros, so such programs (which no
// compiler emits) have no defined result to compare.
func readsUnsetScratch(p []bpfInsn) bool {
	const unknown = ^uint16(0)
	in := make([]uint16, len(p)+1) // slots stored on every path into i
	for i := range in {
		in[i] = unknown
	}
	in[0] = 0
	for i, ins := range p {
		if in[i] == unknown {
			continue // unreachable
		}
		class, mode := ins.op&7, ins.op&0xe0
		if (class == 0 || class == 1) && mode == 0x60 && in[i]&(1<<(ins.k&15)) == 0 {
			return true
		}
		out := in[i]
		if class == 2 || class == 3 {
			out |= 1 << (ins.k & 15)
		}
		flow := func(t int) {
			if t < len(in) {
				if in[t] == unknown {
					in[t] = out
				} else {
					in[t] &= out
				}
			}
		}
		switch class {
		case 6: // RET
		case 5: // JMP
			if ins.op&0xf0 == 0 {
				flow(i + 1 + int(ins.k))
			} else {
				flow(i + 1 + int(ins.jt))
				flow(i + 1 + int(ins.jf))
			}
		default:
			flow(i + 1)
		}
	}
	return false
}

func encodeBPF(p []bpfInsn) []byte {
	var b []byte
	for _, in := range p {
		b = binary.LittleEndian.AppendUint16(b, in.op)
		b = append(b, in.jt, in.jf)
		b = binary.LittleEndian.AppendUint32(b, in.k)
	}
	return b
}

func decodeBPF(b []byte) []bpfInsn {
	var p []bpfInsn
	for ; len(b) >= 8 && len(p) < 64; b = b[8:] {
		p = append(p, bpfInsn{op: binary.LittleEndian.Uint16(b), jt: b[2], jf: b[3], k: binary.LittleEndian.Uint32(b[4:])})
	}
	return p
}

// BenchmarkFilter compares the Go interpreter with a cgo call into
// libpcap's bpf_filter for the same program and frame.
func BenchmarkFilter(b *testing.B) {
	frame := ether(0x0800, v4{}.wrap(dataSeg.bytes()))
	for _, expr := range []string{"tcp port 80", "tcp[tcpflags] & tcp-syn != 0 and net 10.0.0.0/8 and not port 22"} {
		prog, err := compileBPF(LinkEthernet, expr)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("go/"+expr, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				runBPF(prog, frame, len(frame))
			}
		})
		b.Run("libpcap-cgo/"+expr, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				libpcapRun(prog, frame, len(frame))
			}
		})
	}
	f, _ := NewFilter("tcp port 80")
	r := rec(LinkEthernet, frame)
	b.Run("Filter.Match", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			f.Match(&r)
		}
	})
}
