package decode_test

import (
	"encoding/hex"
	"fmt"

	"github.com/tcptrack/tcptrack/zeek"
	"github.com/tcptrack/tcptrack/zeek/decode"
)

// Decode an Ethernet frame carrying a TCP SYN (the TCP checksum of this
// hand-made frame is wrong, so Zeek would mark the connection C), and
// feed it to Zeek's connection model.
func ExampleDecoder() {
	frame, _ := hex.DecodeString("02000000000202000000000108004500002800070000400666c70a0000010a000002" +
		"9c400050000003e80000000150020200f9990000")
	d := decode.New(decode.Config{})
	tr := zeek.NewTracker(zeek.Config{}, func(r *zeek.Record) {
		fmt.Println(r.Orig, "->", r.Resp, r.State, string(r.History))
	})
	for _, p := range d.Decode(&decode.Frame{TS: 1e18, LinkType: 1, Data: frame, WireLen: len(frame)}) {
		fmt.Println(p.Src, p.TCP.SrcPort, "->", p.Dst, p.TCP.DstPort, p.TCP.Flags, p.Skip == zeek.BadChecksum)
		tr.Add(&p)
	}
	tr.Flush()
	// Output:
	// 10.0.0.1 40000 -> 10.0.0.2 80 S true
	// 10.0.0.1:40000 -> 10.0.0.2:80 OTH C
}
