package main

import (
	"fmt"
	"strings"

	"github.com/tcptrack/tcptrack/fsm"
)

// --host-timeout: the endpoint hosts' own timer settings (the views of
// their sockets are output's, netstat.go).

// parseHostTimeouts reads one --host-timeout value: NAME=VALUE pairs
// separated by commas.
func parseHostTimeouts(cfg *fsm.HostConfig, v string) error {
	for _, kv := range strings.Split(v, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		name, val, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("--host-timeout takes NAME=VALUE[,NAME=VALUE...], not %q", kv)
		}
		if err := cfg.Set(name, val); err != nil {
			return fmt.Errorf("--host-timeout: %w", err)
		}
	}
	return nil
}
