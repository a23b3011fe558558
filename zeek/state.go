package zeek

// ConnState is conn.log's conn_state.
type ConnState uint8

const (
	OTH    ConnState = iota // no SYN seen, just midstream traffic (or other)
	S0                      // connection attempt seen, no reply
	S1                      // established, not terminated
	SF                      // normal establishment and termination
	REJ                     // connection attempt rejected
	S2                      // established, close attempt by originator seen (no reply)
	S3                      // established, close attempt by responder seen (no reply)
	RSTO                    // established, originator aborted (sent a RST)
	RSTR                    // responder sent a RST
	RSTOS0                  // originator sent a SYN then a RST; no SYN-ACK from the responder
	RSTRH                   // responder sent a SYN-ACK then a RST; no SYN from the originator
	SH                      // originator sent a SYN then a FIN; no SYN-ACK from the responder
	SHR                     // responder sent a SYN-ACK then a FIN; no SYN from the originator
)

var connStateNames = [...]string{"OTH", "S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR"}

func (s ConnState) String() string {
	if int(s) < len(connStateNames) {
		return connStateNames[s]
	}
	return "OTH"
}

// connState is Conn::conn_state for TCP (base/protocols/conn/main.zeek),
// from the endpoint states, their sizes and the history.
func connState(os, rs EndpointState, origSize, respSize uint64, history []byte) ConnState {
	oInactive := os == Inactive || os == Partial
	rInactive := rs == Inactive || rs == Partial
	switch {
	case rs == Reset:
		if os == SynSent || os == SynAckSent || (os == Reset && origSize == 0 && respSize == 0) {
			return REJ
		}
		if oInactive {
			return RSTRH
		}
		return RSTR
	case os == Reset:
		if rInactive {
			if synThenReset(history) {
				return RSTOS0
			}
			return OTH
		}
		return RSTO
	case rs == Closed && os == Closed:
		return SF
	case os == Closed:
		if rInactive {
			return SH
		}
		return S2
	case rs == Closed:
		if oInactive {
			return SHR
		}
		return S3
	case os == SynSent && rs == Inactive:
		return S0
	case os == Established && rs == Established:
		return S1
	}
	return OTH
}

// synThenReset matches the whole history against /\^?S[^HAFGIQ]*R.*/: a
// SYN, then (of the originator's letters) nothing but its RST.
func synThenReset(h []byte) bool {
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
