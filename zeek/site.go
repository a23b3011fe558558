package zeek

import "net/netip"

// privateSpace is Site::private_address_space (base/utils/site.zeek),
// which counts as local (Site::private_address_space_is_local) and so
// decides local_orig and local_resp when no local networks are configured.
var privateSpace = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "2002::/24", "10.0.0.0/8", "2002:a00::/24", "100.64.0.0/10", "2002:6440::/26",
		"127.0.0.0/8", "2002:7f00::/24", "169.254.0.0/16", "2002:a9fe::/32", "172.16.0.0/12", "2002:ac10::/28",
		"192.0.0.0/24", "2002:c000::/40", "192.0.2.0/24", "2002:c000:200::/40", "192.168.0.0/16", "2002:c0a8::/32",
		"198.18.0.0/15", "2002:c612::/31", "198.51.100.0/24", "2002:c633:6400::/40", "203.0.113.0/24",
		"2002:cb00:7100::/40", "224.0.0.0/24", "2002:e000::/40", "239.0.0.0/8", "2002:ef00::/24", "240.0.0.0/4",
		"2002:f000::/20", "255.255.255.255/32", "2002:ffff:ffff::/48",
		"::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:2::/48", "2001:db8::/32",
		"fc00::/7", "fe80::/10", "fec0::/10",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// isLocal reports whether a is in the private address space.
func isLocal(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range privateSpace {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
