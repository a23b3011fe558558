package main

// The live view's screen: the alternate screen buffer, and stdin in
// non-canonical mode for single-key commands. What needs termios is in
// terminal_linux.go; elsewhere (terminal_other.go) the view stays off.

// keys delivers key presses; nil (never ready) without a terminal on stdin.
func (t *terminal) keys() <-chan byte {
	if t.in == nil {
		return nil
	}
	ch := make(chan byte, 8)
	go func() {
		var b [16]byte
		for {
			n, err := t.in.Read(b[:])
			if err != nil {
				return
			}
			for _, k := range b[:n] {
				select {
				case ch <- k:
				default:
				}
			}
		}
	}()
	return ch
}
