package output

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"testing"

	"github.com/tcptrack/tcptrack/internal/testutil"
)

// fuzzBytes hands out values from fuzz input, zeros once it runs out.
type fuzzBytes []byte

func (f *fuzzBytes) u64() uint64 {
	var b [8]byte
	n := copy(b[:], *f)
	*f = (*f)[n:]
	return binary.LittleEndian.Uint64(b[:])
}

func (f *fuzzBytes) bool() bool { return f.u64()&1 != 0 }

// float is mostly the kind of value tcptrack writes (milliseconds and
// seconds), sometimes any float64 bit pattern (NaN, ±Inf, subnormals, 1e300).
func (f *fuzzBytes) float() float64 {
	v := f.u64()
	if v&3 == 0 {
		return math.Float64frombits(f.u64())
	}
	return float64(int64(v)>>2) / [...]float64{1, 1e3, 1e6, 1e9}[v>>62]
}

func (f *fuzzBytes) floatPtr() *float64 {
	if !f.bool() {
		return nil
	}
	v := f.float()
	return &v
}

// str is a plain ASCII string, or raw bytes (quotes, controls, <>&,
// invalid UTF-8, U+2028) taken from the input.
func (f *fuzzBytes) str() string {
	v := f.u64()
	n := int(v>>1) % 24
	if v&1 == 0 {
		const plain = "ESTABLISHED10.0.0.1:fd00::2ShADadFf^2026-12-01T00:00:00.5Z"
		return plain[:n%len(plain)]
	}
	n = min(n, len(*f))
	s := string((*f)[:n])
	*f = (*f)[n:]
	return s
}

func (f *fuzzBytes) tuple() JSONTuple {
	t := JSONTuple{Src: f.str(), Dst: f.str(), Sport: uint16(f.u64()), Dport: uint16(f.u64()), Packets: f.u64(), Bytes: f.u64()}
	if f.bool() {
		t.Summary = &JSONDirSummary{Packets: f.u64(), IPBytes: f.u64(), PayloadBytes: f.u64(), Carried: f.u64(),
			Retransmits: f.u64(), RetransBytes: f.u64(), OutOfOrder: f.u64(), ZeroWindows: f.u64(), DupAcks: f.u64(),
			Gaps: f.u64(), MissedBytes: f.u64(), Invalid: f.u64(), RTTms: f.floatPtr()}
	}
	return t
}

func (f *fuzzBytes) event() JSONEvent {
	e := JSONEvent{Event: f.str(), Time: f.str(), Reason: f.str()}
	j := &e.JSONFlow
	*j = JSONFlow{Family: f.str(), Proto: f.str(), State: f.str(), Timeout: int64(f.u64()), Unreplied: f.bool(), Assured: f.bool()}
	j.Original, j.Reply = f.tuple(), f.tuple()
	j.Sockets = JSONSockets{Original: f.str(), Reply: f.str()}
	j.Confirmed = JSONSocketsConfirmed{Original: f.bool(), Reply: f.bool()}
	j.Timers = JSONSocketTimers{Original: f.floatPtr(), Reply: f.floatPtr()}
	j.FirstSeen, j.LastSeen, j.IdleSecs = f.str(), f.str(), f.float()
	if f.bool() {
		j.Zeek = &JSONZeek{UID: f.str(), ConnState: f.str(), History: f.str(), DurationSec: f.float(), MissedBytes: f.u64()}
	}
	return e
}

// checkJSONAppend compares the hand-written lines with encoding/json's.
func checkJSONAppend(t *testing.T, data []byte) {
	fb := fuzzBytes(data)
	e := fb.event()
	want, werr := json.Marshal(&e.JSONFlow)
	got, gerr := appendJSONFlow([]byte("x"), &e.JSONFlow)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("flow: encoding/json error %v, appender error %v", werr, gerr)
	}
	if werr == nil && !bytes.Equal(got[1:], want) {
		t.Fatalf("flow:\nappender      %s\nencoding/json %s", got[1:], want)
	}
	want, werr = json.Marshal(&e)
	got, gerr = appendJSONEvent(nil, &e)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("event: encoding/json error %v, appender error %v", werr, gerr)
	}
	if werr == nil && !bytes.Equal(got, want) {
		t.Fatalf("event:\nappender      %s\nencoding/json %s", got, want)
	}
}

func jsonAppendSeeds() []testutil.Seed {
	var all, odd []byte
	special := []byte("\"<>&\\\n\x01\xff\xe2\x80\xa8é")
	for i := range 400 {
		all = append(all, byte(i*37+11))
		odd = append(odd, special[i%len(special)])
	}
	tiny := binary.LittleEndian.AppendUint64(nil, 4) // 'f' below 1e-6 turns 'e'
	tiny = binary.LittleEndian.AppendUint64(tiny, math.Float64bits(1e-7))
	return []testutil.Seed{
		{Name: "zeros", Data: make([]byte, 64)},
		{Name: "ones", Data: bytes.Repeat([]byte{0xff}, 600)},
		{Name: "mixed", Data: all},
		{Name: "escapes", Data: odd},
		{Name: "tiny-float", Data: bytes.Repeat(tiny, 40)},
	}
}

func TestJSONAppendSeeds(t *testing.T) {
	testutil.SeedCorpus(t, "FuzzJSONAppend", jsonAppendSeeds())
}

// FuzzJSONAppend: the hand-written -o json and -e -o json lines equal
// encoding/json's for any values, and fail where it fails (NaN, ±Inf).
func FuzzJSONAppend(f *testing.F) {
	f.Fuzz(checkJSONAppend)
}
