package ingest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
)

// Fuzz targets for every parser and for the line reader. `go test` runs
// each on its seed corpus (the golden inputs, lines of the recorded logs
// and the checked-in crashers under testdata/fuzz/<Target>/);
// `make fuzz` (scripts/fuzz.sh) runs each with -fuzz for FUZZTIME.
//
// The properties every parser must keep, whatever the line:
//   - it never panics, and never hangs (the fuzzer's per-input timeout);
//   - an error is a short, single-line description that stays valid UTF-8
//     (it is logged with the line's position);
//   - an accepted event has a time inside the range the engine accepts
//     (1970–2200);
//   - it never aliases the line (the reader reuses its buffer);
//   - it is deterministic: a fresh parser gives the same result.

// seedLines adds up to max lines of each file to f.
func seedLines(f *testing.F, max int, files ...string) {
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for n := 0; n < max && sc.Scan(); n++ {
			f.Add(bytes.Clone(sc.Bytes()))
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			f.Fatal(err)
		}
	}
}

// hostileSeeds are shapes that every parser gets as seeds.
var hostileSeeds = []string{
	"", " ", "\x00", "\xff\xfe", "{", "}", `{"a":`, `{"a":{"b":{"c":[[[[[`, `{"timestamp":"9999-12-31T23:59:59Z"}`,
	`{"timestamp":-1e300}`, `{"ts":1e19}`, "a=\"\\", "\x1b[31mred\u202e", strings.Repeat("{", 200),
	strings.Repeat(`[`, 200), `{"x":"\ud800"}`, `{"x":"\u0000"}`,
}

// checkParse runs one line through a parser made by newParser and checks the
// properties above.
func checkParse(t *testing.T, newParser func() format.Parser, line []byte) {
	p := newParser()
	var ev event.Event
	buf := bytes.Clone(line)
	err := p.Parse(buf, &ev)
	kept := ev.Clone()
	for i := range kept.Fields {
		kept.Fields[i].Key = strings.Clone(kept.Fields[i].Key)
		kept.Fields[i].Value = strings.Clone(kept.Fields[i].Value)
	}
	for i := range buf {
		buf[i] = '#'
	}
	for i, f := range ev.Fields {
		if f != kept.Fields[i] {
			t.Fatalf("parser aliases its line: field %d became %q=%q, was %q=%q", i, f.Key, f.Value, kept.Fields[i].Key, kept.Fields[i].Value)
		}
	}
	if err != nil {
		msg := err.Error()
		if strings.ContainsAny(msg, "\n\r") || (utf8.Valid(line) && !utf8.ValidString(msg)) {
			t.Fatalf("error message is not one valid line: %q", msg)
		}
		if len(msg) > 300 {
			t.Fatalf("error message of %d bytes quotes too much of the line: %q", len(msg), msg)
		}
	} else {
		if ev.Time.Year() < 1970 || ev.Time.Year() >= 2200 {
			t.Fatalf("accepted a time outside 1970–2200: %v", ev.Time)
		}
	}
	// Deterministic: a fresh parser gives the same answer.
	var ev2 event.Event
	err2 := newParser().Parse(bytes.Clone(line), &ev2)
	if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
		t.Fatalf("second parse differs: %v vs %v", err, err2)
	}
	if err == nil && (!ev2.Time.Equal(kept.Time) || len(ev2.Fields) != len(kept.Fields)) {
		t.Fatalf("second parse differs: %v %d fields vs %v %d fields", ev2.Time, len(ev2.Fields), kept.Time, len(kept.Fields))
	}
}

func fuzzParser(f *testing.F, name string, opt format.Options, seeds ...string) {
	for _, s := range hostileSeeds {
		f.Add([]byte(s))
	}
	seedLines(f, 200, seeds...)
	newParser := func() format.Parser {
		p, err := format.NewParser(name, opt)
		if err != nil {
			panic(err)
		}
		return p
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		checkParse(t, newParser, line)
	})
}

func FuzzJSON(f *testing.F) {
	fuzzParser(f, "json", format.Options{}, "testdata/golden/json/input.log", "../../testdata/logs/security-events.jsonl")
}

func FuzzLogfmt(f *testing.F) {
	fuzzParser(f, "logfmt", format.Options{}, "testdata/golden/logfmt/input.log")
}

func FuzzRegex(f *testing.F) {
	b, err := os.ReadFile("testdata/golden/regex/options.json")
	if err != nil {
		f.Fatal(err)
	}
	var opt struct {
		Pattern string `json:"pattern"`
	}
	if err := json.Unmarshal(b, &opt); err != nil {
		f.Fatal(err)
	}
	fuzzParser(f, "regex", format.Options{Pattern: opt.Pattern}, "testdata/golden/regex/input.log")
}

func FuzzMCP(f *testing.F) {
	fuzzParser(f, "mcp", format.Options{}, "testdata/golden/mcp/input.log",
		"../../testdata/logs/mcp-stderr.log", "../../testdata/logs/mcp-cloudwatch.jsonl")
}

func FuzzALB(f *testing.F) {
	fuzzParser(f, "alb", format.Options{}, "testdata/golden/alb/input.log", "../../testdata/logs/alb-access.log")
}

// FuzzReader splits arbitrary bytes with a small MaxLineBytes, delivered
// in arbitrary read sizes, and checks that every line is accounted for
// exactly: returned lines are the input's bytes at their offsets, line
// numbers count every line (rejected ones too), positions only grow, and
// the number of lines is the number of newlines plus an unterminated tail.
func FuzzReader(f *testing.F) {
	f.Add([]byte("a\nb\r\nc"), uint8(4), uint8(1))
	f.Add([]byte("toolongline\nok\n\xff\xfe\n"), uint8(3), uint8(2))
	f.Add([]byte("\n\n\r\n"), uint8(0), uint8(7))
	f.Add([]byte(strings.Repeat("x", 300)+"\nafter"), uint8(16), uint8(5))
	for _, name := range []string{"testdata/golden/mcp/input.log", "testdata/golden/alb/input.log"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(64), uint8(13))
	}
	f.Fuzz(func(t *testing.T, data []byte, maxLine, chunk uint8) {
		rd := NewReader(&chunkReader{data: data, n: int(chunk%32) + 1}, "in")
		rd.MaxLineBytes = int(maxLine) + 1
		want := bytes.Count(data, []byte{'\n'})
		if len(data) > 0 && data[len(data)-1] != '\n' {
			want++
		}
		lines, lastLine := 0, 0
		var lastOff int64 = -1
		for {
			line, pos, err := rd.Next()
			if err == io.EOF {
				break
			}
			var le *LineError
			if err != nil && !errors.As(err, &le) {
				t.Fatalf("unexpected error %v", err)
			}
			lines++
			if pos.Line != lastLine+1 || pos.Offset <= lastOff || pos.Offset > int64(len(data)) {
				t.Fatalf("line %d: position %+v after line %d at %d", lines, pos, lastLine, lastOff)
			}
			lastLine, lastOff = pos.Line, pos.Offset
			if err != nil {
				continue
			}
			if len(line) > rd.MaxLineBytes || !utf8.Valid(line) {
				t.Fatalf("line %d accepted with %d bytes (max %d), valid UTF-8 %v", pos.Line, len(line), rd.MaxLineBytes, utf8.Valid(line))
			}
			if !bytes.HasPrefix(data[pos.Offset:], line) {
				t.Fatalf("line %d is not the input's bytes at offset %d", pos.Line, pos.Offset)
			}
		}
		if lines != want {
			t.Fatalf("got %d lines, want %d", lines, want)
		}
		if rd.Offset() != int64(len(data)) {
			t.Fatalf("Offset() = %d at the end, want %d", rd.Offset(), len(data))
		}
	})
}

// chunkReader returns data at most n bytes per Read.
type chunkReader struct {
	data []byte
	n    int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), r.n)], r.data)
	r.data = r.data[k:]
	return k, nil
}
