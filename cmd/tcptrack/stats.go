package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/flowtable"
)

// statsReport is what --stats prints. Four sums must hold, and the report
// says so when one does not: every record read lands in exactly one packet
// kind; every TCP segment in exactly one table verdict; every IP fragment
// frame in exactly one fate; every flow created is still live or left the
// table for one reason.
type statsReport struct {
	Read        uint64  `json:"read"`
	TCP         uint64  `json:"tcp"`
	NotTCP      uint64  `json:"not_tcp"`
	Fragments   uint64  `json:"fragments"`
	Malformed   uint64  `json:"malformed"`
	Truncated   uint64  `json:"truncated"`
	Unsupported uint64  `json:"unsupported_link"`
	Filtered    uint64  `json:"filtered"`
	AfterNow    uint64  `json:"after_now"`
	Backwards   uint64  `json:"timestamps_backwards"` // not part of the sum
	MaxStepBack float64 `json:"max_step_back_seconds"`

	Verdicts struct {
		Accepted uint64 `json:"accepted"`
		Ignored  uint64 `json:"ignored"`
		Invalid  uint64 `json:"invalid"`
		Dropped  uint64 `json:"dropped_table_full"`
		// Of Invalid: refused before any flow was looked at.
		BadChecksum uint64 `json:"invalid_bad_checksum"`
		BadHeader   uint64 `json:"invalid_bad_header"`
	} `json:"tcp_verdicts"`
	Checksum struct {
		Verified   bool   `json:"verified"`        // --checksum (the default)
		Offload    uint64 `json:"offload_pattern"` // taken as the capturing host's own (not failed)
		Unverified uint64 `json:"not_verifiable"`  // cut by the snapshot length
	} `json:"tcp_checksums"`
	Frag struct {
		Joined      uint64 `json:"joined"`
		Lost        uint64 `json:"lost"`
		Waiting     uint64 `json:"waiting"`
		Dropped     uint64 `json:"dropped"`
		Duplicate   uint64 `json:"duplicate"`
		Reassembled uint64 `json:"datagrams_reassembled"`
		Expired     uint64 `json:"datagrams_expired"`
	} `json:"fragment_frames"`
	Flows struct {
		Created  uint64 `json:"created"`
		Expired  uint64 `json:"expired"`
		Killed   uint64 `json:"killed"`
		Reopened uint64 `json:"reopened"`
		Evicted  uint64 `json:"evicted"`
		Active   uint64 `json:"active"`
	} `json:"flows"`
	UnsupportedLinks []unsupportedLink `json:"unsupported_links,omitempty"`
	Unbalanced       []string          `json:"unbalanced,omitempty"`
}

type unsupportedLink struct {
	File     string `json:"file"`
	LinkType uint32 `json:"link_type"`
	Name     string `json:"name"`
	Records  uint64 `json:"records"`
}

func makeStatsReport(rc *readCounts, ps *assemble.PipelineStats, ft *flowtable.Stats, checksum bool) *statsReport {
	ds := &ps.Decode
	r := &statsReport{
		// A segment refused before tracking (Rejected) is TCP too: the
		// table counted it invalid.
		Read: rc.Read, TCP: ds.TCP + ds.Rejected, NotTCP: ds.NotTCP, Fragments: ds.Fragment, Malformed: ds.Malformed,
		Truncated: ds.Truncated, Unsupported: ds.Unsupported, Filtered: rc.Filtered, AfterNow: rc.AfterNow,
		Backwards: ps.Backwards, MaxStepBack: float64(ps.MaxStepBack) / 1e9,
	}
	r.Verdicts.Accepted, r.Verdicts.Ignored, r.Verdicts.Invalid, r.Verdicts.Dropped = ft.Accepted, ft.Ignored, ft.Invalid, ft.Dropped
	r.Verdicts.BadChecksum, r.Verdicts.BadHeader = ds.BadChecksum, ds.BadHeader
	r.Checksum.Verified, r.Checksum.Offload, r.Checksum.Unverified = checksum, ds.OffloadChecksum, ds.Unverified
	r.Frag.Joined, r.Frag.Lost, r.Frag.Waiting = ds.FragJoined, ds.FragLost, ds.FragWaiting
	r.Frag.Dropped, r.Frag.Duplicate = ds.FragDropped, ds.FragDuplicate
	r.Frag.Reassembled, r.Frag.Expired = ds.FragCompleted, ds.FragExpired
	r.Flows.Created, r.Flows.Expired, r.Flows.Killed = ft.Created, ft.Expired, ft.Killed
	r.Flows.Reopened, r.Flows.Evicted, r.Flows.Active = ft.Reopened, ft.Evicted, ft.Active
	for _, c := range rc.unsupported {
		r.UnsupportedLinks = append(r.UnsupportedLinks, unsupportedLink{File: c.file, LinkType: uint32(c.link), Name: c.link.String(), Records: c.n})
	}

	check := func(what string, total uint64, parts ...uint64) {
		var sum uint64
		for _, p := range parts {
			sum += p
		}
		if sum != total {
			r.Unbalanced = append(r.Unbalanced, fmt.Sprintf("%s: %d, parts sum to %d", what, total, sum))
		}
	}
	check("packets read", r.Read, r.TCP, r.NotTCP, r.Fragments, r.Malformed, r.Truncated, r.Unsupported, r.Filtered, r.AfterNow)
	check("tcp segments", r.TCP, r.Verdicts.Accepted, r.Verdicts.Ignored, r.Verdicts.Invalid, r.Verdicts.Dropped)
	check("tcp segments handed to the table", r.TCP, ft.Segments)
	check("segments refused before tracking", ft.Refused, ds.BadChecksum, ds.BadHeader)
	check("fragment frames", r.Fragments, r.Frag.Joined, r.Frag.Lost, r.Frag.Waiting, r.Frag.Dropped, r.Frag.Duplicate)
	check("flows created", r.Flows.Created, r.Flows.Expired, r.Flows.Killed, r.Flows.Reopened, r.Flows.Evicted, r.Flows.Active)
	return r
}

func (r *statsReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "packets read:        %d\n", r.Read)
	v := &r.Verdicts
	fmt.Fprintf(w, "  tcp:               %d (accepted %d, ignored %d, invalid %d, dropped table full %d)\n",
		r.TCP, v.Accepted, v.Ignored, v.Invalid, v.Dropped)
	if v.BadChecksum+v.BadHeader > 0 {
		fmt.Fprintf(w, "    refused:         %d of the invalid before tracking (bad checksum %d, bad header %d)\n",
			v.BadChecksum+v.BadHeader, v.BadChecksum, v.BadHeader)
	}
	if c := &r.Checksum; !c.Verified {
		fmt.Fprintf(w, "  tcp checksums:     not verified (--no-checksum)\n")
	} else if c.Offload+c.Unverified > 0 {
		fmt.Fprintf(w, "  tcp checksums:     verified; not failed: %d with the offload pattern (the capturing host's own), %d cut by the snapshot length\n",
			c.Offload, c.Unverified)
	}
	fmt.Fprintf(w, "  not tcp:           %d\n", r.NotTCP)
	f := &r.Frag
	fmt.Fprintf(w, "  ip fragments:      %d (joined %d, lost with given-up datagrams %d, waiting %d, dropped %d, duplicate %d; datagrams reassembled %d, expired %d)\n",
		r.Fragments, f.Joined, f.Lost, f.Waiting, f.Dropped, f.Duplicate, f.Reassembled, f.Expired)
	fmt.Fprintf(w, "  malformed:         %d\n", r.Malformed)
	fmt.Fprintf(w, "  truncated:         %d\n", r.Truncated)
	fmt.Fprintf(w, "  unsupported link:  %d\n", r.Unsupported)
	fmt.Fprintf(w, "  filtered out:      %d\n", r.Filtered)
	fmt.Fprintf(w, "  after --now:       %d\n", r.AfterNow)
	fl := &r.Flows
	fmt.Fprintf(w, "flows created:       %d (expired %d, killed by RST %d, reopened %d, evicted %d, active %d)\n",
		fl.Created, fl.Expired, fl.Killed, fl.Reopened, fl.Evicted, fl.Active)
	if r.Backwards > 0 {
		fmt.Fprintf(w, "out of order:        %d records stamped before one read earlier (up to %.6f s back)\n", r.Backwards, r.MaxStepBack)
	}
}

func (r *statsReport) writeJSON(w io.Writer) {
	b, _ := json.Marshal(r) // plain struct of numbers and strings: cannot fail
	w.Write(append(b, '\n'))
}

// statsFlag is --stats (text) or --stats=json.
type statsFlag struct{ on, json *bool }

func (f statsFlag) IsBoolFlag() bool { return true }

func (f statsFlag) String() string {
	switch {
	case f.on == nil || !*f.on:
		return "false"
	case *f.json:
		return "json"
	}
	return "true"
}

func (f statsFlag) Set(v string) error {
	switch v {
	case "true", "text":
		*f.on, *f.json = true, false
	case "json":
		*f.on, *f.json = true, true
	case "false":
		*f.on, *f.json = false, false
	default:
		return fmt.Errorf("--stats takes nothing, =text or =json, not %q", v)
	}
	return nil
}

// writeLiveStats is the accounting printed when the capture stops.
func writeLiveStats(w io.Writer, o *liveOptions, ps *assemble.PipelineStats, pst captureStats, pstErr error, ft *flowtable.Stats) {
	if pstErr != nil {
		fmt.Fprintf(w, "tcptrack: warning: %v\n", pstErr)
	}
	ds := &ps.Decode
	fmt.Fprintf(w, "%d packets received by filter\n", pst.Received)
	fmt.Fprintf(w, "%d packets dropped by kernel\n", pst.Dropped)
	fmt.Fprintf(w, "%d packets dropped by interface\n", pst.IfDropped)
	fmt.Fprintf(w, "%d packets captured\n", ps.Records)
	fmt.Fprintf(w, "  tcp:               %d (tracked: accepted %d, ignored %d, invalid %d, dropped table full %d)\n",
		ds.TCP+ds.Rejected, ft.Accepted, ft.Ignored, ft.Invalid, ft.Dropped)
	if ds.BadChecksum+ds.BadHeader > 0 {
		fmt.Fprintf(w, "    refused:         %d of the invalid before tracking (bad checksum %d, bad header %d)\n",
			ds.BadChecksum+ds.BadHeader, ds.BadChecksum, ds.BadHeader)
	}
	fmt.Fprintf(w, "  not tcp:           %d\n", ds.NotTCP)
	fmt.Fprintf(w, "  fragments held:    %d (datagrams reassembled %d, expired %d)\n", ds.Fragment, ds.FragCompleted, ds.FragExpired)
	fmt.Fprintf(w, "  malformed:         %d\n", ds.Malformed)
	fmt.Fprintf(w, "  truncated:         %d (raise --snaplen, now %d, if this grows)\n", ds.Truncated, o.snaplen)
	fmt.Fprintf(w, "  unsupported link:  %d\n", ds.Unsupported)
	fmt.Fprintf(w, "flows created:       %d (expired %d, killed by RST %d, reopened %d, evicted %d, active %d)\n",
		ft.Created, ft.Expired, ft.Killed, ft.Reopened, ft.Evicted, ft.Active)
}
