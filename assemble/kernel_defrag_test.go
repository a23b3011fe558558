package assemble

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/flowtable"
)

// TestKernelDefrag replays frames whose fate a real kernel decided (see
// testdata/kernel_defrag.txt): the decoder must produce exactly the one
// TCP segment conntrack accounted, with the same datagram length, or none.
func TestKernelDefrag(t *testing.T) {
	f, err := os.Open("testdata/kernel_defrag.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type scenario struct {
		name, want string
		frames     [][]byte
	}
	var all []*scenario
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "scenario "):
			name, want, _ := strings.Cut(strings.TrimPrefix(line, "scenario "), " ")
			all = append(all, &scenario{name: name, want: want})
		default:
			b, err := hex.DecodeString(line)
			if err != nil || len(all) == 0 {
				t.Fatalf("bad line %q: %v", line, err)
			}
			all[len(all)-1].frames = append(all[len(all)-1].frames, b)
		}
	}
	if len(all) == 0 {
		t.Fatal("no scenarios")
	}
	for _, s := range all {
		t.Run(s.name, func(t *testing.T) {
			d := NewDecoder(DecoderConfig{VerifyIPv4Checksum: true})
			var got []string
			for i, fr := range s.frames {
				r := Record{TS: int64(i), CapLen: len(fr), OrigLen: len(fr), LinkType: LinkEthernet, Data: fr}
				var p flowtable.Packet
				if d.Decode(&r, &p) == TCP {
					got = append(got, fmt.Sprintf("%v %d %d", p.Src, p.TCP.SrcPort, p.IPLen))
				}
			}
			want := []string{s.want}
			if s.want == "none" {
				want = nil
			}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("segments %q, kernel accounted %q", got, want)
			}
		})
	}
}
