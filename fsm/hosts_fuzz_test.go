package fsm

import (
	"fmt"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/testutil"
)

// FuzzHosts drives the host model with the segment sequences FuzzConn
// uses, the capture clock advancing by (window byte × 20 ms) + 1 ms a step
// so that the hosts' own timers run out too, and checks what must hold
// whatever the input.
func FuzzHosts(f *testing.F) {
	for _, sc := range fuzzSeeds() {
		f.Add(sc.Data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := DefaultHostConfig()
		if len(data) > 0 && data[0]&0x20 != 0 {
			cfg.SynRetries, cfg.SynackRetries, cfg.FinTimeout = 1, 1, 3*time.Second
		}
		var h Hosts
		var now int64
		n := 0
		decodeSteps(data, func(st fuzzStep) {
			n++
			seg := st.seg
			now += int64(seg.Window>>8)*int64(20*time.Millisecond) + int64(time.Millisecond)
			d := Original
			if st.fromB {
				d = Reply
			}
			h.Update(&cfg, d, &seg, now)
			for _, at := range []int64{now, now + int64(30*time.Second), now + int64(200*time.Second)} {
				for side := Original; side <= Reply; side++ {
					if err := checkSocket(h.Socket(&cfg, side, at)); err != nil {
						t.Fatalf("step %d (%v %v seq %d ack %d len %d), side %v at +%v: %v",
							n, d, seg.Flags, seg.Seq, seg.Ack, seg.PayloadLen, side, time.Duration(at-now), err)
					}
				}
			}
			if h.Done(&cfg, now) {
				for side := Original; side <= Reply; side++ {
					if so := h.Socket(&cfg, side, now); so.State != SockGone && so.State != SockUnknown {
						t.Fatalf("step %d: done while side %v is %v", n, side, so.State)
					}
				}
			}
			if seg.Flags == RST|ACK || seg.Flags == RST {
				// A RST from a synchronized or unknown socket ends it.
				if so := h.Socket(&cfg, d, now); so.State != SockGone && so.State != SockSynSent && so.State != SockSynRecv {
					t.Fatalf("step %d: side %v sent a RST and is %v", n, d, so.State)
				}
			}
		})
	})
}

func checkSocket(so Socket) error {
	if so.State >= numSockStates {
		return fmt.Errorf("state %d out of range", so.State)
	}
	if so.State == SockUnknown && (so.Confirmed || so.Timer != TimerNone) {
		return fmt.Errorf("unknown socket claims %+v", so)
	}
	if so.Left < 0 || so.Left > 200*time.Second {
		return fmt.Errorf("timer left %v", so.Left)
	}
	switch so.Timer {
	case TimerNone:
	case TimerOn:
		if so.State != SockSynSent && so.State != SockSynRecv {
			return fmt.Errorf("retransmission timer in %v", so.State)
		}
	case TimerTimeWait:
		if so.State != SockTimeWait && so.State != SockFinWait2 {
			return fmt.Errorf("timewait timer in %v", so.State)
		}
	default:
		return fmt.Errorf("timer kind %d", so.Timer)
	}
	return nil
}

// TestFuzzHostsSeedCorpus keeps testdata/fuzz/FuzzHosts in step with the
// seeds (go test -update rewrites it) and runs every corpus file.
func TestFuzzHostsSeedCorpus(t *testing.T) {
	testutil.SeedCorpus(t, "FuzzHosts", fuzzSeeds())
}
