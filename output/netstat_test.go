package output

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/fsm"
)

// TestSSDuration: iproute2's print_ms_timer, quirks and all (checked
// against ss 6.1 output recorded in the kernel corpus).
func TestSSDuration(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, ""},
		{-time.Second, ""},
		{120 * time.Millisecond, "120ms"},
		{24 * time.Millisecond, "024ms"},
		{1112 * time.Millisecond, "1.112ms"},
		{9 * time.Second, "9sec"},
		{9*time.Second + 5*time.Millisecond, "9.005ms"},
		{15*time.Second + 400*time.Millisecond, "15sec"},
		{59 * time.Second, "59sec"},
		{60 * time.Second, "1min"},
		{63*time.Second + 500*time.Millisecond, "1min3sec"},
		{10*time.Minute + 30*time.Second, "10min"},
	} {
		if got := ssDuration(c.d); got != c.want {
			t.Errorf("ssDuration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestSocketText(t *testing.T) {
	for _, c := range []struct {
		so   fsm.Socket
		want string
	}{
		{fsm.Socket{}, "-"},
		{fsm.Socket{State: fsm.SockGone, Confirmed: true}, "GONE"},
		{fsm.Socket{State: fsm.SockGone}, "GONE?"},
		{fsm.Socket{State: fsm.SockTimeWait, Confirmed: true, Timer: fsm.TimerTimeWait, Left: 59 * time.Second}, "TIME_WAIT timer:(timewait,59sec,0)"},
		{fsm.Socket{State: fsm.SockSynSent, Confirmed: true, Timer: fsm.TimerOn, Left: 316 * time.Millisecond, Retrans: 3}, "SYN_SENT timer:(on,316ms,3)"},
		{fsm.Socket{State: fsm.SockFinWait2, Timer: fsm.TimerTimeWait, Left: 2500 * time.Millisecond}, "FIN_WAIT2? timer:(timewait,2.500ms,0)"},
	} {
		if got := SocketText(c.so); got != c.want {
			t.Errorf("SocketText(%+v) = %q, want %q", c.so, got, c.want)
		}
	}
}

// TestNetstatEndpoint: net-tools' form without -W: IPv6 unbracketed, the
// address cut so ADDR:PORT fits 23 columns.
func TestNetstatEndpoint(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"10.1.0.2:40001", "10.1.0.2:40001"},
		{"[fd00:1::2]:40061", "fd00:1::2:40061"},
		{"[2001:db8:1234:5678:9abc::1]:443", "2001:db8:1234:5678::443"},
		{"[2001:db8:1234:5678:9abc::1]:40001", "2001:db8:1234:567:40001"},
	} {
		if got := NetstatEndpoint(netip.MustParseAddrPort(c.in)); got != c.want {
			t.Errorf("NetstatEndpoint(%s) = %q, want %q", c.in, got, c.want)
		}
	}
}
