package fsm

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// HostConfig holds the endpoint hosts' TCP settings that decide when a
// socket goes away by itself, named after Linux's net.ipv4.tcp_* sysctls.
// conntrack's timeouts (Config.Timeouts) are the router's and say nothing
// about these: TIME_WAIT lasts 120 s in conntrack and 60 s on the host.
// One HostConfig is shared read-only by every connection.
type HostConfig struct {
	FinTimeout        time.Duration // tcp_fin_timeout (60 s): lifetime of an orphaned FIN_WAIT2 socket
	SynRetries        int           // tcp_syn_retries (6): SYN retransmissions before connect() gives up
	SynLinearTimeouts int           // tcp_syn_linear_timeouts (4): how many of them keep the 1 s timeout before backing off (0 before Linux 6.x)
	SynackRetries     int           // tcp_synack_retries (5): SYN-ACK retransmissions before a request is dropped
	TimeWait          time.Duration // TCP_TIMEWAIT_LEN: 60 s, compiled into Linux
	RTOMin            time.Duration // tcp_rto_min_us (200 ms): floor of the retransmission timeout
	RFC1337           bool          // tcp_rfc1337: TIME_WAIT ignores RSTs (off: an exact RST ends TIME_WAIT)
	HZ                int           // CONFIG_HZ (250): timers fire up to one timer-wheel slot late
}

// DefaultHostConfig returns Linux's defaults.
func DefaultHostConfig() HostConfig {
	return HostConfig{
		FinTimeout:        60 * time.Second,
		SynRetries:        6,
		SynLinearTimeouts: 4,
		SynackRetries:     5,
		TimeWait:          60 * time.Second,
		RTOMin:            200 * time.Millisecond,
		HZ:                250,
	}
}

// HostSettingNames lists the names Set accepts.
func HostSettingNames() []string {
	return []string{"fin_timeout", "syn_retries", "syn_linear_timeouts", "synack_retries", "time_wait", "rto_min_us", "rfc1337", "hz"}
}

// Set changes one setting: the sysctl's name without "net.ipv4.tcp_"
// (fin_timeout and time_wait in seconds, rto_min_us in microseconds as the
// sysctl takes it, the retries as counts, rfc1337 0 or 1) or "hz".
func (c *HostConfig) Set(name, value string) error {
	key := strings.TrimPrefix(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(name)), "net.ipv4."), "tcp_")
	value = strings.TrimSpace(value)
	num := func(max float64) (float64, error) {
		v, err := strconv.ParseFloat(value, 64)
		if err != nil || v < 0 || v > max || v != v {
			return 0, fmt.Errorf("fsm: host setting %s: %q is not a number from 0 to %g", key, value, max)
		}
		return v, nil
	}
	count := func(p *int, max float64) error {
		v, err := num(max)
		if err != nil {
			return err
		}
		if v != float64(int(v)) {
			return fmt.Errorf("fsm: host setting %s: %q is not a whole number", key, value)
		}
		*p = int(v)
		return nil
	}
	secs := func(p *time.Duration, max float64) error {
		v, err := num(max)
		if err != nil {
			return err
		}
		*p = time.Duration(v * float64(time.Second))
		return nil
	}
	switch key {
	case "fin_timeout":
		return secs(&c.FinTimeout, 1e6)
	case "time_wait":
		return secs(&c.TimeWait, 1e6)
	case "syn_retries":
		return count(&c.SynRetries, 127)
	case "syn_linear_timeouts":
		return count(&c.SynLinearTimeouts, 127)
	case "synack_retries":
		return count(&c.SynackRetries, 127)
	case "rto_min_us":
		v, err := num(1e9)
		if err != nil {
			return err
		}
		c.RTOMin = time.Duration(v) * time.Microsecond
		return nil
	case "rfc1337":
		var v int
		if err := count(&v, 1); err != nil {
			return err
		}
		c.RFC1337 = v == 1
		return nil
	case "hz":
		var v int
		if err := count(&v, 10000); err != nil {
			return err
		}
		if v == 0 {
			return fmt.Errorf("fsm: host setting hz must be positive")
		}
		c.HZ = v
		return nil
	}
	return fmt.Errorf("fsm: unknown host setting %q (valid: %s)", name, strings.Join(HostSettingNames(), ", "))
}

// Linux's retransmission constants (include/net/tcp.h).
const (
	tcpTimeoutInit = time.Second       // TCP_TIMEOUT_INIT: first SYN and SYN-ACK timeout
	tcpRTOMax      = 120 * time.Second // TCP_RTO_MAX (tcp_rto_max_ms default)
)

// synRTO is the retransmission timeout a SYN_SENT socket arms after n
// retransmissions: 1 s for the first tcp_syn_linear_timeouts, then doubling
// (measured on 6.18: 1 1 1 1 1 2 4 8 … s with the default 4).
func (c *HostConfig) synRTO(n int) time.Duration {
	if n <= c.SynLinearTimeouts {
		return tcpTimeoutInit
	}
	return backoff(tcpTimeoutInit, n-c.SynLinearTimeouts)
}

// synMax is how many SYN retransmissions a connect() makes before it
// gives up: tcp_syn_retries plus the linear ones (6.x's tcp_write_timeout).
func (c *HostConfig) synMax() int { return c.SynRetries + c.SynLinearTimeouts }

// synackRTO is a request socket's timer after n timer-driven SYN-ACK
// retransmissions (reqsk_timeout: TCP_TIMEOUT_INIT << num_timeout).
func (c *HostConfig) synackRTO(n int) time.Duration { return backoff(tcpTimeoutInit, n) }

func backoff(d time.Duration, n int) time.Duration {
	for ; n > 0 && d < tcpRTOMax; n-- {
		d <<= 1
	}
	return min(d, tcpRTOMax)
}

// finTime is tcp_fin_time: an orphaned FIN_WAIT2 lives tcp_fin_timeout,
// but at least 3.5 RTOs.
func (c *HostConfig) finTime(rto time.Duration) time.Duration {
	return max(c.FinTimeout, rto*7/2)
}

// wheelSlack is how late a kernel timer of duration d may fire: the timer
// wheel rounds the expiry up to the granularity of the level d falls in
// (kernel/time/timer.c: 64 slots a level, each level 8 times coarser).
// A socket whose timer ran out is therefore still listed for up to this
// long (seen: a 32 s request timer fired 2 s late at HZ=250).
func (c *HostConfig) wheelSlack(d time.Duration) time.Duration {
	hz := c.HZ
	if hz <= 0 {
		hz = 250
	}
	jiffies := int64(d) * int64(hz) / int64(time.Second)
	lvl := 0
	for start := int64(63); jiffies >= start && lvl < 8; start <<= 3 {
		lvl++
	}
	gran := int64(1) << (3 * lvl)
	return time.Duration(gran * int64(time.Second) / int64(hz))
}
