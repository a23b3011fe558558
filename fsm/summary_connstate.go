package fsm

// conn.log's conn_state, derived from the two endpoints' states as
// base/protocols/conn/main.zeek does.

// ZeekState is a conn.log conn_state value.
type ZeekState uint8

const (
	ZeekOTH    ZeekState = iota // no SYN seen, just midstream traffic
	ZeekS0                      // connection attempt seen, no reply
	ZeekS1                      // established, not terminated
	ZeekSF                      // normal establishment and termination
	ZeekREJ                     // connection attempt rejected
	ZeekS2                      // established, close attempt by originator seen (no reply from responder)
	ZeekS3                      // established, close attempt by responder seen (no reply from originator)
	ZeekRSTO                    // established, originator aborted (sent a RST)
	ZeekRSTR                    // responder sent a RST
	ZeekRSTOS0                  // originator sent a SYN followed by a RST, no SYN-ACK seen
	ZeekRSTRH                   // responder sent a SYN-ACK followed by a RST, no SYN seen from the originator
	ZeekSH                      // originator sent a SYN followed by a FIN, no SYN-ACK seen
	ZeekSHR                     // responder sent a SYN-ACK followed by a FIN, no SYN seen from the originator
	numZeekStates
)

var zeekStateNames = [...]string{"OTH", "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR"}

func (z ZeekState) String() string {
	if z < numZeekStates {
		return zeekStateNames[z]
	}
	return "?"
}

// ConnState is conn.log's conn_state, from the two endpoint states as
// Zeek's base/protocols/conn script derives it.
func (s *Summary) ConnState() ZeekState {
	os, rs := s.ep[Original].state, s.ep[Reply].state
	oInactive := os == zInactive || os == zPartial
	rInactive := rs == zInactive || rs == zPartial
	switch {
	case rs == zReset:
		switch {
		case os == zSynSent || os == zSynAckSent || (os == zReset && s.size(Original) == 0 && s.size(Reply) == 0):
			return ZeekREJ
		case oInactive:
			return ZeekRSTRH
		}
		return ZeekRSTR
	case os == zReset:
		if rInactive {
			if s.synThenRST() {
				return ZeekRSTOS0
			}
			return ZeekOTH
		}
		return ZeekRSTO
	case rs == zClosed && os == zClosed:
		return ZeekSF
	case os == zClosed:
		if rInactive {
			return ZeekSH
		}
		return ZeekS2
	case rs == zClosed:
		if oInactive {
			return ZeekSHR
		}
		return ZeekS3
	case os == zSynSent && rs == zInactive:
		return ZeekS0
	case os == zEstablished && rs == zEstablished:
		return ZeekS1
	}
	return ZeekOTH
}

// synThenRST matches the history against Zeek's /^?S[^HAFGIQ]*R.*/: the
// originator's SYN, then its RST with none of H A F G I Q between.
func (s *Summary) synThenRST() bool {
	h := s.hist[:s.histLen]
	if len(h) > 0 && h[0] == '^' {
		h = h[1:]
	}
	if len(h) == 0 || h[0] != 'S' {
		return false
	}
	for _, c := range h[1:] {
		switch c {
		case 'R':
			return true
		case 'H', 'A', 'F', 'G', 'I', 'Q':
			return false
		}
	}
	return false
}
