package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/internal/testutil"
)

// zeekCompared are the conn.log columns compared with Zeek's baselines.
var zeekCompared = []string{"id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "conn_state", "history",
	"duration", "orig_bytes", "resp_bytes", "missed_bytes", "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes"}

// zeekRenamed maps columns a baseline renamed (Log::default_field_name_map
// in field-name-map2) back to conn.log's names.
var zeekRenamed = map[string]string{"src_ip": "id.orig_h", "src_port": "id.orig_p", "dst_ip": "id.resp_h", "dst_port": "id.resp_p"}

// zeekBareServerPorts gives, for the tests that ran "zeek -b", the
// --zeek-server-ports their run had: likely_server_ports holds the ports
// of the analyzers the test script loads (its @load lines in zeek/zeek's
// testing/btest, and Redis::ports += 10625/tcp in redis/django-cloud);
// "none" where it loads no analyzer with TCP server ports. The other
// tests loaded all base scripts: the default.
var zeekBareServerPorts = map[string]string{
	"core.local-flip":                                               "http",
	"core.pbb":                                                      "none",
	"core.tunnels.analyzer-confirmation":                            "http",
	"core.tunnels.ayiya":                                            "http",
	"core.tunnels.geneve-47101":                                     "ssl",
	"core.tunnels.geneve-many-options":                              "none",
	"core.tunnels.gre":                                              "dns,ssh",
	"core.tunnels.gre-aruba-amsdu":                                  "none",
	"core.tunnels.gre-over-udp":                                     "dns,http",
	"core.tunnels.gtp.different_dl_and_ul":                          "http",
	"core.tunnels.gtp.opt_header":                                   "ssl",
	"core.tunnels.teredo":                                           "http,dns",
	"core.tunnels.teredo_bubble_with_payload":                       "http",
	"core.vntag-in-vlan":                                            "none",
	"scripts.base.frameworks.logging.field-extension-invalid":       "none",
	"scripts.base.frameworks.logging.field-name-map2":               "none",
	"scripts.base.protocols.ftp.cwd-navigation":                     "ftp",
	"scripts.base.protocols.ftp.ftp-invalid-reply-code":             "ftp",
	"scripts.base.protocols.ftp.ftp-ipv4":                           "ftp",
	"scripts.base.protocols.ftp.ftp-ipv6":                           "ftp",
	"scripts.base.protocols.ftp.ftp-max-command-length":             "ftp",
	"scripts.base.protocols.ftp.ftp-max-pending-commands":           "ftp",
	"scripts.base.protocols.ftp.ftp-missing-reply-code":             "ftp",
	"scripts.base.protocols.ftp.ftp-missing-space-after-reply-code": "ftp",
	"scripts.base.protocols.ftp.ftp-password-pass-command":          "ftp",
	"scripts.base.protocols.ftp.ftp-password-pass-command-hidden":   "ftp",
	"scripts.base.protocols.http.concurrent-range-requests":         "http",
	"scripts.base.protocols.http.http-connect":                      "http,smtp",
	"scripts.base.protocols.http.http-connect-with-header":          "http,ssl",
	"scripts.base.protocols.http.http-no-crlf":                      "http",
	"scripts.base.protocols.imap.starttls":                          "ssl,imap",
	"scripts.base.protocols.irc.basic":                              "irc",
	"scripts.base.protocols.irc.starttls":                           "ssl,irc",
	"scripts.base.protocols.krb.krb-service-name":                   "krb",
	"scripts.base.protocols.mysql.encrypted":                        "mysql,ssl",
	"scripts.base.protocols.pop3.bad-list-retr-crafted":             "none",
	"scripts.base.protocols.pop3.redis":                             "none",
	"scripts.base.protocols.pop3.starttls":                          "ssl",
	"scripts.base.protocols.redis.django-cloud":                     "redis,10625",
	"scripts.base.protocols.xmpp.starttls":                          "ssl,xmpp",
	"signatures.eval-condition":                                     "ftp",
}

// zeekException is a baseline row tcptrack does not reproduce, and the one
// Zeek feature tcptrack deliberately does not build that explains it.
type zeekException struct {
	test    string
	origP   string // the row's id.orig_p in the baseline
	feature string
}

// zeekExceptions lists every baseline row that does not match. A listed
// row that matches fails the test too, so the list cannot go stale.
var zeekExceptions = []zeekException{
	{"scripts.base.protocols.ftp.ftp-max-command-length", "58634",
		"application analyzers: Zeek's FTP analyzer hits its command-length limit and marks the connection X"},
	{"scripts.base.protocols.ftp.gridftp", "35391",
		"application analyzers: GridFTP data-channel detection (after the SSL analyzer's handshake) stops Zeek's processing of the connection (skip_further_processing)"},
}

// zeekIndexEntry is one row of INDEX.tsv.
type zeekIndexEntry struct {
	test, trace, args string
	noChecksums       bool
}

func readZeekIndex(t *testing.T, dir string) []zeekIndexEntry {
	b, err := os.ReadFile(filepath.Join(dir, "INDEX.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	var out []zeekIndexEntry
	for i, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if i == 0 || len(f) < 4 {
			continue
		}
		out = append(out, zeekIndexEntry{test: f[0], trace: f[1], args: f[2], noChecksums: f[3] == "yes"})
	}
	return out
}

// readConnLog parses a conn.log (TSV, with its #fields line) into rows of
// named fields, TCP rows only.
func readConnLog(data []byte) ([]map[string]string, error) {
	var names []string
	var rows []map[string]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Split(line, "\t")
		switch {
		case strings.HasPrefix(line, "#fields\t"):
			names = f[1:]
			for i, n := range names {
				if m, ok := zeekRenamed[n]; ok {
					names[i] = m
				}
			}
		case strings.HasPrefix(line, "#"):
		default:
			if names == nil || len(f) != len(names) {
				return nil, fmt.Errorf("row with %d fields, header has %d: %q", len(f), len(names), line)
			}
			r := map[string]string{}
			for i, v := range f {
				r[names[i]] = v
			}
			if r["proto"] == "tcp" {
				rows = append(rows, r)
			}
		}
	}
	return rows, sc.Err()
}

// zeekRowsEqual compares the compared columns; durations within 1 ms.
func zeekRowsEqual(want, got map[string]string) bool {
	for _, k := range zeekCompared {
		w, g := want[k], got[k]
		if k == "duration" && w != "-" && g != "-" {
			a, err1 := strconv.ParseFloat(w, 64)
			b, err2 := strconv.ParseFloat(g, 64)
			if err1 != nil || err2 != nil || math.Abs(a-b) > 0.001 {
				return false
			}
			continue
		}
		if w != g {
			return false
		}
	}
	return true
}

func zeekRowText(r map[string]string) string {
	var b strings.Builder
	for i, k := range zeekCompared {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(r[k])
	}
	return b.String()
}

// TestZeekBaselines replays each of Zeek's traces in ../shared/zeek as
// Zeek's test ran it (with --zeek-checksums ignore where it gave -C) and
// compares every TCP row of our conn.log with Zeek's expected one: the
// 4-tuple as Zeek orients it, conn_state, history, duration (to 1 ms),
// payload and IP bytes, packets and missed bytes. Rows are matched as a
// multiset within each test (Zeek's order depends on its hash table).
// Every row must match or be listed in zeekExceptions with its reason.
func TestZeekBaselines(t *testing.T) {
	// ../shared/zeek holds Zeek's own test traces and the conn.log Zeek's
	// test suite expects for each (see its README.md and INDEX.tsv).
	sharedZeek, ok := testutil.Shared(t, "zeek", "the comparison with Zeek's own conn.log baselines")
	if !ok {
		t.SkipNow()
	}
	total, matched, excepted := 0, 0, 0
	usedException := make([]bool, len(zeekExceptions))
	for _, e := range readZeekIndex(t, sharedZeek) {
		t.Run(e.test, func(t *testing.T) {
			base, err := os.ReadFile(filepath.Join(sharedZeek, "baselines", e.test+".conn.log"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := readConnLog(base)
			if err != nil {
				t.Fatalf("baseline: %v", err)
			}
			args := []string{"read", "-o", "zeek", "--progress", "never"}
			if e.noChecksums {
				args = append(args, "--zeek-checksums", "ignore")
			}
			if ports, ok := zeekBareServerPorts[e.test]; ok {
				args = append(args, "--zeek-server-ports", ports)
			} else if strings.Contains(e.args, " -b") {
				t.Fatalf("a zeek -b run without its server ports in zeekBareServerPorts: %s", e.args)
			}
			var out, errb bytes.Buffer
			if code := run(append(args, filepath.Join(sharedZeek, "traces", e.trace)), nil, &out, &errb); code != exitOK {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			got, err := readConnLog(out.Bytes())
			if err != nil {
				t.Fatalf("our conn.log: %v", err)
			}
			used := make([]bool, len(got))
			for _, w := range want {
				total++
				i := slices.IndexFunc(got, func(g map[string]string) bool { return zeekRowsEqual(w, g) })
				for i >= 0 && used[i] {
					j := slices.IndexFunc(got[i+1:], func(g map[string]string) bool { return zeekRowsEqual(w, g) })
					if j < 0 {
						i = -1
						break
					}
					i += 1 + j
				}
				ex := slices.IndexFunc(zeekExceptions, func(x zeekException) bool {
					return x.test == e.test && x.origP == w["id.orig_p"]
				})
				switch {
				case i >= 0 && ex >= 0:
					used[i] = true
					matched++
					t.Errorf("row matches but is listed as an exception (%s): %s", zeekExceptions[ex].feature, zeekRowText(w))
				case i >= 0:
					used[i] = true
					matched++
				case ex >= 0:
					excepted++
					usedException[ex] = true
				default:
					t.Errorf("Zeek's row not produced:\n  zeek: %s", zeekRowText(w))
				}
			}
			for i, g := range got {
				if !used[i] && !slices.ContainsFunc(zeekExceptions, func(x zeekException) bool {
					return x.test == e.test && x.origP == g["id.orig_p"]
				}) {
					t.Errorf("row Zeek does not have:\n  ours: %s", zeekRowText(g))
				}
			}
		})
	}
	for i, used := range usedException {
		if !used {
			t.Errorf("exception for %s port %s not used", zeekExceptions[i].test, zeekExceptions[i].origP)
		}
	}
	t.Logf("%d of %d TCP rows match Zeek's baselines exactly; %d listed as exceptions", matched, total, excepted)
}
