package flowtable

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/fsm"
)

// packetConv is one conversation that exercises the reporting: a
// handshake, an ignored retransmitted SYN-ACK, data past the window, the
// FIN exchange far out of window that shortens the timer, and a SYN-ACK
// for a tuple with no flow.
func packetConv() []Packet {
	c := newConv(40000, 10*sec).handshake()
	c.sseq -= 1
	c.add(false, fsm.SYN|fsm.ACK, 0) // retransmitted SYN-ACK: ignored
	c.cseq += 5_000_000
	c.add(true, fsm.PSH|fsm.ACK, 100) // far past the window: invalid
	c.add(true, fsm.FIN|fsm.ACK, 0)   // out of window FIN
	c.sseq += 5_000_000
	c.add(false, fsm.FIN|fsm.ACK, 0) // the answer: the timer shrinks
	o := newConv(40001, c.ts)
	o.sseq = 7000
	o.add(false, fsm.SYN|fsm.ACK, 0) // no flow: invalid new
	return append(c.packets, o.packets...)
}

func describe(evs []Event) string {
	var b strings.Builder
	for _, e := range evs {
		if e.Type != EventPacket {
			fmt.Fprintf(&b, "%d %s %s\n", e.Seq, e.Type, e.Flow.Conn.State())
			continue
		}
		p := e.Report
		fmt.Fprintf(&b, "%d %s flow=%d %s %s %s %q", e.Seq, e.Type, e.Flow.ID, p.Dir, p.TCP.Flags, p.Verdict, p.Reason.Code)
		if p.Also.Code != fsm.NoReason {
			fmt.Fprintf(&b, " also %q", p.Also)
		}
		fmt.Fprintf(&b, " state=%s wire=%d\n", e.Flow.Conn.State(), len(p.Wire))
	}
	return b.String()
}

func TestShardReportsPackets(t *testing.T) {
	cfg := fsm.DefaultConfig()
	pkts := packetConv()
	for _, tc := range []struct {
		mode PacketEvents
		want string
	}{
		{PacketsNone, `1 NEW SYN_SENT
2 UPDATE SYN_RECV
3 UPDATE ESTABLISHED
`},
		{PacketsNotAccepted, `1 NEW SYN_SENT
2 UPDATE SYN_RECV
3 UPDATE ESTABLISHED
4 PACKET flow=1 reply S. ignore "ignored" state=ESTABLISHED wire=0
5 PACKET flow=1 original P. invalid "seq-over" state=ESTABLISHED wire=0
6 PACKET flow=1 original F. invalid "seq-over" state=ESTABLISHED wire=0
7 PACKET flow=1 reply F. invalid "seq-over" also "packet (index 2, dir 1) response for index 2 lower timeout to 75000" state=ESTABLISHED wire=0
8 PACKET flow=0 original S. invalid "invalid-new" state=NONE wire=0
`},
		{PacketsAll, `1 NEW SYN_SENT
1 PACKET flow=1 original S accept "none" state=SYN_SENT wire=0
2 UPDATE SYN_RECV
2 PACKET flow=1 reply S. accept "none" state=SYN_RECV wire=0
3 UPDATE ESTABLISHED
3 PACKET flow=1 original . accept "none" state=ESTABLISHED wire=0
4 PACKET flow=1 reply S. ignore "ignored" state=ESTABLISHED wire=0
5 PACKET flow=1 original P. invalid "seq-over" state=ESTABLISHED wire=0
6 PACKET flow=1 original F. invalid "seq-over" state=ESTABLISHED wire=0
7 PACKET flow=1 reply F. invalid "seq-over" also "packet (index 2, dir 1) response for index 2 lower timeout to 75000" state=ESTABLISHED wire=0
8 PACKET flow=0 original S. invalid "invalid-new" state=NONE wire=0
`},
	} {
		t.Run(fmt.Sprint(tc.mode), func(t *testing.T) {
			s := newShard(&cfg, 0, true)
			s.reportPackets(tc.mode)
			for i := range pkts {
				s.processPacket(&pkts[i], uint64(i+1))
			}
			if got := describe(s.takeEvents(nil)); got != tc.want {
				t.Errorf("events:\n%s\nwant:\n%s", got, tc.want)
			}
			st := s.stats
			if st.Accepted+st.Ignored+st.Invalid != uint64(len(pkts)) {
				t.Errorf("stats %+v do not add up to %d", st, len(pkts))
			}
		})
	}
}

// Through a Table, with headers and a refused packet, over several shards:
// the events arrive in packet order, each with its own copy of its headers.
func TestTablePacketEvents(t *testing.T) {
	for _, shards := range []int{1, 3} {
		t.Run(fmt.Sprint(shards, " shards"), func(t *testing.T) {
			var got []Event
			tb := New(Config{FSM: fsm.DefaultConfig(), Shards: shards, BatchSize: 4, Packets: PacketsNotAccepted,
				OnEvents: func(evs []Event) {
					for _, e := range evs {
						if e.Type == EventPacket {
							got = append(got, e)
						}
					}
				}})
			pkts := packetConv()
			wire := make([]byte, 60)
			for i := range pkts {
				wire[0] = byte(i) // overwritten for the next packet: the table must copy
				if i == 2 {
					tb.Refuse(&pkts[i], uint64(100+i), fsm.Reason{Code: fsm.ReasonBadChecksum}, wire[:40])
					continue
				}
				tb.AddWire(&pkts[i], uint64(100+i), wire[:40+i])
			}
			res := tb.Close(pkts[len(pkts)-1].TS)
			var seqs []uint64
			for _, e := range got {
				seqs = append(seqs, e.Seq)
				if w := e.Report.Wire; len(w) < 40 || w[0] != byte(e.Seq-1) {
					t.Errorf("packet %d: headers %v not its own", e.Seq, w[:min(len(w), 1)])
				}
				if e.Report.Frame != 99+e.Seq {
					t.Errorf("packet %d: frame %d, want %d", e.Seq, e.Report.Frame, 99+e.Seq)
				}
			}
			if fmt.Sprint(seqs) != "[3 4 5 6 7 8]" {
				t.Errorf("reported packets %v, want [3 4 5 6 7 8] in order", seqs)
			}
			if got[0].Report.Reason.Code != fsm.ReasonBadChecksum || got[0].Flow.ID != 0 {
				t.Errorf("refused packet reported as %+v", got[0].Report)
			}
			if res.Stats.Refused != 1 || res.Stats.Segments != uint64(len(pkts)) ||
				res.Stats.Accepted+res.Stats.Ignored+res.Stats.Invalid != res.Stats.Segments {
				t.Errorf("stats %+v", res.Stats)
			}
		})
	}
}

// Without packet reporting a refused packet is still counted.
func TestRefuseCounted(t *testing.T) {
	tb := New(Config{FSM: fsm.DefaultConfig(), Shards: 2})
	pkts := packetConv()
	tb.Refuse(&pkts[0], 1, fsm.Reason{Code: fsm.ReasonTruncated}, nil)
	res := tb.Close(pkts[0].TS)
	if res.Stats.Refused != 1 || res.Stats.Invalid != 1 || res.Stats.Segments != 1 || res.Stats.Created != 0 {
		t.Errorf("stats %+v", res.Stats)
	}
}
