package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/secwatch/secwatch/internal/event"
)

// Source is a live source of events (File, Stdin; the CloudWatch source
// lives with its SDK client). Run sends records on out until ctx is done
// (then it returns nil) or it fails (then it returns the error). It never
// closes out and never sends on it after returning, so the daemon may close
// out once every source's Run has returned. Run is called once per value.
//
// The source's name is a field of each implementation (File.Name,
// Stdin.Name) and the Source of each record; a Name method could not sit
// beside a field of that name.
type Source interface {
	Run(ctx context.Context, out chan<- Record) error
}

// Record is one event from a live source, with the cursor to resume after
// it.
//
// A record with Progress set carries no event, only a newer Cursor: the
// source opened a file (so a file that has not produced an event yet is
// still resumed, not started at its end again, after a restart), moved past
// lines that gave no event (blank or rejected lines), or went back to the
// start of a truncated file. The daemon stores its cursor like any other
// and hands nothing to the engine. Done marks the last record of a file
// the source has finished with (rotated away or deleted, and idle): the
// daemon forgets the cursor of that key instead of storing it.
//
// Records of one source arrive in the order the source read them, so the
// daemon's latest cursor per (Source, Cursor.CursorKey()) never runs ahead
// of the events the engine has seen.
type Record struct {
	Event    event.Event // owned by the receiver (not reused by the source)
	Source   string
	Cursor   Cursor // nil for a source that cannot resume (Stdin)
	Progress bool   // no event: only Cursor is meaningful
	Done     bool   // with Progress: forget Cursor's key
	// Reset, with Progress, says the cursor went back: its file was
	// truncated, so the lines read before can no longer be read again
	// and the daemon checkpoints now.
	Reset bool
}

// Cursor is where a source resumes after a record, as a value of the
// source's own type (FileCursor, CloudWatchCursor). The daemon stores the
// latest cursor per source and key, encoded with encoding/json, in its
// checkpoint, without knowing its fields, and hands them back on start
// (DecodeCursors). A cursor holds no pointer into the source and does no
// I/O when encoded.
type Cursor interface {
	// CursorKey identifies what the cursor is in (a file, a log group)
	// within its source; never empty.
	CursorKey() string
}

// DecodeCursors decodes the stored cursors of a source whose cursors are
// of type C, in the order of their keys. A stored cursor that does not
// decode is left out and reported in errs.
func DecodeCursors[C Cursor](stored map[string]json.RawMessage) (cs []C, errs []error) {
	for _, key := range slices.Sorted(maps.Keys(stored)) {
		var c C
		if err := json.Unmarshal(stored[key], &c); err != nil {
			errs = append(errs, fmt.Errorf("cursor %s: %w", key, err))
			continue
		}
		cs = append(cs, c)
	}
	return cs, errs
}

// SourceStats are the counters of a source or a replay, updated
// atomically (the daemon exports them as metrics while the source runs).
// Every line read is counted in Lines and in exactly one of Events
// (Unparsed being a subset of Events), Malformed, Oversize, InvalidUTF8
// and Blank.
type SourceStats struct {
	Lines       atomic.Int64 // lines read, rejected ones included
	Events      atomic.Int64 // events decoded
	Unparsed    atomic.Int64 // events with event_type "unparsed" (mcp)
	Malformed   atomic.Int64 // lines the parser or the far-future guard rejected
	Oversize    atomic.Int64 // lines longer than MaxLineBytes, skipped
	InvalidUTF8 atomic.Int64 // lines that are not valid UTF-8, skipped
	Blank       atomic.Int64 // empty or white-space lines, skipped silently
	Rotations   atomic.Int64 // open files renamed or removed (File)
	Truncations atomic.Int64 // files that shrank or were rewritten from the start (File)
	Throttled   atomic.Int64 // requests refused with a throttling error, then retried (CloudWatch)
	// ContentResumes counts cursors resumed in a file with another device
	// and inode, recognised by its content (File).
	ContentResumes atomic.Int64
	// Lag is the time in nanoseconds between the newest event time of the
	// last batch of events read and the moment the batch was read. Only
	// accepted events count: a rejected line (a far-future one included)
	// never moves it.
	Lag atomic.Int64
	// LastRead is when the source last completed a read of everything it
	// watches without a read error, in Unix nanoseconds; 0: never.
	LastRead atomic.Int64
	// Errors counts read errors (not bad lines) by ErrorKind.
	Errors [numErrorKinds]atomic.Int64
	// Problem is the last read error of a read that did not complete;
	// nil after a completed read.
	Problem atomic.Pointer[ReadError]
}

// errStopped unwinds a source whose context is done; Run returns nil.
var errStopped = errors.New("source stopped")

// send sends r unless ctx is done first; false means stop.
func send(ctx context.Context, out chan<- Record, r Record) bool {
	// Checked first so that a ready channel cannot keep a cancelled source
	// running.
	if ctx.Err() != nil {
		return false
	}
	select {
	case out <- r:
		return true
	case <-ctx.Done():
		return false
	}
}

// lagTracker records the newest event time of a batch for SourceStats.Lag.
type lagTracker struct {
	newest time.Time
}

func (l *lagTracker) see(t time.Time) {
	if t.After(l.newest) {
		l.newest = t
	}
}

// flush stores the lag of the batch read at now, if it had events.
func (l *lagTracker) flush(stats *SourceStats, now time.Time) {
	if !l.newest.IsZero() {
		stats.Lag.Store(int64(now.Sub(l.newest)))
		l.newest = time.Time{}
	}
}
