package ingest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"unsafe"

	"github.com/secwatch/secwatch/internal/event"
)

// A pipelined replay (ReplayLines with one input) reads and parses on a
// producer goroutine and calls fn on the caller's. The producer copies
// each event into a slot of a batch it will not touch again until the
// consumer hands the batch back: the time, the fields, and the line,
// copied into the batch's arena. Values a parser lends from the line
// (Options.Borrow) are re-pointed at the copy; other strings are immutable
// and shared as they are. A rejected line becomes an item too, so that the
// consumer reports it to Bad in its place among the events; every item
// carries the counts once its line was read, which the consumer publishes,
// so that the stats returned are those of the lines up to the event where
// fn stopped, not of what was read ahead.
const (
	pipeBatchLen = 256 // items (events and rejected lines) per batch
	pipeBatches  = 4   // batches in flight
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
	switch r := r.(type) {
	case *os.File:
		st, err := r.Stat()
		return err == nil && st.Mode().IsRegular()
	case *bytes.Reader, *strings.Reader:
		return true
	}
	return false
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

// item returns the next slot.
func (b *pipeBatch) item() *pipeItem {
	if b.n == len(b.items) {
		b.items = append(b.items, pipeItem{})
	}
	it := &b.items[b.n]
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

// addEvent copies ev, parsed from line, into the next slot.
func (b *pipeBatch) addEvent(ev *event.Event, line []byte, st statSnap) {
	it := b.item()
	it.bad, it.reason, it.stats = false, "", st
	it.line = b.copyLine(line)
	it.ev.Time = ev.Time
	it.ev.Fields = it.ev.Fields[:0]
	if len(line) == 0 {
		it.ev.Fields = append(it.ev.Fields, ev.Fields...)
		return
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(line)))
	end := base + uintptr(len(line))
	rebase := func(s string) string {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		if len(s) == 0 || p < base || p+uintptr(len(s)) > end {
			return s // not lent from the line: immutable
		}
		return unsafe.String(&it.line[p-base], len(s))
	}
	for _, f := range ev.Fields {
		it.ev.Fields = append(it.ev.Fields, event.Field{Key: rebase(f.Key), Value: rebase(f.Value)})
	}
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
		for b.n < pipeBatchLen {
			ev, line, err := dec.step(rd)
			if err != nil {
				b.end = true
				if err != io.EOF {
					b.err = fmt.Errorf("read %s: %w", rd.name, err)
				}
				break
			}
			if ev != nil {
				b.addEvent(ev, line, snapStats(&stats))
			}
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
