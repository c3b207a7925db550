package ingest

import (
	"context"
	"encoding/json"
	"errors"
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
// daemon forgets the cursor of that Key instead of storing it.
//
// Records of one source arrive in the order the source read them, so the
// daemon's latest cursor per (Source, Cursor.Key) never runs ahead of the
// events the engine has seen.
type Record struct {
	Event    event.Event // owned by the receiver (not reused by the source)
	Source   string
	Cursor   Cursor
	Progress bool // no event: only Cursor is meaningful
	Done     bool // with Progress: forget Cursor.Key
}

// Cursor is where a source resumes after a record. The daemon stores the
// latest cursor per (Source, Key) in its checkpoint, together with the
// engine state, and hands them back on start (File.Cursors). Cursors of
// sources that cannot resume (Stdin) have an empty Key and are not stored.
type Cursor struct {
	// Key identifies the file within its source: "<dev>:<inode>".
	Key string `json:"key"`
	// Path is the last known path of the file (the path it was matched
	// at, or where it was found after a rotation).
	Path string `json:"path"`
	// Fingerprint is the hex SHA-256 of the file's first min(Offset, 1024)
	// bytes, to tell the file from a later one that reuses its inode or a
	// rewrite of it. Hashing only bytes before Offset keeps the length
	// implied by the cursor and the hashed bytes ones the source has read.
	Fingerprint string `json:"fingerprint"`
	// TailFingerprint is the hex SHA-256 of the min(Offset, 1024) bytes
	// just before Offset: with Fingerprint, it recognises the file by its
	// content when its Key has changed (copied, moved to another file
	// system, a container's new mount), so that it is resumed rather than
	// read again. Empty in cursors of older versions (never matched by
	// content). In a Record's Cursor it is empty: it is computed when the
	// cursor is encoded as JSON (the daemon's checkpoint), not for every
	// line.
	TailFingerprint string `json:"tail_fingerprint,omitempty"`
	// Offset is the byte offset after the record's line: where reading
	// resumes.
	Offset int64 `json:"offset"`
	// Line is the number of lines before Offset (the @line of the
	// record's event), so that @line continues exactly after a restart.
	Line int64 `json:"line"`
	// IDs are the CloudWatch event ids the source has processed whose
	// timestamps are inside its overlap window, so that the re-read of that
	// window after a restart emits none of them again (CloudWatch only).
	IDs []string `json:"ids,omitempty"`

	// tail computes TailFingerprint while it is not set (File).
	tail *fileTail
}

// tailFingerprint returns c.TailFingerprint, computed if needed; "" if it
// cannot be known.
func (c Cursor) tailFingerprint() string {
	if c.TailFingerprint != "" || c.tail == nil {
		return c.TailFingerprint
	}
	return c.tail.fingerprint(c.Offset)
}

// MarshalJSON encodes c with its TailFingerprint computed.
func (c Cursor) MarshalJSON() ([]byte, error) {
	type plain Cursor // without this method
	c.TailFingerprint = c.tailFingerprint()
	return json.Marshal(plain(c))
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
	// last batch of events read and the moment the batch was read.
	Lag atomic.Int64
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

// equal reports whether c and d are the same cursor.
func (c Cursor) equal(d Cursor) bool {
	return c.Key == d.Key && c.Path == d.Path && c.Fingerprint == d.Fingerprint &&
		c.TailFingerprint == d.TailFingerprint && c.Offset == d.Offset && c.Line == d.Line && slices.Equal(c.IDs, d.IDs)
}
