package ingest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/secwatch/secwatch/internal/format"
)

// File is a source that tails the files matching glob patterns, like
// `tail -F`, by polling, and resumes them after a restart from the cursors
// of its last checkpoint. A file is identified by its device and inode (on
// start, also by its content), read through a descriptor held open, and
// followed through rotation by rename, deletion and copy-truncate; how,
// and how cursors are resumed, is in docs/formats.md ("File sources").
//
// Events carry @source (Name), @file (the path the file was last seen at)
// and @line. Each Record carries the FileCursor after its line; Progress
// records carry only a cursor, and a Done record ends a file that was
// rotated away or deleted and is finished. Cursors that cannot be resumed
// are reported to Bad.
//
// Run returns nil when ctx is done, and returns an error for an invalid
// configuration, a parser that cannot be made, or a failed read of an open
// file. A file that cannot be opened is reported to Bad (once until the
// error changes) and retried on each poll. Set the fields before Run; Run
// may be called once. File uses syscall.Stat_t and builds on Unix only.
type File struct {
	Name      string   // the @source of its events and Source of its records
	Paths     []string // filepath.Glob patterns
	NewParser func() (format.Parser, error)
	// Start is where a file without a cursor begins when the source
	// starts: "end" (also "") reads only lines written from then on (a
	// line being written at the end is read once complete); "beginning"
	// reads the whole file. Files that appear after the source started
	// are always read from the beginning.
	Start string
	// MaxLineBytes is the longest line accepted; 0 means
	// DefaultMaxLineBytes.
	MaxLineBytes int
	// PollInterval is the time between polls; 0 means 250ms.
	PollInterval time.Duration
	// Watch also polls as soon as something changes in the directories
	// of Paths (inotify), so that a line is read when it is written: the
	// poll interval is then the longest wait, for file systems that send
	// no events. Not in Once mode.
	Watch bool
	// Cursors are where to resume, from the last checkpoint.
	Cursors []FileCursor
	// Once makes Run return nil after one poll has read and sent
	// everything currently readable (scheduled tasks: `secwatch run
	// --once`). Lines still without a newline are left for the next run.
	Once bool
	// MaxFuture is the far-future limit (Decoding.MaxFuture); 0 means
	// none.
	MaxFuture time.Duration
	Stats     *SourceStats // may be nil
	// Bad receives rejected lines with their position and the reason,
	// files that cannot be opened, and cursors that cannot be resumed.
	// It may be nil. It is called from Run's goroutine.
	Bad func(pos Position, reason string)
	// Fail receives read errors (a file that cannot be opened, a missing
	// directory); nil: they go to Bad. See pollChecked.
	Fail func(*ReadError)
	// Now is the clock for Stats.Lag and the far-future guard; nil means
	// time.Now.
	Now func() time.Time
}

var _ Source = (*File)(nil)

// FileCursor is where File resumes a file.
type FileCursor struct {
	// Key identifies the file within its source: "<dev>:<inode>".
	Key string `json:"key"`
	// Path is the last known path of the file (the path it was matched
	// at, or where it was found after a rotation).
	Path string `json:"path"`
	// Fingerprint is the hex SHA-256 of the file's first min(Offset, 1024)
	// bytes, to tell the file from a later one that reuses its inode or a
	// rewrite of it. Hashing only bytes before Offset keeps the length
	// implied by the cursor and the hashed bytes ones the source has read.
	Fingerprint string `json:"fingerprint"`
	// TailFingerprint is the hex SHA-256 of the min(Offset, 1024) bytes
	// just before Offset: with Fingerprint, it recognises the file by its
	// content when its Key has changed (copied, moved to another file
	// system, a container's new mount), so that it is resumed rather than
	// read again. Empty at offset 0 and in cursors of older versions
	// (never matched by content).
	TailFingerprint string `json:"tail_fingerprint,omitempty"`
	// Offset is the byte offset after the record's line: where reading
	// resumes.
	Offset int64 `json:"offset"`
	// Line is the number of lines before Offset (the @line of the
	// record's event), so that @line continues exactly after a restart.
	Line int64 `json:"line"`
	// Time is the time of the last line parsed before Offset: the time
	// the next lines without one of their own inherit (mcp access lines).
	Time time.Time `json:"time,omitzero"`
	// ModTime, at offset 0 only, is the newest modification time (Unix
	// nanoseconds) among the rotated siblings of Path when the file was
	// opened or truncated, 1 if it had none, 0 if unknown: the siblings
	// modified after it were written since (copies of lines never read).
	ModTime int64 `json:"mtime,omitempty"`
}

// CursorKey returns c.Key.
func (c FileCursor) CursorKey() string { return c.Key }

const (
	defaultPollInterval = 250 * time.Millisecond
	// fingerprintBytes is how much of a file's start identifies its content.
	fingerprintBytes = 1024
	// rotateWait is how long a file that left the glob (renamed or deleted)
	// is still read after it last grew: its writer may append until it
	// reopens the path (logrotate's create, then postrotate's signal).
	rotateWait = 5 * time.Second
)

// Run tails the files until ctx is done; see File.
func (f *File) Run(ctx context.Context, out chan<- Record) error {
	t, err := newTailer(f)
	if err != nil {
		return err
	}
	defer t.closeAll()
	interval := f.PollInterval
	if interval <= 0 {
		interval = defaultPollInterval
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var watch *dirWatch
	if f.Watch && !f.Once {
		watch = watchDirs(f.Paths)
		defer watch.close()
	}
	for {
		if err := t.pollChecked(ctx, out); err != nil {
			if errors.Is(err, errStopped) {
				return nil
			}
			return err
		}
		if f.Once {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-watch.C():
			// Writes come in bursts: a poll every wakeGap at most reads
			// them in batches.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(min(wakeGap, interval)):
			}
		}
	}
}

// wakeGap is the least time between two polls a watch wakes.
const wakeGap = 5 * time.Millisecond

// tailer is the state of one File's Run.
type tailer struct {
	f        *File
	decoding Decoding // of each file
	stats    *SourceStats
	bad      func(Position, string)
	now      func() time.Time
	files    map[string]*tailFile // by key
	started  bool                 // the first poll is done
	openErrs map[string]string    // path → last open error reported
	failed   *ReadError           // the last read error of this poll
	// From the cursors, for the first poll: files to read from the
	// beginning whatever Start says.
	freshPaths, freshKeys map[string]bool
	// lastTime is the time of the last line read of each log (path
	// without its rotation suffix): what the first line of its next
	// generation inherits if it carries none.
	lastTime map[string]time.Time
}

func newTailer(f *File) (*tailer, error) {
	if len(f.Paths) == 0 {
		return nil, errors.New("paths: required")
	}
	for _, p := range f.Paths {
		if _, err := filepath.Match(p, ""); err != nil {
			return nil, fmt.Errorf("paths: %q: %w", p, err)
		}
	}
	switch f.Start {
	case "", "end", "beginning":
	default:
		return nil, fmt.Errorf(`start: must be "beginning" or "end", got %q`, f.Start)
	}
	if f.NewParser == nil {
		return nil, errors.New("no parser")
	}
	t := &tailer{
		f:          f,
		stats:      f.Stats,
		bad:        f.Bad,
		now:        f.Now,
		files:      make(map[string]*tailFile),
		openErrs:   make(map[string]string),
		freshPaths: make(map[string]bool),
		freshKeys:  make(map[string]bool),
		lastTime:   make(map[string]time.Time),
	}
	for _, c := range f.Cursors {
		if b := rotationBase(c.Path); c.Time.After(t.lastTime[b]) {
			t.lastTime[b] = c.Time
		}
	}
	if t.stats == nil {
		t.stats = new(SourceStats)
	}
	if t.bad == nil {
		t.bad = func(Position, string) {}
	}
	if t.now == nil {
		t.now = time.Now
	}
	t.decoding = Decoding{Source: f.Name, NewParser: f.NewParser, MaxLineBytes: f.MaxLineBytes,
		MaxFuture: f.MaxFuture, Stats: t.stats, Bad: t.bad, Now: t.now}
	return t, nil
}

func (t *tailer) closeAll() {
	for _, tf := range t.files {
		tf.file.Close()
	}
}

// tailFile is one open file.
type tailFile struct {
	key  string // "<dev>:<inode>"
	path string
	file *os.File
	dec  *decoder

	// rd reads from src, which started at file offset base, where base
	// lines had been read; nil while the file is idle, to free its buffer.
	rd             *Reader
	src            offsetReader
	base, baseLine int64

	off, line int64 // the cursor: after the last line consumed

	// head holds the file's first min(readPos(), 1 KiB) bytes as they
	// were read (never read again later: the file may have changed), to
	// notice a rewrite and to make the cursor's fingerprint.
	head  []byte
	fpLen int    // fpHex is the hash of head[:fpLen], fpLen = min(off, 1 KiB)
	fpHex string // "" until set

	// The TailFingerprint at tailOff, computed for the last cursor taken.
	tailOff int64
	tailFP  string

	size  int64     // at the last check, to skip the fingerprint check
	mtime time.Time // of an unchanged file
	// statAt is when size and mtime were taken: if mtime was then within
	// racyWindow of it, a later write in the same timestamp tick leaves
	// both unchanged (a copytruncate that refills the file to the same
	// size), so the next check compares the first bytes anyway.
	statAt time.Time
	// siblingsAt0 is the cursor's ModTime at offset 0 (newestSibling when
	// the file was opened or truncated).
	siblingsAt0 int64
	// siblingKeys are the keys of the rotated siblings then (nil after a
	// restart, which has the cursor's ModTime alone): a sibling with
	// another key is a copy made since, even within the same
	// modification-time tick.
	siblingKeys map[string]bool
	// hold skips one read after a truncation with nothing read: the
	// copies opened for it are read first, on the next poll; its cursor
	// keeps the siblings it had (siblingsAt0) until then, so that a
	// checkpoint in between still covers the copies.
	hold, held bool

	sent    FileCursor // the last cursor sent
	sentAny bool

	orphan bool      // no longer matched by the glob (renamed or deleted)
	grewAt time.Time // orphans: when it last grew, or became an orphan
	// rotatedTo is where an orphan was found renamed to (path.N), for the
	// read order; "" if not looked for.
	rotatedTo string
}

// orderPath is the path that orders tf among files of the same time.
func (tf *tailFile) orderPath() string {
	if tf.rotatedTo != "" {
		return tf.rotatedTo
	}
	return tf.path
}

// cursor is the cursor after the last line consumed, without its
// TailFingerprint: the cursor of each event's record.
func (tf *tailFile) cursor() FileCursor {
	c := FileCursor{Key: tf.key, Path: tf.path, Fingerprint: tf.fpHex, Offset: tf.off, Line: tf.line, Time: tf.inherited()}
	if tf.off == 0 {
		c.ModTime = tf.siblingsAt0
	}
	return c
}

// settledCursor is cursor with its TailFingerprint, which it computes
// (once per offset) by reading the KiB before the offset: the cursor of
// the Progress record sent after each poll's lines, so that hashing costs
// once per poll of a file that grew, not once per line. It runs on the
// source's goroutine; encoding the cursor later reads nothing.
func (tf *tailFile) settledCursor() FileCursor {
	if tf.tailOff != tf.off {
		tf.tailOff, tf.tailFP = tf.off, ""
		if b, ok := readTail(tf.file, tf.off); ok && tf.off > 0 {
			tf.tailFP = hashHex(b)
		}
	}
	c := tf.cursor()
	c.TailFingerprint = tf.tailFP
	return c
}

// readPos is how far the file has been read, a pending partial line
// included.
func (tf *tailFile) readPos() int64 {
	if tf.rd == nil {
		return tf.off
	}
	return tf.src.off
}

// pending reports whether the reader holds bytes of a line not yet
// complete (or an oversize line being skipped).
func (tf *tailFile) pending() bool {
	return tf.rd != nil && tf.base+tf.rd.Offset() < tf.src.off
}

func (tf *tailFile) startReader(maxLine int, requireNewline bool) {
	tf.src = offsetReader{f: tf.file, off: tf.off, head: &tf.head}
	tf.rd = NewReader(&tf.src, tf.path)
	tf.rd.MaxLineBytes = maxLine
	tf.rd.RequireNewline = requireNewline
	tf.base, tf.baseLine = tf.off, tf.line
}

// setFingerprint brings the cursor's fingerprint up to date with off.
func (tf *tailFile) setFingerprint() {
	n := int(min(tf.off, fingerprintBytes))
	if n == tf.fpLen && tf.fpHex != "" {
		return
	}
	if n > len(tf.head) {
		// Cannot happen: head covers what was read, and off is not past
		// it. A stale fingerprint would only make a restart re-read the file.
		return
	}
	sum := sha256.Sum256(tf.head[:n])
	tf.fpLen, tf.fpHex = n, hex.EncodeToString(sum[:])
}

// rewritten reports whether the file's first bytes differ from those read.
func (tf *tailFile) rewritten() bool {
	return len(tf.head) > 0 && headChanged(tf.file, tf.head, nil)
}

// headChanged reports whether the first len(head) bytes of f differ from
// head, reading them into *scratch (grown to 1 KiB as needed) if given.
func headChanged(f *os.File, head []byte, scratch *[]byte) bool {
	var buf []byte
	if scratch != nil {
		if cap(*scratch) < len(head) {
			*scratch = make([]byte, fingerprintBytes)
		}
		buf = (*scratch)[:len(head)]
	} else {
		buf = make([]byte, len(head))
	}
	n, _ := f.ReadAt(buf, 0)
	return !bytes.Equal(buf[:n], head)
}

// readHead reads the first min(n, 1 KiB) bytes of f; false if f is shorter.
func readHead(f *os.File, n int64) ([]byte, bool) {
	buf := make([]byte, min(n, fingerprintBytes), fingerprintBytes)
	m, _ := f.ReadAt(buf, 0)
	return buf, m == len(buf)
}

// readTail reads the min(off, 1 KiB) bytes of f before off; false if f
// is shorter.
func readTail(f *os.File, off int64) ([]byte, bool) {
	n := min(off, fingerprintBytes)
	buf := make([]byte, n)
	m, _ := f.ReadAt(buf, off-n)
	return buf, int64(m) == n
}

// hashHex is the hex SHA-256 of b.
func hashHex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// offsetReader reads a file from off with ReadAt, so that reading past
// the end and again after the file grew needs no seeking. It keeps the
// bytes it reads of the file's first KiB in *head.
type offsetReader struct {
	f    *os.File
	off  int64
	head *[]byte
	buf  []byte // for the comparison of head
	// copied, if set, reports whether a copy of the file was made since it
	// went to offset 0 with nothing read: checked after the read from
	// offset 0, which has no first bytes to compare.
	copied func() bool
}

func (r *offsetReader) Read(p []byte) (int, error) {
	n, err := r.f.ReadAt(p, r.off)
	if n > 0 && r.off > 0 && len(*r.head) > 0 && r.rewritten() {
		// Truncated and refilled (copytruncate) since the bytes before
		// off were read: these are the new content's, not what follows.
		return 0, errRewritten
	}
	if n > 0 && r.off == 0 && r.copied != nil && r.copied() {
		// A copy appeared: these bytes may be what refilled the file after
		// it; the copy, older, is read first (the next poll's truncation).
		return 0, errRewritten
	}
	if h := *r.head; r.off < fingerprintBytes && int64(len(h)) == r.off {
		*r.head = append(h, p[:min(int64(n), fingerprintBytes-r.off)]...)
	}
	r.off += int64(n)
	if n > 0 && err == io.EOF {
		err = nil
	}
	return n, err
}

// rewritten reports whether the file's first bytes differ from *r.head.
func (r *offsetReader) rewritten() bool { return headChanged(r.f, *r.head, &r.buf) }

// errRewritten is offsetReader's error for a file whose first bytes
// changed while it was being read.
var errRewritten = errors.New("file rewritten while read")

// match is a matched path and the identity of the file there.
type match struct {
	path, key string
}

// poll does one round: match, open, read, send. Truncations are handled
// before new files are opened, so that a copy the paths match is resumed
// where its original was read to, not read again from its beginning.
func (t *tailer) poll(ctx context.Context, out chan<- Record) error {
	matches := t.expand()
	if !t.started {
		if err := t.resume(ctx, out, matches); err != nil {
			return err
		}
	}
	matched := make(map[string]string, len(matches))
	var fresh []match
	for _, m := range matches {
		matched[m.key] = m.path
		if tf, ok := t.files[m.key]; ok {
			if tf.orphan {
				tf.orphan = false // renamed back into the glob
			} else if tf.path != m.path {
				t.stats.Rotations.Add(1) // renamed within the glob
			}
			tf.path = m.path
			continue
		}
		fresh = append(fresh, m)
	}
	for _, key := range slices.Sorted(maps.Keys(t.files)) {
		tf := t.files[key]
		if _, ok := matched[key]; !ok && !tf.orphan {
			tf.orphan, tf.grewAt = true, time.Now()
			t.stats.Rotations.Add(1)
			if err := t.followRenamed(tf, matched); err != nil {
				return err
			}
		}
		if _, err := t.truncation(ctx, out, tf, matches, matched); err != nil {
			return err
		}
	}
	for _, m := range fresh {
		if t.files[m.key] != nil {
			continue // resumed as a copy, or opened as a successor
		}
		if _, err := t.open(ctx, m); err != nil {
			return err
		}
	}
	t.started = true
	var done []*tailFile
	for _, tf := range t.readOrder() {
		finished, err := t.read(ctx, out, tf, matches, matched)
		if err != nil {
			return err
		}
		if finished {
			done = append(done, tf)
		}
	}
	// Forgotten newest first: a kill between two Done records then keeps
	// the cursor of the older file, never that of an older file beside a
	// newer one forgotten, which its next start would take for a successor
	// never read (resumeSiblings).
	for _, tf := range slices.Backward(done) {
		if err := t.forget(ctx, out, tf); err != nil {
			return err
		}
	}
	return nil
}

// followRenamed opens, as rotated files read from their beginning, the
// successors of tf, which has just left the paths: if it is now a rotated
// sibling of its old path (path.N), the siblings with a smaller N
// modified at or after it, which are not open (files created and rotated
// away between two polls).
func (t *tailer) followRenamed(tf *tailFile, matched map[string]string) error {
	fi, err := tf.file.Stat()
	if err != nil {
		return nil // read reports it
	}
	for _, sb := range rotatedSiblings(tf.path) {
		if sb.key == tf.key {
			tf.rotatedTo = sb.path // read before its successors
			return t.resumeSiblings([]rotatedFile{{path: tf.path, mtime: fi.ModTime(), suffix: rotationSuffix(sb.path)}}, matched, nil)
		}
	}
	return nil
}

// readOrder returns the open files, rotated ones first (so that a writer's
// last lines in the old file come before the first lines of the new one),
// then in the order they were written: by modification time, then by
// rotation suffix (app.log.2, app.log.1, app.log), then by path.
func (t *tailer) readOrder() []*tailFile {
	order := make([]*tailFile, 0, len(t.files))
	mtimes := make(map[*tailFile]time.Time, len(t.files))
	for _, tf := range t.files {
		order = append(order, tf)
		if fi, err := tf.file.Stat(); err == nil {
			mtimes[tf] = fi.ModTime()
		}
	}
	slices.SortFunc(order, func(a, b *tailFile) int {
		if a.orphan != b.orphan {
			if a.orphan {
				return -1
			}
			return 1
		}
		if c := mtimes[a].Compare(mtimes[b]); c != 0 {
			return c
		}
		if c := cmp.Compare(rotationSuffix(b.orderPath()), rotationSuffix(a.orderPath())); c != 0 {
			return c
		}
		if c := strings.Compare(a.path, b.path); c != 0 {
			return c
		}
		return strings.Compare(a.key, b.key)
	})
	return order
}

// rotationBase returns path without its rotation suffix (".N").
func rotationBase(path string) string {
	if rotationSuffix(path) < 0 {
		return path
	}
	return path[:strings.LastIndexByte(path, '.')]
}

// rotationSuffix returns N of a path ending in ".N" (a rotated file, N
// digits), or -1.
func rotationSuffix(path string) int {
	i := strings.LastIndexByte(path, '.')
	if i < 0 || strings.ContainsRune(path[i:], filepath.Separator) {
		return -1
	}
	n, err := strconv.Atoi(path[i+1:])
	if err != nil || n < 0 || path[i+1] == '+' {
		return -1
	}
	return n
}

// expand returns the regular files the patterns match, sorted by path, each
// identity once (at its first path).
func (t *tailer) expand() []match {
	var paths []string
	for _, p := range t.f.Paths {
		m, _ := filepath.Glob(p) // patterns were checked by newTailer
		paths = append(paths, m...)
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	matches := make([]match, 0, len(paths))
	seen := make(map[string]bool, len(paths))
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			t.notRegular(p, fi, err)
			continue
		}
		key, ok := fileKey(fi)
		if !ok || seen[key] {
			continue
		}
		seen[key] = true
		matches = append(matches, match{path: p, key: key})
	}
	return matches
}

// notRegular reports a matched path that is not a regular file (a
// directory, a FIFO, a socket, a device, a dangling symbolic link or a
// loop of them) as a read error, once until it changes; it is never
// opened, so a FIFO cannot block the poll. A path gone since the glob is
// not reported.
func (t *tailer) notRegular(path string, fi os.FileInfo, statErr error) {
	lfi, err := os.Lstat(path)
	if err != nil {
		return
	}
	var what string
	switch {
	case statErr != nil && errors.Is(statErr, syscall.ELOOP):
		what = "a loop of symbolic links"
	case statErr != nil && errors.Is(statErr, os.ErrNotExist):
		what = "a dangling symbolic link"
	case statErr != nil:
		t.reportOpen(path, statErr)
		return
	case fi.IsDir():
		what = "a directory"
	case fi.Mode()&os.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case fi.Mode()&os.ModeSocket != 0:
		what = "a socket"
	case fi.Mode()&os.ModeDevice != 0:
		what = "a device"
	case lfi.Mode()&os.ModeSymlink != 0:
		what = "a symbolic link to a special file"
	default:
		what = "a special file"
	}
	msg := what + ", not a regular file: skipped"
	t.fail(path, msg, errors.New(msg))
}

// fileKey returns "<dev>:<inode>" of fi.
func fileKey(fi os.FileInfo) (string, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%d:%d", uint64(st.Dev), uint64(st.Ino)), true
}

// open starts tailing a matched file that is not open yet. It returns nil
// and no error for a file that cannot be opened (reported to Bad).
func (t *tailer) open(ctx context.Context, m match) (*tailFile, error) {
	fh, err := os.Open(m.path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			t.reportOpen(m.path, err)
		}
		return nil, nil
	}
	delete(t.openErrs, m.path)
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("stat %s: %w", m.path, err)
	}
	key, ok := fileKey(fi)
	fromEnd := !t.started && !t.freshPaths[m.path] && !t.freshKeys[m.key] && t.f.Start != "beginning"
	if ok && key != m.key && !fromEnd && t.files[m.key] == nil {
		// The file matched was rotated between the glob and the open:
		// read it as a rotated file; the one at the path now is opened
		// by the next poll.
		fh.Close()
		for _, sb := range rotatedSiblings(m.path) {
			if sb.key == m.key {
				tf, _, err := t.openRotated(sb.path, sb.key)
				return tf, err
			}
		}
		return nil, nil
	}
	if !ok || key != m.key || t.files[key] != nil {
		// Replaced between the glob and the open (renamed over it):
		// the next poll sees what is there now.
		fh.Close()
		return nil, nil
	}
	tf, err := t.newTailFile(fh, key, m.path)
	if err != nil {
		return nil, err
	}
	if fromEnd {
		off, lines, head, err := lastLineEnd(ctx, fh, fi.Size())
		if err != nil {
			fh.Close()
			return nil, err
		}
		tf.off, tf.line, tf.head = off, lines, head
	} else {
		tf.atZero()
	}
	tf.setFingerprint()
	t.files[key] = tf
	return tf, nil
}

// atZero records, for a file at offset 0, the rotated siblings of its
// path: the newest modification time (Unix nanoseconds; 1 if it has none)
// and their keys.
func (tf *tailFile) atZero() {
	tf.siblingsAt0, tf.siblingKeys = 1, map[string]bool{}
	for _, sb := range rotatedSiblings(tf.path) {
		tf.siblingsAt0 = max(tf.siblingsAt0, sb.mtime.UnixNano())
		tf.siblingKeys[sb.key] = true
	}
}

// copiedSince reports whether a rotated sibling of tf's path that is not
// open was written since tf was at offset 0 with nothing read: a copy of
// lines it never read (copytruncate), to be read before what it holds now.
func (t *tailer) copiedSince(tf *tailFile) bool {
	for _, sb := range rotatedSiblings(tf.path) {
		if t.files[sb.key] != nil || t.freshKeys[sb.key] {
			continue // read already, or to be opened on this poll
		}
		if sb.mtime.UnixNano() > tf.siblingsAt0 || (tf.siblingKeys != nil && !tf.siblingKeys[sb.key]) {
			return true
		}
	}
	return false
}

func (t *tailer) newTailFile(fh *os.File, key, path string) (*tailFile, error) {
	dec, err := t.decoding.newDecoder()
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("parser: %w", err)
	}
	tf := &tailFile{key: key, path: path, file: fh, dec: dec, tailOff: -1}
	if fi, err := fh.Stat(); err == nil {
		tf.size = fi.Size() // a file that shrinks from now on was truncated
		tf.statAt = time.Now()
	}
	return tf, nil
}

func (t *tailer) reportOpen(path string, err error) {
	msg := err.Error()
	if pe, ok := err.(*os.PathError); ok {
		msg = pe.Op + ": " + pe.Err.Error() // the path is in the position
	}
	t.fail(path, msg, err)
}

// lastLineEnd returns the offset just after the last newline among the
// first size bytes of f, and the number of newlines there: where "start at
// the end" begins without cutting a line being written. head is the
// file's first KiB, as read.
func lastLineEnd(ctx context.Context, f *os.File, size int64) (off, lines int64, head []byte, err error) {
	buf := make([]byte, 64<<10)
	for pos := int64(0); pos < size; {
		if ctx.Err() != nil {
			return 0, 0, nil, errStopped
		}
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-pos)], pos)
		chunk := buf[:n]
		if pos == 0 {
			head = bytes.Clone(chunk[:min(n, fingerprintBytes)])
		}
		if c := bytes.Count(chunk, []byte{'\n'}); c > 0 {
			lines += int64(c)
			off = pos + int64(bytes.LastIndexByte(chunk, '\n')) + 1
		}
		pos += int64(n)
		if err == io.EOF {
			break // shrank meanwhile: the next poll sees the truncation
		}
		if err != nil {
			return 0, 0, nil, fmt.Errorf("read %s: %w", f.Name(), err)
		}
	}
	return off, lines, head, nil
}

// resume opens the files of the cursors, on the first poll.
func (t *tailer) resume(ctx context.Context, out chan<- Record, matches []match) error {
	matched := make(map[string]string, len(matches)) // key → path
	for _, m := range matches {
		matched[m.key] = m.path
	}
	claimed := make(map[string]bool, len(t.f.Cursors))
	for _, c := range t.f.Cursors {
		claimed[c.Key] = true
	}
	var cands []*candidate // for resumeByContent, made on first need
	var rotated []rotatedFile
	for _, c := range t.f.Cursors {
		if c.Key == "" || t.files[c.Key] != nil {
			continue
		}
		// Whatever is at the cursor's path now, if it is not the cursor's
		// file, was created while we were down.
		t.freshPaths[c.Path] = true
		at := Position{File: c.Path, Line: int(c.Line), Offset: c.Offset}
		path, isMatched := matched[c.Key]
		note := ""
		if !isMatched {
			// Not among the matched files. A matched file with the
			// cursor's content is its continuation (copied or moved
			// there), even if the original is still in its old place:
			// taking the original for a rotated file would read the
			// same lines twice. Failing that, the original, found by key
			// in its directory, was rotated while we were down.
			resumed, n, err := t.resumeByContent(ctx, out, c, matches, claimed, &cands, false)
			if err != nil {
				return err
			}
			if resumed {
				continue
			}
			note = n
			path = findKey(c)
		}
		if path == "" {
			t.bad(at, "cursor: file "+c.Key+" not found"+note+": lines written to it after this position are lost")
			if !send(ctx, out, Record{Source: t.f.Name, Cursor: c, Progress: true, Done: true}) {
				return errStopped
			}
			continue
		}
		fh, head, ok, err := openCursor(path, c)
		if (err != nil && errors.Is(err, os.ErrNotExist)) || (err == nil && !ok && keyAt(path) != c.Key) {
			// Rotated since the glob: look for it again by key.
			if p := findKey(c); p != "" {
				path, isMatched = p, p == matched[c.Key]
				fh, head, ok, err = openCursor(path, c)
			}
		}
		if err != nil {
			t.reportOpen(path, err)
			continue // not forgotten: perhaps readable on the next start
		}
		if !ok {
			// Truncated or rewritten while we were down: a copy holding
			// what the cursor saw (copytruncate) goes on from the
			// cursor, and the file itself is read from its beginning
			// under the same key.
			cp, err := t.resumeCopy(ctx, out, c, matches, matched, claimed)
			if err != nil {
				return err
			}
			if cp != nil {
				if fi, err := cp.file.Stat(); err == nil {
					rotated = append(rotated, rotatedFile{path: c.Path, mtime: fi.ModTime(), suffix: rotationSuffix(cp.path)})
				}
			} else {
				t.bad(at, "cursor: file "+c.Key+" at "+path+" changed (truncated, rewritten or a reused inode): reading it from the beginning")
			}
			if isMatched {
				// Read again from its beginning; its cursor goes back at
				// once (after the copy's), so that a checkpoint never
				// keeps the cursor of content that is gone.
				t.freshKeys[c.Key] = true
				tf, err := t.open(ctx, match{path, c.Key})
				if err != nil {
					return err
				}
				if tf != nil {
					if _, _, err := t.checkTruncation(tf); err != nil {
						return err
					}
					if err := t.reset(ctx, out, tf); err != nil {
						return err
					}
				}
				continue
			}
			// Rotated away too: read it all as a rotated file.
			tf, since, err := t.openRotated(path, c.Key)
			if err != nil {
				return err
			}
			if tf == nil {
				if !send(ctx, out, Record{Source: t.f.Name, Cursor: c, Progress: true, Done: true}) {
					return errStopped
				}
				continue
			}
			rotated = append(rotated, rotatedFile{path: t.logPath(c.Path), mtime: since, suffix: rotationSuffix(path)})
			continue
		}
		tf, err := t.newTailFile(fh, c.Key, path)
		if err != nil {
			return err
		}
		tf.off, tf.line, tf.head, tf.dec.last = c.Offset, c.Line, head, c.Time
		tf.setFingerprint()
		t.files[c.Key] = tf
		if c.Offset == 0 && path == c.Path && c.ModTime != 0 {
			// Nothing read from it, so a copytruncate while we were
			// down shows only as a sibling written since.
			tf.siblingsAt0 = c.ModTime
			rotated = append(rotated, rotatedFile{path: c.Path, mtime: time.Unix(0, c.ModTime+1), suffix: -1})
		}
		if path != c.Path {
			if fi, err := fh.Stat(); err == nil {
				rotated = append(rotated, rotatedFile{path: t.logPath(c.Path), mtime: fi.ModTime(), suffix: rotationSuffix(path)})
			}
		}
		if !isMatched {
			// Rotated while we were down: finish it, then the new file.
			tf.orphan, tf.grewAt = true, time.Now()
			t.stats.Rotations.Add(1)
		}
	}
	return t.resumeSiblings(rotated, matched, claimed)
}

// logPath returns the path whose rotated siblings p is among: p if the
// paths match it, else p without its rotation suffix. The cursor of a
// rotated file read on start carries the rotated name (app.log.1); its
// successors are siblings of app.log, not of app.log.1.
func (t *tailer) logPath(p string) string {
	for _, pat := range t.f.Paths {
		if ok, _ := filepath.Match(pat, p); ok {
			return p
		}
	}
	return rotationBase(p)
}

// rotatedFile is the path a cursor's file had, found rotated away from it
// on start, with the file's modification time.
type rotatedFile struct {
	path   string
	mtime  time.Time
	suffix int // rotationSuffix of where it was found, if a sibling of path; else -1
	// known, if set, are the siblings of an offset-0 file when it went
	// there: one of another key is taken whatever its modification time.
	known map[string]bool
}

// resumeSiblings reads from their beginning the files rotated from a
// cursor's path after its file was (rotated twice or more while we were
// down): the rotated siblings of the path (path.N) with a smaller N than
// the file's, if it is one of them, and modified at or after it, which no
// cursor names. Matched ones are read from the beginning whatever Start
// says; the others are opened as rotated files.
func (t *tailer) resumeSiblings(rotated []rotatedFile, matched map[string]string, claimed map[string]bool) error {
	for _, r := range rotated {
		for _, sb := range rotatedSiblings(r.path) {
			if (sb.mtime.Before(r.mtime) && (r.known == nil || r.known[sb.key])) || (r.suffix >= 0 && rotationSuffix(sb.path) >= r.suffix) ||
				claimed[sb.key] || t.files[sb.key] != nil {
				continue
			}
			if _, ok := matched[sb.key]; ok {
				t.freshKeys[sb.key] = true
				continue
			}
			if t.copyOfOpen(sb.path) {
				continue
			}
			if _, _, err := t.openRotated(sb.path, sb.key); err != nil {
				return err
			}
		}
	}
	return nil
}

// copyOfOpen reports whether the file at path begins with what an open
// file the paths match has read (its first KiB, as far as read): a copy
// made by a copytruncate of that file (on start, after its cursor was
// looked up), which its truncation resumes from the read position, not a
// successor to read from its beginning.
func (t *tailer) copyOfOpen(path string) bool {
	fh, err := os.Open(path)
	if err != nil {
		return false
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return false
	}
	for _, tf := range t.files {
		if tf.orphan || tf.off == 0 || tf.fpHex == "" || fi.Size() < tf.off {
			continue
		}
		if head, ok := readHead(fh, tf.off); ok && hashHex(head) == tf.fpHex {
			return true
		}
	}
	return false
}

// sibling is a rotated sibling of a path.
type sibling struct {
	match
	mtime time.Time
}

// rotatedSiblings returns the regular files named like rotated copies of
// path (path.N) in its directory.
func rotatedSiblings(path string) []sibling {
	dir, base := filepath.Split(path)
	entries, err := os.ReadDir(filepath.Clean(dir))
	if err != nil {
		return nil
	}
	var sbs []sibling
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if !strings.HasPrefix(e.Name(), base+".") || rotationSuffix(p) < 0 {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if key, ok := fileKey(fi); ok {
			sbs = append(sbs, sibling{match{p, key}, fi.ModTime()})
		}
	}
	return sbs
}

// openRotated opens the file with key at path, out of the glob, to be
// read from its beginning and finished like a rotated file; nil if it is
// not there. since is its modification time.
func (t *tailer) openRotated(path, key string) (tf *tailFile, since time.Time, err error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, since, nil
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, since, nil
	}
	if k, _ := fileKey(fi); k != key {
		fh.Close()
		return nil, since, nil
	}
	tf, err = t.newTailFile(fh, key, path)
	if err != nil {
		return nil, since, err
	}
	tf.setFingerprint()
	tf.orphan, tf.grewAt = true, time.Now()
	t.stats.Rotations.Add(1)
	t.files[key] = tf
	return tf, fi.ModTime(), nil
}

// candidate is a matched file that no cursor names by key, which may
// hold the content of a cursor whose file has another key now.
type candidate struct {
	match
	size   int64
	head   []byte // the first min(size, 1 KiB) bytes
	headFP string // hash of a full 1 KiB head, once computed
	taken  bool   // resumed by content already
}

// fingerprint returns the hash of the first min(off, 1 KiB) bytes, or ""
// if the file is shorter than off.
func (cd *candidate) fingerprint(off int64) string {
	n := min(off, fingerprintBytes)
	if cd.size < off || int64(len(cd.head)) < n {
		return ""
	}
	if n < fingerprintBytes {
		return hashHex(cd.head[:n])
	}
	if cd.headFP == "" {
		cd.headFP = hashHex(cd.head)
	}
	return cd.headFP
}

// candidates returns the matched files that no cursor claims by key and
// that are not open, with their size and first KiB.
func (t *tailer) candidates(matches []match, claimed map[string]bool) []*candidate {
	cands := []*candidate{}
	for _, m := range matches {
		if claimed[m.key] || t.files[m.key] != nil {
			continue
		}
		fh, err := os.Open(m.path)
		if err != nil {
			continue // open() reports it
		}
		if fi, err := fh.Stat(); err == nil {
			if key, _ := fileKey(fi); key == m.key {
				head, _ := readHead(fh, fi.Size())
				cands = append(cands, &candidate{match: m, size: fi.Size(), head: head})
			}
		}
		fh.Close()
	}
	return cands
}

// resumeByContent looks for the content of c, whose file is not among the
// matches by key, among the matched
// files that no cursor claims by key (*cands, made on first need): a file
// of at least c.Offset bytes whose first min(Offset, 1 KiB) bytes hash to
// c.Fingerprint and whose min(Offset, 1 KiB) bytes before Offset hash to
// c.TailFingerprint is the same log under another device or inode
// (copied, moved to another file system, a new mount). If exactly one
// file matches, it is resumed at c's Offset and Line under its own key:
// its first Progress record is sent, then the Done record that forgets
// c.Key, so that a checkpoint between the two still names one of them.
// If truncated (c's file was truncated and goes on under c.Key: the
// content is looked for in a copy), no Done record is sent, and a cursor
// without TailFingerprint is matched on its Fingerprint alone.
// If several match, none is (which copy goes on is unknown): note says so
// for the caller's report. Otherwise, cursors without a TailFingerprint
// and cursors at offset 0 are never matched by content.
func (t *tailer) resumeByContent(ctx context.Context, out chan<- Record, c FileCursor, matches []match, claimed map[string]bool, cands *[]*candidate, truncated bool) (resumed bool, note string, err error) {
	tailFP := c.TailFingerprint
	if (tailFP == "" && !truncated) || c.Fingerprint == "" || c.Offset <= 0 {
		return false, "", nil
	}
	if *cands == nil {
		*cands = t.candidates(matches, claimed)
	}
	var found []*candidate
	var fh *os.File
	var head, tail []byte
	for _, cd := range *cands {
		if cd.taken || t.files[cd.key] != nil || cd.fingerprint(c.Offset) != c.Fingerprint {
			continue
		}
		f, h, tl, ok := openContent(cd.match, c, tailFP)
		if !ok {
			continue
		}
		found = append(found, cd)
		if fh != nil {
			fh.Close()
		}
		fh, head, tail = f, h, tl
		if len(found) > 1 {
			fh.Close()
			fh = nil
		}
	}
	switch {
	case len(found) == 0:
		return false, "", nil
	case len(found) > 1:
		paths := make([]string, 0, 3)
		for _, cd := range found[:min(len(found), 3)] {
			paths = append(paths, cd.path)
		}
		if len(found) > 3 {
			paths = append(paths, "…")
		}
		return false, fmt.Sprintf(", and %d files hold its content (%s): ambiguous, none resumed by content", len(found), strings.Join(paths, ", ")), nil
	}
	cd := found[0]
	tf, err := t.newTailFile(fh, cd.key, cd.path)
	if err != nil {
		return false, "", err
	}
	tf.off, tf.line, tf.head, tf.dec.last = c.Offset, c.Line, head, c.Time
	tf.setFingerprint()
	if tailFP != "" {
		tf.tailOff, tf.tailFP = c.Offset, hashHex(tail)
	}
	t.files[cd.key] = tf
	cd.taken = true
	t.stats.ContentResumes.Add(1)
	nc := tf.settledCursor()
	if !send(ctx, out, Record{Source: t.f.Name, Cursor: nc, Progress: true}) {
		return false, "", errStopped
	}
	tf.sent, tf.sentAny = nc, true
	if !truncated && !send(ctx, out, Record{Source: t.f.Name, Cursor: c, Progress: true, Done: true}) {
		return false, "", errStopped
	}
	return true, "", nil
}

// resumeCopy resumes by content (resumeByContent) the copy of a cursor
// whose file was truncated or rewritten while we were down, among the
// matched files and the rotated siblings of its path, without forgetting
// c.Key, which goes on with the file read again from its beginning. A copy
// the glob does not match is read as a rotated file. It returns the copy,
// or nil.
func (t *tailer) resumeCopy(ctx context.Context, out chan<- Record, c FileCursor, matches []match, matched map[string]string, claimed map[string]bool) (*tailFile, error) {
	all := slices.Clone(matches)
	for _, sb := range rotatedSiblings(c.Path) {
		// Also a matched file found under another name than the poll's
		// glob gave it: renamed since (a rotation while the daemon
		// starts), it is looked for where it is now.
		if p, ok := matched[sb.key]; !ok || p != sb.path {
			all = append(all, sb.match)
		}
	}
	var cands []*candidate
	if _, _, err := t.resumeByContent(ctx, out, c, all, claimed, &cands, true); err != nil {
		return nil, err
	}
	for _, cd := range cands {
		if !cd.taken {
			continue
		}
		tf := t.files[cd.key]
		if _, ok := matched[cd.key]; !ok {
			tf.orphan, tf.grewAt = true, time.Now()
			t.stats.Rotations.Add(1)
		}
		return tf, nil
	}
	return nil, nil
}

// openContent opens the file of m and checks that it has the content of c
// before c.Offset (see resumeByContent): its key still m's, at least
// c.Offset bytes, c.Fingerprint and tailFP. head and tail are the hashed
// bytes.
func openContent(m match, c FileCursor, tailFP string) (fh *os.File, head, tail []byte, ok bool) {
	fh, head, tail, ok, _ = openChecked(m.path, m.key, c, tailFP)
	return fh, head, tail, ok
}

// keyAt returns the key of the file at path, or "".
func keyAt(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return ""
	}
	key, _ := fileKey(fi)
	return key
}

// findKey looks for the file of c in the directory of its path (and of the
// path's target, when it is a symbolic link); "" if it is not there. A
// scan during which an entry vanished (a rotation renaming app.log.N to
// app.log.N+1 behind it) is made again, up to findKeyScans times.
func findKey(c FileCursor) string {
	dirs := []string{filepath.Dir(c.Path)}
	if real, err := filepath.EvalSymlinks(c.Path); err == nil {
		if d := filepath.Dir(real); d != dirs[0] {
			dirs = append(dirs, d)
		}
	}
	for range findKeyScans {
		moved := false
		for _, dir := range dirs {
			entries, err := os.ReadDir(dir)
			if err != nil {
				continue
			}
			for _, e := range entries {
				p := filepath.Join(dir, e.Name())
				fi, err := os.Stat(p)
				if errors.Is(err, os.ErrNotExist) {
					moved = true
				}
				if err != nil || !fi.Mode().IsRegular() {
					continue
				}
				if key, _ := fileKey(fi); key == c.Key {
					return p
				}
			}
		}
		if !moved {
			break
		}
	}
	return ""
}

const findKeyScans = 5

// openCursor opens path and checks that it is still the file of c, with
// the content c saw: ok is false if it is not. head is the first
// min(c.Offset, 1 KiB) bytes.
func openCursor(path string, c FileCursor) (fh *os.File, head []byte, ok bool, err error) {
	fh, head, _, ok, err = openChecked(path, c.Key, c, "")
	return fh, head, ok, err
}

// openChecked opens path and checks that it is the file with key, at
// least c.Offset bytes long, whose first min(c.Offset, 1 KiB) bytes hash
// to c.Fingerprint and, when tailFP is set, whose min(c.Offset, 1 KiB)
// bytes before c.Offset hash to tailFP. ok is false (and fh nil) if not;
// err is for a file that cannot be opened or stat'ed.
func openChecked(path, key string, c FileCursor, tailFP string) (fh *os.File, head, tail []byte, ok bool, err error) {
	fh, err = os.Open(path)
	if err != nil {
		return nil, nil, nil, false, err
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, nil, nil, false, err
	}
	if k, _ := fileKey(fi); k == key && fi.Size() >= c.Offset {
		var hok, tok bool
		head, hok = readHead(fh, c.Offset)
		tok = tailFP == ""
		if !tok {
			tail, tok = readTail(fh, c.Offset)
			tok = tok && hashHex(tail) == tailFP
		}
		if hok && tok && hashHex(head) == c.Fingerprint {
			return fh, head, tail, true, nil
		}
	}
	fh.Close()
	return nil, nil, nil, false, nil
}

// read reads what one file has gained since the last poll and sends it.
// finished is true for an orphan read to its end and to be forgotten.
func (t *tailer) read(ctx context.Context, out chan<- Record, tf *tailFile, matches []match, matched map[string]string) (finished bool, err error) {
	before := tf.readPos()
	truncated, err := t.truncation(ctx, out, tf, matches, matched)
	if err != nil {
		return false, err
	}
	if truncated {
		before = 0
	}
	if tf.hold {
		tf.hold, tf.held = false, true
		return false, t.progress(ctx, out, tf)
	}
	if tf.readPos() == 0 && (tf.held || tf.siblingKeys == nil) && tf.siblingsAt0 != 0 && !tf.orphan {
		tf.held = false
		// After a hold (or a restart at offset 0): the copies have been
		// opened (and read before it); its cursor now takes them in.
		tf.atZero()
	}
	base := rotationBase(tf.orderPath())
	if tf.off == 0 && tf.dec.last.IsZero() {
		// A generation read from its start goes on from the one read
		// before it (rotated files are read first).
		tf.dec.last = t.lastTime[base]
	}
	if tf.rd == nil {
		tf.startReader(t.f.MaxLineBytes, true)
		if tf.off == 0 && tf.siblingsAt0 != 0 && !tf.orphan {
			tf.src.copied = func() bool { return t.copiedSince(tf) }
		}
	}
	if err := t.drain(ctx, out, tf); err != nil {
		return false, err
	}
	if !tf.dec.last.IsZero() {
		t.lastTime[base] = tf.dec.last
	}
	grew := tf.readPos() != before
	if !grew && !tf.pending() {
		tf.rd = nil // idle: free the line buffer
	}
	if tf.orphan {
		if grew {
			tf.grewAt = time.Now()
		}
		if t.finished(tf) {
			return true, t.finish(ctx, out, tf)
		}
	}
	return false, t.progress(ctx, out, tf)
}

// truncation checks whether tf was truncated or rewritten (copytruncate)
// and, if so, resumes its copy (a matched file or a rotated sibling of its
// path holding what was read) from the read position, opens the siblings
// rotated after the copy from their beginning, and sends the Reset record
// of tf at offset 0, after the copy's first record, so that a checkpoint
// holds both. The copy and its successors are read by the poll's read
// loop (orphans and older files first).
func (t *tailer) truncation(ctx context.Context, out chan<- Record, tf *tailFile, matches []match, matched map[string]string) (bool, error) {
	truncated, pre, err := t.checkTruncation(tf)
	if err != nil || !truncated {
		return false, err
	}
	cp, err := t.resumeCopy(ctx, out, pre, matches, matched, nil)
	if err != nil {
		return true, err
	}
	var succ []rotatedFile
	if cp != nil {
		if fi, err := cp.file.Stat(); err == nil {
			succ = append(succ, rotatedFile{path: pre.Path, mtime: fi.ModTime(), suffix: rotationSuffix(cp.path)})
		}
	} else if pre.Offset == 0 && pre.ModTime != 0 {
		// It shrank, or was refilled while a copy appeared, with nothing
		// read from it: the lines it lost can only be in the siblings
		// written since it was at offset 0, which are read first.
		succ = append(succ, rotatedFile{path: pre.Path, mtime: time.Unix(0, pre.ModTime+1), suffix: -1, known: tf.siblingKeys})
		tf.hold = true
	}
	if err := t.resumeSiblings(succ, matched, nil); err != nil {
		return true, err
	}
	return true, t.reset(ctx, out, tf)
}

// reset sends the Reset record of tf, back at offset 0: the lines read
// before can no longer be read again, and the daemon checkpoints now.
func (t *tailer) reset(ctx context.Context, out chan<- Record, tf *tailFile) error {
	if !tf.hold {
		tf.atZero()
	}
	c := tf.settledCursor()
	if !send(ctx, out, Record{Source: t.f.Name, Cursor: c, Progress: true, Reset: true}) {
		return errStopped
	}
	tf.sent, tf.sentAny = c, true
	return nil
}

// racyWindow is the coarsest modification-time granularity a file
// source trusts (FAT's 2 s; Linux filesystems without fine-grained
// timestamps tick once a jiffy, 1-10 ms): a size and modification time
// taken less than this after the modification may hide a later write.
const racyWindow = 2 * time.Second

// checkTruncation starts a file again from the beginning if it shrank or
// its first bytes changed, and reports whether it did, with the cursor it
// had (its TailFingerprint as of the last poll).
func (t *tailer) checkTruncation(tf *tailFile) (truncated bool, pre FileCursor, err error) {
	fi, err := tf.file.Stat()
	if err != nil {
		return false, pre, fmt.Errorf("stat %s: %w", tf.path, err)
	}
	size, mtime := fi.Size(), fi.ModTime()
	racy := tf.statAt.Sub(tf.mtime) < racyWindow
	changed := size != tf.size || !mtime.Equal(tf.mtime) || racy
	prevSize := tf.size
	tf.size, tf.mtime, tf.statAt = size, mtime, time.Now()
	truncated = size < tf.readPos() || size < prevSize
	if !truncated && changed {
		truncated = tf.rewritten()
	}
	if !truncated && changed && tf.readPos() == 0 && tf.siblingsAt0 != 0 && !tf.orphan {
		// Nothing read, so no first bytes to compare: refilled past its
		// old size between two polls, a copytruncate shows only as the
		// copy.
		truncated = t.copiedSince(tf)
	}
	if truncated {
		pre = tf.cursor()
		if tf.tailOff == tf.off {
			pre.TailFingerprint = tf.tailFP
		}
		t.stats.Truncations.Add(1)
		tf.rd, tf.off, tf.line, tf.head = nil, 0, 0, tf.head[:0]
		tf.tailOff = -1
		tf.setFingerprint()
	}
	return truncated, pre, nil
}

// drain reads and sends the complete lines available from tf.rd.
func (t *tailer) drain(ctx context.Context, out chan<- Record, tf *tailFile) error {
	var lag lagTracker
	readAt := t.now()
	defer lag.flush(t.stats, readAt)
	for {
		line, pos, err := tf.rd.Next()
		if err == io.EOF {
			return nil
		}
		at := Position{File: tf.path, Line: int(tf.baseLine) + pos.Line, Offset: tf.base + pos.Offset}
		if errors.Is(err, errRewritten) {
			// Copytruncate under way: what follows the cursor is in the
			// copy now; the next poll sees the truncation and resumes it.
			tf.rd = nil
			return nil
		}
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) {
				return fmt.Errorf("read %s: %w", tf.path, err)
			}
			tf.consumed(at)
			tf.dec.reject(le, at)
			continue
		}
		tf.consumed(at)
		ev := tf.dec.line(line, at)
		if ev == nil {
			continue
		}
		lag.see(ev.Time)
		c := tf.cursor()
		if !send(ctx, out, Record{Event: ev.Clone(), Source: t.f.Name, Cursor: c}) {
			return errStopped
		}
		tf.sent, tf.sentAny = c, true
	}
}

// consumed moves the cursor past the line at pos, just returned by tf.rd.
func (tf *tailFile) consumed(pos Position) {
	tf.off, tf.line = tf.base+tf.rd.Offset(), int64(pos.Line)
	if tf.fpLen < fingerprintBytes {
		tf.setFingerprint()
	}
}

// finished reports whether an orphan has stopped growing: for rotateWait
// since the source last saw it grow or, in Once mode, where there is no
// earlier poll to compare with, since it was last modified.
func (t *tailer) finished(tf *tailFile) bool {
	if t.f.Once {
		return time.Since(tf.mtime) >= rotateWait
	}
	return time.Since(tf.grewAt) >= rotateWait
}

// finish reads an orphan's final unterminated line, if any; forget then
// closes it.
func (t *tailer) finish(ctx context.Context, out chan<- Record, tf *tailFile) error {
	if tf.pending() {
		tf.startReader(t.f.MaxLineBytes, false)
		return t.drain(ctx, out, tf)
	}
	return nil
}

// forget closes a finished orphan and sends its Done record.
func (t *tailer) forget(ctx context.Context, out chan<- Record, tf *tailFile) error {
	c := tf.settledCursor()
	tf.file.Close()
	delete(t.files, tf.key)
	if !send(ctx, out, Record{Source: t.f.Name, Cursor: c, Progress: true, Done: true}) {
		return errStopped
	}
	return nil
}

// progress sends the settled cursor of a file if it moved since the last
// one sent: without an event, or by events whose cursors had no
// TailFingerprint yet.
func (t *tailer) progress(ctx context.Context, out chan<- Record, tf *tailFile) error {
	c := tf.settledCursor()
	if tf.sentAny && c == tf.sent {
		return nil
	}
	if !send(ctx, out, Record{Source: t.f.Name, Cursor: c, Progress: true}) {
		return errStopped
	}
	tf.sent, tf.sentAny = c, true
	return nil
}
