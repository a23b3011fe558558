//go:build !linux

package main

import "errors"

// AF_PACKET fanout is Linux's (packet(7)); elsewhere --fanout is refused.

func socketFDs() map[int]bool { return nil }

func joinFanout(map[int]bool, int) error {
	return errors.New("--fanout needs Linux's AF_PACKET sockets")
}
