//go:build cgo

package assemble

/*
#cgo LDFLAGS: -lpcap
#include <stdio.h>
#include <stdlib.h>
#include <pcap/pcap.h>

// compile_filter compiles expr for a link type on a dead handle; on failure
// it copies libpcap's message into errbuf.
static int compile_filter(int linktype, int snaplen, const char *expr,
                          struct bpf_program *prog, char *errbuf, int errlen) {
	pcap_t *p = pcap_open_dead(linktype, snaplen);
	if (p == NULL) {
		snprintf(errbuf, errlen, "libpcap cannot open a handle for link type %d", linktype);
		return -1;
	}
	if (pcap_compile(p, prog, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(errbuf, errlen, "%s", pcap_geterr(p));
		pcap_close(p);
		return -1;
	}
	pcap_close(p);
	return 0;
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// compileBPF has libpcap compile expr for link type lt (gopacket's pcap
// wrappers take the link type as a uint8, too small for LINUX_SLL2).
func compileBPF(lt LinkType, expr string) ([]bpfInsn, error) {
	// pcap_open_dead takes a DLT_ value; files carry LINKTYPE_ values, which
	// differ for a few old types (libpcap's linktype_to_dlt).
	dlt := int(lt)
	switch lt {
	case LinkRaw, LinkRawOBSD:
		dlt = int(C.DLT_RAW)
	case 100: // LINKTYPE_ATM_RFC1483
		dlt = int(C.DLT_ATM_RFC1483)
	}
	cexpr := C.CString(expr)
	defer C.free(unsafe.Pointer(cexpr))
	var prog C.struct_bpf_program
	var errbuf [512]C.char
	if C.compile_filter(C.int(dlt), C.int(MaxCapLen), cexpr, &prog, &errbuf[0], C.int(len(errbuf))) < 0 {
		return nil, errors.New(C.GoString(&errbuf[0]))
	}
	defer C.pcap_freecode(&prog)
	insns := unsafe.Slice(prog.bf_insns, int(prog.bf_len))
	out := make([]bpfInsn, len(insns))
	for i, in := range insns {
		out[i] = bpfInsn{op: uint16(in.code), jt: uint8(in.jt), jf: uint8(in.jf), k: uint32(in.k)}
	}
	return out, nil
}

// libpcapRun runs prog with libpcap's own interpreter (bpf_filter): the
// reference the Go interpreter is tested and benchmarked against.
func libpcapRun(prog []bpfInsn, pkt []byte, wire int) uint32 {
	var p *C.u_char
	if len(pkt) > 0 {
		p = (*C.u_char)(unsafe.Pointer(&pkt[0]))
	}
	return uint32(C.bpf_filter((*C.struct_bpf_insn)(unsafe.Pointer(&prog[0])), p, C.u_int(wire), C.u_int(len(pkt))))
}
