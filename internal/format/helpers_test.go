package format

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/event"
)

// kv builds a field list from key, value pairs.
func kv(pairs ...string) []event.Field {
	if len(pairs)%2 != 0 {
		panic("kv: odd number of arguments")
	}
	var fs []event.Field
	for i := 0; i < len(pairs); i += 2 {
		fs = append(fs, event.Field{Key: pairs[i], Value: pairs[i+1]})
	}
	return fs
}

// mustParser returns a new parser or fails the test.
func mustParser(t testing.TB, format string, opt Options) Parser {
	t.Helper()
	p, err := NewParser(format, opt)
	if err != nil {
		t.Fatalf("NewParser(%q): %v", format, err)
	}
	return p
}

// parseLine parses line into a fresh event with an optional fallback time.
func parseLine(p Parser, line string, fallback time.Time) (event.Event, error) {
	var ev event.Event
	ev.Time = fallback
	buf := []byte(line)
	err := p.Parse(buf, &ev)
	// Parse must not alias the caller's buffer: scribble over it and make
	// sure no field changes.
	before := make([]event.Field, len(ev.Fields))
	for i, f := range ev.Fields {
		before[i] = event.Field{Key: strings.Clone(f.Key), Value: strings.Clone(f.Value)}
	}
	for i := range buf {
		buf[i] = '#'
	}
	if d := fieldsDiff(ev.Fields, before); d != "" {
		panic("parser aliases its input line: " + d)
	}
	return ev, err
}

// fieldsDiff describes how got differs from want, or returns "".
func fieldsDiff(got, want []event.Field) string {
	var b strings.Builder
	n := max(len(got), len(want))
	for i := 0; i < n; i++ {
		var g, w string
		if i < len(got) {
			g = fmt.Sprintf("%s=%q", got[i].Key, got[i].Value)
		}
		if i < len(want) {
			w = fmt.Sprintf("%s=%q", want[i].Key, want[i].Value)
		}
		if g != w {
			fmt.Fprintf(&b, "\n  field %d: got %s, want %s", i, orNone(g), orNone(w))
		}
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}
