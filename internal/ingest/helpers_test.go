package ingest

import (
	"testing"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
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
func mustParser(t testing.TB, name string, opt format.Options) format.Parser {
	t.Helper()
	p, err := format.NewParser(name, opt)
	if err != nil {
		t.Fatalf("NewParser(%q): %v", name, err)
	}
	return p
}

// replayStats is a snapshot of the counters of a replay, to compare.
type replayStats struct {
	Lines, Parsed, Unparsed, Malformed, Oversize, InvalidUTF8, Blank int64
}

// replay is Replay with the decoding given as arguments, returning a
// snapshot of its counters.
func replay(inputs []Input, source string, newParser func() (format.Parser, error), maxLineBytes int,
	fn func(ev *event.Event) error, bad func(pos Position, reason string)) (replayStats, error) {
	st, err := Replay(inputs, Decoding{Source: source, NewParser: newParser, MaxLineBytes: maxLineBytes, MaxFuture: MaxFuture, Bad: bad}, fn)
	return replayStats{Lines: st.Lines.Load(), Parsed: st.Events.Load(), Unparsed: st.Unparsed.Load(),
		Malformed: st.Malformed.Load(), Oversize: st.Oversize.Load(), InvalidUTF8: st.InvalidUTF8.Load(),
		Blank: st.Blank.Load()}, err
}
