package ingest

import (
	"fmt"
	"time"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
)

// MaxFuture is how far ahead of the wall clock an event's time may be when
// the event is read. A later time is a forged or broken timestamp: taken,
// it would move the engine's time ahead (up to year 2200) and make every
// real event that follows "late", blinding the rules. Such a line is
// rejected like a malformed one: counted and reported with its position.
// A day leaves room for any clock skew and time zone mistake.
const MaxFuture = 24 * time.Hour

// horizon rejects event times more than MaxFuture ahead of the wall clock.
// It reads the clock only when a time passes the limit it computed last, so
// in-order input costs one comparison per event. The zero value is ready.
type horizon struct {
	limit time.Time
	now   func() time.Time // nil: time.Now
}

// check returns nil, or the reason to reject an event with time t.
func (h *horizon) check(t time.Time) error {
	if t.Before(h.limit) {
		return nil
	}
	now := time.Now
	if h.now != nil {
		now = h.now
	}
	h.limit = now().Add(MaxFuture)
	if t.Before(h.limit) {
		return nil
	}
	return fmt.Errorf("time %s is more than %s ahead of the clock", event.FormatTime(t), MaxFuture)
}

// after is check applied to a parse that succeeded: it returns err, or
// the reason to reject ev's time.
func (h *horizon) after(err error, ev *event.Event) error {
	if err != nil {
		return err
	}
	return h.check(ev.Time)
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
