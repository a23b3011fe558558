package fsm

// Sequence-number comparisons modulo 2^32 (RFC 9293 §3.4): a is before b
// when the signed distance from b to a is negative. Every comparison of
// sequence or acknowledgement numbers in this package goes through these.

func before(a, b uint32) bool { return int32(a-b) < 0 }

func after(a, b uint32) bool { return before(b, a) }
