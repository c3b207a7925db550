package ingest

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestFileWatchWakes: with Watch and a poll interval of an hour, lines
// appended to the file, and to a file created later in the directory, are
// read: only the directory watch can have woken the source.
func TestFileWatchWakes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	writeFile(t, path, "")
	out := make(chan Record, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &File{Name: "app", Paths: []string{filepath.Join(dir, "*.log")}, Start: "beginning",
		NewParser: newTestParser, PollInterval: time.Hour, Watch: true}
	errc := make(chan error, 1)
	go func() { errc <- f.Run(ctx, out) }()
	next := func() string {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case rec := <-out:
				if !rec.Progress {
					return id(rec)
				}
			case err := <-errc:
				t.Fatalf("Run returned %v", err)
			case <-deadline:
				t.Fatal("no event within 30 s: the watch did not wake the source")
			}
		}
	}
	time.Sleep(50 * time.Millisecond) // the first poll, which finds nothing
	writeFile(t, path, logLines("a1"))
	if got := next(); got != "a1" {
		t.Fatalf("got %q, want a1", got)
	}
	writeFile(t, filepath.Join(dir, "other.log"), logLines("b1"))
	if got := next(); got != "b1" {
		t.Fatalf("got %q, want b1", got)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
