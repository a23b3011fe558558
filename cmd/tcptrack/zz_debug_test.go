package main

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

func TestZZDebug(t *testing.T) {
	file, port := os.Getenv("DBG_FILE"), os.Getenv("DBG_PORT")
	if file == "" {
		t.Skip()
	}
	p, _ := strconv.Atoi(port)
	recs := readAllRecords(t, file)
	dec := assemble.NewDecoder(assemble.DecoderConfig{})
	cfg := fsm.DefaultHostConfig()
	cfg.SynRetries, cfg.SynackRetries, cfg.FinTimeout = 2, 2, 3e9
	var h fsm.Hosts
	var first flowtable.Key
	started := false
	var pkt assemble.Packet
	var t0 int64
	for i := range recs {
		if dec.Decode(&recs[i], &pkt) != assemble.TCP {
			continue
		}
		if int(pkt.TCP.SrcPort) != p && int(pkt.TCP.DstPort) != p {
			continue
		}
		k := flowtable.MakeKey(pkt.Src, pkt.Dst, pkt.TCP.SrcPort, pkt.TCP.DstPort)
		if !started {
			first, started, t0 = k, true, pkt.TS
		}
		d := fsm.Original
		if k != first {
			d = fsm.Reply
		}
		seg := pkt.TCP
		h.Update(&cfg, d, &seg, pkt.TS)
		a, b := h.Socket(&cfg, fsm.Original, pkt.TS), h.Socket(&cfg, fsm.Reply, pkt.TS)
		fmt.Printf("%8.3f %v %-4v seq=%d ack=%d len=%d | %s %v / %s %v\n", float64(pkt.TS-t0)/1e9, d, seg.Flags, seg.Seq, seg.Ack, seg.PayloadLen, a.State, a.Confirmed, b.State, b.Confirmed)
	}
}
