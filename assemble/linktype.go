package assemble

import "strconv"

// LinkType is a pcap LINKTYPE_* value (https://www.tcpdump.org/linktypes.html):
// it says what the first byte of a record's data is.
type LinkType uint32

// Link types the decoder understands, plus a few worth naming.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte host-order address family
	LinkEthernet  LinkType = 1   // EN10MB
	LinkPPP       LinkType = 9   // not decoded
	LinkRawBSD    LinkType = 12  // DLT_RAW as most BSDs number it: bare IP
	LinkRawOBSD   LinkType = 14  // DLT_RAW as OpenBSD numbers it: bare IP
	LinkRaw       LinkType = 101 // bare IPv4 or IPv6
	LinkIEEE80211 LinkType = 105 // not decoded
	LinkLoop      LinkType = 108 // OpenBSD loopback: 4-byte big-endian address family
	LinkSLL       LinkType = 113 // Linux cooked v1 (tcpdump -i any)
	LinkIPv4      LinkType = 228
	LinkIPv6      LinkType = 229
	LinkNFLog     LinkType = 239 // not decoded
	LinkSLL2      LinkType = 276 // Linux cooked v2 (tcpdump -i any, libpcap >= 1.10)
)

// String gives libpcap's name without the LINKTYPE_ prefix ("EN10MB",
// "LINUX_SLL2"), or LINKTYPE_<n> for types not listed here.
func (t LinkType) String() string {
	switch t {
	case LinkNull:
		return "NULL"
	case LinkEthernet:
		return "EN10MB"
	case LinkPPP:
		return "PPP"
	case LinkRawBSD, LinkRawOBSD, LinkRaw:
		return "RAW"
	case LinkIEEE80211:
		return "IEEE802_11"
	case LinkLoop:
		return "LOOP"
	case LinkSLL:
		return "LINUX_SLL"
	case LinkIPv4:
		return "IPV4"
	case LinkIPv6:
		return "IPV6"
	case LinkNFLog:
		return "NFLOG"
	case LinkSLL2:
		return "LINUX_SLL2"
	case 50:
		return "PPP_HDLC"
	case 51:
		return "PPP_ETHER"
	case 104:
		return "C_HDLC"
	case 127:
		return "IEEE802_11_RADIOTAP"
	case 192:
		return "PPI"
	case 274:
		return "MPACKETS"
	}
	return "LINKTYPE_" + strconv.FormatUint(uint64(t), 10)
}

// Decodable reports whether Decoder understands frames of this link type
// (for any other, Decode returns Unsupported).
func (t LinkType) Decodable() bool {
	switch t {
	case LinkNull, LinkEthernet, LinkRawBSD, LinkRawOBSD, LinkRaw, LinkLoop, LinkSLL, LinkIPv4, LinkIPv6, LinkSLL2:
		return true
	}
	return false
}
