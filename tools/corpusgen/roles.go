package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// family selects the address set of a scenario.
type family bool

const (
	ipv4 family = false
	ipv6 family = true
)

func (f family) pick(v4, v6 string) string {
	if f == ipv6 {
		return v6
	}
	return v4
}

func (f family) clientIP() string     { return f.pick(clientV4, clientV6) }
func (f family) serverIP() string     { return f.pick(serverV4, serverV6) }
func (f family) fakeClientIP() string { return f.pick(fakeClientV4, fakeClientV6) }
func (f family) fakeServerIP() string { return f.pick(fakeServerV4, fakeServerV6) }
func (f family) suffix() string       { return f.pick("", "-v6") }
func (f family) nftAddr() string      { return f.pick("ip", "ip6") }

func hostPort(ip string, port int) string { return net.JoinHostPort(ip, strconv.Itoa(port)) }

// ioTimeout bounds every socket operation of a role so that a lost packet
// can never hang a scenario.
const ioTimeout = 15 * time.Second

// acceptOne waits for one connection on ln.
func acceptOne(ln *net.TCPListener) (*net.TCPConn, error) {
	if err := ln.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		return nil, err
	}
	c, err := ln.AcceptTCP()
	if err != nil {
		return nil, fmt.Errorf("accept on %s: %w", ln.Addr(), err)
	}
	return c, c.SetDeadline(time.Now().Add(ioTimeout))
}

// payload returns n bytes of printable filler, so captures stay readable.
func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

func writeN(c *net.TCPConn, n int) error {
	if _, err := c.Write(payload(n)); err != nil {
		return fmt.Errorf("write %d bytes %s->%s: %w", n, c.LocalAddr(), c.RemoteAddr(), err)
	}
	return nil
}

func readN(c *net.TCPConn, n int) error {
	if _, err := io.ReadFull(c, make([]byte, n)); err != nil {
		return fmt.Errorf("read %d bytes on %s<-%s: %w", n, c.LocalAddr(), c.RemoteAddr(), err)
	}
	return nil
}

// readEOF drains c until the peer's FIN.
func readEOF(c *net.TCPConn) error {
	if _, err := io.Copy(io.Discard, c); err != nil {
		return fmt.Errorf("read to EOF on %s<-%s: %w", c.LocalAddr(), c.RemoteAddr(), err)
	}
	return nil
}

// readUntilError drains c until EOF or an error such as a reset; both are
// expected endings for the side that gets aborted.
func readUntilError(c *net.TCPConn) {
	_, _ = io.Copy(io.Discard, c)
}

// abort closes c with SO_LINGER 0: the kernel sends RST instead of FIN.
func abort(c *net.TCPConn) error {
	if err := c.SetLinger(0); err != nil {
		return err
	}
	return c.Close()
}

// request sends req bytes and waits for resp bytes: one exchange.
func request(c *net.TCPConn, req, resp int) error {
	if err := writeN(c, req); err != nil {
		return err
	}
	return readN(c, resp)
}

// serveRequest is the server half of request.
func serveRequest(c *net.TCPConn, req, resp int) error {
	if err := readN(c, req); err != nil {
		return err
	}
	return writeN(c, resp)
}

// both runs the client and server halves of a connection concurrently.
// exchange runs one request of n bytes from c and its reply of n bytes
// from s, the server's end of the same connection.
func exchange(c, s *net.TCPConn, n int) error {
	return both(func() error { return request(c, n, n) }, func() error { return serveRequest(s, n, n) })
}

func both(client, server func() error) error {
	errc := make(chan error, 1)
	go func() { errc <- server() }()
	cerr := client()
	serr := <-errc
	return errors.Join(cerr, serr)
}
