package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/tcptrack/tcptrack/assemble"
	"github.com/tcptrack/tcptrack/zeek"
	"github.com/tcptrack/tcptrack/zeek/decode"
)

// zeekView is -o zeek / -o zeek-json: Zeek's own connection model, fed
// with every record read (its own packet analysis: tunnels, checksums,
// Zeek's rules for truncated and malformed packets), independent of the
// conntrack table. Records are written as Zeek ends connections and at the
// end; when conntrack events share stdout they are held until the end so
// the two streams do not interleave.
type zeekView struct {
	dec    *decode.Decoder
	tr     *zeek.Tracker
	out    io.Writer
	held   *bytes.Buffer
	json   bool
	opened bool
	line   []byte
	frame  decode.Frame
	err    error
}

func newZeekView(out io.Writer, o *readOptions) *zeekView {
	z := &zeekView{out: out, json: o.output == "zeek-json"}
	if o.events {
		z.held = new(bytes.Buffer)
	}
	z.dec = decode.New(decode.Config{IgnoreChecksums: o.zeekChecksums == "ignore"})
	z.tr = zeek.NewTracker(zeek.Config{ServerPorts: o.zeekPorts, MaxConns: o.maxFlows}, z.record)
	return z
}

func (z *zeekView) write(b []byte) {
	if z.err != nil {
		return
	}
	if z.held != nil {
		z.held.Write(b)
		return
	}
	_, z.err = z.out.Write(b)
}

// open writes the TSV header; #open is the capture time of the first
// record (Zeek writes its wall clock), so output depends on input only.
func (z *zeekView) open(ts int64) {
	if z.opened {
		return
	}
	z.opened = true
	if !z.json {
		z.line = zeek.AppendHeader(z.line[:0], ts)
		z.write(z.line)
	}
}

// add runs one capture record through Zeek's packet analysis and
// connection model.
func (z *zeekView) add(rec *assemble.Record) {
	z.open(rec.TS)
	z.frame = decode.Frame{TS: rec.TS, LinkType: uint32(rec.LinkType), Data: rec.Data, WireLen: rec.OrigLen}
	pkts := z.dec.Decode(&z.frame)
	for i := range pkts {
		z.tr.Add(&pkts[i])
	}
}

func (z *zeekView) record(r *zeek.Record) {
	if z.json {
		z.line = r.AppendJSON(z.line[:0])
	} else {
		z.line = r.AppendTSV(z.line[:0])
	}
	z.write(append(z.line, '\n'))
}

// finish writes the records of the connections still open, the #close
// line and what was held.
func (z *zeekView) finish(now int64) error {
	z.open(now)
	z.tr.Flush()
	if !z.json {
		z.line = zeek.AppendClose(z.line[:0], now)
		z.write(z.line)
	}
	if z.held != nil && z.err == nil {
		_, z.err = z.out.Write(z.held.Bytes())
		z.held = nil
	}
	return z.err
}

// zeekFlags are read's options for the Zeek view.
type zeekFlags struct {
	zeekChecksums string        // verify or ignore
	zeekPorts     *zeek.PortSet // likely_server_ports; nil: Zeek's default
}

// addZeekFlags registers --zeek-checksums and --zeek-server-ports.
func addZeekFlags(fs *flag.FlagSet, o *zeekFlags) {
	o.zeekChecksums = "verify"
	fs.Func("zeek-checksums", "", func(v string) error {
		switch v {
		case "verify", "ignore":
			o.zeekChecksums = v
			return nil
		}
		return fmt.Errorf("--zeek-checksums takes verify or ignore, not %q", v)
	})
	fs.Func("zeek-server-ports", "", func(v string) error {
		add := strings.HasPrefix(v, "+")
		s, err := zeek.ParsePorts(strings.TrimPrefix(v, "+"))
		if err != nil {
			return fmt.Errorf("--zeek-server-ports: %v", err)
		}
		if add {
			d := zeek.DefaultServerPorts()
			for _, p := range s.Ports() {
				d.Add(p)
			}
			s = d
		}
		o.zeekPorts = s
		return nil
	})
}

func (o *readOptions) zeekOutput() bool { return o.output == "zeek" || o.output == "zeek-json" }
