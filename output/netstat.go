package output

// Each host's own sockets (flowtable.Config.Hosts): the socket cell of the
// table, and the per-host views -o netstat (the lines netstat -tn prints
// on each host) and -o sockets (one JSON object per socket).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// NetstatOptions choose WriteNetstat's hosts and columns.
type NetstatOptions struct {
	Host   netip.Addr // only this host (the zero Addr: every host seen, each under a "# host ADDR" line)
	Timers bool       // add netstat -o's Timer column
}

// SocketText is a socket as the table shows it: the state, "?" when
// unconfirmed, and the timer as ss -o prints it.
func SocketText(so fsm.Socket) string {
	s := so.State.String()
	if so.State != fsm.SockUnknown && !so.Confirmed {
		s += "?"
	}
	if so.Timer != fsm.TimerNone {
		s += " " + SSTimer(so)
	}
	return s
}

// SSTimer is timer:(KIND,LEFT,RETRANS) as ss -o prints it.
func SSTimer(so fsm.Socket) string {
	return "timer:(" + so.Timer.String() + "," + ssDuration(so.Left) + "," + strconv.Itoa(so.Retrans) + ")"
}

// ssDuration formats a time left exactly as iproute2's ss does
// (print_ms_timer), quirks included: 1.5 s is "1.500ms", 15 s "15sec",
// 90 s "1min30sec", and nothing at all once it ran out.
func ssDuration(d time.Duration) string {
	ms := d.Milliseconds()
	if ms < 0 {
		ms = 0
	}
	secs, msecs := ms/1000, ms%1000
	minutes := secs / 60
	secs %= 60
	var b strings.Builder
	if minutes > 0 {
		msecs = 0
		fmt.Fprintf(&b, "%dmin", minutes)
		if minutes > 9 {
			secs = 0
		}
	}
	if secs > 0 {
		if secs > 9 {
			msecs = 0
		}
		sep := "sec"
		if msecs > 0 {
			sep = "."
		}
		fmt.Fprintf(&b, "%d%s", secs, sep)
	}
	if msecs > 0 {
		fmt.Fprintf(&b, "%03dms", msecs)
	}
	return b.String()
}

// hostSocket is one socket of one host, for the per-host views.
type hostSocket struct {
	local, remote netip.AddrPort
	so            fsm.Socket
}

// hostSockets lists, per host address, its sockets at now in first-seen
// order: every side of every pair that spoke or whose state is known; GONE
// ones only with withGone.
func hostSockets(pairs []flowtable.HostPair, cfg *fsm.HostConfig, now int64, withGone bool) (order []netip.Addr, by map[netip.Addr][]hostSocket) {
	by = map[netip.Addr][]hostSocket{}
	for i := range pairs {
		hp := &pairs[i]
		ends := [2]netip.AddrPort{
			netip.AddrPortFrom(hp.Key.SrcAddr(), hp.Key.SrcPort),
			netip.AddrPortFrom(hp.Key.DstAddr(), hp.Key.DstPort),
		}
		for d := fsm.Original; d <= fsm.Reply; d++ {
			so := hp.Hosts.Socket(cfg, d, now)
			if (so.State == fsm.SockGone && !withGone) || (so.State == fsm.SockUnknown && !hp.Hosts.Spoke(d)) {
				continue
			}
			a := ends[d].Addr()
			if _, ok := by[a]; !ok {
				order = append(order, a)
			}
			by[a] = append(by[a], hostSocket{local: ends[d], remote: ends[d^1], so: so})
		}
	}
	return order, by
}

// netstatState is the State column: net-tools' names, UNKNOWN for "-".
func netstatState(st fsm.SockState) string {
	if st == fsm.SockUnknown {
		return "UNKNOWN"
	}
	return st.String()
}

// WriteNetstat prints, for each host (or the one asked for), what
// `netstat -tn` run on it at now would print. netstat reads
// /proc/net/tcp, then /proc/net/tcp6, each in the order of the kernel's
// established hash, whose key is a secret drawn at boot: no observer can
// reproduce that order. We keep netstat's IPv4-then-IPv6 split and, within
// each, the order the connections were first seen.
func WriteNetstat(out io.Writer, pairs []flowtable.HostPair, cfg *fsm.HostConfig, now int64, o NetstatOptions) error {
	w := bufio.NewWriter(out)
	only, timers := o.Host, o.Timers
	order, by := hostSockets(pairs, cfg, now, false)
	if only.IsValid() {
		order = []netip.Addr{only.Unmap()}
	}
	for i, h := range order {
		if !only.IsValid() {
			if i > 0 {
				w.WriteByte('\n')
			}
			fmt.Fprintf(w, "# host %s\n", h)
		}
		w.WriteString("Active Internet connections (w/o servers)\n")
		header := "Proto Recv-Q Send-Q Local Address           Foreign Address         State      "
		if timers {
			header += " Timer"
		}
		w.WriteString(header + "\n")
		socks := by[h]
		for pass := 0; pass < 2; pass++ { // tcp, then tcp6
			for _, s := range socks {
				if s.local.Addr().Is4() != (pass == 0) {
					continue
				}
				proto := "tcp"
				if pass == 1 {
					proto = "tcp6"
				}
				local, remote := NetstatEndpoint(s.local), NetstatEndpoint(s.remote)
				line := fmt.Sprintf("%-4s  %6d %6d %-*s %-*s %-11s", proto, 0, s.so.SendQ,
					max(23, len(local)), local, max(23, len(remote)), remote, netstatState(s.so.State))
				if timers {
					line += " " + netstatTimer(s.so)
				}
				w.WriteString(line + "\n")
			}
		}
	}
	return w.Flush()
}

// NetstatEndpoint is ADDR:PORT as netstat -n prints it: IPv6 without
// brackets, the address cut so that the whole fits in 23 columns (net-tools
// without -W).
func NetstatEndpoint(ap netip.AddrPort) string {
	addr, port := ap.Addr().String(), strconv.Itoa(int(ap.Port()))
	if len(addr)+len(port) > 22 {
		addr = addr[:max(22-len(port), 0)]
	}
	return addr + ":" + port
}

// netstatTimer is netstat -o's Timer column: KIND (SECONDS/RETRANS/0).
func netstatTimer(so fsm.Socket) string {
	kind := "off"
	switch so.Timer {
	case fsm.TimerOn:
		kind = "on"
	case fsm.TimerTimeWait:
		kind = "timewait"
	}
	return fmt.Sprintf("%s (%.2f/%d/0)", kind, so.Left.Seconds(), so.Retrans)
}

// JSONHostSocket is one line of WriteSockets (-o sockets).
type JSONHostSocket struct {
	Host      string   `json:"host"`
	Local     string   `json:"local"`
	Remote    string   `json:"remote"`
	State     string   `json:"state"`
	Confirmed bool     `json:"confirmed"`
	Timer     *string  `json:"timer"`         // "on", "timewait", or null
	Left      *float64 `json:"timer_seconds"` // seconds left, or null
	Retrans   int      `json:"retrans"`
	SendQ     uint32   `json:"send_q"` // lower bound: sent and not seen acknowledged
}

// WriteSockets prints one JSON object per socket of each host (or of
// the one asked for), in the order of -o netstat, GONE ones included.
func WriteSockets(w io.Writer, pairs []flowtable.HostPair, cfg *fsm.HostConfig, now int64, only netip.Addr) error {
	order, by := hostSockets(pairs, cfg, now, true)
	if only.IsValid() {
		order = []netip.Addr{only.Unmap()}
	}
	enc := json.NewEncoder(w)
	for _, h := range order {
		for _, s := range by[h] {
			j := JSONHostSocket{Host: h.String(), Local: s.local.String(), Remote: s.remote.String(),
				State: s.so.State.String(), Confirmed: s.so.Confirmed, Retrans: s.so.Retrans, SendQ: s.so.SendQ}
			if s.so.Timer != fsm.TimerNone {
				k := s.so.Timer.String()
				left := float64(s.so.Left.Milliseconds()) / 1e3
				j.Timer, j.Left = &k, &left
			}
			if err := enc.Encode(&j); err != nil {
				return err
			}
		}
	}
	return nil
}
