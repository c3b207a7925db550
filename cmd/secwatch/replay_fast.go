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
// explain does not use it: it shows whole events.

// Replay leaves the GC at Go's default (GOGC=100): on the bench corpus
// GOGC=50 saved 3 MiB of peak RSS (23.5 against 26.2 MiB) for 8–13% more
// CPU time (docs/benchmarks.md); both are within the targets, and GOGC in
// the environment still applies.

// fastParsers makes the parsers of a replay and remembers which parser
// filled which event, for Engine.Expand.
type fastParsers struct {
	opts    format.Options
	format  string
	parsers map[*event.Event]format.Expander
}

// useFastPath switches p to the fast path when its format allows it and
// connects the engine's Expand hook.
func (p *pipeline) useFastPath(e *rules.Engine) {
	if p.flags.format != "json" && p.flags.format != "" {
		return
	}
	opts := p.opts
	opts.Borrow, opts.Fields = true, rules.FieldsRead(p.rules)
	fp := &fastParsers{
		opts:    opts,
		format:  p.flags.format,
		parsers: make(map[*event.Event]format.Expander),
	}
	p.newParser = fp.newParser
	e.Expand = fp.expand
}

func (fp *fastParsers) newParser() (format.Parser, error) {
	pr, err := format.NewParser(fp.format, fp.opts)
	if err != nil {
		return nil, err
	}
	x, ok := pr.(format.Expander)
	if !ok {
		return pr, nil
	}
	return &trackedParser{Parser: pr, x: x, fp: fp}, nil
}

func (fp *fastParsers) expand(ev *event.Event) {
	if x := fp.parsers[ev]; x != nil {
		_ = x.Expand(ev) // the line parsed once already: it cannot fail now
	}
}

// trackedParser records the event it fills (replay reuses one event per
// input, so the map holds one entry per input).
type trackedParser struct {
	format.Parser
	x  format.Expander
	fp *fastParsers
	ev *event.Event
}

func (t *trackedParser) Parse(line []byte, ev *event.Event) error {
	if t.ev != ev {
		t.ev = ev
		t.fp.parsers[ev] = t.x
	}
	return t.Parser.Parse(line, ev)
}
