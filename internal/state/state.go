// Package state is secwatch's state directory: source cursors, engine
// windows, flood counters and the alert outbox live in files that survive a
// restart, including kill -9.
//
// Every file is written atomically (temporary file, fsync, rename, directory
// fsync) inside a checksummed frame. Read verifies the frame; a file that
// fails is moved aside as <name>.corrupt-<n> and reported as a
// *CorruptError, never fatal. An exclusive flock on <dir>/lock keeps two
// daemons from sharing one directory. docs/delivery.md ("The outbox on
// disk") gives the frame and the files.
//
// state imports only the standard library; internal/alerting (the outbox)
// and cmd build on it.
package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// magic and version open every framed file.
const (
	magic   = "secwatch-state"
	version = "v1"
	// maxHeader bounds the header line: magic, version, 64 hex digits and a
	// length fit in well under this.
	maxHeader = 128
	lockName  = "lock"
)

// ErrCorrupt is matched by errors.Is for every *CorruptError.
var ErrCorrupt = errors.New("state file corrupt")

// CorruptError reports a state file that failed verification. By the time
// it is returned the file has been moved aside (MovedTo), unless moving
// failed (MoveErr).
type CorruptError struct {
	Name    string // the name passed to Read, relative to the directory
	Path    string // full path of the file as it was found
	Reason  string // what was wrong: "checksum mismatch", "truncated: …"
	MovedTo string // full path it was renamed to; empty when MoveErr is set
	MoveErr error  // why it could not be moved aside, if it could not
}

func (e *CorruptError) Error() string {
	s := fmt.Sprintf("state file %s is corrupt: %s", e.Path, e.Reason)
	switch {
	case e.MovedTo != "":
		s += "; moved to " + e.MovedTo
	case e.MoveErr != nil:
		s += "; could not move it aside: " + e.MoveErr.Error()
	}
	return s
}

// Is makes errors.Is(err, ErrCorrupt) hold.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Dir is secwatch's state directory, or a subdirectory of it (Sub).
//
// Its methods are safe for concurrent use on different names. Concurrent
// Writes of one name are safe too; the last rename wins.
type Dir struct {
	path string
	lock *os.File // nil for a Sub directory: the parent holds the lock

	// fault, when set by a test, is called before each step of Write
	// ("create", "write", "sync", "rename", "syncdir") and fails the step
	// when it returns an error. It simulates a full or failing disk.
	fault func(step string) error
}

// Open opens (creating with mode 0700 as needed) the state directory at
// path and takes an exclusive lock on path/lock. Leftover temporary files
// of writes interrupted by a crash are removed. Close releases the lock.
func Open(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("open state directory: %w", err)
	}
	lp := filepath.Join(path, lockName)
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open state directory: %w", err)
	}
	if err := flockWait(f); err != nil {
		holder := ""
		if b, rerr := os.ReadFile(lp); rerr == nil && len(bytes.TrimSpace(b)) > 0 {
			holder = fmt.Sprintf(" (pid %s)", bytes.TrimSpace(b))
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("state directory %s is in use by another secwatch%s: %s is locked", path, holder, lp)
		}
		return nil, fmt.Errorf("lock %s: %w", lp, err)
	}
	// The pid is only a hint for the message above; the flock is the lock.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	d := &Dir{path: path, lock: f}
	if err := d.removeTemps(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// lockWait is how long Open waits for the lock held by someone else
// before it reports the directory in use: a process forked (by any
// goroutine of the holder's process) between its fork and its exec holds
// a copy of the lock's descriptor, and so the lock, for a moment after the
// holder closed it; so does a daemon that is just exiting.
const lockWait = time.Second

// flockWait takes the exclusive lock on f, waiting up to lockWait.
func flockWait(f *os.File) error {
	deadline := time.Now().Add(lockWait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// OpenUnlocked opens the existing state directory at path without taking
// its lock, for a tool that runs beside a daemon: it may read any file and
// write only files the daemon reads and never writes (silences, requests).
// It removes no temporary files.
func OpenUnlocked(path string) (*Dir, error) {
	if fi, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open state directory: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("open state directory: %s is not a directory", path)
	}
	return &Dir{path: path}, nil
}

// Close releases the directory's lock. Close on a Sub directory does
// nothing.
func (d *Dir) Close() error {
	if d.lock == nil {
		return nil
	}
	err := d.lock.Close() // closing the descriptor releases the flock
	d.lock = nil
	return err
}

// Path returns the directory's path.
func (d *Dir) Path() string { return d.path }

// Sub returns the subdirectory name of d, creating it with mode 0700. It
// shares d's lock and must not be used after d is closed.
func (d *Dir) Sub(name string) (*Dir, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	p := filepath.Join(d.path, name)
	if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create state directory %s: %w", p, err)
	}
	if err := syncDir(d.path); err != nil {
		return nil, fmt.Errorf("create state directory %s: %w", p, err)
	}
	s := &Dir{path: p, fault: d.fault}
	if err := s.removeTemps(); err != nil {
		return nil, err
	}
	return s, nil
}

// checkName accepts plain file names that cannot collide with the lock or
// with temporary files.
func checkName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
	case strings.ContainsAny(name, `/\`+"\x00"):
	case strings.HasPrefix(name, "."), name == lockName:
	default:
		return nil
	}
	return fmt.Errorf("invalid state file name %q", name)
}

// tempPrefix is the name a temporary file starts with; names may not start
// with "." so it cannot collide with a real file.
func tempPrefix(name string) string { return "." + name + ".tmp-" }

func (d *Dir) removeTemps() error {
	ents, err := os.ReadDir(d.path)
	if err != nil {
		return fmt.Errorf("open state directory: %w", err)
	}
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, ".") && strings.Contains(n, ".tmp-") {
			if err := os.Remove(filepath.Join(d.path, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove leftover temporary file: %w", err)
			}
		}
	}
	return nil
}

func (d *Dir) step(s string) error {
	if d.fault != nil {
		return d.fault(s)
	}
	return nil
}

// frame returns the header line for payload.
func frame(payload []byte) []byte {
	sum := sha256.Sum256(payload)
	return fmt.Appendf(nil, "%s %s %s %d\n", magic, version, hex.EncodeToString(sum[:]), len(payload))
}

// Write replaces the file name with payload, atomically and durably: when
// Write returns nil the new content is on disk; when it returns an error
// the old content (or absence) is intact and no temporary file is left.
func (d *Dir) Write(name string, payload []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	final := filepath.Join(d.path, name)
	if err := d.writeAtomic(name, final, payload); err != nil {
		return fmt.Errorf("write state file %s: %w", final, err)
	}
	return nil
}

func (d *Dir) writeAtomic(name, final string, payload []byte) error {
	return d.replace(name, final, func(f *os.File) error {
		// Two writes: appending the payload to the frame would copy it.
		if _, err := f.Write(frame(payload)); err != nil {
			return err
		}
		_, err := f.Write(payload)
		return err
	})
}

// replace is the atomic part of every write: a temporary file filled by
// write, fsynced, renamed over final, and the directory fsynced. On an
// error the old content is intact and the temporary file is gone. The
// fault-injection steps (d.step) name each stage.
func (d *Dir) replace(name, final string, write func(f *os.File) error) (err error) {
	if err := d.step("create"); err != nil {
		return err
	}
	f, err := os.CreateTemp(d.path, tempPrefix(name)+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := d.step("write"); err != nil {
		return err
	}
	if err := write(f); err != nil {
		return err
	}
	if err := d.step("sync"); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := d.step("rename"); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	// From here on the new file is in place; a failure only means the
	// rename might not survive a power loss.
	if err := d.step("syncdir"); err != nil {
		return err
	}
	return syncDir(d.path)
}

// Read returns the payload of name. It returns an error matching
// fs.ErrNotExist when the file is absent, and a *CorruptError when the
// frame, version, length or checksum is wrong; the corrupt file has then
// been moved aside, so the next Read reports it absent.
func (d *Dir) Read(name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	p := filepath.Join(d.path, name)
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read state file: %w", err)
	}
	payload, reason := unframe(b)
	if reason != "" {
		return nil, d.Quarantine(name, reason)
	}
	return payload, nil
}

// unframe checks b's frame and returns the payload, or why it is invalid.
func unframe(b []byte) ([]byte, string) {
	if len(b) == 0 {
		return nil, "empty file"
	}
	nl := bytes.IndexByte(b[:min(len(b), maxHeader)], '\n')
	if nl < 0 {
		if !bytes.HasPrefix(b, []byte(magic)) {
			return nil, "not a secwatch state file"
		}
		return nil, "truncated: incomplete header"
	}
	f := strings.Split(string(b[:nl]), " ")
	if f[0] != magic {
		return nil, "not a secwatch state file"
	}
	if len(f) < 2 || f[1] != version {
		v := ""
		if len(f) >= 2 {
			v = f[1]
		}
		return nil, fmt.Sprintf("unsupported format version %q (want %q; written by another secwatch version?)", v, version)
	}
	if len(f) != 4 {
		return nil, "malformed header"
	}
	sum, err := hex.DecodeString(f[2])
	if err != nil || len(sum) != sha256.Size {
		return nil, "malformed header: bad checksum field"
	}
	n, err := strconv.Atoi(f[3])
	if err != nil || n < 0 {
		return nil, "malformed header: bad length field"
	}
	payload := b[nl+1:]
	switch {
	case len(payload) < n:
		return nil, fmt.Sprintf("truncated: header says %d bytes, file holds %d", n, len(payload))
	case len(payload) > n:
		return nil, fmt.Sprintf("%d bytes of trailing data after the %d-byte payload", len(payload)-n, n)
	}
	if got := sha256.Sum256(payload); !bytes.Equal(got[:], sum) {
		return nil, "checksum mismatch"
	}
	return payload, ""
}

// Quarantine moves name aside to the first free <name>.corrupt-<n> and
// returns the *CorruptError describing it. Read calls it for a bad frame;
// callers call it for a file whose frame is sound but whose payload they
// cannot decode.
func (d *Dir) Quarantine(name, reason string) *CorruptError {
	p := filepath.Join(d.path, name)
	ce := &CorruptError{Name: name, Path: p, Reason: reason}
	for n := 1; ; n++ {
		dst := fmt.Sprintf("%s.corrupt-%d", p, n)
		if _, err := os.Lstat(dst); err == nil {
			continue
		} else if !errors.Is(err, fs.ErrNotExist) {
			ce.MoveErr = err
			return ce
		}
		if err := os.Rename(p, dst); err != nil {
			ce.MoveErr = err
			return ce
		}
		if err := syncDir(d.path); err != nil {
			ce.MoveErr = err
			return ce
		}
		ce.MovedTo = dst
		return ce
	}
}

// Remove deletes name durably. Removing an absent file is not an error.
func (d *Dir) Remove(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	p := filepath.Join(d.path, name)
	if err := os.Remove(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove state file: %w", err)
	}
	if err := syncDir(d.path); err != nil {
		return fmt.Errorf("remove state file %s: %w", p, err)
	}
	return nil
}

// List returns the names of the regular files in the directory, sorted,
// leaving out the lock, temporary files and directories. Files moved aside
// as corrupt are listed (they end in ".corrupt-<n>").
func (d *Dir) List() ([]string, error) {
	ents, err := os.ReadDir(d.path)
	if err != nil {
		return nil, fmt.Errorf("list state directory: %w", err)
	}
	var names []string
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || n == lockName || strings.HasPrefix(n, ".") {
			continue
		}
		names = append(names, n)
	}
	return names, nil
}

// Append appends data to name without a frame, creating the file when
// needed, and fsyncs it. It is for journals: a crash can leave a partial
// last record, so their readers must ignore an unterminated tail.
func (d *Dir) Append(name string, data []byte) error {
	if err := checkName(name); err != nil {
		return err
	}
	p := filepath.Join(d.path, name)
	_, statErr := os.Lstat(p)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("append to state file: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && statErr != nil { // new file: make its name durable too
		err = syncDir(d.path)
	}
	if err != nil {
		return fmt.Errorf("append to state file %s: %w", p, err)
	}
	return nil
}

// ReadJournal returns the raw content of a file written with Append, or an
// error matching fs.ErrNotExist.
func (d *Dir) ReadJournal(name string) ([]byte, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(d.path, name))
	if err != nil {
		return nil, fmt.Errorf("read state file: %w", err)
	}
	return b, nil
}

// SyncDir fsyncs the directory itself, making a rename into it (by a
// writer of its own, such as the outbox journal's compaction) durable.
func (d *Dir) SyncDir() error { return syncDir(d.path) }

func syncDir(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
