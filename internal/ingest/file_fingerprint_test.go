package ingest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// tailFingerprint is the expected FileCursor.TailFingerprint after reading
// content up to off.
func tailFingerprint(content string, off int) string {
	return hashHex([]byte(content[off-min(off, 1024) : off]))
}

// numbered returns lines with ids from..to (inclusive), each pad bytes.
func numbered(from, to, pad int) string {
	var b strings.Builder
	for i := from; i <= to; i++ {
		b.WriteString(logLine(strconv.Itoa(i), pad))
	}
	return b.String()
}

// checkpointCursors passes cursors through JSON as the daemon's checkpoint
// stores them (a map per source in a JSON document), and back.
func checkpointCursors(t *testing.T, cs []FileCursor) []FileCursor {
	t.Helper()
	type meta struct {
		Cursors map[string]map[string]FileCursor `json:"cursors"`
	}
	m := meta{Cursors: map[string]map[string]FileCursor{"app": {}}}
	for _, c := range cs {
		m.Cursors["app"][c.Key] = c
	}
	b, err := json.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	var back meta
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	var out []FileCursor
	for _, c := range back.Cursors["app"] {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b FileCursor) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// readHalf runs a File over path (read from the beginning) until it has
// sent the events of the first n lines, stops it and returns its cursor
// after a checkpoint's JSON round trip.
func readHalf(t *testing.T, path string, n int) FileCursor {
	t.Helper()
	r := startFile(t, &File{Paths: []string{path}, Start: "beginning"})
	r.events(n)
	r.tick(2)
	r.stop()
	cs := checkpointCursors(t, r.cursorList())
	if len(cs) != 1 {
		t.Fatalf("got cursors %+v, want one", cs)
	}
	return cs[0]
}

// readLog writes app.log with read lines of 150 bytes in a new directory
// and reads it all (readHalf).
func readLog(t *testing.T, read int) (dir, path, content string, c FileCursor) {
	t.Helper()
	content = numbered(1, read, 150)
	dir = t.TempDir()
	path = filepath.Join(dir, "app.log")
	writeFile(t, path, content)
	return dir, path, content, readHalf(t, path, read)
}

// moveByCopy copies src to dst (a new inode) and removes src.
func moveByCopy(t *testing.T, src, dst string, change func([]byte)) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if change != nil {
		change(b)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(src); err != nil {
		t.Fatal(err)
	}
}

func TestFileResumeByContent(t *testing.T) {
	for _, tt := range []struct {
		name      string
		pad, read int // line length, lines read before the move
	}{
		{"offset past 1 KiB", 150, 60},
		{"offset within the first KiB", 0, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "app.log")
				writeFile(t, path, numbered(1, tt.read, tt.pad))
				c := readHalf(t, path, tt.read)
				content := numbered(1, tt.read, tt.pad)
				if c.Offset != int64(len(content)) || c.Line != int64(tt.read) {
					t.Fatalf("cursor at %d line %d, want %d line %d", c.Offset, c.Line, len(content), tt.read)
				}
				if want := tailFingerprint(content, len(content)); c.TailFingerprint != want {
					t.Fatalf("TailFingerprint %q after the checkpoint, want %q", c.TailFingerprint, want)
				}

				// More lines while down; then the log moves to another
				// directory by copy (another inode, as across file systems).
				writeFile(t, path, numbered(tt.read+1, tt.read+5, tt.pad))
				moved := filepath.Join(t.TempDir(), "moved.log")
				moveByCopy(t, path, moved, nil)
				r := startFile(t, &File{Paths: []string{moved}, Start: "beginning", Cursors: []FileCursor{c}})
				defer r.stop()
				got := r.events(5)
				var want []string
				for i := tt.read + 1; i <= tt.read+5; i++ {
					want = append(want, "moved.log:"+strconv.Itoa(i))
				}
				checkWhere(t, got, want...)
				r.noEvents(3)
				if b := r.bads(); len(b) != 0 {
					t.Errorf("got Bad %q, want none", b)
				}
				if n := r.stats.ContentResumes.Load(); n != 1 {
					t.Errorf("ContentResumes = %d, want 1", n)
				}
				if !slices.Equal(r.done, []string{c.Key}) {
					t.Errorf("got Done for %v, want the old key %s only", r.done, c.Key)
				}
				all := numbered(1, tt.read+5, tt.pad)
				cs := checkpointCursors(t, r.cursorList())
				if len(cs) != 1 || cs[0].Key != keyOf(t, moved) || cs[0].Path != moved ||
					cs[0].Offset != int64(len(all)) || cs[0].Line != int64(tt.read+5) ||
					cs[0].Fingerprint != fingerprint(all, len(all)) || cs[0].TailFingerprint != tailFingerprint(all, len(all)) {
					t.Errorf("cursors after the resume %+v, want the moved file's (key %s) at its end", cs, keyOf(t, moved))
				}
			})
		})
	}
}

func TestFileResumeByContentMismatch(t *testing.T) {
	const pad, read = 150, 30 // offset 4500: head and tail do not overlap
	content := numbered(1, read, pad)
	for _, tt := range []struct {
		name string
		at   int // the byte changed (a pad 'x')
	}{
		{"tail differs", len(content) - 20},
		{"head differs", 100},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "app.log")
				writeFile(t, path, content)
				c := readHalf(t, path, read)
				moved := filepath.Join(dir, "moved.log")
				moveByCopy(t, path, moved, func(b []byte) {
					if b[tt.at] != 'x' {
						t.Fatalf("byte %d is %q, not padding", tt.at, b[tt.at])
					}
					b[tt.at] = 'y'
				})
				r := startFile(t, &File{Paths: []string{moved}, Start: "beginning", Cursors: []FileCursor{c}})
				defer r.stop()
				got := r.events(read)
				if where(got)[0] != "moved.log:1" {
					t.Fatalf("first event at %s, want moved.log:1 (another file: from its beginning)", where(got)[0])
				}
				r.noEvents(3)
				b := r.bads()
				if len(b) != 1 || !strings.Contains(b[0], "not found") || !strings.Contains(b[0], "@"+strconv.Itoa(len(content))+":") {
					t.Errorf("got Bad %q, want the cursor not found at its offset", b)
				}
				if n := r.stats.ContentResumes.Load(); n != 0 {
					t.Errorf("ContentResumes = %d, want 0", n)
				}
			})
		})
	}
}

func TestFileResumeByContentAmbiguous(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const read = 10
		_, path, content, c := readLog(t, read)
		dst := t.TempDir()
		writeFile(t, filepath.Join(dst, "a.log"), content+numbered(read+1, read+1, 150))
		moveByCopy(t, path, filepath.Join(dst, "b.log"), nil)
		r := startFile(t, &File{Paths: []string{filepath.Join(dst, "*.log")}, Start: "beginning", Cursors: []FileCursor{c}})
		defer r.stop()
		// Which copy the daemon was reading is unknown: neither is resumed,
		// both are new files (read from the beginning, as Start says).
		got := r.events(2*read + 1)
		if w := where(got); w[0] != "a.log:1" || w[read+1] != "b.log:1" {
			t.Errorf("got events %v, want both files from their first line", w)
		}
		r.noEvents(3)
		b := r.bads()
		if len(b) != 1 || !strings.Contains(b[0], "2 files hold its content") || !strings.Contains(b[0], "ambiguous") ||
			!strings.Contains(b[0], "@"+strconv.Itoa(len(content))+":") {
			t.Errorf("got Bad %q, want one report of an ambiguous cursor at its offset", b)
		}
		if n := r.stats.ContentResumes.Load(); n != 0 {
			t.Errorf("ContentResumes = %d, want 0", n)
		}
		if !slices.Equal(r.done, []string{c.Key}) {
			t.Errorf("got Done for %v, want the old key %s", r.done, c.Key)
		}
	})
}

func TestFileResumeByContentNotForOldCursors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const read = 10
		dir, path, _, c := readLog(t, read)
		c.TailFingerprint = "" // as written by an older version
		moved := filepath.Join(dir, "moved.log")
		moveByCopy(t, path, moved, nil)
		r := startFile(t, &File{Paths: []string{moved}, Start: "beginning", Cursors: []FileCursor{c}})
		defer r.stop()
		if w := where(r.events(read)); w[0] != "moved.log:1" {
			t.Errorf("got events %v, want the copy from its first line", w)
		}
		r.noEvents(3)
		if b := r.bads(); len(b) != 1 || !strings.Contains(b[0], "not found: lines written") {
			t.Errorf("got Bad %q, want today's report", b)
		}
		if n := r.stats.ContentResumes.Load(); n != 0 {
			t.Errorf("ContentResumes = %d, want 0", n)
		}
	})
}

func TestCursorTailFingerprintJSON(t *testing.T) {
	content := numbered(1, 40, 150)
	off := len(content) - 150
	path := filepath.Join(t.TempDir(), "app.log")
	writeFile(t, path, content)
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	tf := &tailFile{key: "1:2", path: "/var/log/app.log", file: fh, off: int64(off), line: 39,
		fpHex: fingerprint(content, off), tailOff: -1}
	// The source takes the settled cursor with its TailFingerprint, then
	// closes the file: encoding the cursor reads nothing.
	if c := tf.cursor(); c.TailFingerprint != "" {
		t.Fatalf("an event's cursor has TailFingerprint %q: hashed per line", c.TailFingerprint)
	}
	c := tf.settledCursor()
	fh.Close()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"key":"1:2","path":"/var/log/app.log","fingerprint":"` + fingerprint(content, off) +
		`","tail_fingerprint":"` + tailFingerprint(content, off) + `","offset":` + strconv.Itoa(off) + `,"line":39}`
	if string(b) != want {
		t.Fatalf("JSON\n%s\nwant\n%s", b, want)
	}
	var back FileCursor
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != (FileCursor{Key: "1:2", Path: "/var/log/app.log", Fingerprint: fingerprint(content, off),
		TailFingerprint: tailFingerprint(content, off), Offset: int64(off), Line: 39}) {
		t.Errorf("decoded %+v", back)
	}
	// The same offset again: the fingerprint taken before is kept, the
	// closed file is not read.
	if got := tf.settledCursor(); got != c {
		t.Errorf("cursor at the same offset: %+v, want %+v", got, c)
	}

	// A cursor of an older version decodes without it.
	var old FileCursor
	if err := json.Unmarshal([]byte(`{"key":"1:2","path":"p","fingerprint":"ab","offset":5,"line":1}`), &old); err != nil || old.TailFingerprint != "" {
		t.Errorf("old cursor: %+v, %v", old, err)
	}
}

// TestCursorTailFingerprintConcurrent encodes every record's cursor on
// another goroutine while the source goes on reading the growing file, as
// the daemon's checkpoint does (run it with -race), and checks the
// TailFingerprint of each Progress record (the settled cursor after a
// poll's lines) against the bytes before the cursor; events' cursors
// have none.
func TestCursorTailFingerprintConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	const lines = 400
	content := numbered(1, lines, 120)
	w := openWriter(t, path)
	defer w.Close()
	out := make(chan Record, 8)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 2)
	f := &File{Name: "app", Paths: []string{path}, NewParser: newTestParser, Start: "beginning", PollInterval: time.Millisecond}
	go func() { errc <- f.Run(ctx, out) }()
	go func() {
		for i := 0; i < lines; i += 37 {
			if _, err := w.WriteString(numbered(i+1, min(i+37, lines), 120)); err != nil {
				errc <- err
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	// Until every line's event and the settled cursor after the last
	// line (the Progress record that ends the last poll that read one).
	for n, end := 0, false; n < lines || !end; {
		var rec Record
		select {
		case rec = <-out:
		case err := <-errc:
			t.Fatalf("after %d lines: %v", n, err)
		}
		if !rec.Progress {
			n++
		}
		b, err := json.Marshal(rec.Cursor.(FileCursor))
		if err != nil {
			t.Fatal(err)
		}
		var c FileCursor
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		want := ""
		if rec.Progress && c.Offset > 0 {
			want = tailFingerprint(content, int(c.Offset))
			end = c.Offset == int64(len(content))
		}
		if c.TailFingerprint != want {
			t.Fatalf("cursor at %d (progress %v): TailFingerprint %q, want %q", c.Offset, rec.Progress, c.TailFingerprint, want)
		}
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// A cursor at offset 0 has seen nothing: every file "holds" its content.
func TestFileResumeByContentNotAtOffsetZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "app.log")
		writeFile(t, path, numbered(1, 2, 0))
		empty := hashHex(nil)
		c := FileCursor{Key: "1:999999999", Path: path, Fingerprint: empty, TailFingerprint: empty}
		r := startFile(t, &File{Paths: []string{path}, Start: "beginning", Cursors: []FileCursor{c}})
		defer r.stop()
		checkWhere(t, r.events(2), "app.log:1", "app.log:2")
		if n := r.stats.ContentResumes.Load(); n != 0 {
			t.Errorf("ContentResumes = %d, want 0", n)
		}
		if b := r.bads(); len(b) != 1 || !strings.Contains(b[0], "not found") {
			t.Errorf("got Bad %q, want the cursor reported", b)
		}
	})
}

// A file that a cursor names by key is that cursor's, even if another
// cursor's content matches it.
func TestFileResumeByContentNotAClaimedFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		writeFile(t, path, numbered(1, 10, 150))
		a := readHalf(t, path, 10)
		b := a
		b.Key, b.Path = "1:999999999", filepath.Join(dir, "gone.log")
		writeFile(t, path, numbered(11, 11, 150))
		r := startFile(t, &File{Paths: []string{path}, Start: "beginning", Cursors: []FileCursor{b, a}}) // b first: a.log is not open yet
		defer r.stop()
		checkWhere(t, r.events(1), "app.log:11")
		r.noEvents(3)
		if n := r.stats.ContentResumes.Load(); n != 0 {
			t.Errorf("ContentResumes = %d, want 0", n)
		}
		if bad := r.bads(); len(bad) != 1 || !strings.Contains(bad[0], "gone.log") {
			t.Errorf("got Bad %q, want the other cursor reported", bad)
		}
		if !slices.Equal(r.done, []string{b.Key}) {
			t.Errorf("got Done for %v, want %s", r.done, b.Key)
		}
	})
}

// A copy of the log in the watched place is its continuation even when the
// original is still where the cursor says (outside the glob): taking the
// original for a rotated file would read every line twice.
func TestFileResumeByContentOriginalStillThere(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		writeFile(t, path, numbered(1, 20, 100))
		c := readHalf(t, path, 20)
		writeFile(t, path, numbered(21, 23, 100))
		copied := filepath.Join(t.TempDir(), "app.log")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, copied, string(b)) // a copy; the original stays
		r := startFile(t, &File{Paths: []string{copied}, Start: "beginning", Cursors: []FileCursor{c}})
		defer r.stop()
		checkWhere(t, r.events(3), "app.log:21", "app.log:22", "app.log:23")
		r.noEvents(3)
		if n := r.stats.ContentResumes.Load(); n != 1 {
			t.Errorf("ContentResumes = %d, want 1", n)
		}
		if n := r.stats.Rotations.Load(); n != 0 {
			t.Errorf("Rotations = %d, want 0: the original was taken for a rotated file", n)
		}
	})
}
