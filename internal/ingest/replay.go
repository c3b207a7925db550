package ingest

import (
	"container/heap"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
)

// Input is one recorded log for replay.
type Input struct {
	Name string // the @file of its events and the File of its positions
	R    io.Reader
}

// Stats counts what a replay read. Every line is counted in Lines and in
// exactly one of Parsed, Malformed, Oversize, InvalidUTF8 and Blank.
type Stats struct {
	Lines       int64 // lines read, including rejected ones
	Parsed      int64 // events passed to fn, Unparsed included
	Unparsed    int64 // events with event_type "unparsed" (mcp lines of unknown shape)
	Malformed   int64 // lines the parser rejected
	Oversize    int64 // lines longer than the limit
	InvalidUTF8 int64 // lines that are not valid UTF-8
	Blank       int64 // empty or white-space lines, skipped silently
}

// Replay reads inputs with one parser each (made by newParser) and calls fn
// for each event in timestamp order across inputs: a k-way merge by time of
// each input's events in their own order (ties go to the lower input index,
// then to line order). Within one input, events keep the order they were
// written in, even when their times go backwards; the engine handles late
// events. A single input is streamed without the merge.
//
// Each event carries @source (source), @file (the input's name) and @line,
// replacing any field of those names the line had. The event passed to fn
// is reused after fn returns: Clone it to keep it. Memory is bounded: one
// buffered line and one pending event per input.
//
// Bad lines (oversize, invalid UTF-8, parse errors) are passed to bad (which
// may be nil) and counted in Stats; they never stop the replay. An error
// from fn, from newParser, or from reading an input stops it and is
// returned with the counts so far.
func Replay(inputs []Input, source string, newParser func() (format.Parser, error), maxLineBytes int,
	fn func(ev *event.Event) error, bad func(pos Position, reason string)) (Stats, error) {
	var st Stats
	if bad == nil {
		bad = func(Position, string) {}
	}
	curs := make([]*cursor, 0, len(inputs))
	for i, in := range inputs {
		p, err := newParser()
		if err != nil {
			return st, err
		}
		rd := NewReader(in.R, in.Name)
		rd.MaxLineBytes = maxLineBytes
		curs = append(curs, &cursor{idx: i, rd: rd, p: p, source: source, st: &st, bad: bad})
	}
	if len(curs) == 1 {
		c := curs[0]
		for {
			ok, err := c.advance()
			if err != nil || !ok {
				return st, err
			}
			if err := fn(&c.ev); err != nil {
				return st, err
			}
		}
	}
	// Prime every input, then repeatedly hand over the earliest event and
	// refill from the input it came from.
	h := make(cursorHeap, 0, len(curs))
	for _, c := range curs {
		ok, err := c.advance()
		if err != nil {
			return st, err
		}
		if ok {
			h = append(h, c)
		}
	}
	heap.Init(&h)
	for len(h) > 0 {
		c := h[0]
		if err := fn(&c.ev); err != nil {
			return st, err
		}
		ok, err := c.advance()
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

// cursor is one input of a replay with its pending event.
type cursor struct {
	idx    int
	rd     *Reader
	p      format.Parser
	ev     event.Event
	source string
	st     *Stats
	bad    func(Position, string)
	future horizon
}

// advance parses the input's next good line into c.ev; false at the end.
func (c *cursor) advance() (bool, error) {
	st := c.st
	for {
		line, pos, err := c.rd.Next()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) {
				return false, fmt.Errorf("read %s: %w", c.rd.name, err)
			}
			st.Lines++
			if errors.Is(le.Err, ErrLineTooLong) {
				st.Oversize++
			} else {
				st.InvalidUTF8++
			}
			c.bad(le.Pos, le.Err.Error())
			continue
		}
		st.Lines++
		c.ev.Reset()
		if err := c.future.after(safeParse(c.p, line, &c.ev), &c.ev); err != nil {
			if errors.Is(err, format.ErrEmptyLine) {
				st.Blank++
				continue
			}
			st.Malformed++
			c.bad(pos, err.Error())
			continue
		}
		st.Parsed++
		if v, _ := c.ev.Get("event_type"); v == format.EventTypeUnparsed {
			st.Unparsed++
		}
		c.ev.Set("@source", c.source)
		c.ev.Set("@file", pos.File)
		c.ev.Set("@line", strconv.Itoa(pos.Line))
		return true, nil
	}
}

// cursorHeap orders cursors by their pending event's time, then input index.
type cursorHeap []*cursor

func (h cursorHeap) Len() int { return len(h) }
func (h cursorHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if !a.ev.Time.Equal(b.ev.Time) {
		return a.ev.Time.Before(b.ev.Time)
	}
	return a.idx < b.idx
}
func (h cursorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *cursorHeap) Push(x any)   { *h = append(*h, x.(*cursor)) }
func (h *cursorHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}
