package assemble_test

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
	"github.com/tcptrack/tcptrack/output"
)

// Read a capture file, track every connection in it and write the flows
// as JSON lines (here the first two), as tcptrack read -o json does.
func ExamplePipeline() {
	rd, err := assemble.Open("../testdata/pcaps/sample.pcap")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rd.Close()
	hosts := fsm.DefaultHostConfig() // the endpoint hosts' settings: their sockets go in the JSON too
	table := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), Acct: true, Hosts: &hosts})
	pl := assemble.NewPipeline(table, assemble.DecoderConfig{})
	for {
		rec, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err) // names the file, the record and the offset
			return
		}
		pl.Add(&rec)
	}
	res := table.Close(pl.Now()) // the table as it stood at the last packet
	flows := res.Flows()
	output.WriteJSON(os.Stdout, output.FlowSlice{Flows: flows[:2]}, pl.Now())
	st := pl.Stats()
	fmt.Printf("%d records, %d TCP segments, %d flows\n", st.Records, st.Decode.TCP, res.Len())
	// Output:
	// {"family":"ipv4","proto":"tcp","state":"TIME_WAIT","timeout":109,"unreplied":false,"assured":true,"original":{"src":"10.1.0.2","dst":"10.2.0.2","sport":40011,"dport":8002,"packets":5,"bytes":568},"reply":{"src":"10.2.0.2","dst":"10.1.0.2","sport":8002,"dport":40011,"packets":5,"bytes":1068},"sockets":{"original":"GONE","reply":"TIME_WAIT"},"sockets_confirmed":{"original":true,"reply":true},"socket_timers":{"original":null,"reply":49.011},"first_seen":"2026-11-21T05:37:45.036103Z","last_seen":"2026-11-21T05:37:45.036445Z","idle_seconds":10.988325}
	// {"family":"ipv4","proto":"tcp","state":"TIME_WAIT","timeout":109,"unreplied":false,"assured":true,"original":{"src":"10.1.0.2","dst":"10.2.0.2","sport":40012,"dport":8002,"packets":6,"bytes":620},"reply":{"src":"10.2.0.2","dst":"10.1.0.2","sport":8002,"dport":40012,"packets":5,"bytes":1068},"sockets":{"original":"GONE","reply":"TIME_WAIT"},"sockets_confirmed":{"original":true,"reply":true},"socket_timers":{"original":null,"reply":49.313},"first_seen":"2026-11-21T05:37:45.036489Z","last_seen":"2026-11-21T05:37:45.33902Z","idle_seconds":10.68575}
	// 192 records, 192 TCP segments, 19 flows
}

// The same with the decoding on two goroutines beside the one reading, as
// tcptrack read does: records are read in batches and held, not copied,
// until decoded; Close waits for every record to reach the table.
func ExampleParallelPipeline() {
	rd, err := assemble.Open("../testdata/pcaps/sample.pcap")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rd.Close()
	table := flowtable.New(flowtable.Config{FSM: fsm.DefaultConfig(), Shards: 2})
	pl := assemble.NewParallelPipeline(table, assemble.DecoderConfig{}, 2)
	recs := make([]assemble.Record, 256)
	for {
		n, err := rd.NextBatch(recs)
		for i := range recs[:n] {
			pl.Add(&recs[i])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	pl.Close()
	res := table.Close(pl.Now())
	var lines bytes.Buffer
	output.WriteConntrack(&lines, &res, pl.Now(), output.LineOptions{})
	first, _, _ := bytes.Cut(lines.Bytes(), []byte("\n"))
	fmt.Printf("%s\n", first)
	st := pl.Stats()
	fmt.Printf("%d records, %d TCP segments, %d flows\n", st.Records, st.Decode.TCP, res.Len())
	// Output:
	// tcp      6 109 TIME_WAIT src=10.1.0.2 dst=10.2.0.2 sport=40011 dport=8002 src=10.2.0.2 dst=10.1.0.2 sport=8002 dport=40011 [ASSURED] mark=0 use=1
	// 192 records, 192 TCP segments, 19 flows
}
