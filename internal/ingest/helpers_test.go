package ingest

import (
	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
)

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
