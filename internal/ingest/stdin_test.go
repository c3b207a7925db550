package ingest

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"testing/synctest"

	"github.com/secwatch/secwatch/internal/format"
)

func TestStdinReadsToEOF(t *testing.T) {
	input := logLines("1") +
		"not json\n" +
		"\n" +
		"\xff\n" +
		strings.Repeat("z", 65) + "\n" +
		logLines("2") +
		strings.TrimSuffix(logLines("3"), "\n") // the last line needs no newline
	var stats SourceStats
	var bad []string
	s := &Stdin{
		Name:         "pipe",
		R:            iotest.HalfReader(strings.NewReader(input)), // short reads
		NewParser:    newTestParser,
		MaxLineBytes: 64,
		Stats:        &stats,
		Bad:          func(pos Position, reason string) { bad = append(bad, pos.String()+": "+reason) },
	}
	out := make(chan Record, 100)
	if err := s.Run(context.Background(), out); err != nil {
		t.Fatalf("Run: %v", err)
	}
	close(out)
	var got []Record
	for rec := range out {
		got = append(got, rec)
		if rec.Source != "pipe" || rec.Cursor != nil || rec.Progress {
			t.Errorf("got record source %q cursor %+v progress %v, want pipe, no cursor, an event", rec.Source, rec.Cursor, rec.Progress)
		}
		if got := field(rec, "@source"); got != "pipe" {
			t.Errorf("got @source %q, want pipe", got)
		}
	}
	checkIDs(t, got, "1", "2", "3")
	checkWhere(t, got, "-:1", "-:6", "-:7")

	// The parser's wording is its own: only the start of its message is
	// checked.
	wantBad := []string{
		"-:2: invalid json",
		"-:4: invalid utf-8 at byte 0",
		"-:5: line too long: more than 64 bytes",
	}
	if len(bad) != len(wantBad) {
		t.Fatalf("got Bad %q, want %q", bad, wantBad)
	}
	for i := range bad {
		if !strings.HasPrefix(bad[i], wantBad[i]) {
			t.Errorf("Bad %d: got %q, want %q…", i, bad[i], wantBad[i])
		}
	}
	counts := []int64{stats.Lines.Load(), stats.Events.Load(), stats.Malformed.Load(), stats.InvalidUTF8.Load(), stats.Oversize.Load()}
	if want := []int64{7, 3, 1, 1, 1}; !slices.Equal(counts, want) {
		t.Errorf("got Lines, Events, Malformed, InvalidUTF8, Oversize %v, want %v", counts, want)
	}
}

func TestStdinStopsWhileReadBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pr, pw := io.Pipe()
		ctx, cancel := context.WithCancel(context.Background())
		out := make(chan Record)
		errc := make(chan error, 1)
		s := &Stdin{Name: "pipe", R: pr, NewParser: newTestParser}
		go func() { errc <- s.Run(ctx, out) }()
		go pw.Write([]byte(logLines("1")))
		if rec := <-out; id(rec) != "1" {
			t.Fatalf("got event %q, want 1", id(rec))
		}
		synctest.Wait() // Run waits for the next line, its reader is blocked in Read
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
		pw.Close() // the blocked Read returns; the reading goroutine ends
	})
}

func TestStdinParserError(t *testing.T) {
	s := &Stdin{Name: "pipe", R: strings.NewReader(""), NewParser: func() (format.Parser, error) { return format.NewParser("regex", format.Options{}) }}
	err := s.Run(context.Background(), make(chan Record))
	if err == nil || !strings.HasPrefix(err.Error(), "parser: ") {
		t.Errorf("got error %v, want a parser error", err)
	}
}
