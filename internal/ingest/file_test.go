package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/secwatch/secwatch/internal/format"
)

// The File tests run the source inside synctest bubbles: the poll ticker
// runs on the fake clock, and tailRig.tick moves that clock by whole poll
// intervals and waits until the source is idle again, so that each file
// change a test makes falls between two known polls. Nothing waits on the
// real clock.

const testPoll = 10 * time.Millisecond

// logLine is a JSON log line with id in field "n", padded to pad bytes
// (newline included) if it is shorter.
func logLine(id string, pad int) string {
	l := `{"time":"2024-05-01T10:00:00Z","n":"` + id + `"}`
	if n := pad - len(l) - len(`,"pad":""`) - 1; n > 0 {
		l = l[:len(l)-1] + `,"pad":"` + strings.Repeat("x", n) + `"}`
	}
	return l + "\n"
}

// logLines returns one short line per id.
func logLines(ids ...string) string {
	var b strings.Builder
	for _, id := range ids {
		b.WriteString(logLine(id, 0))
	}
	return b.String()
}

func newTestParser() (format.Parser, error) { return format.NewParser("json", format.Options{}) }

// writeFile appends s to path, creating it.
func writeFile(t *testing.T, path, s string) {
	t.Helper()
	w := openWriter(t, path)
	defer w.Close()
	if _, err := w.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// openWriter opens path for appending, like a logging application.
func openWriter(t *testing.T, path string) *os.File {
	t.Helper()
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func write(t *testing.T, w *os.File, s string) {
	t.Helper()
	if _, err := w.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func keyOf(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	key, ok := fileKey(fi)
	if !ok {
		t.Fatal("no file identity")
	}
	return key
}

// fingerprint is the expected FileCursor.Fingerprint after reading content up
// to off.
func fingerprint(content string, off int) string {
	sum := sha256.Sum256([]byte(content[:min(off, 1024)]))
	return hex.EncodeToString(sum[:])
}

// tailRig runs a File in a synctest bubble and keeps what it reports.
type tailRig struct {
	t      *testing.T
	f      *File
	out    chan Record
	stats  *SourceStats
	cancel context.CancelFunc
	errc   chan error

	mu  sync.Mutex
	bad []string // "pos offset: reason"

	cursors map[string]FileCursor // the latest per key, as the daemon keeps them
	done    []string              // keys of Done records
	resets  []FileCursor          // cursors of Reset records
}

// startFile runs f (inside a bubble) with the rig's stats, Bad and a
// buffered out, so that the source never waits for the test to receive.
func startFile(t *testing.T, f *File) *tailRig {
	t.Helper()
	r := &tailRig{t: t, f: f, out: make(chan Record, 1000), stats: new(SourceStats),
		errc: make(chan error, 1), cursors: make(map[string]FileCursor)}
	if f.Name == "" {
		f.Name = "app"
	}
	if f.NewParser == nil {
		f.NewParser = newTestParser
	}
	if f.PollInterval == 0 {
		f.PollInterval = testPoll
	}
	f.Stats = r.stats
	f.Bad = func(pos Position, reason string) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.bad = append(r.bad, fmt.Sprintf("%s@%d: %s", pos, pos.Offset, reason))
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.errc <- f.Run(ctx, r.out) }()
	return r
}

// stop cancels the source and checks that Run returned nil.
func (r *tailRig) stop() {
	r.t.Helper()
	r.cancel()
	if err := <-r.errc; err != nil {
		r.t.Fatalf("Run returned %v, want nil", err)
	}
	r.pending()
}

// keep records what a record means for the daemon's cursors.
func (r *tailRig) keep(rec Record) {
	if rec.Source != r.f.Name {
		r.t.Errorf("record Source %q, want %q", rec.Source, r.f.Name)
	}
	if rec.Reset {
		r.resets = append(r.resets, rec.Cursor.(FileCursor))
	}
	if rec.Done {
		delete(r.cursors, rec.Cursor.(FileCursor).Key)
		r.done = append(r.done, rec.Cursor.(FileCursor).Key)
		return
	}
	r.cursors[rec.Cursor.(FileCursor).Key] = rec.Cursor.(FileCursor)
}

// events receives until n event records have arrived (progress records on
// the way are kept as cursors) and returns those n.
func (r *tailRig) events(n int) []Record {
	r.t.Helper()
	var got []Record
	timeout := time.After(time.Minute) // on the fake clock: 6000 polls
	for len(got) < n {
		select {
		case rec := <-r.out:
			r.keep(rec)
			if !rec.Progress {
				got = append(got, rec)
			}
		case err := <-r.errc:
			r.t.Fatalf("Run returned %v after %d of %d events", err, len(got), n)
		case <-timeout:
			r.t.Fatalf("got %d events %v, want %d", len(got), ids(got), n)
		}
	}
	synctest.Wait() // the source has finished the poll that sent them
	return got
}

// pending returns the records sent and not yet received, without waiting.
func (r *tailRig) pending() []Record {
	var got []Record
	for {
		select {
		case rec := <-r.out:
			r.keep(rec)
			got = append(got, rec)
		default:
			return got
		}
	}
}

// tick lets n polls happen and waits until the source is idle.
func (r *tailRig) tick(n int) {
	time.Sleep(time.Duration(n) * testPoll) // the fake clock: returns at once
	synctest.Wait()
}

// noEvents checks that n more polls send no event.
func (r *tailRig) noEvents(n int) {
	r.t.Helper()
	r.tick(n)
	for _, rec := range r.pending() {
		if !rec.Progress {
			r.t.Fatalf("unexpected event %s (%s:%s)", id(rec), field(rec, "@file"), field(rec, "@line"))
		}
	}
}

func (r *tailRig) bads() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.bad)
}

// cursorList returns the kept cursors, for a restart.
func (r *tailRig) cursorList() []FileCursor {
	var cs []FileCursor
	for _, c := range r.cursors {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b FileCursor) int { return strings.Compare(a.Key, b.Key) })
	return cs
}

func field(rec Record, key string) string {
	v, _ := rec.Event.Get(key)
	return v
}

func id(rec Record) string { return field(rec, "n") }

func ids(recs []Record) []string {
	var s []string
	for _, r := range recs {
		s = append(s, id(r))
	}
	return s
}

// where renders an event's @file (base name) and @line: "app.log:3".
func where(recs []Record) []string {
	var s []string
	for _, r := range recs {
		s = append(s, filepath.Base(field(r, "@file"))+":"+field(r, "@line"))
	}
	return s
}

func checkIDs(t *testing.T, got []Record, want ...string) {
	t.Helper()
	if g := ids(got); !slices.Equal(g, want) {
		t.Fatalf("got events %v, want %v", g, want)
	}
}

func checkWhere(t *testing.T, got []Record, want ...string) {
	t.Helper()
	if g := where(got); !slices.Equal(g, want) {
		t.Fatalf("got positions %v, want %v", g, want)
	}
}

func TestFileAppendsAcrossPolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		w := openWriter(t, path)
		defer w.Close()
		content := logLine("1", 400) + logLine("2", 400)
		write(t, w, content)
		r := startFile(t, &File{Name: "web", Paths: []string{filepath.Join(dir, "*.log")}, Start: "beginning"})
		defer r.stop()
		key := keyOf(t, path)

		check := func(recs []Record, firstLine int) {
			t.Helper()
			off := 0
			for i := 0; i < firstLine-1; i++ {
				off += strings.IndexByte(content[off:], '\n') + 1
			}
			for i, rec := range recs {
				off += strings.IndexByte(content[off:], '\n') + 1
				line := firstLine + i
				want := FileCursor{Key: key, Path: path, Fingerprint: fingerprint(content, off), Offset: int64(off), Line: int64(line), Time: rec.Event.Time}
				if rec.Cursor.(FileCursor) != want {
					t.Errorf("line %d: got cursor %+v, want %+v", line, rec.Cursor.(FileCursor), want)
				}
				if got, want := field(rec, "@line"), fmt.Sprint(line); got != want {
					t.Errorf("got @line %s, want %s", got, want)
				}
				if got := field(rec, "@file"); got != path {
					t.Errorf("got @file %q, want %q", got, path)
				}
				if got := field(rec, "@source"); got != "web" {
					t.Errorf("got @source %q, want web", got)
				}
				if rec.Event.Time.IsZero() {
					t.Errorf("line %d: event without time", line)
				}
			}
		}

		got := r.events(2)
		checkIDs(t, got, "1", "2")
		check(got, 1)

		// A line written in two parts is read once, whole, after its
		// newline; the cursor does not move in between.
		third := logLine("3", 400)
		write(t, w, third[:100])
		r.noEvents(3)
		content += third
		write(t, w, third[100:])
		got = r.events(1)
		checkIDs(t, got, "3")
		check(got, 3) // past 1 KiB: the fingerprint covers the first 1024 bytes

		more := logLines("4", "5")
		content += more
		write(t, w, more)
		got = r.events(2)
		checkIDs(t, got, "4", "5")
		check(got, 4)
		r.noEvents(5)

		if got := r.stats.Lines.Load(); got != 5 {
			t.Errorf("got Lines %d, want 5", got)
		}
		if got := r.stats.Events.Load(); got != 5 {
			t.Errorf("got Events %d, want 5", got)
		}
		if b := r.bads(); len(b) > 0 {
			t.Errorf("unexpected Bad calls: %q", b)
		}
	})
}

func TestFileRotateByRename(t *testing.T) {
	// The writer keeps its descriptor across the rename and writes old
	// lines (o3, o4) to the renamed file before it reopens the path; the
	// cases vary when the source polls in between.
	tests := []struct {
		name  string
		steps func(t *testing.T, r *tailRig, path string, w *os.File) []Record
		want  []string
	}{
		{
			name: "old lines, then new file, one poll",
			steps: func(t *testing.T, r *tailRig, path string, w *os.File) []Record {
				if err := os.Rename(path, path+".1"); err != nil {
					t.Fatal(err)
				}
				r.tick(1) // a poll sees no app.log at all
				write(t, w, logLines("o3", "o4"))
				writeFile(t, path, logLines("n1", "n2"))
				return r.events(4)
			},
			want: []string{"app.log:3", "app.log:4", "app.log:1", "app.log:2"},
		},
		{
			name: "new file read before the old file's last lines",
			steps: func(t *testing.T, r *tailRig, path string, w *os.File) []Record {
				if err := os.Rename(path, path+".1"); err != nil {
					t.Fatal(err)
				}
				writeFile(t, path, "") // logrotate's create
				r.tick(1)
				writeFile(t, path, logLines("n1"))
				got := r.events(1)
				write(t, w, logLines("o3", "o4")) // the writer has not reopened yet
				r.tick(1)
				writeFile(t, path, logLines("n2"))
				return append(got, r.events(3)...)
			},
			want: []string{"app.log:1", "app.log:3", "app.log:4", "app.log:2"},
		},
		{
			name: "unterminated last line of the old file",
			steps: func(t *testing.T, r *tailRig, path string, w *os.File) []Record {
				write(t, w, strings.TrimSuffix(logLines("o3"), "\n"))
				r.tick(1)
				if err := os.Rename(path, path+".1"); err != nil {
					t.Fatal(err)
				}
				writeFile(t, path, logLines("n1"))
				got := r.events(1)
				// The old file's final line is read when the file is
				// finished, rotateWait after it last grew.
				return append(got, r.events(1)...)
			},
			want: []string{"app.log:1", "app.log:3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "app.log")
				w := openWriter(t, path)
				defer w.Close()
				write(t, w, logLines("o1", "o2"))
				r := startFile(t, &File{Paths: []string{path}, Start: "beginning"})
				defer r.stop()
				oldKey := keyOf(t, path)
				checkIDs(t, r.events(2), "o1", "o2")

				got := tt.steps(t, r, path, w)
				checkWhere(t, got, tt.want...)
				for _, rec := range got {
					if fromOld := rec.Cursor.(FileCursor).Key == oldKey; fromOld != strings.HasPrefix(id(rec), "o") {
						t.Errorf("event %s came with the cursor of the wrong file (%s)", id(rec), rec.Cursor.(FileCursor).Key)
					}
				}

				// The old file is closed once it has been idle for
				// rotateWait, with a Done record; nothing is read twice.
				r.noEvents(int(rotateWait/testPoll) + 2)
				if !slices.Equal(r.done, []string{oldKey}) {
					t.Errorf("got Done for %v, want [%s]", r.done, oldKey)
				}
				if _, ok := r.cursors[oldKey]; ok {
					t.Errorf("cursor of the finished file is still kept")
				}
				if got := r.stats.Rotations.Load(); got != 1 {
					t.Errorf("got Rotations %d, want 1", got)
				}
				if b := r.bads(); len(b) > 0 {
					t.Errorf("unexpected Bad calls: %q", b)
				}
			})
		})
	}
}

func TestFileCopyTruncate(t *testing.T) {
	tests := []struct {
		name  string
		after []string // lines the writer writes after the truncation, before the next poll
	}{
		// The file is shorter than the read position.
		{"shrinks", []string{"t1"}},
		// The file has grown past the read position again: only its first
		// bytes show the change.
		{"rewritten past the read position", []string{"t1", "t2", "t3", "t4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "app.log")
				w := openWriter(t, path) // O_APPEND, as copytruncate requires
				defer w.Close()
				write(t, w, logLines("a1", "a2"))
				r := startFile(t, &File{Paths: []string{path}, Start: "beginning"})
				defer r.stop()
				checkIDs(t, r.events(2), "a1", "a2")

				// logrotate copytruncate: copy (not matched), truncate.
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, path+".1", string(data))
				if err := os.Truncate(path, 0); err != nil {
					t.Fatal(err)
				}
				after := logLines(tt.after...)
				write(t, w, after)
				want := tt.after
				got := r.events(len(want))
				checkIDs(t, got, want...)
				last := got[len(got)-1].Cursor.(FileCursor)
				if last.Offset != int64(len(after)) || last.Line != int64(len(want)) {
					t.Errorf("got cursor offset %d line %d, want %d and %d", last.Offset, last.Line, len(after), len(want))
				}
				write(t, w, logLines("b1"))
				got = r.events(1)
				checkIDs(t, got, "b1")
				checkWhere(t, got, fmt.Sprintf("app.log:%d", len(want)+1))
				r.noEvents(3)
				if got := r.stats.Truncations.Load(); got != 1 {
					t.Errorf("got Truncations %d, want 1", got)
				}
			})
		})
	}
}

func TestFileTruncatedDuringPartialLine(t *testing.T) {
	// No complete line has been read yet, so only the bytes of the pending
	// line show that the file was rewritten.
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		w := openWriter(t, path)
		defer w.Close()
		write(t, w, `{"time":"2024-05-01T10:00:00Z","n":"lost`)
		r := startFile(t, &File{Paths: []string{path}, Start: "beginning"})
		defer r.stop()
		r.noEvents(2)
		if err := os.Truncate(path, 0); err != nil {
			t.Fatal(err)
		}
		write(t, w, logLines("t1", "t2"))
		checkWhere(t, r.events(2), "app.log:1", "app.log:2")
		r.noEvents(2)
		if got := r.stats.Malformed.Load(); got != 0 {
			t.Errorf("got Malformed %d, want 0", got)
		}
	})
}

func TestFileRestartFromCursors(t *testing.T) {
	tests := []struct {
		name  string
		start string // of the first run; the second run always uses "end"
		first []string
		// whileDown changes the files while the source is stopped.
		whileDown func(t *testing.T, path string, w *os.File)
		want      []string // events of the second run, as where() renders them
		bad       int      // Bad calls expected on restart
	}{
		{
			name:  "appended while down",
			start: "beginning",
			first: []string{"1", "2"},
			whileDown: func(t *testing.T, path string, w *os.File) {
				write(t, w, logLines("3", "4"))
			},
			want: []string{"app.log:3", "app.log:4"},
		},
		{
			name:  "rotated by rename while down",
			start: "beginning",
			first: []string{"1", "2"},
			whileDown: func(t *testing.T, path string, w *os.File) {
				write(t, w, logLines("3"))
				if err := os.Rename(path, path+".1"); err != nil {
					t.Fatal(err)
				}
				write(t, w, logLines("4")) // before the writer reopened
				writeFile(t, path, logLines("n1", "n2"))
			},
			// The rest of the old file, where it is now, then the new one.
			want: []string{"app.log.1:3", "app.log.1:4", "app.log:1", "app.log:2"},
		},
		{
			// Start "end" and no event in the first run: the progress record
			// still holds the file's place.
			name:  "file without events in the first run",
			start: "end",
			first: nil,
			whileDown: func(t *testing.T, path string, w *os.File) {
				write(t, w, logLines("3"))
			},
			want: []string{"app.log:3"},
		},
		{
			// The same inode with other content (what inode reuse looks
			// like): the fingerprint differs, the file is read from its start.
			name:  "rewritten while down",
			start: "beginning",
			first: []string{"1", "2"},
			whileDown: func(t *testing.T, path string, w *os.File) {
				if err := os.WriteFile(path, []byte(logLines("x1", "x2", "x3")), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"app.log:1", "app.log:2", "app.log:3"},
			bad:  1,
		},
		{
			// Deleted and created again: a new inode (or, if the file system
			// reuses it, a changed fingerprint): read from the start, and the
			// cursor that cannot be resumed is reported.
			name:  "replaced while down",
			start: "beginning",
			first: []string{"1", "2"},
			whileDown: func(t *testing.T, path string, w *os.File) {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
				writeFile(t, path, logLines("x1", "x2", "x3"))
			},
			want: []string{"app.log:1", "app.log:2", "app.log:3"},
			bad:  1,
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

				r := startFile(t, &File{Paths: []string{path}, Start: tt.start})
				checkIDs(t, r.events(len(tt.first)), tt.first...)
				r.tick(2)
				r.stop()
				cursors := r.cursorList()
				if len(cursors) != 1 {
					t.Fatalf("got cursors %+v after the first run, want one", cursors)
				}

				tt.whileDown(t, path, w)
				r2 := startFile(t, &File{Paths: []string{path}, Start: "end", Cursors: cursors})
				defer r2.stop()
				got := r2.events(len(tt.want))
				checkWhere(t, got, tt.want...)
				r2.noEvents(int(rotateWait/testPoll) + 2)
				if b := r2.bads(); len(b) != tt.bad {
					t.Errorf("got Bad calls %q, want %d", b, tt.bad)
				}
			})
		})
	}
}

func TestFileRestartCursorGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		writeFile(t, path, logLines("1"))
		// A cursor of a file that no longer exists (rotated, then compressed
		// while down).
		old := logLines("0")
		gone := FileCursor{Key: "1:999999999", Path: path, Fingerprint: fingerprint(old, len(old)), Offset: int64(len(old)), Line: 1}
		r := startFile(t, &File{Paths: []string{path}, Start: "end", Cursors: []FileCursor{gone}})
		defer r.stop()
		// The file now at the cursor's path is new to us: from its start.
		checkWhere(t, r.events(1), "app.log:1")
		want := []string{fmt.Sprintf("%s:1@%d: cursor: file 1:999999999 not found: lines written to it after this position are lost", path, len(old))}
		if b := r.bads(); !slices.Equal(b, want) {
			t.Errorf("got Bad %q, want %q", b, want)
		}
		if !slices.Equal(r.done, []string{gone.Key}) {
			t.Errorf("got Done for %v, want the gone cursor's key", r.done)
		}
	})
}

func TestFileDeletedWhileOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		w := openWriter(t, path)
		defer w.Close()
		write(t, w, logLines("1"))
		r := startFile(t, &File{Paths: []string{path}, Start: "beginning"})
		defer r.stop()
		key := keyOf(t, path)
		checkIDs(t, r.events(1), "1")
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		write(t, w, logLines("2"))
		checkWhere(t, r.events(1), "app.log:2")
		r.noEvents(int(rotateWait/testPoll) + 2)
		if !slices.Equal(r.done, []string{key}) {
			t.Errorf("got Done for %v, want [%s]", r.done, key)
		}
		if got := r.stats.Rotations.Load(); got != 1 {
			t.Errorf("got Rotations %d, want 1", got)
		}
	})
}

func TestFileOversizeLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		w := openWriter(t, path)
		defer w.Close()
		write(t, w, logLines("1"))
		r := startFile(t, &File{Paths: []string{path}, Start: "beginning", MaxLineBytes: 64})
		defer r.stop()
		checkIDs(t, r.events(1), "1")

		// A long line written over several polls is skipped as one line.
		for range 3 {
			write(t, w, strings.Repeat("z", 100))
			r.noEvents(1)
		}
		write(t, w, "\n"+logLines("3"))
		got := r.events(1)
		checkWhere(t, got, "app.log:3")
		if got[0].Cursor.(FileCursor).Offset != int64(len(logLines("1"))+301+len(logLines("3"))) {
			t.Errorf("got cursor offset %d after the long line", got[0].Cursor.(FileCursor).Offset)
		}
		want := []string{fmt.Sprintf("%s:2@%d: line too long: more than 64 bytes", path, len(logLines("1")))}
		if b := r.bads(); !slices.Equal(b, want) {
			t.Errorf("got Bad %q, want %q", b, want)
		}
		if got := r.stats.Oversize.Load(); got != 1 {
			t.Errorf("got Oversize %d, want 1", got)
		}
		if got := r.stats.Lines.Load(); got != 3 {
			t.Errorf("got Lines %d, want 3", got)
		}
	})
}

func TestFileBadLinesMoveTheCursor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		content := logLines("1") + "not json\n\n" + "\xff\xfe\n"
		writeFile(t, path, content)
		r := startFile(t, &File{Paths: []string{path}, Start: "beginning"})
		defer r.stop()
		checkIDs(t, r.events(1), "1")
		r.noEvents(1)
		// Without an event after them, the bad lines' progress is a cursor
		// of its own, so that a restart does not report them again.
		c := r.cursors[keyOf(t, path)]
		if c.Offset != int64(len(content)) || c.Line != 4 {
			t.Errorf("got cursor offset %d line %d, want %d and 4", c.Offset, c.Line, len(content))
		}
		if got, want := r.stats.Malformed.Load(), int64(1); got != want {
			t.Errorf("got Malformed %d, want %d", got, want)
		}
		if got, want := r.stats.InvalidUTF8.Load(), int64(1); got != want {
			t.Errorf("got InvalidUTF8 %d, want %d", got, want)
		}
		if got, want := len(r.bads()), 2; got != want {
			t.Errorf("got %d Bad calls %q, want %d", got, r.bads(), want)
		}
	})
}

func TestFileGlobAndStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		a, b, c := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log"), filepath.Join(dir, "c.log")
		writeFile(t, b, logLines("b1", "b2"))
		// A line still being written when the source starts is read once
		// complete: "end" begins after the last newline.
		writeFile(t, a, logLines("a1")+`{"time":"2024-05-01T10:00:00Z",`)
		writeFile(t, filepath.Join(dir, "other.txt"), logLines("x"))
		r := startFile(t, &File{Paths: []string{filepath.Join(dir, "*.log")}, Start: "end"})
		defer r.stop()
		r.noEvents(3)
		// Every file has a cursor already, at its end (line counts exact).
		for _, p := range []struct {
			path string
			line int64
		}{{a, 1}, {b, 2}} {
			got := r.cursors[keyOf(t, p.path)]
			if got.Path != p.path || got.Line != p.line || got.Offset != int64(p.line*int64(len(logLines("a1")))) {
				t.Errorf("got start cursor %+v for %s, want line %d", got, p.path, p.line)
			}
		}

		writeFile(t, b, logLines("b3"))
		writeFile(t, a, `"n":"a2"}`+"\n")
		writeFile(t, c, logLines("c1", "c2")) // new after start: from its start
		checkWhere(t, r.events(4), "a.log:2", "b.log:3", "c.log:1", "c.log:2")
		r.noEvents(3)
	})
}

func TestFileOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	writeFile(t, path, logLines("1", "2")+`{"time":"2024-05-01T10:00:00Z",`)
	run := func(cursors []FileCursor) ([]Record, map[string]FileCursor) {
		t.Helper()
		out := make(chan Record, 100)
		f := &File{Name: "app", Paths: []string{path}, NewParser: newTestParser, Start: "beginning", Once: true, Cursors: cursors}
		if err := f.Run(context.Background(), out); err != nil {
			t.Fatalf("Run: %v", err)
		}
		close(out)
		var evs []Record
		latest := make(map[string]FileCursor)
		for rec := range out {
			latest[rec.Cursor.(FileCursor).Key] = rec.Cursor.(FileCursor)
			if !rec.Progress {
				evs = append(evs, rec)
			}
		}
		return evs, latest
	}
	got, cursors := run(nil)
	checkWhere(t, got, "app.log:1", "app.log:2")
	c := cursors[keyOf(t, path)]
	if want := int64(len(logLines("1", "2"))); c.Offset != want {
		t.Errorf("got cursor offset %d, want %d: before the unterminated line", c.Offset, want)
	}

	writeFile(t, path, `"n":"3"}`+"\n"+logLines("4"))
	got, _ = run([]FileCursor{c})
	checkIDs(t, got, "3", "4")
	checkWhere(t, got, "app.log:3", "app.log:4")
}

func TestFileOnceFinishesRotatedFile(t *testing.T) {
	// In Once mode there is no next poll to see whether a rotated file
	// still grows: it is finished if it was last modified rotateWait ago.
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	writeFile(t, path, logLines("1"))
	out := make(chan Record, 100)
	f := &File{Name: "app", Paths: []string{path}, NewParser: newTestParser, Start: "beginning", Once: true}
	if err := f.Run(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	var cursors []FileCursor
	for len(out) > 0 {
		cursors = append(cursors, (<-out).Cursor.(FileCursor))
	}
	oldKey := keyOf(t, path)
	writeFile(t, path, logLines("2"))
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(path+".1", old, old); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, logLines("n1"))

	f = &File{Name: "app", Paths: []string{path}, NewParser: newTestParser, Start: "end", Once: true, Cursors: cursors[len(cursors)-1:]}
	if err := f.Run(context.Background(), out); err != nil {
		t.Fatal(err)
	}
	close(out)
	var evs []Record
	var done []string
	for rec := range out {
		if rec.Done {
			done = append(done, rec.Cursor.(FileCursor).Key)
		}
		if !rec.Progress {
			evs = append(evs, rec)
		}
	}
	checkWhere(t, evs, "app.log.1:2", "app.log:1")
	if !slices.Equal(done, []string{oldKey}) {
		t.Errorf("got Done for %v, want [%s]", done, oldKey)
	}
}

func TestFileConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		f    File
		want string
	}{
		{"no paths", File{NewParser: newTestParser}, "paths: required"},
		{"bad pattern", File{Paths: []string{"/var/log/[.log"}, NewParser: newTestParser}, `paths: "/var/log/[.log": syntax error in pattern`},
		{"bad start", File{Paths: []string{"x"}, Start: "middle", NewParser: newTestParser}, `start: must be "beginning" or "end", got "middle"`},
		{"no parser", File{Paths: []string{"x"}}, "no parser"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.f.Run(context.Background(), make(chan Record))
			if err == nil || err.Error() != tt.want {
				t.Errorf("got error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestFileStopsWhileBlockedOnSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		writeFile(t, path, logLines("1", "2", "3"))
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		f := &File{Name: "app", Paths: []string{path}, NewParser: newTestParser, Start: "beginning"}
		go func() { errc <- f.Run(ctx, make(chan Record)) }() // nobody receives
		synctest.Wait()
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	})
}
