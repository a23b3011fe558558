package fsm

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The scenario tests speak about two hosts, A and B. A step is one line:
//
//	"> S. 1000 5001 w=512 len=10 ws=7 sp mss=1460 ts sack=6000 | accept SYN_RECV 60 R SYN_SENT SYN_RECV ev=state"
//
// left of '|': direction ('>' A→B, '<' B→A), flags as tcpdump prints them
// ("none" for no flags), seq, ack, then options (w= window, default 64000;
// t= the capture time in seconds from the start, default 1 ms after the
// step before).
// Right of '|': verdict (accept ignore invalid kill nostart, or reopen: the
// packet got Reopen and was then run as the first packet of a new
// connection, the rest of the line checking that second run), conntrack
// state, timeout in seconds ("-" = no refresh, "shrinkN" = Invalid with a
// timer shrink to N s), status ("-", "R" seen reply, "RA" plus assured),
// A's and B's socket states as Hosts sees them ("-" unknown, GONE; a
// trailing "?" when unconfirmed, compared only when the expectation has
// it), optional ev=a,b (default: not checked). "*" skips a field.

type step struct {
	line string
	dirA bool // sent by A
	seg  Segment
	at   int64 // capture time (ns from the start); -1: 1 ms after the step before
	want expect
}

type expect struct {
	verdict, state, timeout, status, sockA, sockB, events string
	// why is the model's reason for an ignored or invalid packet (and
	// the timer-shrink line after it); shown in transcripts, not part of
	// the one-line expectation. logged is what the kernel should log for
	// the packet, shrink its second line when the timer really shrinks.
	why    string
	logged []string
	shrink string
}

func parseFlags(t testing.TB, s string) Flags {
	if s == "none" {
		return 0
	}
	var f Flags
	for _, ch := range s {
		switch ch {
		case 'S':
			f |= SYN
		case 'F':
			f |= FIN
		case 'R':
			f |= RST
		case 'P':
			f |= PSH
		case 'U':
			f |= URG
		case 'E':
			f |= ECE
		case 'W':
			f |= CWR
		case '.':
			f |= ACK
		default:
			t.Fatalf("bad flag %q in %q", ch, s)
		}
	}
	return f
}

func atou(t testing.TB, s string) uint32 {
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		t.Fatalf("bad number %q: %v", s, err)
	}
	return uint32(v)
}

func parseStep(t testing.TB, line string) step {
	t.Helper()
	lhs, rhs, ok := strings.Cut(line, "|")
	if !ok {
		t.Fatalf("no '|' in step %q", line)
	}
	in := strings.Fields(lhs)
	if len(in) < 4 {
		t.Fatalf("short packet in %q", line)
	}
	st := step{line: line, at: -1}
	switch in[0] {
	case ">":
		st.dirA = true
	case "<":
	default:
		t.Fatalf("bad direction in %q", line)
	}
	st.seg = Segment{Flags: parseFlags(t, in[1]), Seq: atou(t, in[2]), Ack: atou(t, in[3]), Window: 64000}
	for _, o := range in[4:] {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "w":
			st.seg.Window = uint16(atou(t, v))
		case "len":
			st.seg.PayloadLen = atou(t, v)
		case "ws":
			st.seg.HasWScale, st.seg.WScale = true, uint8(atou(t, v))
		case "sp":
			st.seg.SackPerm = true
		case "mss":
			st.seg.MSS = uint16(atou(t, v))
		case "ts":
			st.seg.HasTS = true
		case "sack":
			st.seg.HasSack, st.seg.SackRight = true, atou(t, v)
		case "t":
			secs, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("bad time %q in %q", v, line)
			}
			st.at = int64(secs * 1e9)
		default:
			t.Fatalf("bad option %q in %q", o, line)
		}
	}
	out := strings.Fields(rhs)
	if len(out) < 6 {
		t.Fatalf("short expectation in %q", line)
	}
	st.want = expect{verdict: out[0], state: out[1], timeout: out[2], status: out[3], sockA: out[4], sockB: out[5], events: "*"}
	for _, o := range out[6:] {
		if v, ok := strings.CutPrefix(o, "ev="); ok {
			st.want.events = strings.ReplaceAll(v, ",", "|")
		} else {
			t.Fatalf("bad expectation token %q in %q", o, line)
		}
	}
	return st
}

// runner replays steps against one Conn slot, starting connections as the
// flow table would: Start on the first packet, again after Kill or Reopen;
// and against one Hosts, which lives across conntrack's entries.
type runner struct {
	cfg     *Config
	hcfg    HostConfig
	c       Conn
	live    bool
	origIsA bool
	cells   *[2][numClasses][numStates]bool // table cells exercised

	hosts   Hosts
	started bool  // hosts saw a segment
	firstA  bool  // side 0 of hosts is A
	now     int64 // capture time of the current step
}

// got is what one step produced, rendered like an expectation.
func (r *runner) step(t testing.TB, st step) expect {
	seg := st.seg
	if st.at >= 0 {
		r.now = st.at
	} else {
		r.now += int64(time.Millisecond)
	}
	if !r.started {
		r.started, r.firstA = true, st.dirA
	}
	hd := Original
	if st.dirA != r.firstA {
		hd = Reply
	}
	hseg := seg
	r.hosts.Update(&r.hcfg, hd, &hseg, r.now)
	if !r.live {
		return r.start(st.dirA, &seg, "")
	}
	dir := Reply
	if st.dirA == r.origIsA {
		dir = Original
	}
	if r.cells != nil && validFlags(seg.Flags) {
		r.cells[dir][classify(seg.Flags)][r.c.state] = true
	}
	res := r.c.Update(r.cfg, dir, &seg)
	if res.Verdict == Reopen {
		return r.start(st.dirA, &seg, "reopen")
	}
	return r.render(res, res.Verdict.String())
}

func (r *runner) start(dirA bool, seg *Segment, verdict string) expect {
	if r.cells != nil && validFlags(seg.Flags) {
		r.cells[Original][classify(seg.Flags)][None] = true
	}
	if !r.c.Start(r.cfg, seg) {
		r.live = false
		a, b := Original, Reply
		if !r.firstA {
			a, b = b, a
		}
		why := RefusalReason(r.cfg, seg)
		e := expect{verdict: "nostart", state: "*", timeout: "*", status: "*", sockA: r.sockText(a), sockB: r.sockText(b), events: "*", why: why.String()}
		if why.Logged() {
			e.logged = []string{why.String()}
		}
		return e
	}
	r.live, r.origIsA = true, dirA
	res := r.c.Update(r.cfg, Original, seg)
	if verdict == "" {
		verdict = res.Verdict.String()
	} else if res.Verdict != Accept {
		verdict += ">" + res.Verdict.String()
	}
	return r.render(res, verdict)
}

func (r *runner) render(res Result, verdict string) expect {
	g := expect{verdict: verdict, state: r.c.State().String(), timeout: "-", status: "-", events: res.Events.String()}
	if res.Reason.Code != NoReason {
		g.why = res.Reason.String()
		if res.Reason.Logged() {
			g.logged = []string{g.why}
		}
		if res.Shrink {
			g.shrink = res.TimeoutReason().String()
			g.why += "; " + g.shrink
		}
	}
	switch {
	case res.Refresh:
		g.timeout = strconv.Itoa(int(res.Timeout / time.Second))
	case res.Shrink:
		g.timeout = "shrink" + strconv.Itoa(int(res.Timeout/time.Second))
	}
	if st := r.c.Status(); st&SeenReply != 0 {
		g.status = "R"
		if st&Assured != 0 {
			g.status = "RA"
		}
	}
	a, b := Original, Reply
	if !r.firstA {
		a, b = b, a
	}
	g.sockA, g.sockB = r.sockText(a), r.sockText(b)
	if res.Verdict == Kill || res.Verdict == Invalid && !r.liveAfterInvalid() {
		r.live = false
	}
	return g
}

// sockText is a side's socket as the expectations write it.
func (r *runner) sockText(d Dir) string {
	so := r.hosts.Socket(&r.hcfg, d, r.now)
	if so.State != SockUnknown && !so.Confirmed {
		return so.State.String() + "?"
	}
	return so.State.String()
}

// liveAfterInvalid: an Invalid first packet means the entry never existed.
func (r *runner) liveAfterInvalid() bool { return r.c.State() != None }

func match(want, got string) bool { return want == "*" || want == got }

// matchSock compares a socket column: "?" (unconfirmed) counts only when
// the expectation writes it.
func matchSock(want, got string) bool {
	if want == "*" || want == got {
		return true
	}
	return !strings.HasSuffix(want, "?") && strings.TrimSuffix(got, "?") == want
}

func (e expect) String() string {
	s := fmt.Sprintf("%s %s %s %s %s %s ev=%s", e.verdict, e.state, e.timeout, e.status, e.sockA, e.sockB, e.events)
	if e.why != "" {
		s += " why=" + strconv.Quote(e.why)
	}
	return s
}

func (e expect) matches(g expect) bool {
	return match(e.verdict, g.verdict) && match(e.state, g.state) && match(e.timeout, g.timeout) &&
		match(e.status, g.status) && matchSock(e.sockA, g.sockA) && matchSock(e.sockB, g.sockB) && match(e.events, g.events)
}

type scenario struct {
	name  string
	cfg   func(*Config) // optional tweak of DefaultConfig
	steps []string
}

func runScenario(t *testing.T, sc scenario, cells *[2][numClasses][numStates]bool) []string {
	t.Helper()
	cfg := DefaultConfig()
	if sc.cfg != nil {
		sc.cfg(&cfg)
	}
	r := runner{cfg: &cfg, hcfg: DefaultHostConfig(), cells: cells}
	var transcript []string
	for i, line := range sc.steps {
		st := parseStep(t, line)
		got := r.step(t, st)
		if !st.want.matches(got) {
			t.Errorf("%s step %d: %s\n   got: %s", sc.name, i+1, strings.TrimSpace(line), got)
		}
		lhs, _, _ := strings.Cut(line, "|")
		transcript = append(transcript, fmt.Sprintf("%-44s| %s", strings.TrimSpace(lhs), got))
	}
	return transcript
}
