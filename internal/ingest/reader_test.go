package ingest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// step is one result of Reader.Next, rendered for comparison.
type step struct {
	line string // or "ERR: …" for a LineError, "EOF"
	pos  Position
}

func readAll(r *Reader) []step {
	var out []step
	for {
		line, pos, err := r.Next()
		switch {
		case err == io.EOF:
			return append(out, step{line: "EOF"})
		case err != nil:
			var le *LineError
			if !errors.As(err, &le) {
				return append(out, step{line: "FATAL: " + err.Error()})
			}
			if le.Pos != pos {
				panic("LineError position differs from returned position")
			}
			out = append(out, step{line: "ERR: " + le.Err.Error(), pos: pos})
		default:
			out = append(out, step{line: string(line), pos: pos})
		}
	}
}

func TestReader(t *testing.T) {
	p := func(line int, off int64) Position { return Position{File: "f.log", Line: line, Offset: off} }
	tests := []struct {
		name  string
		input string
		max   int
		want  []step
	}{
		{"lines", "a\nbb\n\nccc\n", 0, []step{{"a", p(1, 0)}, {"bb", p(2, 2)}, {"", p(3, 5)}, {"ccc", p(4, 6)}, {line: "EOF"}}},
		{"crlf", "a\r\nb\r\n\r\n", 0, []step{{"a", p(1, 0)}, {"b", p(2, 3)}, {"", p(3, 6)}, {line: "EOF"}}},
		{"only the last cr goes", "a\r\r\n", 0, []step{{"a\r", p(1, 0)}, {line: "EOF"}}},
		{"final line without newline", "a\nlast", 0, []step{{"a", p(1, 0)}, {"last", p(2, 2)}, {line: "EOF"}}},
		{"empty input", "", 0, []step{{line: "EOF"}}},
		{"limit: exactly max", "12345\n", 5, []step{{"12345", p(1, 0)}, {line: "EOF"}}},
		{"limit: max plus crlf", "12345\r\nx\n", 5, []step{{"12345", p(1, 0)}, {"x", p(2, 7)}, {line: "EOF"}}},
		{"limit: max+1", "123456\nx\n", 5, []step{{"ERR: line too long: more than 5 bytes", p(1, 0)}, {"x", p(2, 7)}, {line: "EOF"}}},
		{"limit: max+1 with crlf", "123456\r\nx\n", 5, []step{{"ERR: line too long: more than 5 bytes", p(1, 0)}, {"x", p(2, 8)}, {line: "EOF"}}},
		{"limit: long line", "ok\n" + strings.Repeat("x", 100) + "\nok2\n", 5,
			[]step{{"ok", p(1, 0)}, {"ERR: line too long: more than 5 bytes", p(2, 3)}, {"ok2", p(3, 104)}, {line: "EOF"}}},
		{"limit: long final line without newline", "ok\n" + strings.Repeat("x", 100), 5,
			[]step{{"ok", p(1, 0)}, {"ERR: line too long: more than 5 bytes", p(2, 3)}, {line: "EOF"}}},
		{"invalid utf-8", "ok\nab\xffcd\né\n", 0,
			[]step{{"ok", p(1, 0)}, {"ERR: invalid utf-8 at byte 2", p(2, 3)}, {"é", p(3, 9)}, {line: "EOF"}}},
		{"truncated utf-8 at the end", "ok\n\xe2\x82", 0,
			[]step{{"ok", p(1, 0)}, {"ERR: invalid utf-8 at byte 0", p(2, 3)}, {line: "EOF"}}},
	}
	for _, tt := range tests {
		for _, wrap := range []struct {
			name string
			fn   func(io.Reader) io.Reader
		}{
			{"whole", func(r io.Reader) io.Reader { return r }},
			{"one byte", iotest.OneByteReader},
			{"data+err", iotest.DataErrReader},
		} {
			t.Run(tt.name+"/"+wrap.name, func(t *testing.T) {
				r := NewReader(wrap.fn(strings.NewReader(tt.input)), "f.log")
				r.MaxLineBytes = tt.max
				got := readAll(r)
				if fmt.Sprint(got) != fmt.Sprint(tt.want) {
					t.Errorf("got  %v\nwant %v", got, tt.want)
				}
				if r.Offset() != int64(len(tt.input)) {
					t.Errorf("Offset() = %d at the end, want %d", r.Offset(), len(tt.input))
				}
			})
		}
	}
}

// growingReader is a file being written: Read returns io.EOF when it has
// nothing, and more data can be appended later.
type growingReader struct{ buf bytes.Buffer }

func (g *growingReader) Read(p []byte) (int, error) {
	if g.buf.Len() == 0 {
		return 0, io.EOF
	}
	return g.buf.Read(p)
}

func TestReaderRequireNewline(t *testing.T) {
	g := &growingReader{}
	r := NewReader(g, "tail.log")
	r.RequireNewline = true
	r.MaxLineBytes = 8

	g.buf.WriteString("one\ntw")
	line, pos, err := r.Next()
	if err != nil || string(line) != "one" || pos.Line != 1 {
		t.Fatalf("Next = %q, %v, %v; want one at line 1", line, pos, err)
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next on a partial line = %v, want io.EOF", err)
	}
	if r.Offset() != 4 {
		t.Errorf("Offset() with a partial line pending = %d, want 4 (its start)", r.Offset())
	}
	g.buf.WriteString("o\nthree")
	line, pos, err = r.Next()
	if err != nil || string(line) != "two" || pos != (Position{"tail.log", 2, 4}) {
		t.Fatalf("Next after growth = %q, %v, %v; want two at tail.log:2 offset 4", line, pos, err)
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next = %v, want io.EOF", err)
	}
	// An oversize line that is still being written: skipped once complete,
	// and a restart would resume at its start.
	g.buf.WriteString("\n" + strings.Repeat("x", 20))
	if line, _, err := r.Next(); err != nil || string(line) != "three" {
		t.Fatalf("Next = %q, %v; want three", line, err)
	}
	if _, _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next in an unterminated oversize line = %v, want io.EOF", err)
	}
	if r.Offset() != 14 {
		t.Errorf("Offset() in an oversize line = %d, want 14 (its start)", r.Offset())
	}
	g.buf.WriteString(strings.Repeat("x", 20) + "\nfour\n")
	_, pos, err = r.Next()
	if !errors.Is(err, ErrLineTooLong) || pos != (Position{"tail.log", 4, 14}) {
		t.Fatalf("Next = %v at %v, want ErrLineTooLong at tail.log:4 offset 14", err, pos)
	}
	if line, pos, err := r.Next(); err != nil || string(line) != "four" || pos.Line != 5 {
		t.Fatalf("Next = %q, %v, %v; want four at line 5", line, pos, err)
	}
	if r.Offset() != 60 {
		t.Errorf("Offset() = %d, want 60", r.Offset())
	}
}

// lazyLine produces n bytes of 'x' and then a tail, without holding the
// line in memory.
type lazyLine struct {
	n    int64
	tail *strings.Reader
}

func (l *lazyLine) Read(p []byte) (int, error) {
	if l.n > 0 {
		k := int64(len(p))
		if k > l.n {
			k = l.n
		}
		for i := range p[:k] {
			p[i] = 'x'
		}
		l.n -= k
		return int(k), nil
	}
	return l.tail.Read(p)
}

func TestReaderOversizeBoundedMemory(t *testing.T) {
	const lineLen = 64 << 20
	for _, newline := range []bool{true, false} {
		t.Run(fmt.Sprintf("newline=%v", newline), func(t *testing.T) {
			tail := "\nafter\n"
			if !newline {
				tail = ""
			}
			r := NewReader(&lazyLine{n: lineLen, tail: strings.NewReader(tail)}, "big.log")
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, pos, err := r.Next()
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrLineTooLong) || pos.Line != 1 || pos.Offset != 0 {
				t.Fatalf("Next = %v at %v, want ErrLineTooLong at line 1", err, pos)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4*DefaultMaxLineBytes {
				t.Errorf("skipping a %d-byte line allocated %d bytes, want at most %d", lineLen, alloc, 4*DefaultMaxLineBytes)
			}
			if newline {
				line, pos, err := r.Next()
				if err != nil || string(line) != "after" || pos != (Position{"big.log", 2, lineLen + 1}) {
					t.Fatalf("Next = %q, %v, %v; want after at big.log:2 offset %d", line, pos, err, lineLen+1)
				}
			}
			if _, _, err := r.Next(); err != io.EOF {
				t.Fatalf("Next = %v, want io.EOF", err)
			}
		})
	}
}

func TestReaderReadError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("a\nb\npartial"), iotest.ErrReader(boom)), "x")
	got := readAll(r)
	want := []step{{"a", Position{"x", 1, 0}}, {"b", Position{"x", 2, 2}}, {line: "FATAL: boom"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if _, _, err := r.Next(); err != boom {
		t.Errorf("error not sticky: %v", err)
	}
}

func TestPositionString(t *testing.T) {
	if got := (Position{File: "a.log", Line: 3}).String(); got != "a.log:3" {
		t.Errorf("got %q", got)
	}
	if got := (Position{Line: 3}).String(); got != "line 3" {
		t.Errorf("got %q", got)
	}
	err := &LineError{Pos: Position{File: "a.log", Line: 3}, Err: ErrInvalidUTF8}
	if got := err.Error(); got != "a.log:3: invalid utf-8" {
		t.Errorf("LineError = %q", got)
	}
}

func BenchmarkReader(b *testing.B) {
	var buf bytes.Buffer
	// An mcp envelope of a console line, as the server writes it to CloudWatch.
	line := `{"message": "2026-01-28 19:15:02,117 - SECURITY - WARNING - SECURITY EVENT [MEDIUM]: authentication_failure - Invalid API key (hash: 1a2b3c4d)", "level": "WARNING", "logger": "security", "timestamp": 1769627702.118532, "correlation_id": "3f2b9c1e-8d7a-4b6c-9e5f-0a1b2c3d4e5f"}`
	for buf.Len() < 4<<20 {
		buf.WriteString(line)
		buf.WriteByte('\n')
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(bytes.NewReader(data), "bench")
		for {
			if _, _, err := r.Next(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
}
