package zeek

import (
	"fmt"
	"slices"
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

// ParsePorts reads a comma-separated list of ports, ranges and analyzer
// names standing for their server ports ("http,ssl,8443,9000-9010"), or
// "none". It is how to give a "zeek -b" run's likely_server_ports: the
// ports of the analyzers its scripts load.
func ParsePorts(list string) (*PortSet, error) {
	s := new(PortSet)
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" || f == "none" {
			continue
		}
		if i := slices.IndexFunc(analyzerPorts[:], func(a analyzer) bool { return a.name == f }); i >= 0 {
			for _, p := range analyzerPorts[i].ports {
				s.Add(p)
			}
			continue
		}
		lo, hi, isRange := strings.Cut(f, "-")
		a, err := strconv.ParseUint(lo, 10, 16)
		b := a
		if err == nil && isRange {
			b, err = strconv.ParseUint(hi, 10, 16)
		}
		if err != nil || b < a {
			return nil, fmt.Errorf("%q is not a port, a range of ports or an analyzer name (%s)", f,
				strings.Join(AnalyzerNames(), ", "))
		}
		for p := a; p <= b; p++ {
			s.Add(uint16(p))
		}
	}
	return s, nil
}

type analyzer struct {
	name  string
	ports []uint16
}

// analyzerPorts are the TCP server ports Zeek's base analyzers register
// (scripts/base/protocols/*/main.zeek); Analyzer::register_for_ports adds
// them to likely_server_ports when the analyzer's scripts are loaded.
var analyzerPorts = [...]analyzer{
	{"dce-rpc", []uint16{135}},
	{"dnp3", []uint16{20000}},
	{"dns", []uint16{53}},
	{"finger", []uint16{79}},
	{"ftp", []uint16{21, 2811}},
	{"http", []uint16{80, 81, 631, 1080, 3128, 8000, 8080, 8888}},
	{"imap", []uint16{143}},
	{"irc", []uint16{6666, 6667, 6668, 6669}},
	{"krb", []uint16{88}},
	{"ldap", []uint16{389, 3268}},
	{"modbus", []uint16{502}},
	{"mqtt", []uint16{1883}},
	{"mysql", []uint16{1434, 3306}},
	{"postgresql", []uint16{5432}},
	{"rdp", []uint16{3389}},
	{"redis", []uint16{6379}},
	{"smb", []uint16{139, 445}},
	{"smtp", []uint16{25, 587}},
	{"socks", []uint16{1080}},
	{"ssh", []uint16{22}},
	{"ssl", []uint16{443, 465, 563, 585, 614, 636, 989, 990, 992, 993, 995, 5223}},
	{"syslog", []uint16{514}},
	{"xmpp", []uint16{5222, 5269}},
}

// AnalyzerNames lists the analyzers whose server ports ParsePorts knows by
// name.
func AnalyzerNames() []string {
	out := make([]string, len(analyzerPorts))
	for i, a := range analyzerPorts {
		out[i] = a.name
	}
	return out
}

// DefaultServerPorts is Zeek's likely_server_ports for TCP in a run with
// all base scripts (a plain "zeek -r", no -b): every base analyzer's
// server ports.
func DefaultServerPorts() *PortSet {
	s := new(PortSet)
	for _, a := range analyzerPorts {
		for _, p := range a.ports {
			s.Add(p)
		}
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
