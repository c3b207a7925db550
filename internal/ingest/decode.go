package ingest

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
)

// MaxFuture is the default far-future limit of the daemon and of replay
// (engine.max_future, --max-future): how far ahead of the wall clock an
// event's time may be when it is read.
const MaxFuture = 24 * time.Hour

// Decoding is how the lines of an input become events, the same for every
// source and for Replay: each line is parsed by a parser of its own input,
// checked against the far-future guard, counted in Stats (atomically: it
// may be read while the input is read), given @source (and the position
// fields of its source), and reported to Bad with its position when it is
// rejected.
//
// An event stamped more than MaxFuture ahead of the clock is rejected like
// a malformed line: taken, it would move the engine's time ahead and make
// every real event that follows "late". See docs/formats.md.
type Decoding struct {
	Source    string // the @source of the events
	NewParser func() (format.Parser, error)
	// MaxLineBytes is the longest line accepted; 0 means
	// DefaultMaxLineBytes. A longer line is skipped, counted and reported.
	MaxLineBytes int
	// MaxFuture is the far-future limit; 0 means none (the daemon and
	// replay pass engine.max_future, by default MaxFuture).
	MaxFuture time.Duration
	Stats     *SourceStats // may be nil
	// Bad, when not nil, is told of each rejected line. ReplayLines calls
	// it on the caller's goroutine, the one that runs fn, between the
	// events it falls between, even when the input is decoded on another.
	Bad func(pos Position, reason string)
	// Now is the clock of the far-future guard; nil means time.Now.
	Now func() time.Time
}

// decoder decodes the lines of one input (one file, stream, log group or
// replay input). It belongs to the goroutine that reads the input.
type decoder struct {
	source  string
	maxLine int // > 0
	p       format.Parser
	stats   *SourceStats // never nil
	bad     func(Position, string)
	future  horizon
	ev      event.Event // scratch, returned by decode
	// last is the time of the last line parsed, which a line without a
	// time of its own inherits (see line); kept in file cursors.
	last time.Time
}

// newDecoder makes the decoder of one input, with a parser of its own
// (parsers carry the time of the previous line).
func (d Decoding) newDecoder() (*decoder, error) {
	if d.NewParser == nil {
		return nil, errors.New("no parser")
	}
	p, err := d.NewParser()
	if err != nil {
		return nil, err
	}
	dec := &decoder{source: d.Source, maxLine: d.MaxLineBytes, p: p, stats: d.Stats, bad: d.Bad,
		future: horizon{max: d.MaxFuture, now: d.Now}}
	if dec.stats == nil {
		dec.stats = new(SourceStats)
	}
	if dec.bad == nil {
		dec.bad = func(Position, string) {}
	}
	if dec.maxLine <= 0 {
		dec.maxLine = DefaultMaxLineBytes
	}
	return dec, nil
}

// reject counts and reports a line that was not handed to the parser
// (too long, or not valid UTF-8).
func (d *decoder) reject(le *LineError, pos Position) {
	d.stats.Lines.Add(1)
	if errors.Is(le.Err, ErrLineTooLong) {
		d.stats.Oversize.Add(1)
	} else {
		d.stats.InvalidUTF8.Add(1)
	}
	d.bad(pos, le.Err.Error())
}

// decode parses line, with fallback as the time of a line without one
// (zero for none), into the decoder's scratch event and sets @source; the
// caller adds the position fields. It returns nil for a blank line and
// for a rejected one (counted, and reported at pos). The event is reused
// by the next call: Clone it to keep it.
func (d *decoder) decode(line []byte, pos Position, fallback time.Time) *event.Event {
	d.stats.Lines.Add(1)
	ev := &d.ev
	ev.Reset()
	ev.Time = fallback
	err := safeParse(d.p, line, ev)
	if err == nil {
		d.last = ev.Time
		err = d.future.check(ev.Time)
	}
	if err != nil {
		if errors.Is(err, format.ErrEmptyLine) {
			d.stats.Blank.Add(1)
		} else {
			d.stats.Malformed.Add(1)
			d.bad(pos, err.Error())
		}
		return nil
	}
	d.stats.Events.Add(1)
	if v, _ := ev.Get("event_type"); v == format.EventTypeUnparsed {
		d.stats.Unparsed.Add(1)
	}
	ev.Set("@source", d.source)
	return ev
}

// line is decode for a line of a file or stream: the event also carries
// @file and @line. A line without a time of its own takes the time of the
// line before, as the parser's own inheritance does, but from d.last, so
// that it survives a restart (FileCursor.Time).
func (d *decoder) line(line []byte, pos Position) *event.Event {
	ev := d.decode(line, pos, d.last)
	if ev != nil {
		ev.Set("@file", pos.File)
		ev.Set("@line", strconv.Itoa(pos.Line))
	}
	return ev
}

// next returns the event of the next line of rd that gives one, rejected
// and blank lines counted on the way, or nil at the end of the input.
// Errors are rd's, other than io.EOF and rejected lines.
func (d *decoder) next(rd *Reader) (*event.Event, error) {
	for {
		ev, _, err := d.step(rd)
		if ev != nil || err != nil {
			return ev, err
		}
	}
}

// step reads one line of rd: its event and the line, valid until rd is
// read again, or nil for a line rejected (counted and reported) or blank.
// Errors are rd's, io.EOF included.
func (d *decoder) step(rd *Reader) (*event.Event, []byte, error) {
	line, pos, err := rd.Next()
	if err != nil {
		var le *LineError
		if !errors.As(err, &le) {
			return nil, nil, err
		}
		d.reject(le, le.Pos)
		return nil, nil, nil
	}
	if ev := d.line(line, pos); ev != nil {
		return ev, line, nil
	}
	return nil, nil, nil
}

// horizon rejects event times more than max (if > 0) ahead of the wall
// clock. It
// reads the clock only when a time passes the limit it computed last, so
// in-order input costs one comparison per event.
type horizon struct {
	max   time.Duration
	now   func() time.Time // nil: time.Now
	limit time.Time
}

// check returns nil, or the reason to reject an event with time t.
func (h *horizon) check(t time.Time) error {
	if h.max <= 0 || t.Before(h.limit) {
		return nil
	}
	now := time.Now
	if h.now != nil {
		now = h.now
	}
	h.limit = now().Add(h.max)
	if t.Before(h.limit) {
		return nil
	}
	return fmt.Errorf("time %s is more than %s ahead of the clock", event.FormatTime(t), h.max)
}

// safeParse is p.Parse that turns a panic into an error. Parsers are meant
// never to panic (the fuzz targets check it), but a parser bug must cost
// one line, counted and reported with its position, not the daemon: a
// panic there would crash it, and the restart would read the same line
// again and crash again.
func safeParse(p format.Parser, line []byte, ev *event.Event) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parser failed on this line (a bug; please report it): %v", r)
		}
	}()
	return p.Parse(line, ev)
}
