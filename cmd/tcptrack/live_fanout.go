//go:build linux

package main

// AF_PACKET fanout (packet(7)): processes that open the same interface and
// join the same group id share its packets, the kernel picking one member
// per packet. In hash mode it picks by the flow hash, which the kernel
// computes symmetrically (__skb_get_hash_symmetric: addresses and ports
// sorted), so both directions of a connection reach the same member;
// PACKET_FANOUT_FLAG_DEFRAG makes IP fragments reach it too (they carry no
// ports until reassembled). TestScaleOutNetns checks the symmetry on real
// traffic.

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// socketFDs lists the process's open file descriptors.
func socketFDs() map[int]bool {
	fds := map[int]bool{}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fds
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil {
			fds[fd] = true
		}
	}
	return fds
}

// joinFanout puts the AF_PACKET socket libpcap opened since before (the
// descriptors open then) into fanout group id. gopacket does not expose
// libpcap's descriptor, so it is found as the one new packet socket.
func joinFanout(before map[int]bool, id int) error {
	var found []int
	for fd := range socketFDs() {
		if before[fd] {
			continue
		}
		if dom, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); err == nil && dom == unix.AF_PACKET {
			found = append(found, fd)
		}
	}
	if len(found) != 1 {
		return fmt.Errorf("cannot tell libpcap's packet socket (%d new ones)", len(found))
	}
	arg := id | (unix.PACKET_FANOUT_HASH|unix.PACKET_FANOUT_FLAG_DEFRAG)<<16
	if err := unix.SetsockoptInt(found[0], unix.SOL_PACKET, unix.PACKET_FANOUT, arg); err != nil {
		return fmt.Errorf("joining fanout group %d (hash mode): %w (a group with this id in another mode?)", id, err)
	}
	return nil
}
