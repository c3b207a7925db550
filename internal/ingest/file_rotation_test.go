package ingest

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// rename moves a file, failing the test on error.
func rename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

// copyTruncate does what logrotate's copytruncate does: copies path to
// dst, then truncates path.
func copyTruncate(t *testing.T, path, dst string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, string(data))
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
}

// TestFileRestartAfterRotationsWhileDown reads lines "1" and "2" of
// app.log, stops, changes the files, and restarts from the cursor: every
// line written while down is read once, in the order it was written.
func TestFileRestartAfterRotationsWhileDown(t *testing.T) {
	tests := []struct {
		name      string
		glob      string // the source's paths, in the directory
		whileDown func(t *testing.T, path string, w *os.File)
		want      []string // events of the second run, as where() renders them
		bad       int
	}{
		{
			// The cursor's file is rewritten by copytruncate, then renamed
			// away (app.log → app.log.1, the copy to app.log.2): the rest
			// of the copy from the cursor, then the whole rewritten file.
			name: "copy-truncated, then renamed",
			glob: "app.log",
			whileDown: func(t *testing.T, path string, w *os.File) {
				write(t, w, logLines("3"))
				copyTruncate(t, path, path+".1")
				write(t, w, logLines("t1", "t2"))
				rename(t, path+".1", path+".2")
				rename(t, path, path+".1")
				writeFile(t, path, logLines("n1"))
			},
			want: []string{"app.log.2:3", "app.log.1:1", "app.log.1:2", "app.log:1"},
		},
		{
			// Copytruncate while down with a glob that matches the copy:
			// the copy goes on from the cursor, the truncated file from
			// its beginning; no line twice.
			name: "copy-truncated, copy matched",
			glob: "app.log*",
			whileDown: func(t *testing.T, path string, w *os.File) {
				write(t, w, logLines("3"))
				copyTruncate(t, path, path+".1")
				write(t, w, logLines("t1"))
			},
			want: []string{"app.log.1:3", "app.log:1"},
		},
		{
			name: "copy-truncated, copy not matched",
			glob: "app.log",
			whileDown: func(t *testing.T, path string, w *os.File) {
				write(t, w, logLines("3"))
				copyTruncate(t, path, path+".1")
				write(t, w, logLines("t1"))
			},
			want: []string{"app.log.1:3", "app.log:1"},
		},
		{
			// Rotated by rename twice: the file between the cursor's and
			// the new one (app.log.1 now) is read too.
			name: "renamed twice",
			glob: "app.log",
			whileDown: func(t *testing.T, path string, w *os.File) {
				write(t, w, logLines("3"))
				rename(t, path, path+".1")
				writeFile(t, path, logLines("m1", "m2"))
				rename(t, path+".1", path+".2")
				rename(t, path, path+".1")
				writeFile(t, path, logLines("n1"))
			},
			want: []string{"app.log.2:3", "app.log.1:1", "app.log.1:2", "app.log:1"},
		},
		{
			// The same with a glob that matches the rotated files and a
			// second run that starts at the end: app.log.1 has no cursor
			// but was written after the cursor's file, so it is read from
			// its beginning.
			name: "renamed twice, rotated files matched",
			glob: "app.log*",
			whileDown: func(t *testing.T, path string, w *os.File) {
				write(t, w, logLines("3"))
				rename(t, path, path+".1")
				writeFile(t, path, logLines("m1", "m2"))
				rename(t, path+".1", path+".2")
				rename(t, path, path+".1")
				writeFile(t, path, logLines("n1"))
			},
			want: []string{"app.log.2:3", "app.log.1:1", "app.log.1:2", "app.log:1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "app.log")
				w := openWriter(t, path)
				defer w.Close()
				write(t, w, logLines("1", "2"))
				glob := filepath.Join(dir, tt.glob)

				r := startFile(t, &File{Paths: []string{glob}, Start: "beginning"})
				checkIDs(t, r.events(2), "1", "2")
				r.tick(2)
				r.stop()
				cursors := r.cursorList()
				if len(cursors) != 1 {
					t.Fatalf("got cursors %+v after the first run, want one", cursors)
				}

				tt.whileDown(t, path, w)
				r2 := startFile(t, &File{Paths: []string{glob}, Start: "end", Cursors: cursors})
				defer r2.stop()
				checkWhere(t, r2.events(len(tt.want)), tt.want...)
				r2.noEvents(int(rotateWait/testPoll) + 2)
				if b := r2.bads(); len(b) != tt.bad {
					t.Errorf("got Bad calls %q, want %d", b, tt.bad)
				}
			})
		})
	}
}

// TestFileReadsRotatedSiblingsOldestFirst: with a glob that matches the
// rotated files, a backlog is read in the order it was written: by
// modification time, then app.log.2, app.log.1, app.log.
func TestFileReadsRotatedSiblingsOldestFirst(t *testing.T) {
	tests := []struct {
		name   string
		mtimes []time.Duration // of app.log.2, app.log.1, app.log, after a base time
		want   []string
	}{
		{"by modification time", []time.Duration{0, time.Second, 2 * time.Second},
			[]string{"app.log.2:1", "app.log.1:1", "app.log:1"}},
		{"same modification time: by suffix", []time.Duration{0, 0, 0},
			[]string{"app.log.2:1", "app.log.1:1", "app.log:1"}},
		// Renamed by hand out of the usual order: time wins.
		{"time before suffix", []time.Duration{2 * time.Second, time.Second, 0},
			[]string{"app.log:1", "app.log.1:1", "app.log.2:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "app.log")
				base := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
				for i, p := range []string{path + ".2", path + ".1", path} {
					writeFile(t, p, logLines(filepath.Base(p)))
					at := base.Add(tt.mtimes[i])
					if err := os.Chtimes(p, at, at); err != nil {
						t.Fatal(err)
					}
				}
				r := startFile(t, &File{Paths: []string{path + "*"}, Start: "beginning"})
				defer r.stop()
				checkWhere(t, r.events(3), tt.want...)
			})
		})
	}
}

// TestFileTruncationResets: a truncation is announced with a Reset
// progress record at offset 0, after the lines read before it, so that
// the daemon checkpoints them at once.
func TestFileTruncationResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		w := openWriter(t, path)
		defer w.Close()
		write(t, w, logLines("a1", "a2"))
		r := startFile(t, &File{Paths: []string{path}, Start: "beginning"})
		defer r.stop()
		checkIDs(t, r.events(2), "a1", "a2")
		r.tick(2)
		for _, rec := range r.pending() {
			if rec.Reset {
				t.Fatalf("Reset before any truncation: %+v", rec.Cursor)
			}
		}
		copyTruncate(t, path, path+".1")
		r.tick(2)
		var resets []FileCursor
		for _, rec := range r.pending() {
			if rec.Reset {
				if !rec.Progress || rec.Done {
					t.Errorf("Reset record with Progress %v, Done %v; want a progress record", rec.Progress, rec.Done)
				}
				resets = append(resets, rec.Cursor.(FileCursor))
			}
		}
		if len(resets) != 1 || resets[0].Offset != 0 || resets[0].Line != 0 || resets[0].Key != keyOf(t, path) {
			t.Fatalf("got Reset cursors %+v, want one at offset 0 of %s", resets, keyOf(t, path))
		}
	})
}

// TestFileCopyTruncateReadsTheCopy: lines appended after the last poll and
// before a copytruncate are read from the copy (app.log.1, which the glob
// does not match), from where the truncated file was read to.
func TestFileCopyTruncateReadsTheCopy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		w := openWriter(t, path)
		defer w.Close()
		write(t, w, logLines("a1", "a2"))
		r := startFile(t, &File{Paths: []string{path}, Start: "beginning"})
		defer r.stop()
		checkIDs(t, r.events(2), "a1", "a2")
		r.tick(2)
		write(t, w, logLines("a3"))
		copyTruncate(t, path, path+".1")
		write(t, w, logLines("t1"))
		checkWhere(t, r.events(2), "app.log.1:3", "app.log:1")
		r.noEvents(int(rotateWait/testPoll) + 2)
		if !slices.Contains(r.done, keyOf(t, path+".1")) {
			t.Errorf("got Done for %v, want the copy finished", r.done)
		}
	})
}

// TestFileRotationsBetweenPolls: rotations the source sees only as their
// result, one poll later, lose no line and read none twice.
func TestFileRotationsBetweenPolls(t *testing.T) {
	tests := []struct {
		name   string
		glob   string
		rotate func(t *testing.T, path string, w *os.File) *os.File
		want   []string
	}{
		{
			// app.log is renamed away twice: the file created between the
			// two renames (app.log.1 now) is read as a rotated file.
			name: "renamed twice",
			glob: "app.log",
			rotate: func(t *testing.T, path string, w *os.File) *os.File {
				write(t, w, logLines("3"))
				w.Close()
				rename(t, path, path+".1")
				w = openWriter(t, path)
				write(t, w, logLines("m1", "m2"))
				w.Close()
				rename(t, path+".1", path+".2")
				rename(t, path, path+".1")
				w = openWriter(t, path)
				write(t, w, logLines("n1"))
				return w
			},
			want: []string{"3", "m1", "m2", "n1"},
		},
		{
			// Copytruncate with a glob that matches the copy: the copy is
			// resumed where app.log was read to, not read again.
			name: "copy-truncated, copy matched",
			glob: "app.log*",
			rotate: func(t *testing.T, path string, w *os.File) *os.File {
				write(t, w, logLines("3"))
				copyTruncate(t, path, path+".1")
				write(t, w, logLines("t1"))
				return w
			},
			want: []string{"3", "t1"},
		},
		{
			// Copytruncate twice: the rest of the first copy, then the
			// whole second one, then the truncated file.
			name: "copy-truncated twice",
			glob: "app.log",
			rotate: func(t *testing.T, path string, w *os.File) *os.File {
				write(t, w, logLines("3"))
				copyTruncate(t, path, path+".1")
				write(t, w, logLines("s1", "s2"))
				rename(t, path+".1", path+".2")
				copyTruncate(t, path, path+".1")
				write(t, w, logLines("t1"))
				return w
			},
			want: []string{"3", "s1", "s2", "t1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "app.log")
				w := openWriter(t, path)
				write(t, w, logLines("1", "2"))
				r := startFile(t, &File{Paths: []string{filepath.Join(dir, tt.glob)}, Start: "beginning"})
				defer r.stop()
				checkIDs(t, r.events(2), "1", "2")
				r.tick(2)
				w = tt.rotate(t, path, w)
				defer w.Close()
				checkIDs(t, r.events(len(tt.want)), tt.want...)
				r.noEvents(int(rotateWait/testPoll) + 2)
			})
		})
	}
}

// TestFileTruncatedWhileDownResets: a file truncated while the daemon was
// down goes back to offset 0 at once, after its copy's record, so that a
// checkpoint taken while the copy is read cannot keep the cursor of the
// content the truncation removed.
func TestFileTruncatedWhileDownResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		w := openWriter(t, path)
		defer w.Close()
		write(t, w, logLines("1", "2"))
		r := startFile(t, &File{Paths: []string{path}, Start: "beginning"})
		checkIDs(t, r.events(2), "1", "2")
		r.tick(2)
		r.stop()
		cursors := r.cursorList()

		write(t, w, logLines("3"))
		copyTruncate(t, path, path+".1")
		write(t, w, logLines("t1"))
		r2 := startFile(t, &File{Paths: []string{path}, Cursors: cursors})
		defer r2.stop()
		checkWhere(t, r2.events(2), "app.log.1:3", "app.log:1")
		key := keyOf(t, path)
		if len(r2.resets) != 1 || r2.resets[0].Key != key || r2.resets[0].Offset != 0 || r2.resets[0].ModTime == 0 {
			t.Fatalf("got Reset cursors %+v, want one at offset 0 of %s with the newest sibling's time", r2.resets, key)
		}
	})
}

// TestFileSuccessorsOfARotatedCursor: the cursor of a rotated file read on
// start carries its rotated name (app.log.1); a generation created and
// rotated away while down, never named by a cursor, is its successor
// among the siblings of app.log and is read.
func TestFileSuccessorsOfARotatedCursor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		writeFile(t, path, logLines("1", "2"))
		r := startFile(t, &File{Paths: []string{path}, Start: "beginning"})
		checkIDs(t, r.events(2), "1", "2")
		r.tick(2)
		r.stop()
		cursors := r.cursorList()

		rename(t, path, path+".1")
		writeFile(t, path, logLines("3"))
		r2 := startFile(t, &File{Paths: []string{path}, Cursors: cursors})
		checkIDs(t, r2.events(1), "3")
		r2.tick(2)
		r2.stop()
		// Killed before the new file's cursor was saved: only the
		// rotated file's, under its rotated name, is kept.
		var kept []FileCursor
		for _, c := range r2.cursorList() {
			if c.Path == path+".1" {
				kept = append(kept, c)
			}
		}
		if len(kept) != 1 {
			t.Fatalf("got cursors %+v, want one at %s.1", r2.cursorList(), path)
		}

		rename(t, path+".1", path+".2")
		rename(t, path, path+".1")
		writeFile(t, path, logLines("4"))
		r3 := startFile(t, &File{Paths: []string{path}, Start: "beginning", Cursors: kept})
		defer r3.stop()
		checkWhere(t, r3.events(2), "app.log.1:1", "app.log:1")
	})
}

// TestFileCopyOfOpenFileIsNotASuccessor: started between logrotate's copy
// and its truncate, the copy (app.log.1) is newer than a rotated file
// found under another name, but it is the live file's copy, not a
// successor: it is resumed from the read position when the truncation
// comes, not read from its beginning.
func TestFileCopyOfOpenFileIsNotASuccessor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		writeFile(t, path, logLines("1", "2"))
		r := startFile(t, &File{Paths: []string{path}, Start: "beginning"})
		checkIDs(t, r.events(2), "1", "2")
		r.tick(2)
		r.stop()

		rename(t, path, path+".1")
		writeFile(t, path, logLines("3"))
		r2 := startFile(t, &File{Paths: []string{path}, Cursors: r.cursorList()})
		checkIDs(t, r2.events(1), "3")
		r2.tick(2)
		r2.stop()

		rename(t, path+".1", path+".2")
		writeFile(t, path, logLines("4"))
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, ".copy"), string(data))
		rename(t, filepath.Join(dir, ".copy"), path+".1")
		r3 := startFile(t, &File{Paths: []string{path}, Start: "beginning", Cursors: r2.cursorList()})
		defer r3.stop()
		checkWhere(t, r3.events(1), "app.log:2")
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		writeFile(t, path, logLines("5"))
		checkWhere(t, r3.events(1), "app.log:1")
		r3.noEvents(3)
	})
}

// TestFileFinishedNewestFirst: rotated files finished in one poll are
// forgotten newest first, so that a kill between two Done records never
// keeps an older file's cursor beside a newer file forgotten (the next
// start would read the newer one again as a successor never read).
func TestFileFinishedNewestFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		writeFile(t, path, logLines("1"))
		r := startFile(t, &File{Paths: []string{path}, Start: "beginning"})
		checkIDs(t, r.events(1), "1")
		older := keyOf(t, path)
		rename(t, path, path+".1")
		writeFile(t, path, logLines("2"))
		checkIDs(t, r.events(1), "2")
		newer := keyOf(t, path)
		rename(t, path+".1", path+".2")
		rename(t, path, path+".1")
		writeFile(t, path, "")
		r.tick(2)
		r.stop()

		r2 := startFile(t, &File{Paths: []string{path}, Start: "beginning", Cursors: r.cursorList()})
		defer r2.stop()
		r2.noEvents(int(rotateWait/testPoll) + 2)
		if got, want := r2.done, []string{newer, older}; !slices.Equal(got, want) {
			t.Errorf("got Done records for %v, want %v (newest first)", got, want)
		}
	})
}

// TestFileCopyTruncateOfUnreadLines: the file is at offset 0 with nothing
// read (just truncated) when lines are written, copied away and the file
// refilled with more bytes, all between two polls: nothing is left to
// recognise the copy by, and the file has not shrunk. The copy (a new
// sibling) is read first, then the refilled file: the lines in the order
// they were written, each once, with or without a glob that matches the
// copy, and with the copy's modification time in the same tick as the
// newest sibling (a coarse file system).
func TestFileCopyTruncateOfUnreadLines(t *testing.T) {
	for _, glob := range []string{"app.log", "app.log*"} {
		t.Run(glob, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "app.log")
				w := openWriter(t, path)
				defer w.Close()
				write(t, w, logLines("a1", "a2"))
				r := startFile(t, &File{Paths: []string{filepath.Join(dir, glob)}, Start: "beginning"})
				defer r.stop()
				checkIDs(t, r.events(2), "a1", "a2")
				copyTruncate(t, path, path+".1")
				checkIDs(t, r.events(0))
				r.tick(2) // the truncation seen: at offset 0, nothing read
				r.pending()
				tick := time.Now().Truncate(time.Hour)
				if err := os.Chtimes(path+".1", tick, tick); err != nil {
					t.Fatal(err)
				}
				write(t, w, logLines("b1", "b2"))
				copyTruncate(t, path, path+".2.tmp")
				rename(t, path+".1", path+".2")
				rename(t, path+".2.tmp", path+".1")
				if err := os.Chtimes(path+".1", tick, tick); err != nil {
					t.Fatal(err)
				}
				write(t, w, logLines("c1", "c2", "c3", "c4"))
				got := r.events(6)
				if glob == "app.log*" {
					got = slices.DeleteFunc(got, func(rec Record) bool { return id(rec) == "a1" || id(rec) == "a2" })
				}
				checkIDs(t, got, "b1", "b2", "c1", "c2", "c3", "c4")
			})
		})
	}
}

// TestOffsetReaderRewritten: a file truncated and refilled between two
// reads of the same reader (copytruncate while a poll reads it) is not
// read on at the old offset in the new content.
func TestOffsetReaderRewritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	writeFile(t, path, logLines("a1", "a2"))
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var head []byte
	r := offsetReader{f: f, head: &head}
	buf := make([]byte, 4096)
	n, err := r.Read(buf)
	if err != nil || n == 0 {
		t.Fatalf("first read: %d bytes, %v", n, err)
	}
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, logLines("b1", "b2", "b3", "b4"))
	if n, err := r.Read(buf); !errors.Is(err, errRewritten) {
		t.Fatalf("read after the rewrite: %d bytes (%q), %v; want errRewritten", n, buf[:n], err)
	}
	if r.off != int64(n) {
		t.Errorf("offset moved to %d on a rewritten file, want %d", r.off, n)
	}
	// Appends alone are read on.
	writeFile(t, path, logLines("b5"))
	head = nil
	r = offsetReader{f: f, head: &head}
	if n, err = r.Read(buf); err != nil || n == 0 {
		t.Fatalf("read: %d, %v", n, err)
	}
	writeFile(t, path, logLines("b6"))
	if m, err := r.Read(buf); err != nil || m == 0 {
		t.Fatalf("read of an append: %d, %v", m, err)
	}
}

// TestOffsetReaderCopiedAtZero: the first read of a file with nothing read
// yet is given up when a copy of it appeared (copied reports one): the
// bytes may be what refilled it after the copy, which is older and read
// first.
func TestOffsetReaderCopiedAtZero(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	writeFile(t, path, logLines("a1"))
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for _, copied := range []bool{false, true} {
		var head []byte
		r := offsetReader{f: f, head: &head, copied: func() bool { return copied }}
		n, err := r.Read(buf)
		if copied && (!errors.Is(err, errRewritten) || r.off != 0 || len(head) != 0) {
			t.Errorf("with a copy: %d bytes, %v, offset %d; want errRewritten and nothing taken", n, err, r.off)
		}
		if !copied && (err != nil || n == 0) {
			t.Errorf("without a copy: %d bytes, %v", n, err)
		}
	}
}
