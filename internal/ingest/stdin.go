package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/secwatch/secwatch/internal/format"
)

// Stdin is a source that reads one stream to its end: standard input for
// pipes (`kubectl logs -f … | secwatch run`). Its events carry @file "-"
// and @line; its records have no cursor (Key ""), since a stream cannot be
// resumed. A final line without a newline is read at the end of the
// stream.
//
// Run returns nil at the end of R or when ctx is done. Reads of R happen
// in a goroutine of their own, so that a read that blocks (a quiet pipe)
// does not hold up shutdown: when ctx is done Run returns at once, and that
// goroutine ends when the blocked Read returns (for os.Stdin, when the
// process exits).
type Stdin struct {
	Name      string // the @source of its events and Source of its records
	R         io.Reader
	NewParser func() (format.Parser, error)
	// MaxLineBytes is the longest line accepted; 0 means
	// DefaultMaxLineBytes. Longer lines are skipped in bounded memory.
	MaxLineBytes int
	// MaxFuture is the far-future limit (Decoding.MaxFuture); 0 means
	// none.
	MaxFuture time.Duration
	Stats     *SourceStats           // may be nil
	Bad       func(Position, string) // rejected lines; may be nil
	Now       func() time.Time       // for Lag and the far-future guard; nil means time.Now
}

var _ Source = (*Stdin)(nil)

// Run reads R to its end; see Stdin.
func (s *Stdin) Run(ctx context.Context, out chan<- Record) error {
	if s.NewParser == nil {
		return errors.New("no parser")
	}
	now := s.Now
	if now == nil {
		now = time.Now
	}
	dec, err := Decoding{Source: s.Name, NewParser: s.NewParser, MaxLineBytes: s.MaxLineBytes,
		MaxFuture: s.MaxFuture, Stats: s.Stats, Bad: s.Bad, Now: now}.newDecoder()
	if err != nil {
		return fmt.Errorf("parser: %w", err)
	}

	stop := make(chan struct{})
	defer close(stop)
	ch := make(chan chunk)
	go pump(s.R, ch, stop)
	cr := &chanReader{ch: ch, ctx: ctx}

	rd := NewReader(cr, "-")
	rd.MaxLineBytes = s.MaxLineBytes
	var lag lagTracker
	for {
		ev, err := dec.next(rd)
		switch {
		case err == io.EOF:
			return nil
		case errors.Is(err, errStopped):
			return nil
		case err != nil:
			return fmt.Errorf("read stdin: %w", err)
		}
		lag.see(ev.Time)
		if !send(ctx, out, Record{Event: ev.Clone(), Source: s.Name}) {
			return nil
		}
		// A stream has no batches: each event is its own.
		lag.flush(dec.stats, now())
	}
}

// chunk is one Read of the underlying stream.
type chunk struct {
	b   []byte
	err error
}

// pump reads r into chunks until an error (io.EOF included), which it
// passes on last, or until stop is closed.
func pump(r io.Reader, ch chan<- chunk, stop <-chan struct{}) {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		if n == 0 && err == nil {
			continue
		}
		// A copy of what was read: pipes deliver a line or so per Read.
		select {
		case ch <- chunk{bytes.Clone(buf[:n]), err}:
		case <-stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// chanReader is an io.Reader over the chunks pump sends; it gives up with
// errStopped when ctx is done.
type chanReader struct {
	ctx  context.Context
	ch   <-chan chunk
	buf  []byte
	err  error
	done bool
}

func (c *chanReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.done {
			return 0, c.err
		}
		select {
		case ck := <-c.ch:
			c.buf = ck.b
			if ck.err != nil {
				c.done, c.err = true, ck.err
			}
		case <-c.ctx.Done():
			return 0, errStopped
		}
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}
