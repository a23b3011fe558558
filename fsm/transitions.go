package fsm

// class is the packet class the transition table is indexed by
// (the kernel's tcp_bit_set). The order is the kernel's.
type class uint8

const (
	clsSYN class = iota
	clsSYNACK
	clsFIN
	clsACK
	clsRST
	clsNone
	numClasses
)

var classNames = [...]string{"SYN", "SYN-ACK", "FIN", "ACK", "RST", "NONE"}

func (c class) String() string {
	if c < numClasses {
		return classNames[c]
	}
	return "?"
}

// classify picks the class of a flag set, first match wins: RST, SYN(+ACK),
// FIN, ACK, none.
func classify(f Flags) class {
	switch {
	case f&RST != 0:
		return clsRST
	case f&SYN != 0:
		if f&ACK != 0 {
			return clsSYNACK
		}
		return clsSYN
	case f&FIN != 0:
		return clsFIN
	case f&ACK != 0:
		return clsACK
	}
	return clsNone
}

// validFlags is the kernel's tcp_error flag check: ignoring PSH, ECE and CWR,
// the rest must be one of S, S+U, S+A, R, R+A, F+A, F+A+U, A, A+U. Everything
// else (NULL, bare FIN, SYN+FIN, FIN+RST, XMAS...) is invalid before any
// state is looked at.
func validFlags(f Flags) bool {
	switch f &^ (PSH | ECE | CWR) {
	case SYN, SYN | URG, SYN | ACK, RST, RST | ACK, FIN | ACK, FIN | ACK | URG, ACK, ACK | URG:
		return true
	}
	return false
}

// Pseudo-states of the transition table.
const (
	stInvalid = numStates     // packet is invalid in this state
	stIgnore  = numStates + 1 // let it pass without touching the entry
)

// Short names keep the table readable as a grid.
const (
	sNO = None
	sSS = SynSent
	sSR = SynRecv
	sES = Established
	sFW = FinWait
	sCW = CloseWait
	sLA = LastAck
	sTW = TimeWait
	sCL = Close
	sS2 = SynSent2
	sIV = stInvalid
	sIG = stIgnore
)

// transitions is the kernel's tcp_conntracks[dir][class][state] (modern
// table: an ORIGINAL SYN-ACK is invalid outside SYN_RECV/SYN_SENT2, a REPLY
// SYN reopens from TIME_WAIT). Read-only; entries that need more than a
// lookup (reopen, ignore bookkeeping, challenge ACK, simultaneous open, RST
// validation) are finished in Conn.track.
var transitions = [2][numClasses][numStates]State{
	Original: {
		//          sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2
		clsSYN:    {sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2},
		clsSYNACK: {sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR},
		clsFIN:    {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
		clsACK:    {sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV},
		clsRST:    {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
		clsNone:   {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
	},
	Reply: {
		//          sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2
		clsSYN:    {sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2},
		clsSYNACK: {sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR},
		clsFIN:    {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
		clsACK:    {sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG},
		clsRST:    {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
		clsNone:   {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
	},
}

// canEarlyDrop is tcp_can_early_drop: the closing states, where a RST needs
// no sequence validation because the tuple may already have been reused.
func canEarlyDrop(s State) bool {
	switch s {
	case FinWait, CloseWait, LastAck, TimeWait, Close:
		return true
	}
	return false
}
