package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// DefaultMaxLineBytes is the line length limit when none is configured.
const DefaultMaxLineBytes = 1 << 20

// growDoubling is the largest line buffer a Reader reaches by doubling;
// past it, the buffer grows to its limit at once.
const growDoubling = 1 << 20

// Position locates a line in its input.
type Position struct {
	File   string
	Line   int   // 1-based
	Offset int64 // byte offset of the line's first byte
}

// String returns "file:line" ("line N" when there is no file name).
func (p Position) String() string {
	if p.File == "" {
		return "line " + strconv.Itoa(p.Line)
	}
	return p.File + ":" + strconv.Itoa(p.Line)
}

// Reasons a Reader rejects a line, wrapped in a *LineError.
var (
	ErrLineTooLong = errors.New("line too long")
	ErrInvalidUTF8 = errors.New("invalid utf-8")
)

// LineError reports a line that the Reader skipped. Reading may continue
// after it.
type LineError struct {
	Pos Position
	Err error // wraps ErrLineTooLong or ErrInvalidUTF8, with detail
}

func (e *LineError) Error() string { return e.Pos.String() + ": " + e.Err.Error() }
func (e *LineError) Unwrap() error { return e.Err }

// Reader splits a stream into lines, enforcing MaxLineBytes and UTF-8
// validity and tracking positions. A line ends at "\n"; a "\r" before it is
// dropped too. Set the fields before the first call to Next. A Reader is not
// safe for concurrent use.
type Reader struct {
	// MaxLineBytes is the longest line accepted, not counting its
	// terminator. If 0, DefaultMaxLineBytes is used. A longer line is
	// skipped in O(MaxLineBytes) memory however long it is.
	MaxLineBytes int
	// RequireNewline makes Next leave a final line that has no newline yet
	// unread and return io.EOF, for tailing a file that is still being
	// written: call Next again when the file has grown (io.EOF is not
	// sticky), or resume later from Offset. By default such a line is
	// returned as the last line, which suits replay of a finished file.
	RequireNewline bool

	r    io.Reader
	name string
	buf  []byte
	// buf[start:end] is unread; buf[start:scan] is known to hold no '\n'.
	start, scan, end int
	off              int64 // offset of buf[start] in the stream
	line             int   // number of the last line returned or rejected
	discarding       bool  // skipping the rest of an oversize line
	discardPos       Position
	err              error // sticky read error other than io.EOF
}

// NewReader returns a Reader of r; name is the File of its positions.
func NewReader(r io.Reader, name string) *Reader {
	return &Reader{r: r, name: name}
}

func (r *Reader) maxLine() int {
	if r.MaxLineBytes > 0 {
		return r.MaxLineBytes
	}
	return DefaultMaxLineBytes
}

// Offset returns the offset of the first byte not yet consumed: where to
// resume reading after the last line returned or rejected. While an
// unterminated final line is held back (RequireNewline), or an oversize
// line is being skipped, it is the offset of that line's start.
func (r *Reader) Offset() int64 {
	if r.discarding {
		return r.discardPos.Offset
	}
	return r.off
}

// Next returns the next line (without its terminator), its position, and a
// nil error; the line is valid only until the next call. A rejected line
// (too long, or not valid UTF-8) is returned as (nil, pos, *LineError): count
// it and call Next again. At the end of the input Next returns io.EOF; any
// other error comes from the underlying reader and is sticky.
func (r *Reader) Next() ([]byte, Position, error) {
	max := r.maxLine()
	for {
		if r.discarding {
			if i := bytes.IndexByte(r.buf[r.start:r.end], '\n'); i >= 0 {
				r.consume(r.start + i + 1)
				return nil, r.discardPos, r.tooLong()
			}
			r.off += int64(r.end - r.start)
			r.start, r.scan, r.end = 0, 0, 0
		} else if i := bytes.IndexByte(r.buf[r.scan:r.end], '\n'); i >= 0 {
			nl := r.scan + i
			line := r.buf[r.start:nl]
			pos := r.nextPos()
			r.consume(nl + 1)
			return r.accept(line, pos, max)
		} else {
			r.scan = r.end
			// An unterminated line longer than max+1 bytes cannot become
			// acceptable (at most one more byte, a '\r', is dropped).
			if r.end-r.start > max+1 {
				r.discardPos = r.nextPos()
				r.discarding = true
				continue
			}
		}
		if r.err != nil {
			return nil, Position{}, r.err
		}
		err := r.fill(max)
		if err == nil {
			continue
		}
		if err != io.EOF {
			r.err = err
			return nil, Position{}, err
		}
		if r.RequireNewline {
			return nil, Position{}, io.EOF
		}
		if r.discarding {
			r.discarding = false
			return nil, r.discardPos, r.tooLong()
		}
		if r.end > r.start {
			line := r.buf[r.start:r.end]
			pos := r.nextPos()
			r.consume(r.end)
			return r.accept(line, pos, max)
		}
		return nil, Position{}, io.EOF
	}
}

func (r *Reader) nextPos() Position {
	r.line++
	return Position{File: r.name, Line: r.line, Offset: r.off}
}

// consume marks buf[start:i] as read.
func (r *Reader) consume(i int) {
	r.off += int64(i - r.start)
	r.start, r.scan = i, i
	r.discarding = false
}

func (r *Reader) tooLong() error {
	return &LineError{Pos: r.discardPos, Err: fmt.Errorf("%w: more than %d bytes", ErrLineTooLong, r.maxLine())}
}

func (r *Reader) accept(line []byte, pos Position, max int) ([]byte, Position, error) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if err := checkLine(line, max); err != nil {
		return nil, pos, &LineError{Pos: pos, Err: err}
	}
	return line, pos, nil
}

// checkLine returns why line is rejected before parsing (longer than max
// bytes, or not valid UTF-8), or nil.
func checkLine(line []byte, max int) error {
	if len(line) > max {
		return fmt.Errorf("%w: more than %d bytes", ErrLineTooLong, max)
	}
	if !utf8.Valid(line) {
		at := 0
		for at < len(line) {
			r, size := utf8.DecodeRune(line[at:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			at += size
		}
		return fmt.Errorf("%w at byte %d", ErrInvalidUTF8, at)
	}
	return nil
}

// fill reads more data, first making room: unread data moves to the front
// and the buffer grows up to max+2 bytes (a line of max bytes plus "\r\n"):
// by doubling up to growDoubling, then straight to max+2, so that a long
// line allocates about one buffer of max+2 bytes, not twice that in
// buffers outgrown.
func (r *Reader) fill(max int) error {
	if r.start > 0 {
		n := copy(r.buf, r.buf[r.start:r.end])
		r.scan -= r.start
		r.start, r.end = 0, n
	}
	if r.end == len(r.buf) {
		limit := max + 2
		size := 2 * len(r.buf)
		if size == 0 {
			size = 64 << 10
		}
		if size > growDoubling {
			size = limit
		}
		size = min(size, limit)
		if size <= len(r.buf) {
			// Full of one unterminated line of at most max+1 bytes: cannot
			// happen, because Next starts discarding first.
			return fmt.Errorf("reader buffer full")
		}
		nb := make([]byte, size)
		copy(nb, r.buf[:r.end])
		r.buf = nb
	}
	for range 100 {
		n, err := r.r.Read(r.buf[r.end:])
		r.end += n
		if n > 0 {
			if err != nil && err != io.EOF {
				r.err = err // reported once the data before it is used
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
	return io.ErrNoProgress
}
