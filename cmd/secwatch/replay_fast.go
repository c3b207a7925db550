package main

import (
	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
	"github.com/secwatch/secwatch/internal/rules"
)

// Replay's fast path (docs/benchmarks.md): for the json format, each parser
// extracts only the fields the loaded rules read and lends values from its
// line buffer instead of copying every line. The engine copies whatever it
// keeps, and before it keeps an event as an alert sample it calls
// Engine.Expand, which re-reads that event's line in full, so alert
// documents are exactly those of a full parse.
//
// The lines are parsed ahead of the engine, on a goroutine of their own
// (ingest.ReplayLines), so Expand cannot ask the parser that made the
// event for its last line: the engine's side has a parser of its own, of
// the same options, which expands the event from the line ReplayLines
// hands over with it (format.LineExpander).
//
// explain does not use it: it shows whole events.

// Replay leaves the GC at Go's default (GOGC=100): on the bench corpus
// GOGC=50 saved 3 MiB of peak RSS (23.5 against 26.2 MiB) for 8–13% more
// CPU time (docs/benchmarks.md); both are within the targets, and GOGC in
// the environment still applies.

// fastPath is the fast path's state on the engine's side.
type fastPath struct {
	x    format.LineExpander
	line []byte // the line of the event being observed
}

// useFastPath switches p to the fast path when its format allows it and
// connects the engine's Expand hook. It returns nil when the format does
// not allow it; otherwise, set the line of each event (setLine) before
// the engine observes it.
func (p *pipeline) useFastPath(e *rules.Engine) *fastPath {
	if p.flags.format != "json" && p.flags.format != "" {
		return nil
	}
	opts := p.opts
	opts.Borrow, opts.Fields = true, rules.FieldsRead(p.rules)
	pr, err := format.NewParser(p.flags.format, opts)
	if err != nil {
		return nil // setup made one of this format already: cannot happen
	}
	x, ok := pr.(format.LineExpander)
	if !ok {
		return nil
	}
	fp := &fastPath{x: x}
	p.newParser = func() (format.Parser, error) { return format.NewParser(p.flags.format, opts) }
	e.Expand = fp.expand
	return fp
}

// setLine records the line of the event the engine observes next.
func (fp *fastPath) setLine(line []byte) {
	if fp != nil {
		fp.line = line
	}
}

func (fp *fastPath) expand(ev *event.Event) {
	// The line parsed once already, with the same options: it cannot fail now.
	_ = fp.x.ExpandLine(ev, fp.line)
}
