package ipfix

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/testutil"
)

var testRecords = []Record{
	{
		Src: netip.MustParseAddr("10.1.0.2"), Dst: netip.MustParseAddr("10.2.0.2"), SrcPort: 40001, DstPort: 8001,
		Start: 1795239326236, End: 1795239326238, Octets: [2]uint64{520, 1216}, Packets: [2]uint64{6, 4},
		TCPFlags: [2]uint16{0x1b, 0x1b}, EndReason: EndDetected,
		State: State{Conntrack: "TIME_WAIT", Assured: true, Sockets: [2]string{"TIME_WAIT", "CLOSE"}}.String(),
	},
	{
		Src: netip.MustParseAddr("fd00:1::2"), Dst: netip.MustParseAddr("fd00:2::2"), SrcPort: 40061, DstPort: 8006,
		Start: 1795239468053, End: 1795239468054, Octets: [2]uint64{360, 480}, Packets: [2]uint64{4, 3},
		TCPFlags: [2]uint16{0x12, 0x18}, EndReason: ForcedEnd,
		State: State{Conntrack: "ESTABLISHED", Assured: true, Sockets: [2]string{"ESTABLISHED", "ESTABLISHED"}}.String(),
	},
	{
		Src: netip.MustParseAddr("10.1.0.100"), Dst: netip.MustParseAddr("10.2.0.2"), SrcPort: 30071, DstPort: 8020,
		Start: 1795239326000, End: 1795239326000, Octets: [2]uint64{60, 0}, Packets: [2]uint64{1, 0},
		TCPFlags: [2]uint16{0x02, 0}, EndReason: IdleTimeout,
		State: State{Conntrack: "SYN_SENT", Unreplied: true, Sockets: [2]string{"SYN_SENT", "-"}}.String(),
	},
}

// encodeAll puts recs into messages of at most max bytes.
func encodeAll(t testing.TB, recs []Record, max int) [][]byte {
	t.Helper()
	e := Encoder{Domain: 7, MaxSize: max}
	var msgs [][]byte
	e.Start(1700000000, true)
	for i := range recs {
		err := e.Add(&recs[i])
		if err == ErrFull {
			msgs = append(msgs, bytes.Clone(e.Finish()))
			e.Start(1700000000, false)
			err = e.Add(&recs[i])
		}
		if err != nil {
			t.Fatalf("Add %d: %v", i, err)
		}
	}
	return append(msgs, bytes.Clone(e.Finish()))
}

func decodeAll(t testing.TB, msgs [][]byte) []Record {
	t.Helper()
	d := NewDecoder()
	var recs []Record
	for i, m := range msgs {
		var err error
		if _, recs, err = d.Decode(m, recs); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	return recs
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name        string
		max         int
		minMessages int
	}{
		{"one message", 65535, 1},
		{"several messages", 300, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs := encodeAll(t, testRecords, tc.max)
			if len(msgs) < tc.minMessages {
				t.Errorf("%d messages, want at least %d", len(msgs), tc.minMessages)
			}
			for _, m := range msgs {
				if len(m) > tc.max {
					t.Errorf("message of %d bytes, max %d", len(m), tc.max)
				}
			}
			if got := decodeAll(t, msgs); !reflect.DeepEqual(got, testRecords) {
				t.Errorf("decoded\n%+v\nwant\n%+v", got, testRecords)
			}
		})
	}
}

// TestWireFormat pins the bytes of one message: header, template set (the
// reverse elements with PEN 29305), data set.
func TestWireFormat(t *testing.T) {
	msgs := encodeAll(t, testRecords[:1], 65535)
	got := hex.EncodeToString(msgs[0])
	want := strings.Join([]string{
		"000a", "012a", "6553f100", "00000000", "00000007", // header: version, length 298, time, seq 0, domain 7
		"0002", "00a4", // template set, 164 bytes
		"0100", "0010", // template 256, 16 fields
		"00080004", "000c0004", "00070002", "000b0002", "00040001", "00980008", "00990008",
		"00010008", "00020008", "8001000800007279", "8002000800007279", "8006000200007279",
		"00060002", "00880001", "00ef0001", "005effff",
		"0101", "0010", // template 257
		"001b0010", "001c0010", "00070002", "000b0002", "00040001", "00980008", "00990008",
		"00010008", "00020008", "8001000800007279", "8002000800007279", "8006000200007279",
		"00060002", "00880001", "00ef0001", "005effff",
		"0100", "0076", // data set of template 256, 118 bytes
		"0a010002", "0a020002", "9c41", "1f41", "06",
		"000001a1fc9a321c", "000001a1fc9a321e", // 1795239326236 and ...238 ms
		"0000000000000208", "0000000000000006", "00000000000004c0", "0000000000000004",
		"001b", "001b", "03", "01",
	}, "")
	want += hex.EncodeToString(append([]byte{byte(len(testRecords[0].State))}, testRecords[0].State...))
	if got != want {
		t.Errorf("wire format\n got %s\nwant %s", got, want)
	}
}

// TestGoldenMessages pins whole messages (both templates, IPv4 and IPv6
// data sets, the state texts) as a hex dump: testdata/messages.hex.
func TestGoldenMessages(t *testing.T) {
	var b strings.Builder
	for i, m := range encodeAll(t, testRecords, 400) {
		fmt.Fprintf(&b, "# message %d, %d bytes\n", i, len(m))
		for off := 0; off < len(m); off += 16 {
			b.WriteString(hex.EncodeToString(m[off:min(off+16, len(m))]))
			b.WriteByte('\n')
		}
	}
	testutil.Golden(t, filepath.Join("testdata", "messages.hex"), []byte(b.String()))
}

func TestSequenceNumbers(t *testing.T) {
	msgs := encodeAll(t, append(append([]Record{}, testRecords...), testRecords...), 300)
	d := NewDecoder()
	want := uint32(0)
	for i, m := range msgs {
		h, recs, err := d.Decode(m, nil)
		if err != nil {
			t.Fatal(err)
		}
		if h.Sequence != want || h.Domain != 7 {
			t.Errorf("message %d: sequence %d domain %d, want %d and 7", i, h.Sequence, h.Domain, want)
		}
		want += uint32(len(recs))
	}
}

func TestAddErrors(t *testing.T) {
	e := Encoder{MaxSize: 200}
	e.Start(0, false)
	for _, r := range []Record{
		{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("fd00::1")},
		{},
		{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), State: strings.Repeat("x", 300)},
	} {
		if err := e.Add(&r); err == nil || err == ErrFull {
			t.Errorf("Add(%v -> %v, %d-byte state) = %v, want an error", r.Src, r.Dst, len(r.State), err)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	good := encodeAll(t, testRecords[:1], 65535)[0]
	for _, tc := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"short", good[:10], "shorter than a message header"},
		{"version", append([]byte{0, 9}, good[2:]...), "version 9"},
		{"length", good[:len(good)-1], "length field"},
		{"set length", func() []byte { b := bytes.Clone(good); b[18], b[19] = 0xff, 0xff; return b }(), "set length"},
		{"reserved set", func() []byte { b := bytes.Clone(good); b[17] = 1; return b }(), "reserved set id 1"},
		// FuzzDecode found it hanging: a template whose fields are all of
		// fixed length 0 makes records that use up nothing.
		{"records of no bytes", []byte{
			0, 10, 0, 36, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // header: version 10, length 36
			0, 2, 0, 12, 1, 0, 0, 1, 0, 1, 0, 0, // template 256: IE 1, length 0
			1, 0, 0, 8, 0, 0, 0, 0, // a data set of template 256
		}, "template 256: records of no bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := NewDecoder().Decode(tc.msg, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	// Data before its template: skipped and counted, not an error.
	msgs := encodeAll(t, testRecords, 300)
	d := NewDecoder()
	if _, recs, err := d.Decode(msgs[1], nil); err != nil || len(recs) != 0 || d.Skipped == 0 {
		t.Errorf("data without template: %d records, %d skipped, %v", len(recs), d.Skipped, err)
	}
}

func TestParseState(t *testing.T) {
	for _, s := range []State{
		{Conntrack: "ESTABLISHED", Assured: true, Sockets: [2]string{"ESTABLISHED", "ESTABLISHED"}},
		{Conntrack: "SYN_SENT", Unreplied: true, Sockets: [2]string{"SYN_SENT", "-"}},
		{Conntrack: "CLOSE", Unreplied: true, Assured: true, Sockets: [2]string{"CLOSE", "CLOSE"}},
	} {
		got, err := ParseState(s.String())
		if err != nil || got != s {
			t.Errorf("ParseState(%q) = %+v, %v", s.String(), got, err)
		}
	}
	for _, bad := range []string{"", "ESTABLISHED", "ESTABLISHED [X] orig=a reply=b", "ESTABLISHED a b"} {
		if _, err := ParseState(bad); err == nil {
			t.Errorf("ParseState(%q): no error", bad)
		}
	}
}

// TestExportUDP: a datagram per message, templates first and again after
// TemplateRefreshMessages messages.
func TestExportUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	x, err := Dial(pc.LocalAddr().String(), Options{MaxMessage: 300, TemplateRefreshMessages: 2})
	if err != nil {
		t.Fatal(err)
	}
	var all []Record
	for range 3 {
		all = append(all, testRecords...)
	}
	if err := x.Export(all...); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	st := x.Stats()
	d := NewDecoder()
	var got []Record
	buf := make([]byte, 65535)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := range st.Messages {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("datagram %d of %d: %v", i, st.Messages, err)
		}
		if _, got, err = d.Decode(buf[:n], got); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(got, all) {
		t.Errorf("received %d records, want %d", len(got), len(all))
	}
	if st.Messages < 3 || st.Templates != (st.Messages+1)/2 || st.Records != 9 {
		t.Errorf("stats %+v, want templates in every other message, 9 records", st)
	}
}

func TestExportTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []Record, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		d := NewDecoder()
		var recs []Record
		var buf []byte
		for {
			if buf, err = ReadMessage(c, buf); err != nil {
				break
			}
			if _, recs, err = d.Decode(buf, recs); err != nil {
				break
			}
		}
		if err != io.EOF {
			t.Errorf("collector: %v", err)
		}
		got <- recs
	}()
	x, err := Dial("tcp://"+ln.Addr().String(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Export(testRecords...); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	if recs := <-got; !reflect.DeepEqual(recs, testRecords) {
		t.Errorf("received %+v", recs)
	}
}

func TestExportFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows.ipfix")
	x, err := Create(path, Options{MaxMessage: 300})
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Export(testRecords...); err != nil {
		t.Fatal(err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := NewDecoder()
	var recs []Record
	var buf []byte
	for {
		buf, err = ReadMessage(f, buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, recs, err = d.Decode(buf, recs); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(recs, testRecords) {
		t.Errorf("file holds %+v", recs)
	}
}

func TestDialErrors(t *testing.T) {
	for _, target := range []string{"sctp://1.2.3.4:4739", "localhost", "udp://nohostport"} {
		if _, err := Dial(target, Options{}); err == nil {
			t.Errorf("Dial(%q): no error", target)
		}
	}
	if _, err := Create(filepath.Join(t.TempDir(), "no", "such", "dir"), Options{}); err == nil {
		t.Error("Create in a missing directory: no error")
	}
}
