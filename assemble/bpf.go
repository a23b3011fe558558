package assemble

import "fmt"

// A classic BPF interpreter. libpcap compiles tcpdump expressions (see
// filter_pcap.go); running the program here instead of through cgo saves a
// C call per record and allocates nothing.

// bpfInsn has the layout of struct bpf_insn.
type bpfInsn struct {
	op     uint16
	jt, jf uint8
	k      uint32
}

// Opcode fields (net/bpf.h).
const (
	bpfLD   = 0x00
	bpfLDX  = 0x01
	bpfST   = 0x02
	bpfSTX  = 0x03
	bpfALU  = 0x04
	bpfJMP  = 0x05
	bpfRET  = 0x06
	bpfMISC = 0x07

	bpfW = 0x00
	bpfH = 0x08
	bpfB = 0x10

	bpfIMM = 0x00
	bpfABS = 0x20
	bpfIND = 0x40
	bpfMEM = 0x60
	bpfLEN = 0x80
	bpfMSH = 0xa0

	bpfADD = 0x00
	bpfSUB = 0x10
	bpfMUL = 0x20
	bpfDIV = 0x30
	bpfOR  = 0x40
	bpfAND = 0x50
	bpfLSH = 0x60
	bpfRSH = 0x70
	bpfNEG = 0x80
	bpfMOD = 0x90
	bpfXOR = 0xa0

	bpfJA   = 0x00
	bpfJEQ  = 0x10
	bpfJGT  = 0x20
	bpfJGE  = 0x30
	bpfJSET = 0x40

	bpfK = 0x00
	bpfX = 0x08
	bpfA = 0x10 // RET source

	bpfTAX = 0x00
	bpfTXA = 0x80

	bpfMemWords = 16
)

// validateBPF rejects programs the interpreter (or libpcap's) could
// stumble over: opcodes outside the classic set, jumps out of the program,
// scratch memory out of range, constant division by zero or shifts of 32
// and more, a last instruction that is not a return. libpcap's compiler
// output always passes; this guards against anything else.
func validateBPF(prog []bpfInsn) error {
	if len(prog) == 0 {
		return fmt.Errorf("empty BPF program")
	}
	for pc, in := range prog {
		bad := func(why string) error {
			return fmt.Errorf("BPF instruction %d (%#04x): %s", pc, in.op, why)
		}
		switch in.op {
		case bpfLD | bpfW | bpfABS, bpfLD | bpfH | bpfABS, bpfLD | bpfB | bpfABS,
			bpfLD | bpfW | bpfIND, bpfLD | bpfH | bpfIND, bpfLD | bpfB | bpfIND,
			bpfLD | bpfW | bpfLEN, bpfLD | bpfIMM,
			bpfLDX | bpfW | bpfIMM, bpfLDX | bpfW | bpfLEN, bpfLDX | bpfB | bpfMSH,
			bpfRET | bpfK, bpfRET | bpfA, bpfMISC | bpfTAX, bpfMISC | bpfTXA,
			bpfALU | bpfNEG:
		case bpfLD | bpfMEM, bpfLDX | bpfW | bpfMEM, bpfST, bpfSTX:
			if in.k >= bpfMemWords {
				return bad("scratch index out of range")
			}
		case bpfJMP | bpfJA:
			if uint64(pc)+1+uint64(in.k) >= uint64(len(prog)) {
				return bad("jump out of program")
			}
		default:
			switch {
			case in.op&0x07 == bpfALU && in.op&^0xf8 == bpfALU && in.op&0xf0 <= bpfXOR && in.op&0xf0 != bpfNEG:
				if in.op&bpfX != 0 {
					break
				}
				switch in.op & 0xf0 {
				case bpfDIV, bpfMOD:
					if in.k == 0 {
						return bad("division by constant zero")
					}
				case bpfLSH, bpfRSH:
					if in.k >= 32 {
						return bad("shift by 32 or more")
					}
				}
			case in.op&0x07 == bpfJMP && in.op&^0xf8 == bpfJMP && in.op&0xf0 >= bpfJEQ && in.op&0xf0 <= bpfJSET:
				if pc+1+int(in.jt) >= len(prog) || pc+1+int(in.jf) >= len(prog) {
					return bad("jump out of program")
				}
			default:
				return bad("not a classic BPF opcode")
			}
		}
	}
	if op := prog[len(prog)-1].op; op != bpfRET|bpfK && op != bpfRET|bpfA {
		return fmt.Errorf("BPF program does not end with a return")
	}
	return nil
}

// runBPF executes a validated program over a packet's captured bytes and
// returns its result (0: reject). wire is the length on the wire, what
// "len" loads. Out-of-packet loads reject, as in libpcap's bpf_filter.
func runBPF(prog []bpfInsn, pkt []byte, wire int) uint32 {
	var (
		a, x uint32
		mem  [bpfMemWords]uint32
	)
	n := uint64(len(pkt))
	for pc := 0; pc < len(prog); pc++ {
		in := &prog[pc]
		switch in.op {
		case bpfRET | bpfK:
			return in.k
		case bpfRET | bpfA:
			return a
		case bpfLD | bpfW | bpfABS:
			if uint64(in.k)+4 > n {
				return 0
			}
			a = be32(pkt[in.k:])
		case bpfLD | bpfH | bpfABS:
			if uint64(in.k)+2 > n {
				return 0
			}
			a = uint32(be16(pkt[in.k:]))
		case bpfLD | bpfB | bpfABS:
			if uint64(in.k) >= n {
				return 0
			}
			a = uint32(pkt[in.k])
		case bpfLD | bpfW | bpfIND:
			o := uint64(x) + uint64(in.k)
			if o+4 > n {
				return 0
			}
			a = be32(pkt[o:])
		case bpfLD | bpfH | bpfIND:
			o := uint64(x) + uint64(in.k)
			if o+2 > n {
				return 0
			}
			a = uint32(be16(pkt[o:]))
		case bpfLD | bpfB | bpfIND:
			o := uint64(x) + uint64(in.k)
			if o >= n {
				return 0
			}
			a = uint32(pkt[o])
		case bpfLD | bpfW | bpfLEN:
			a = uint32(wire)
		case bpfLD | bpfIMM:
			a = in.k
		case bpfLD | bpfMEM:
			a = mem[in.k&(bpfMemWords-1)]
		case bpfLDX | bpfW | bpfIMM:
			x = in.k
		case bpfLDX | bpfW | bpfLEN:
			x = uint32(wire)
		case bpfLDX | bpfW | bpfMEM:
			x = mem[in.k&(bpfMemWords-1)]
		case bpfLDX | bpfB | bpfMSH:
			if uint64(in.k) >= n {
				return 0
			}
			x = uint32(pkt[in.k]&0x0f) << 2
		case bpfST:
			mem[in.k&(bpfMemWords-1)] = a
		case bpfSTX:
			mem[in.k&(bpfMemWords-1)] = x
		case bpfJMP | bpfJA:
			pc += int(in.k)
		case bpfJMP | bpfJEQ | bpfK:
			pc += branch(a == in.k, in)
		case bpfJMP | bpfJGT | bpfK:
			pc += branch(a > in.k, in)
		case bpfJMP | bpfJGE | bpfK:
			pc += branch(a >= in.k, in)
		case bpfJMP | bpfJSET | bpfK:
			pc += branch(a&in.k != 0, in)
		case bpfJMP | bpfJEQ | bpfX:
			pc += branch(a == x, in)
		case bpfJMP | bpfJGT | bpfX:
			pc += branch(a > x, in)
		case bpfJMP | bpfJGE | bpfX:
			pc += branch(a >= x, in)
		case bpfJMP | bpfJSET | bpfX:
			pc += branch(a&x != 0, in)
		case bpfMISC | bpfTAX:
			x = a
		case bpfMISC | bpfTXA:
			a = x
		default:
			if in.op&0x07 != bpfALU {
				return 0 // unreachable for validated programs
			}
			v := in.k
			if in.op&bpfX != 0 {
				v = x
			}
			switch in.op & 0xf0 {
			case bpfADD:
				a += v
			case bpfSUB:
				a -= v
			case bpfMUL:
				a *= v
			case bpfDIV:
				if v == 0 {
					return 0
				}
				a /= v
			case bpfMOD:
				if v == 0 {
					return 0
				}
				a %= v
			case bpfOR:
				a |= v
			case bpfAND:
				a &= v
			case bpfXOR:
				a ^= v
			case bpfLSH:
				a <<= v // by X >= 32 gives 0, as in libpcap
			case bpfRSH:
				a >>= v
			case bpfNEG:
				a = -a
			default:
				return 0
			}
		}
	}
	return 0
}

func branch(cond bool, in *bpfInsn) int {
	if cond {
		return int(in.jt)
	}
	return int(in.jf)
}
