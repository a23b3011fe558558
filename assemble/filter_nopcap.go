//go:build !cgo

package assemble

import "errors"

func compileBPF(LinkType, string) ([]bpfInsn, error) {
	return nil, errors.New("BPF filters need libpcap: build with cgo")
}
