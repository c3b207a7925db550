package state

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func open(t *testing.T) *Dir {
	t.Helper()
	d, err := Open(filepath.Join(t.TempDir(), "state"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestRoundTrip(t *testing.T) {
	d := open(t)
	for _, payload := range [][]byte{[]byte(`{"a":1}`), {}, bytes.Repeat([]byte("x\n"), 100_000)} {
		if err := d.Write("cursor", payload); err != nil {
			t.Fatal(err)
		}
		got, err := d.Read("cursor")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, payload) {
			t.Errorf("got %d bytes, want %d", len(got), len(payload))
		}
	}
	fi, err := os.Stat(d.Path())
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode %v, want 0700", got)
	}
	fi, err = os.Stat(filepath.Join(d.Path(), "cursor"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode %v, want 0600", got)
	}
}

func TestReadAbsent(t *testing.T) {
	d := open(t)
	_, err := d.Read("nothing")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want fs.ErrNotExist", err)
	}
	if errors.Is(err, ErrCorrupt) {
		t.Errorf("absent file reported corrupt: %v", err)
	}
}

func TestCorrupt(t *testing.T) {
	payload := []byte(`{"cursor":"abc","offset":12345}`)
	good := append(frame(payload), payload...)
	hdr := len(frame(payload))
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x01
		return b
	}
	cases := []struct {
		name   string
		file   []byte
		reason string // substring of the reason
	}{
		{"empty", nil, "empty file"},
		{"truncated payload", good[:len(good)-5], "truncated: header says 31 bytes, file holds 26"},
		{"truncated header", good[:20], "truncated: incomplete header"},
		{"flipped payload byte", flip(hdr + 3), "checksum mismatch"},
		{"flipped checksum digit", flip(len("secwatch-state v1 ") + 10), "checksum"},
		{"trailing data", append(bytes.Clone(good), "junk"...), "4 bytes of trailing data"},
		{"wrong version", bytes.Replace(good, []byte(" v1 "), []byte(" v2 "), 1), `unsupported format version "v2"`},
		{"not framed", payload, "not a secwatch state file"},
		{"bad length", bytes.Replace(good, []byte(" 31\n"), []byte(" -1\n"), 1), "bad length field"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := open(t)
			p := filepath.Join(d.Path(), "windows")
			if err := os.WriteFile(p, tc.file, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := d.Read("windows")
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *CorruptError", err)
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("errors.Is(%v, ErrCorrupt) = false", err)
			}
			if !strings.Contains(ce.Reason, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", ce.Reason, tc.reason)
			}
			if ce.Name != "windows" || ce.Path != p {
				t.Errorf("name %q path %q, want windows and %s", ce.Name, ce.Path, p)
			}
			// Moved aside, content kept, and the next Read sees no file.
			if want := p + ".corrupt-1"; ce.MovedTo != want {
				t.Errorf("moved to %q, want %q", ce.MovedTo, want)
			}
			kept, err := os.ReadFile(p + ".corrupt-1")
			if err != nil || !bytes.Equal(kept, tc.file) {
				t.Errorf("corrupt copy: %q, %v; want the original bytes", kept, err)
			}
			if _, err := d.Read("windows"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("second read: got %v, want fs.ErrNotExist", err)
			}
		})
	}
}

func TestCorruptNumbering(t *testing.T) {
	d := open(t)
	p := filepath.Join(d.Path(), "x")
	for i := 1; i <= 3; i++ {
		os.WriteFile(p, []byte("garbage"), 0o600)
		_, err := d.Read("x")
		var ce *CorruptError
		if !errors.As(err, &ce) {
			t.Fatalf("got %v, want *CorruptError", err)
		}
		if want := fmt.Sprintf("%s.corrupt-%d", p, i); ce.MovedTo != want {
			t.Errorf("moved to %s, want %s", ce.MovedTo, want)
		}
	}
	names, _ := d.List()
	if got, want := strings.Join(names, ","), "x.corrupt-1,x.corrupt-2,x.corrupt-3"; got != want {
		t.Errorf("List = %s, want %s", got, want)
	}
}

func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(path)
	if err == nil {
		t.Fatal("second Open of a locked directory succeeded")
	}
	lock := filepath.Join(path, "lock")
	if !strings.Contains(err.Error(), lock+" is locked") || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("error %q should name %s and the holder's pid", err, lock)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d2, err := Open(path)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	d2.Close()
}

func TestOpenConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	const n = 8
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		opened []*Dir
	)
	for range n {
		wg.Go(func() {
			if d, err := Open(path); err == nil {
				mu.Lock()
				opened = append(opened, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(opened) != 1 {
		t.Errorf("%d concurrent Opens succeeded, want exactly 1", len(opened))
	}
	for _, d := range opened {
		d.Close()
	}
}

// A write that fails at any step leaves the previous content readable and
// no temporary file behind, and says what failed.
func TestWriteFailureKeepsOldFile(t *testing.T) {
	for _, step := range []string{"create", "write", "sync", "rename"} {
		t.Run(step, func(t *testing.T) {
			d := open(t)
			if err := d.Write("cursor", []byte("old")); err != nil {
				t.Fatal(err)
			}
			failAt(d, step, syscall.ENOSPC)
			err := d.Write("cursor", []byte("new content"))
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("got %v, want ENOSPC", err)
			}
			if want := "write state file " + filepath.Join(d.Path(), "cursor") + ": no space left on device"; err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
			d.fault = nil
			got, err := d.Read("cursor")
			if err != nil || string(got) != "old" {
				t.Errorf("after failed write: %q, %v; want \"old\"", got, err)
			}
			checkNoTemps(t, d)
		})
	}
}

// A crash between creating the temporary file and renaming it leaves a
// temporary file; the next Open removes it and the old content stands.
func TestOpenRemovesLeftoverTemp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state")
	d, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	d.Write("cursor", []byte("old"))
	tmp := filepath.Join(path, tempPrefix("cursor")+"123")
	os.WriteFile(tmp, []byte("half"), 0o600)
	d.Close()
	d, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("leftover temp file still there: %v", err)
	}
	if got, err := d.Read("cursor"); err != nil || string(got) != "old" {
		t.Errorf("got %q, %v; want \"old\"", got, err)
	}
}

// The directory vanishing under a running daemon (or becoming unusable)
// gives an error naming the file, not a panic.
func TestWriteDirectoryGone(t *testing.T) {
	d := open(t)
	if err := os.RemoveAll(d.Path()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.Path(), nil, 0o600); err != nil { // a file where the directory was
		t.Fatal(err)
	}
	err := d.Write("cursor", []byte("x"))
	if !errors.Is(err, syscall.ENOTDIR) || !strings.Contains(err.Error(), "write state file "+filepath.Join(d.Path(), "cursor")) {
		t.Errorf("got %v, want an ENOTDIR error naming the file", err)
	}
	if err := d.Append("journal", []byte("x\n")); err == nil {
		t.Error("Append into a missing directory succeeded")
	}
}

func TestWriteReadOnly(t *testing.T) {
	d := open(t)
	failAt(d, "create", &fs.PathError{Op: "open", Path: filepath.Join(d.Path(), ".x"), Err: syscall.EROFS})
	err := d.Write("cursor", []byte("x"))
	if !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), "read-only file system") {
		t.Errorf("got %v, want EROFS", err)
	}
}

func TestOpenNotADirectory(t *testing.T) {
	p := filepath.Join(t.TempDir(), "file")
	os.WriteFile(p, nil, 0o600)
	if _, err := Open(p); err == nil || !strings.Contains(err.Error(), "open state directory") {
		t.Errorf("got %v, want an open state directory error", err)
	}
	if _, err := Open(filepath.Join(p, "sub")); err == nil {
		t.Error("Open below a file succeeded")
	}
}

func TestNames(t *testing.T) {
	d := open(t)
	for _, name := range []string{"", ".", "..", "../x", "a/b", ".hidden", "lock", "a\x00b"} {
		if err := d.Write(name, nil); err == nil {
			t.Errorf("Write(%q) succeeded", name)
		}
		if _, err := d.Read(name); err == nil || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Read(%q): got %v, want an invalid-name error", name, err)
		}
	}
}

func TestSubAndList(t *testing.T) {
	d := open(t)
	sub, err := d.Sub("outbox")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.Write("a.json", []byte("A")); err != nil {
		t.Fatal(err)
	}
	if err := sub.Write("b.json", []byte("B")); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Sub("dead-letter"); err != nil {
		t.Fatal(err)
	}
	names, err := sub.List()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(names, ","), "a.json,b.json"; got != want {
		t.Errorf("List = %s, want %s (no directories, no lock)", got, want)
	}
	if err := sub.Remove("a.json"); err != nil {
		t.Fatal(err)
	}
	if err := sub.Remove("a.json"); err != nil {
		t.Errorf("removing an absent file: %v", err)
	}
	if _, err := sub.Read("a.json"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Remove: %v", err)
	}
	if err := sub.Close(); err != nil {
		t.Errorf("Close of a Sub: %v", err)
	}
	// The parent still holds the lock.
	if _, err := Open(d.Path()); err == nil {
		t.Error("Open succeeded while the parent holds the lock")
	}
}

func TestJournal(t *testing.T) {
	d := open(t)
	if _, err := d.ReadJournal("j"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent journal: %v", err)
	}
	d.Append("j", []byte("one\n"))
	d.Append("j", []byte("two\n"))
	got, err := d.ReadJournal("j")
	if err != nil || string(got) != "one\ntwo\n" {
		t.Errorf("got %q, %v", got, err)
	}
}

// failAt makes step (see Dir.fault) of every write to d fail with err.
func failAt(d *Dir, step string, err error) {
	d.fault = func(s string) error {
		if s == step {
			return err
		}
		return nil
	}
}

// checkNoTemps fails t if a temporary file is left in d.
func checkNoTemps(t *testing.T, d *Dir) {
	t.Helper()
	ents, _ := os.ReadDir(d.Path())
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
