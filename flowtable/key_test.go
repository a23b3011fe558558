package flowtable

import (
	"net/netip"
	"testing"
)

func TestKeyHashSymmetric(t *testing.T) {
	cases := []struct{ a, b string }{
		{"10.0.0.1:1234", "10.0.0.2:80"},
		{"10.0.0.2:80", "10.0.0.1:1234"},
		{"[2001:db8::1]:5555", "[2001:db8::2]:443"},
		{"10.0.0.1:80", "10.0.0.1:80"},
	}
	for _, c := range cases {
		a, b := netip.MustParseAddrPort(c.a), netip.MustParseAddrPort(c.b)
		k := MakeKey(a.Addr(), b.Addr(), a.Port(), b.Port())
		if k.Hash() != k.Reverse().Hash() {
			t.Errorf("%s → %s: hash not symmetric", c.a, c.b)
		}
		if k.SrcAddr() != a.Addr() || k.DstAddr() != b.Addr() {
			t.Errorf("%s → %s: addresses do not round-trip: %v %v", c.a, c.b, k.SrcAddr(), k.DstAddr())
		}
		if k.Reverse().Reverse() != k {
			t.Errorf("reverse twice is not identity")
		}
	}
	// Different ports must (almost always) hash apart.
	x := MakeKey(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 1, 2)
	y := MakeKey(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 1, 3)
	if x.Hash() == y.Hash() {
		t.Errorf("neighbouring ports collide")
	}
}
