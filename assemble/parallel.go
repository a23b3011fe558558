package assemble

import (
	"sync"

	"github.com/tcptrack/tcptrack/flowtable"
	"github.com/tcptrack/tcptrack/fsm"
)

// ParallelPipeline is Pipeline with the decoding spread over goroutines, so
// that the goroutine reading the capture does little more than read. Add
// clamps time and collects records into jobs of a few thousand; decoder
// goroutines decode whole jobs, build and hash each segment's key and split
// the segments by shard into a flowtable.Chunk; the chunks reach the table
// in capture order, whatever order the decoders finish in. Records made by
// a Reader are not copied (their buffer is held until decoded); others are.
//
// IP fragments are reassembled by one Decoder, in capture order, as the
// chunks are put in order: decoders leave fragments alone, and a datagram
// a fragment completes goes into its chunk at that fragment's place. Flows
// and events are numbered by record (Pipeline numbers them by segment): the
// order is the same.
//
// Segments the decoders reject (a wrong checksum, a bad data offset) go to
// the table as refused, as Pipeline hands them over. When the table reports
// packets (flowtable.Config.Packets), every segment goes with its number
// (AddNumbered) and a copy of its headers, in capture order among the
// others, so the reports are Pipeline's.
type ParallelPipeline struct {
	table  *flowtable.Table
	report bool      // the table reports packets: numbers and headers go with each segment
	work   chan *job // to the decoders
	free   chan *job // back from the table hand-off
	decs   []*Decoder
	wg     sync.WaitGroup
	cur    *job
	nextK  uint64 // number of the next job

	last               int64
	records, wireBytes uint64
	backwards          uint64
	maxStepBack        int64
	closed             bool

	mu    sync.Mutex // orders jobs; guards the fields below
	next  uint64     // number of the job the table gets next
	ready []*job     // finished jobs waiting for their turn, by number modulo len
	frag  *Decoder   // the only fragment table
	frec  Record
	fpkt  flowtable.Packet
}

// job is a run of records on their way through a decoder to the table.
type job struct {
	k        uint64
	seq0     uint64 // packet number of recs[0]
	recs     []recRef
	bufs     [][]byte // what recs point into: Reader buffers (holds), then the arena
	holds    []*Hold  // Reader buffers recs point into (bufs[:len(holds)])
	arena    []byte   // copies of records that came without a hold
	through  int64
	chunk    *flowtable.Chunk
	deferred []int32  // fragments left to the ordering step
	frames   []uint64 // the caller's number of each record, when the table reports packets
}

// recRef is a record in a job: where its data is, not a slice, so that a
// job's records hold no pointers (nothing for the GC to scan, no write
// barriers while the reader fills them).
type recRef struct {
	ts      int64
	off     uint32 // Data is bufs[buf][off : off+capLen]
	capLen  uint32
	origLen uint32
	link    LinkType
	buf     uint32
}

const (
	jobRecords = 2048    // records per job
	jobArena   = 4 << 20 // bytes of copied records per job
	arenaBuf   = 1 << 31 // recRef.buf of a record copied into the arena
)

// record rebuilds job record i as a Record for the decoder.
func (j *job) record(i int, rec *Record) {
	r := &j.recs[i]
	buf := j.arena
	if r.buf != arenaBuf {
		buf = j.bufs[r.buf]
	}
	rec.TS, rec.OrigLen, rec.LinkType = r.ts, int(r.origLen), r.link
	rec.Data = buf[r.off : r.off+r.capLen]
	rec.CapLen = len(rec.Data)
}

// NewParallelPipeline feeds table through workers decoders made with cfg
// (at least one). The table must be fed by chunks only (no Table.Add).
func NewParallelPipeline(table *flowtable.Table, cfg DecoderConfig, workers int) *ParallelPipeline {
	return newParallelPipeline(table, cfg, workers, jobRecords)
}

// newParallelPipeline is NewParallelPipeline with jobs of jobLen records.
func newParallelPipeline(table *flowtable.Table, cfg DecoderConfig, workers, jobLen int) *ParallelPipeline {
	workers = max(workers, 1)
	// Jobs out at once: one filling, one per decoder, a few waiting their
	// turn; the table bounds its chunks too.
	njobs := 2*workers + 2
	p := &ParallelPipeline{
		table:  table,
		report: table.ReportsPackets(),
		work:   make(chan *job, njobs),
		free:   make(chan *job, njobs),
		ready:  make([]*job, njobs),
		frag:   NewDecoder(cfg),
	}
	for range njobs {
		p.free <- &job{recs: make([]recRef, 0, jobLen)}
	}
	for range workers {
		d := NewDecoder(cfg)
		d.deferFrags = true
		p.decs = append(p.decs, d)
		p.wg.Add(1)
		go p.decode(d)
	}
	return p
}

// Add takes one record; see Pipeline.Add. rec.Data is kept (by holding the
// Reader's buffer, or as a copy) until the record is decoded. What the
// decoder makes of it shows in Stats once the pipeline is closed.
func (p *ParallelPipeline) Add(rec *Record) { p.AddNumbered(rec, p.records+1) }

// AddNumbered is Add with the caller's number for the record (its place in
// the input, filtered records counted), which the table's packet reports
// carry (flowtable.PacketReport.Frame); see Pipeline.AddNumbered.
func (p *ParallelPipeline) AddNumbered(rec *Record, n uint64) {
	p.records++
	p.wireBytes += uint64(rec.OrigLen)
	if rec.TS < p.last {
		p.backwards++
		p.maxStepBack = max(p.maxStepBack, p.last-rec.TS)
		rec.TS = p.last
	}
	p.last = rec.TS
	j := p.cur
	if j == nil {
		j = p.take()
	}
	ref := recRef{ts: rec.TS, capLen: uint32(len(rec.Data)), origLen: uint32(rec.OrigLen), link: rec.LinkType}
	if h := rec.hold; h != nil {
		n := len(j.holds)
		if n == 0 || j.holds[n-1] != h {
			h.Retain()
			j.holds = append(j.holds, h)
			j.bufs = append(j.bufs, h.b)
			n++
		}
		ref.buf, ref.off = uint32(n-1), uint32(h.offset(rec.Data))
	} else {
		if len(j.arena)+len(rec.Data) > cap(j.arena) && len(j.recs) > 0 {
			p.send()
			j = p.take()
		}
		if len(rec.Data) > cap(j.arena) {
			j.arena = make([]byte, 0, max(jobArena, len(rec.Data)))
		}
		ref.off = uint32(len(j.arena))
		j.arena = append(j.arena, rec.Data...)
		ref.buf = arenaBuf
	}
	j.recs = append(j.recs, ref)
	if p.report {
		j.frames = append(j.frames, n)
	}
	if len(j.recs) == cap(j.recs) {
		p.send()
	}
}

// take starts the next job, with its chunk: both are taken in capture
// order, so the job the table needs next always has its chunk.
func (p *ParallelPipeline) take() *job {
	j := <-p.free
	j.k = p.nextK
	p.nextK++
	j.seq0 = p.records // the record being added is number p.records
	j.chunk = p.table.NewChunk()
	p.cur = j
	return j
}

func (p *ParallelPipeline) send() {
	j := p.cur
	j.through = p.last
	p.cur = nil
	p.work <- j
}

// decode runs one decoder over whole jobs.
func (p *ParallelPipeline) decode(d *Decoder) {
	defer p.wg.Done()
	if p.report {
		p.decodeReported(d)
		return
	}
	// A segment is filed a few records after it was decoded: the decoder
	// writes a Packet field by field, and copying it at once into the chunk
	// would stall on loads wider than those stores.
	const lag = 4
	var ring [lag]struct {
		pkt      flowtable.Packet
		src, dst []byte
		seq      uint64
		ok       bool
	}
	file := func(c *flowtable.Chunk, i int) {
		if s := &ring[i%lag]; s.ok {
			c.AddIP(&s.pkt, s.src, s.dst, s.seq)
			s.ok = false
		}
	}
	var rec Record
	for j := range p.work {
		for i := range j.recs {
			file(j.chunk, i) // record i-lag's segment, if any
			s := &ring[i%lag]
			j.record(i, &rec)
			switch d.Decode(&rec, &s.pkt) {
			case TCP:
				s.src, s.dst, s.seq, s.ok = d.srcIP, d.dstIP, j.seq0+uint64(i), true
			case Rejected:
				// Counted invalid by the table; nothing reported.
				j.chunk.Refuse(&s.pkt, j.seq0+uint64(i), 0, fsm.Reason{Code: d.Reject()}, nil)
			case deferred:
				j.deferred = append(j.deferred, int32(i))
			}
		}
		for i := len(j.recs); i < len(j.recs)+lag; i++ {
			file(j.chunk, i)
		}
		j.chunk.Through(j.through)
		p.finish(j)
	}
}

// decodeReported is decode for a table that reports packets: each segment
// goes with its number and headers (which point into the job's records,
// kept until the job is handed over).
func (p *ParallelPipeline) decodeReported(d *Decoder) {
	var rec Record
	var pkt flowtable.Packet
	for j := range p.work {
		for i := range j.recs {
			j.record(i, &rec)
			seq := j.seq0 + uint64(i)
			switch d.Decode(&rec, &pkt) {
			case TCP:
				j.chunk.AddWire(&pkt, seq, j.frames[i], d.Wire())
			case Rejected:
				j.chunk.Refuse(&pkt, seq, j.frames[i], fsm.Reason{Code: d.Reject()}, d.Wire())
			case deferred:
				j.deferred = append(j.deferred, int32(i))
			}
		}
		j.chunk.Through(j.through)
		p.finish(j)
	}
}

// finish queues a decoded job and hands every job whose turn has come to
// the table, in order.
func (p *ParallelPipeline) finish(j *job) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ready[j.k%uint64(len(p.ready))] = j
	for {
		i := p.next % uint64(len(p.ready))
		x := p.ready[i]
		if x == nil || x.k != p.next {
			return
		}
		p.ready[i] = nil
		p.next++
		p.handOver(x)
	}
}

// handOver reassembles the job's fragments, in capture order, and submits
// its chunk.
func (p *ParallelPipeline) handOver(j *job) {
	for _, i := range j.deferred {
		j.record(int(i), &p.frec)
		seq := j.seq0 + uint64(i)
		var frame uint64
		if p.report {
			frame = j.frames[i]
		}
		switch p.frag.Decode(&p.frec, &p.fpkt) {
		case TCP:
			if p.report {
				j.chunk.AddWire(&p.fpkt, seq, frame, p.frag.Wire())
			} else {
				j.chunk.Insert(&p.fpkt, seq)
			}
		case Rejected:
			j.chunk.Refuse(&p.fpkt, seq, frame, fsm.Reason{Code: p.frag.Reject()}, p.frag.Wire())
		}
	}
	if f := &p.frag.frag; len(f.queues) > 0 && j.through >= f.nextExpiry {
		// As Decode would have at the job's last record.
		f.expire(j.through)
	}
	p.table.Submit(j.chunk, nil)
	for _, h := range j.holds {
		h.Release()
	}
	clear(j.holds)
	clear(j.bufs)
	j.holds, j.bufs, j.recs, j.deferred, j.arena, j.frames = j.holds[:0], j.bufs[:0], j.recs[:0], j.deferred[:0], j.arena[:0], j.frames[:0]
	j.chunk = nil
	p.free <- j
}

// Close hands over the last records and waits until every record has
// reached the table. Call it before closing the table; Add may not be
// called after it.
func (p *ParallelPipeline) Close() {
	if p.closed {
		return
	}
	p.closed = true
	if p.cur != nil {
		p.send()
	}
	close(p.work)
	p.wg.Wait()
	// Nothing more will be read: let the jobs go (their records, arenas).
	p.free, p.ready = nil, nil
}

// Now is the latest capture time fed; see Pipeline.Now.
func (p *ParallelPipeline) Now() int64 { return p.last }

// Records is the number of records fed so far.
func (p *ParallelPipeline) Records() uint64 { return p.records }

// Stats reports the accounting; complete once Close has returned.
func (p *ParallelPipeline) Stats() PipelineStats {
	ds := p.frag.Stats()
	for _, d := range p.decs {
		// Their fragments are the fragment decoder's, counted there.
		ds.TCP += d.kinds[TCP]
		ds.NotTCP += d.kinds[NotTCP]
		ds.Malformed += d.kinds[Malformed]
		ds.Truncated += d.kinds[Truncated]
		ds.Unsupported += d.kinds[Unsupported]
		ds.Rejected += d.kinds[Rejected]
		ds.BadChecksum += d.badSum
		ds.BadHeader += d.badHdr
		ds.OffloadChecksum += d.offload
		ds.Unverified += d.unverified
	}
	return PipelineStats{
		Records: p.records, WireBytes: p.wireBytes, Decode: ds,
		Backwards: p.backwards, MaxStepBack: p.maxStepBack,
	}
}
