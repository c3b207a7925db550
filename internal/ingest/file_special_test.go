package ingest

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
)

// TestFileSpecialPathsAreReported: a FIFO, a directory, a dangling
// symbolic link and a loop of them at matched paths are skipped without
// blocking the poll, each reported once (until it changes) as a permanent
// read error and counted on every poll, while the regular file beside
// them is read.
func TestFileSpecialPathsAreReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		writeFile(t, path, logLines("1"))
		if err := syscall.Mkfifo(path+".fifo", 0o644); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkdir(path+".d", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Symlink(filepath.Join(dir, "nowhere"), path+".dangling"); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Symlink(path+".loop", path+".loop"); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var reported []string
		f := &File{Paths: []string{path + "*"}, Start: "beginning", Fail: func(e *ReadError) {
			mu.Lock()
			defer mu.Unlock()
			if e.Kind != ErrPermanent {
				t.Errorf("%s: kind %v, want permanent", e.Where, e.Kind)
			}
			reported = append(reported, filepath.Base(e.Where)+": "+e.Err.Error())
		}}
		r := startFile(t, f)
		defer r.stop()
		checkIDs(t, r.events(1), "1")
		r.tick(5)
		mu.Lock()
		got := slices.Sorted(slices.Values(reported))
		mu.Unlock()
		want := []string{
			"app.log.d: a directory, not a regular file: skipped",
			"app.log.dangling: a dangling symbolic link, not a regular file: skipped",
			"app.log.fifo: a named pipe (FIFO), not a regular file: skipped",
			"app.log.loop: a loop of symbolic links, not a regular file: skipped",
		}
		if !slices.Equal(got, want) {
			t.Errorf("reported:\n%s\nwant (once each):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// Four paths on each of at least six polls.
		if n := r.stats.Errors[ErrPermanent].Load(); n < 4*6 {
			t.Errorf("got %d permanent errors counted, want at least %d", n, 4*6)
		}
		if p := r.stats.Problem.Load(); p == nil {
			t.Error("no Problem after polls with unreadable paths")
		}
	})
}
