package ingest

import (
	"container/heap"
	"fmt"
	"io"

	"github.com/secwatch/secwatch/internal/event"
)

// Input is one recorded log for replay.
type Input struct {
	Name string // the @file of its events and the File of its positions
	R    io.Reader
}

// Replay is ReplayLines for a caller that does not need the lines.
func Replay(inputs []Input, d Decoding, fn func(ev *event.Event) error) (*SourceStats, error) {
	return ReplayLines(inputs, d, func(ev *event.Event, _ []byte) error { return fn(ev) })
}

// ReplayLines reads inputs, each decoded by a decoder of its own made from
// d, and calls fn for each event in timestamp order across inputs: a k-way
// merge by time of each input's events in their own order (ties go to the
// lower input index, then to line order). Within one input, events keep
// the order they were written in, even when their times go backwards; the
// engine handles late events. fn also gets the line the event was parsed
// from (without its terminator); fn must not modify it, and it is valid
// only until fn returns.
//
// A single input is streamed without the merge, and when it is a regular
// file or in memory (and GOMAXPROCS > 1) it is pipelined: its lines are
// read and parsed on a goroutine of its own, batches of events ahead of
// fn, which runs on the caller's goroutine. Pipelined or not, fn, d.Bad
// and the returned stats and error see exactly the same thing: the same
// events (time and fields) and lines in the same order, each rejected line
// reported to d.Bad, on the caller's goroutine, after the events before it
// and before the ones after it, a read error returned after the events
// read before it, and an error from fn stopping the replay with the counts
// of the lines read up to that event, whatever was read ahead. Only the
// counts in d.Stats seen during the replay lag behind (they are brought up
// to date before each call to d.Bad, after each batch, and on return).
// Other inputs (a pipe, which may block) are not pipelined: the reading
// goroutine could not be stopped when fn stops the replay.
//
// Each event carries @source (d.Source), @file (the input's name) and
// @line, replacing any field of those names the line had. The event passed
// to fn is reused after fn returns: Clone it to keep it (values that a
// parser lends from its line, Options.Borrow, are valid only during fn, as
// the line is). Memory is bounded: one buffered line and one pending event
// per input; for a pipelined input, pipeBatches batches in flight,
// each of up to pipeBatchLen events with copies of their lines (about
// pipeBatchBytes of lines, more by one line at most); and for an input that is a regular file, up to three
// 256 KiB blocks read ahead of it on a goroutine of its own (readAhead).
//
// Bad lines (oversize, invalid UTF-8, parse errors, times too far ahead)
// are passed to d.Bad and counted in the returned stats (d.Stats, or new
// ones); they never stop the replay. An error from fn, from d.NewParser,
// or from reading an input stops it and is returned with the counts so
// far.
func ReplayLines(inputs []Input, d Decoding, fn func(ev *event.Event, line []byte) error) (*SourceStats, error) {
	if d.Stats == nil {
		d.Stats = new(SourceStats)
	}
	st := d.Stats
	ins := make([]*input, 0, len(inputs))
	for i, in := range inputs {
		dec, err := d.newDecoder()
		if err != nil {
			return st, err
		}
		r, stop := newReadAhead(in.R)
		defer stop()
		rd := NewReader(r, in.Name)
		rd.MaxLineBytes = d.MaxLineBytes
		ins = append(ins, &input{idx: i, rd: rd, dec: dec})
	}
	if len(ins) == 1 {
		in := ins[0]
		if pipelines(inputs[0].R) {
			return st, replayPiped(in.dec, in.rd, st, fn)
		}
		for {
			ok, err := in.advance()
			if err != nil || !ok {
				return st, err
			}
			if err := fn(in.ev, in.line); err != nil {
				return st, err
			}
		}
	}
	// Prime every input, then repeatedly hand over the earliest event and
	// refill from the input it came from.
	h := make(inputHeap, 0, len(ins))
	for _, in := range ins {
		ok, err := in.advance()
		if err != nil {
			return st, err
		}
		if ok {
			h = append(h, in)
		}
	}
	heap.Init(&h)
	for len(h) > 0 {
		in := h[0]
		if err := fn(in.ev, in.line); err != nil {
			return st, err
		}
		ok, err := in.advance()
		if err != nil {
			return st, err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	return st, nil
}

// input is one input of a replay with its pending event.
type input struct {
	idx  int
	rd   *Reader
	dec  *decoder
	ev   *event.Event // the pending event, the decoder's scratch
	line []byte       // its line, valid until rd is read again
}

// advance decodes the input's next event into in.ev; false at the end.
func (in *input) advance() (bool, error) {
	for {
		ev, line, err := in.dec.step(in.rd)
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("read %s: %w", in.rd.name, err)
		}
		if ev != nil {
			in.ev, in.line = ev, line
			return true, nil
		}
	}
}

// inputHeap orders inputs by their pending event's time, then index.
type inputHeap []*input

func (h inputHeap) Len() int { return len(h) }
func (h inputHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if !a.ev.Time.Equal(b.ev.Time) {
		return a.ev.Time.Before(b.ev.Time)
	}
	return a.idx < b.idx
}
func (h inputHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *inputHeap) Push(x any)   { *h = append(*h, x.(*input)) }
func (h *inputHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}
