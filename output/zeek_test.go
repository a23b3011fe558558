package output

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/flowtable"
)

func TestZeekUID(t *testing.T) {
	k := flowtableKey("10.0.0.1", 1234, "10.0.0.2", 80)
	a := string(appendZeekUID(nil, &k, 1e18))
	if len(a) != 18 || a[0] != 'C' || strings.Trim(a[1:], base62) != "" {
		t.Errorf("uid %q: want C and 17 base-62 digits", a)
	}
	if b := string(appendZeekUID(nil, &k, 1e18)); b != a {
		t.Errorf("uid not stable: %q %q", a, b)
	}
	seen := map[string]bool{a: true}
	for i := int64(1); i < 2000; i++ {
		k2 := flowtableKey("10.0.0.1", uint16(1234+i%7), "10.0.0.2", 80)
		u := string(appendZeekUID(nil, &k2, 1e18+i))
		if seen[u] {
			t.Fatalf("uid %q repeats", u)
		}
		seen[u] = true
	}
}

func flowtableKey(src string, sport uint16, dst string, dport uint16) flowtable.Key {
	return flowtable.MakeKey(netip.MustParseAddr(src), netip.MustParseAddr(dst), sport, dport)
}
