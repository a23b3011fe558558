package main

import (
	"net"
	"testing"
)

// Every veth of every scenario of a run gets its own address, so the lines
// of parallel scenarios in the shared kernel log cannot be mixed up.
func TestVethMACUnique(t *testing.T) {
	seen := map[string]bool{}
	for idx := range 64 {
		for link := range 4 {
			for end := range 2 {
				m := vethMAC(idx, link, end)
				if m[0]&1 != 0 || m[0]&2 == 0 {
					t.Fatalf("%s: not a locally administered unicast address", m)
				}
				if seen[m.String()] {
					t.Fatalf("%s given twice", m)
				}
				seen[m.String()] = true
			}
		}
	}
}

// A crafted bad checksum is wrong and is not the offload pattern (the
// pseudo-header sum) either; an overridden data offset is written as asked.
func TestCraftedMalformed(t *testing.T) {
	for _, src := range []string{"10.1.0.100", "fd00:1::100"} {
		dst := "10.2.0.100"
		if src != "10.1.0.100" {
			dst = "fd00:2::100"
		}
		for n := range 40 {
			h := tcpHeader{sport: 30101, dport: 80, seq: uint32(n * 7919), flags: 0x18, win: 64240, badSum: true, doff: 15}
			f := buildFrame(testMACa, testMACb, net.ParseIP(src), net.ParseIP(dst), 9, h, payload(n))
			ip := f[14:]
			var pseudo, seg []byte
			if ip[0]>>4 == 4 {
				seg = ip[20:]
				pseudo = append(append(append([]byte{}, ip[12:20]...), 0, 6), byte(len(seg)>>8), byte(len(seg)))
			} else {
				seg = ip[40:]
				pseudo = append(append([]byte{}, ip[8:40]...), 0, 0, byte(len(seg)>>8), byte(len(seg)), 0, 0, 0, 6)
			}
			if checksum(sum16(0, pseudo), seg) == 0 {
				t.Fatalf("%s, %d bytes: checksum is right", src, n)
			}
			if field := uint16(seg[16])<<8 | uint16(seg[17]); field == ^checksum(0, pseudo) {
				t.Fatalf("%s, %d bytes: checksum is the offload pattern", src, n)
			}
			if seg[12]>>4 != 15 {
				t.Fatalf("data offset %d, want 15", seg[12]>>4)
			}
		}
	}
}
