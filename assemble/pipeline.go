package assemble

import (
	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// Pipeline is the per-record path from a capture to a flow table, the one
// tcptrack's read and live share: a record stamped before one fed earlier
// is taken as arriving at the latest time seen (the kernel's timers are
// monotonic, and it saw the packet after the ones before it), the record is
// decoded, and a TCP segment goes to the table. It allocates nothing per
// record. Use it from the table's producer goroutine, the one that calls
// Table.Add.
type Pipeline struct {
	dec    *Decoder
	table  *flowtable.Table
	pkt    flowtable.Packet
	last   int64 // latest capture time fed
	report bool  // the table reports packets: hand it their numbers and headers

	records, wireBytes uint64
	backwards          uint64
	maxStepBack        int64
}

// PipelineStats accounts for every record fed: the decoder's kinds
// (Decode.TCP, NotTCP, Fragment, Malformed, Truncated, Unsupported,
// Rejected) add up to Records, and every TCP segment went to the table (a
// Rejected one as refused: counted invalid there).
type PipelineStats struct {
	Records   uint64      // records fed to Add
	WireBytes uint64      // their lengths on the wire (Record.OrigLen)
	Decode    DecodeStats // what the decoder made of them

	// Records stamped before one fed earlier (a clock step, a multi-queue
	// capture), and the largest such step back in ns. Not part of the sum:
	// they were decoded like the others, at the latest time seen.
	Backwards   uint64
	MaxStepBack int64
}

// NewPipeline feeds table through a new Decoder made with cfg.
func NewPipeline(table *flowtable.Table, cfg DecoderConfig) *Pipeline {
	return &Pipeline{dec: NewDecoder(cfg), table: table, report: table.ReportsPackets()}
}

// Add runs one record through the pipeline and reports what the decoder
// made of it. rec.TS is moved up to the latest time seen when it stepped
// back; rec.Data is not kept. When the table reports packets, a packet's
// number is its place among the records fed (see AddNumbered).
func (p *Pipeline) Add(rec *Record) Kind { return p.AddNumbered(rec, p.records+1) }

// AddNumbered is Add with the caller's number for the record (its place in
// the input, filtered records counted), which the table's packet reports
// carry (flowtable.PacketReport.Frame).
func (p *Pipeline) AddNumbered(rec *Record, n uint64) Kind {
	p.records++
	p.wireBytes += uint64(rec.OrigLen)
	if rec.TS < p.last {
		p.backwards++
		p.maxStepBack = max(p.maxStepBack, p.last-rec.TS)
		rec.TS = p.last
	}
	p.last = rec.TS
	k := p.dec.Decode(rec, &p.pkt)
	switch {
	case k == TCP && p.report:
		p.table.AddWire(&p.pkt, n, p.dec.Wire())
	case k == TCP:
		p.table.Add(&p.pkt)
	case k == Rejected:
		// Refused before tracking (tcp_error): the table counts it invalid
		// and, when it reports packets, says why in order with the rest.
		p.table.Refuse(&p.pkt, n, fsm.Reason{Code: p.dec.Reject()}, p.dec.Wire())
	}
	return k
}

// Now is the latest capture time fed (Unix ns; 0 before the first record):
// the instant to close the table at when the capture ends.
func (p *Pipeline) Now() int64 { return p.last }

// Records is the number of records fed so far (Stats().Records, cheaply).
func (p *Pipeline) Records() uint64 { return p.records }

// Stats reports the accounting so far.
func (p *Pipeline) Stats() PipelineStats {
	return PipelineStats{
		Records: p.records, WireBytes: p.wireBytes, Decode: p.dec.Stats(),
		Backwards: p.backwards, MaxStepBack: p.maxStepBack,
	}
}
