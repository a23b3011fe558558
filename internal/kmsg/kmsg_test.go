package kmsg

import (
	"testing"

	"github.com/tcptrack/tcptrack/internal/testutil"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
		ok        bool
		want      Entry
		spt       string
	}{
		{
			name: "forwarded IPv4 with options",
			msg:  "nf_ct_proto_6: SEQ is over upper bound 1234 (over the window of the receiver) IN=c0 OUT= MAC=02:aa:00:01:00:02:02:aa:00:01:00:01:08:00 SRC=10.1.0.100 DST=10.2.0.100 LEN=140 TOS=0x00 PREC=0x00 TTL=64 ID=16386 DF PROTO=TCP SPT=30011 DPT=80 SEQ=1 ACK=2 WINDOW=64240 RES=0x00 ACK PSH URGP=0 OPT (020405B4) ",
			ok:   true,
			want: Entry{
				Reason: "SEQ is over upper bound 1234 (over the window of the receiver)",
				In:     "c0", MAC: "02:aa:00:01:00:02:02:aa:00:01:00:01:08:00",
				Packet: "SRC=10.1.0.100 DST=10.2.0.100 LEN=140 TOS=0x00 PREC=0x00 TTL=64 ID=16386 DF PROTO=TCP SPT=30011 DPT=80 SEQ=1 ACK=2 WINDOW=64240 RES=0x00 ACK PSH URGP=0 OPT (020405B4)",
			},
			spt: "30011",
		},
		{
			name: "ignored, IPv6",
			msg:  "nf_ct_proto_6: packet (index 0) in dir 0 ignored, state ESTABLISHED IN=c0 OUT= MAC=02:aa:00:01:00:02:02:aa:00:01:00:01:86:dd SRC=fd00:0001:0000:0000:0000:0000:0000:0100 DST=fd00:0002:0000:0000:0000:0000:0000:0100 LEN=60 TC=0 HOPLIMIT=64 FLOWLBL=0 PROTO=TCP SPT=30041 DPT=80 SEQ=7 ACK=0 WINDOW=64240 RES=0x00 SYN URGP=0 ",
			ok:   true,
			want: Entry{
				Reason: "packet (index 0) in dir 0 ignored, state ESTABLISHED",
				In:     "c0", MAC: "02:aa:00:01:00:02:02:aa:00:01:00:01:86:dd",
				Packet: "SRC=fd00:0001:0000:0000:0000:0000:0000:0100 DST=fd00:0002:0000:0000:0000:0000:0000:0100 LEN=60 TC=0 HOPLIMIT=64 FLOWLBL=0 PROTO=TCP SPT=30041 DPT=80 SEQ=7 ACK=0 WINDOW=64240 RES=0x00 SYN URGP=0",
			},
			spt: "30041",
		},
		{name: "other protocol", msg: "nf_ct_proto_17: bad checksum IN=c0 OUT= SRC=1.2.3.4", ok: false},
		{name: "not netfilter", msg: "lo: entered promiscuous mode", ok: false},
		{name: "no packet", msg: "nf_ct_proto_6: invalid rst IN=c0 OUT=", ok: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := Parse(tc.msg)
			if ok != tc.ok || got != tc.want {
				t.Fatalf("Parse = %+v, %v\nwant   %+v, %v", got, ok, tc.want, tc.ok)
			}
			if ok && got.Field("SPT") != tc.spt {
				t.Errorf("Field(SPT) = %q, want %q", got.Field("SPT"), tc.spt)
			}
			if ok && !got.HasMAC("02:aa:00:01:00:01") || ok && !got.HasMAC("02:aa:00:01:00:02") || got.HasMAC("02:aa:00:01:00:03") {
				t.Errorf("HasMAC wrong for %q", got.MAC)
			}
		})
	}
}

func TestRecordText(t *testing.T) {
	for _, tc := range []struct{ rec, want string }{
		{"5,1234,56789,-;nf_ct_proto_6: invalid rst IN=c0\n", "nf_ct_proto_6: invalid rst IN=c0"},
		{"6,1,2,-,caller=T1;hello\\x20world\n SUBSYSTEM=net\n", "hello world"},
		{"6,1,2,c;a\\xZZb\n", `a\xZZb`},
	} {
		got, ok := recordText([]byte(tc.rec))
		if !ok || got != tc.want {
			t.Errorf("recordText(%q) = %q, %v; want %q", tc.rec, got, ok, tc.want)
		}
	}
	if _, ok := recordText([]byte("garbage")); ok {
		t.Error("a record without ';' parsed")
	}
}

// TestFuzzSeeds keeps FuzzParse's seed corpus: real lines and edge cases.
func TestFuzzSeeds(t *testing.T) {
	testutil.SeedFiles(t, "FuzzParse", []testutil.SeedFile{
		{Name: "ipv4", Body: testutil.FuzzFile("nf_ct_proto_6: invalid rst IN=c0 OUT= MAC=02:3b:e8:01:00:01:02:3b:e8:01:00:00:08:00 SRC=10.1.0.100 DST=10.2.0.100 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=16408 DF PROTO=TCP SPT=30004 DPT=80 SEQ=3118935814 ACK=0 WINDOW=64240 RES=0x00 RST URGP=0 ")},
		{Name: "empty-fields", Body: testutil.FuzzFile("nf_ct_proto_6:  IN= SRC=")},
		{Name: "record", Body: testutil.FuzzFile("6,1,2,-;x\\x4")},
	})
}

// FuzzParse: any message parses or is refused without panicking, and a
// parsed entry's packet description starts at SRC=.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, msg string) {
		e, ok := Parse(msg)
		if ok && len(e.Packet) >= 4 && e.Packet[:4] != "SRC=" {
			t.Fatalf("packet %q does not start at SRC=", e.Packet)
		}
		_ = e.Field("SPT")
		_ = e.HasMAC("02:00:00:00:00:00")
		recordText([]byte(msg))
	})
}
