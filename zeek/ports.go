package zeek

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// PortSet is a set of TCP ports (Zeek's likely_server_ports, restricted
// to TCP).
type PortSet [65536 / 64]uint64

// Has reports whether p is in the set.
func (s *PortSet) Has(p uint16) bool { return s[p/64]&(1<<(p%64)) != 0 }

// Add puts p in the set.
func (s *PortSet) Add(p uint16) { s[p/64] |= 1 << (p % 64) }

// Ports lists the set in ascending order.
func (s *PortSet) Ports() []uint16 {
	var out []uint16
	for p := 0; p < 65536; p++ {
		if s.Has(uint16(p)) {
			out = append(out, uint16(p))
		}
	}
	return out
}

// String gives the ports comma-separated.
func (s *PortSet) String() string {
	var b strings.Builder
	for i, p := range s.Ports() {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(p)))
	}
	return b.String()
}

// ParsePorts reads a comma-separated list of ports and ranges ("80,443,
// 8000-8080").
func ParsePorts(list string) (*PortSet, error) {
	s := new(PortSet)
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(f, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		b := a
		if err == nil && isRange {
			b, err = strconv.ParseUint(hi, 10, 16)
		}
		if err != nil || b < a {
			return nil, fmt.Errorf("%q is not a port or a range of ports", f)
		}
		for p := a; p <= b; p++ {
			s.Add(uint16(p))
		}
	}
	return s, nil
}

// defaultServerPorts are the TCP ports Zeek's analyzers register as server
// ports when all base scripts are loaded (a plain "zeek -r", no -b):
// Analyzer::register_for_ports adds each analyzer's ports to
// likely_server_ports. From scripts/base/protocols/*/main.zeek: DCE-RPC,
// DNP3, DNS, Finger, FTP, HTTP, IMAP, IRC, Kerberos, LDAP, Modbus, MQTT,
// MySQL, PostgreSQL, RDP, Redis, SMB, SMTP, SOCKS, SSH, SSL, Syslog, XMPP.
var defaultServerPorts = []uint16{
	135,      // dce-rpc
	20000,    // dnp3
	53,       // dns
	79,       // finger
	21, 2811, // ftp
	80, 81, 631, 1080, 3128, 8000, 8080, 8888, // http
	143,                    // imap
	6666, 6667, 6668, 6669, // irc
	88,        // krb
	389, 3268, // ldap
	502,        // modbus
	1883,       // mqtt
	1434, 3306, // mysql
	5432,     // postgresql
	3389,     // rdp
	6379,     // redis
	139, 445, // smb
	25, 587, // smtp
	22,                                                          // ssh
	443, 465, 563, 585, 614, 636, 989, 990, 992, 993, 995, 5223, // ssl
	514,        // syslog
	5222, 5269, // xmpp
}

// DefaultServerPorts is Zeek's likely_server_ports for TCP in a run with
// all base scripts.
func DefaultServerPorts() *PortSet {
	s := new(PortSet)
	for _, p := range defaultServerPorts {
		s.Add(p)
	}
	return s
}

// defaultPortTimeout is Conn::port_inactivity_timeouts
// (base/protocols/conn/inactivity.zeek): interactive services get an hour.
func defaultPortTimeout(p uint16) (time.Duration, bool) {
	switch p {
	case 21, 22, 23, 513:
		return time.Hour, true
	}
	return 0, false
}
