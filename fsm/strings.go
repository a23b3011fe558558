package fsm

// The String style of every enumeration in tcptrack: a table of names
// indexed by value, checked against its length; a bit set names its bits
// joined by '|', or "none".

// bitNames names the bits of v set, lowest first, from names (bit i is
// names[i]); bits without a name are left out.
func bitNames(v uint8, names []string) string {
	if v == 0 {
		return "none"
	}
	var b [48]byte
	out := b[:0]
	for i, n := range names {
		if v&(1<<i) != 0 {
			if len(out) > 0 {
				out = append(out, '|')
			}
			out = append(out, n...)
		}
	}
	return string(out)
}
