package output

import (
	"encoding/csv"
	"io"
	"strconv"
	"time"

	"github.com/tcptrack/tcptrack/fsm"
)

var csvHeader = [...]string{"client", "client_port", "client_state", "server", "server_port", "server_state",
	"conntrack", "assured", "unreplied", "timeout", "packets_orig", "packets_reply", "bytes_orig", "bytes_reply",
	"first_seen", "last_seen", "idle_seconds"}

// CSVHeader is the header row WriteCSV writes.
func CSVHeader() []string { return append([]string(nil), csvHeader[:]...) }

// WriteCSV writes the netstat-style table's facts as RFC 4180 CSV, one
// flow per row.
func WriteCSV(w io.Writer, flows Flows, now int64) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader[:]); err != nil {
		return err
	}
	rec := make([]string, len(csvHeader))
	for i := range flows.Len() {
		fl, _ := flows.At(i)
		f := &fl
		k := &f.Key
		cs, ss := f.Sockets(now)
		st := f.Conn.Status()
		rec[0], rec[1], rec[2] = k.SrcAddr().String(), strconv.Itoa(int(k.SrcPort)), cs.State.String()
		rec[3], rec[4], rec[5] = k.DstAddr().String(), strconv.Itoa(int(k.DstPort)), ss.State.String()
		rec[6] = f.Conn.State().String()
		rec[7] = strconv.FormatBool(st.Assured())
		rec[8] = strconv.FormatBool(!st.SeenReply())
		rec[9] = strconv.FormatInt(f.TimeoutAt(now), 10)
		rec[10] = strconv.FormatUint(f.Packets[fsm.Original], 10)
		rec[11] = strconv.FormatUint(f.Packets[fsm.Reply], 10)
		rec[12] = strconv.FormatUint(f.Bytes[fsm.Original], 10)
		rec[13] = strconv.FormatUint(f.Bytes[fsm.Reply], 10)
		rec[14] = time.Unix(0, f.Start).UTC().Format(time.RFC3339Nano)
		rec[15] = time.Unix(0, f.Last).UTC().Format(time.RFC3339Nano)
		rec[16] = strconv.FormatFloat(float64(max(now-f.Last, 0))/1e9, 'f', 3, 64)
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
