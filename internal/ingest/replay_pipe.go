package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/secwatch/secwatch/internal/event"
)

// A pipelined replay (ReplayLines with one input) reads and parses on a
// producer goroutine and calls fn on the caller's. The producer copies
// each line into the arena of a batch it will not touch again until the
// consumer hands the batch back, and parses the copy into a slot of the
// batch: values a parser lends from its line (Options.Borrow) point into
// the copy, and other strings are immutable. A rejected line becomes an
// item too, so that the consumer reports it to Bad in its place among the events; every item
// carries the counts once its line was read, which the consumer publishes,
// so that the stats returned are those of the lines up to the event where
// fn stopped, not of what was read ahead.
//
// A batch ends after pipeBatchLen items or once its arena holds
// pipeBatchBytes, so that long lines do not make batches large: an arena
// stays below twice pipeBatchBytes plus the longest line.
const (
	pipeBatchLen   = 256       // items (events and rejected lines) per batch
	pipeBatchBytes = 256 << 10 // line bytes per batch, about
	pipeBatches    = 4         // batches in flight
)

// pipeMode makes single-input replays pipeline always or never, for tests.
var pipeMode = pipeAuto

const (
	pipeAuto = iota
	pipeAlways
	pipeNever
)

// pipelines reports whether a single-input replay of r is pipelined: when
// there is more than one CPU to run on, and r is a regular file or in
// memory, whose reads always return, so that the producer stops soon when
// the consumer stops early (a read of a pipe or terminal could wait for
// ever, and ReplayLines waits for its producer).
func pipelines(r io.Reader) bool {
	switch pipeMode {
	case pipeAlways:
		return true
	case pipeNever:
		return false
	}
	if runtime.GOMAXPROCS(0) < 2 {
		return false
	}
	switch r.(type) {
	case *bytes.Reader, *strings.Reader:
		return true
	}
	return regularFile(r)
}

// statSnap is a copy of the counters a decoder updates.
type statSnap struct {
	lines, events, unparsed, malformed, oversize, invalid, blank int64
}

func snapStats(s *SourceStats) statSnap {
	return statSnap{s.Lines.Load(), s.Events.Load(), s.Unparsed.Load(), s.Malformed.Load(),
		s.Oversize.Load(), s.InvalidUTF8.Load(), s.Blank.Load()}
}

// publish adds to st what now counts beyond pub, and makes pub now.
func publish(st *SourceStats, now statSnap, pub *statSnap) {
	add := func(c interface{ Add(int64) int64 }, a, b int64) {
		if a != b {
			c.Add(a - b)
		}
	}
	add(&st.Lines, now.lines, pub.lines)
	add(&st.Events, now.events, pub.events)
	add(&st.Unparsed, now.unparsed, pub.unparsed)
	add(&st.Malformed, now.malformed, pub.malformed)
	add(&st.Oversize, now.oversize, pub.oversize)
	add(&st.InvalidUTF8, now.invalid, pub.invalid)
	add(&st.Blank, now.blank, pub.blank)
	*pub = now
}

// pipeItem is an event with its line, or a rejected line.
type pipeItem struct {
	ev     event.Event
	line   []byte // in the batch's arena
	bad    bool   // a rejected line: pos and reason
	pos    Position
	reason string
	stats  statSnap // the counts once this line was read
}

// pipeBatch is a batch of items, owned by the producer while it fills it
// and by the consumer from when it is sent until it is handed back.
type pipeBatch struct {
	items []pipeItem // items[:n] are in use
	n     int
	arena []byte   // lines; only appended to until the batch is recycled
	stats statSnap // the counts once the batch's last line was read
	err   error    // the read error after the items
	end   bool     // nothing follows the items
}

func (b *pipeBatch) reset() {
	b.n, b.arena, b.err, b.end = 0, b.arena[:0], nil, false
}

// item takes the next slot.
func (b *pipeBatch) item() *pipeItem {
	it := b.peek()
	b.n++
	return it
}

// copyLine copies line into the arena. A full arena is replaced, never
// written over: the strings of this batch's earlier items point into it.
func (b *pipeBatch) copyLine(line []byte) []byte {
	if len(b.arena)+len(line) > cap(b.arena) {
		b.arena = make([]byte, 0, max(2*cap(b.arena), len(line), 64<<10))
	}
	off := len(b.arena)
	b.arena = append(b.arena, line...)
	return b.arena[off:len(b.arena):len(b.arena)]
}

// peek returns the next slot without taking it.
func (b *pipeBatch) peek() *pipeItem {
	if b.n == len(b.items) {
		b.items = append(b.items, pipeItem{})
	}
	return &b.items[b.n]
}

// pipe connects a producer and its consumer.
type pipe struct {
	full   chan *pipeBatch
	free   chan *pipeBatch
	done   chan struct{} // closed by the consumer when it stops
	exited chan struct{} // closed by the producer when it returns
}

// replayPiped replays one input: dec and rd on a producer goroutine, fn
// and bad on the caller's. It returns after the producer has returned.
func replayPiped(dec *decoder, rd *Reader, st *SourceStats, fn func(*event.Event, []byte) error) error {
	p := &pipe{
		full:   make(chan *pipeBatch, pipeBatches),
		free:   make(chan *pipeBatch, pipeBatches),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	for range pipeBatches {
		p.free <- new(pipeBatch)
	}
	bad := dec.bad
	go p.produce(dec, rd)
	defer func() {
		close(p.done)
		<-p.exited
	}()
	var pub statSnap
	for {
		b := <-p.full // the producer sends until it sends a batch with end
		for i := range b.items[:b.n] {
			it := &b.items[i]
			if it.bad {
				publish(st, it.stats, &pub)
				bad(it.pos, it.reason)
				continue
			}
			if err := fn(&it.ev, it.line); err != nil {
				publish(st, it.stats, &pub)
				return err
			}
		}
		publish(st, b.stats, &pub)
		if b.end {
			return b.err
		}
		p.free <- b // never blocks: free holds every batch not in use
	}
}

// produce decodes rd into batches until the end of the input, a read
// error, or the consumer stops. dec counts into stats of its own and
// reports rejected lines as items.
func (p *pipe) produce(dec *decoder, rd *Reader) {
	defer close(p.exited)
	var stats SourceStats
	var b *pipeBatch
	dec.stats = &stats
	dec.bad = func(pos Position, reason string) {
		it := b.item()
		it.bad, it.pos, it.reason, it.stats = true, pos, reason, snapStats(&stats)
		it.line = nil
		it.ev.Reset()
	}
	for {
		select {
		case b = <-p.free:
		case <-p.done:
			return
		}
		b.reset()
		for b.n < pipeBatchLen && len(b.arena) < pipeBatchBytes {
			line, pos, err := rd.Next()
			if err != nil {
				var le *LineError
				if errors.As(err, &le) {
					dec.reject(le, le.Pos) // an item, by dec.bad
					continue
				}
				b.end = true
				if err != io.EOF {
					b.err = fmt.Errorf("read %s: %w", rd.name, err)
				}
				break
			}
			// The line is parsed from its copy in the arena, into the
			// next slot's event: values the parser lends point into the
			// copy, and nothing is copied again.
			lc := b.copyLine(line)
			it := b.peek()
			dec.ev = it.ev
			ev := dec.line(lc, pos)
			it.ev = dec.ev // the fields array, grown or not
			if ev == nil {
				// Blank, or rejected (the slot became its item): the copy
				// is not kept.
				b.arena = b.arena[:len(b.arena)-len(lc)]
				continue
			}
			b.n++
			it.bad, it.reason, it.line, it.stats = false, "", lc, snapStats(&stats)
		}
		b.stats = snapStats(&stats)
		select {
		case p.full <- b:
		case <-p.done:
			return
		}
		if b.end {
			return
		}
	}
}
