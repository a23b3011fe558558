package flowtable

// slab stores values in fixed-size chunks addressed by a uint32 position.
// Growing adds a chunk and never moves what is stored: no append-doubling,
// so a table of n flows costs n slots (rounded up to a chunk), not up to 3n
// while a doubled copy is being made.
type slab[T any] struct {
	chunks []*[chunkLen]T
	n      uint32 // positions handed out so far
}

const (
	chunkBits = 12
	chunkLen  = 1 << chunkBits
)

func (s *slab[T]) at(pos uint32) *T { return &s.chunks[pos>>chunkBits][pos&(chunkLen-1)] }

// add hands out the next unused position, zeroed.
func (s *slab[T]) add() uint32 {
	if int(s.n) == len(s.chunks)*chunkLen {
		s.chunks = append(s.chunks, new([chunkLen]T))
	}
	s.n++
	return s.n - 1
}

// len is one past the highest position handed out.
func (s *slab[T]) len() uint32 { return s.n }
