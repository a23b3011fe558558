package ipfix

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// Options tune an Exporter; the zero value is the defaults.
type Options struct {
	Domain uint32 // observation domain id (default 0)
	// MaxMessage bounds a message in bytes: default 1400 over UDP (below
	// any path MTU, as RFC 7011 §10.3.3 asks), 32768 over TCP and in files.
	MaxMessage int
	// Over UDP the templates are sent again at least every TemplateRefresh
	// (default 30 s) and every TemplateRefreshMessages messages (default
	// 1000), so that a collector that starts or restarts late can decode
	// (RFC 7011 §8.4). Over TCP and in files they are sent once, first.
	TemplateRefresh         time.Duration
	TemplateRefreshMessages int
	Now                     func() time.Time // export time stamps (default time.Now)
}

// Stats counts what an Exporter sent.
type Stats struct {
	Messages   uint64
	Records    uint64
	Bytes      uint64
	Templates  uint64 // messages that carried the templates
	SendErrors uint64 // messages that could not be sent (over UDP they are lost)
}

// Exporter sends records to one collector or file. Its methods may be
// called from several goroutines.
type Exporter struct {
	mu       sync.Mutex
	o        Options
	enc      Encoder
	out      io.Writer // one Write is one message (datagram) or part of the stream
	bw       *bufio.Writer
	closer   io.Closer
	datagram bool
	name     string

	lastTemplates time.Time
	sinceTmpl     int
	sentTmpl      bool
	err           error // a stream's first write error: later writes are pointless
	stats         Stats
}

// Dial connects to a collector: "HOST:PORT" or "udp://HOST:PORT" over UDP,
// "tcp://HOST:PORT" over TCP.
func Dial(target string, o Options) (*Exporter, error) {
	network, addr := "udp", target
	if scheme, rest, ok := strings.Cut(target, "://"); ok {
		switch scheme {
		case "udp", "tcp":
			network, addr = scheme, rest
		default:
			return nil, fmt.Errorf("ipfix: %s: transport %q: want udp:// or tcp://", target, scheme)
		}
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("ipfix: %s: want HOST:PORT: %w", target, err)
	}
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("ipfix: %s: %w", target, err)
	}
	if network == "udp" {
		x := NewDatagram(c, o)
		x.closer, x.name = c, target
		return x, nil
	}
	x := NewStream(c, o)
	x.closer, x.name = c, target
	return x, nil
}

// Create writes an IPFIX file (RFC 5655): the messages one after another,
// the templates first.
func Create(path string, o Options) (*Exporter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("ipfix: %w", err)
	}
	x := NewStream(f, o)
	x.closer, x.name = f, path
	return x, nil
}

// NewDatagram exports over w with one Write per message, as a UDP socket
// takes them.
func NewDatagram(w io.Writer, o Options) *Exporter {
	if o.MaxMessage <= 0 {
		o.MaxMessage = 1400
	}
	x := newExporter(w, o)
	x.datagram = true
	return x
}

// NewStream exports to a byte stream (a TCP connection, a file), buffered.
func NewStream(w io.Writer, o Options) *Exporter {
	if o.MaxMessage <= 0 {
		o.MaxMessage = 32768
	}
	x := newExporter(w, o)
	x.bw = bufio.NewWriterSize(w, 64<<10)
	x.out = x.bw
	return x
}

func newExporter(w io.Writer, o Options) *Exporter {
	if o.TemplateRefresh <= 0 {
		o.TemplateRefresh = 30 * time.Second
	}
	if o.TemplateRefreshMessages <= 0 {
		o.TemplateRefreshMessages = 1000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	x := &Exporter{o: o, out: w, name: "ipfix"}
	x.enc.Domain, x.enc.MaxSize = o.Domain, min(o.MaxMessage, 65535)
	return x
}

// start opens a message, with the templates when they are due.
func (x *Exporter) start() {
	now := x.o.Now()
	tmpl := !x.sentTmpl
	if x.datagram && (now.Sub(x.lastTemplates) >= x.o.TemplateRefresh || x.sinceTmpl >= x.o.TemplateRefreshMessages) {
		tmpl = true
	}
	if tmpl {
		x.sentTmpl, x.lastTemplates, x.sinceTmpl = true, now, 0
	}
	x.enc.Start(uint32(now.Unix()), tmpl)
}

// Export adds records; full messages are sent as they fill.
func (x *Exporter) Export(recs ...Record) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	var first error
	for i := range recs {
		if !x.enc.started {
			x.start()
		}
		err := x.enc.Add(&recs[i])
		if err == ErrFull {
			if serr := x.send(); serr != nil && first == nil {
				first = serr
			}
			x.start()
			err = x.enc.Add(&recs[i])
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

// send finishes the current message and writes it.
func (x *Exporter) send() error {
	if !x.enc.started {
		return nil
	}
	if x.enc.records == 0 && x.sinceTmpl > 0 {
		x.enc.started = false // nothing to say
		return nil
	}
	tmpl := x.sinceTmpl == 0
	recs := x.enc.records
	msg := x.enc.Finish()
	x.sinceTmpl++
	if x.err != nil {
		x.stats.SendErrors++
		return x.err
	}
	if _, err := x.out.Write(msg); err != nil {
		x.stats.SendErrors++
		err = fmt.Errorf("ipfix: %s: %w", x.name, err)
		if !x.datagram {
			x.err = err
		}
		return err
	}
	x.stats.Messages++
	x.stats.Records += uint64(recs)
	x.stats.Bytes += uint64(len(msg))
	if tmpl {
		x.stats.Templates++
	}
	return nil
}

// Flush sends the records waiting in a part-filled message and, on a
// stream, pushes the buffer out.
func (x *Exporter) Flush() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.flush()
}

func (x *Exporter) flush() error {
	err := x.send()
	if x.bw != nil && x.err == nil {
		if ferr := x.bw.Flush(); ferr != nil {
			x.err = fmt.Errorf("ipfix: %s: %w", x.name, ferr)
		}
		if err == nil {
			err = x.err
		}
	}
	return err
}

// Stats returns what was sent so far.
func (x *Exporter) Stats() Stats {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.stats
}

// Close flushes and closes the connection or file.
func (x *Exporter) Close() error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.sentTmpl && !x.datagram {
		// An empty file still names its templates: a reader knows what it is.
		x.start()
	}
	err := x.flush()
	if x.closer != nil {
		if cerr := x.closer.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("ipfix: %s: %w", x.name, cerr)
		}
		x.closer = nil
	}
	return err
}
