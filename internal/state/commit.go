package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// File is one file of a Commit: its name in the directory and its payload.
type File struct {
	Name    string
	Payload []byte
}

// commitSyncers is how many temporary files of one Commit are fsynced at
// once. Concurrent fsyncs let the filesystem's journal commit them
// together (ext4 and xfs group them into one transaction), where one
// after the other each waits for its own.
const commitSyncers = 8

// Commit writes files and removes names as one group, durably: every file
// is written in its frame to a temporary file and fsynced (several at
// once), renamed over its name, the removals are made, and then the
// directory is fsynced once for all of them. It is how the outbox commits
// many alerts with the cost of a few fsyncs rather than two each.
//
// Each file is replaced atomically, as by Write: a crash leaves its old
// content or its new one. writeErrs has one entry per file, nil for those
// written; err reports a failed removal or directory fsync, after which
// none of the group is known to be durable. Removing an absent name is
// not an error. The fault-injection steps are Write's.
func (d *Dir) Commit(files []File, removes []string) (writeErrs []error, err error) {
	writeErrs = make([]error, len(files))
	temps := make([]*os.File, len(files))
	for i, f := range files {
		temps[i], writeErrs[i] = d.commitTemp(f)
	}
	// fsync the temporary files, commitSyncers at a time.
	var wg sync.WaitGroup
	sem := make(chan struct{}, commitSyncers)
	for i, f := range temps {
		if f == nil {
			continue
		}
		if err := d.step("sync"); err != nil { // fault injection: not concurrent
			writeErrs[i] = err
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f.Sync(); err != nil {
				writeErrs[i] = err
			}
		}()
	}
	wg.Wait()
	changed := false
	for i, f := range temps {
		if f == nil {
			continue
		}
		tmp := f.Name()
		cerr := f.Close()
		switch {
		case writeErrs[i] != nil:
		case cerr != nil:
			writeErrs[i] = cerr
		default:
			if err := d.step("rename"); err != nil {
				writeErrs[i] = err
			} else if err := os.Rename(tmp, filepath.Join(d.path, files[i].Name)); err != nil {
				writeErrs[i] = err
			} else {
				changed = true
				continue
			}
		}
		os.Remove(tmp)
	}
	for i, e := range writeErrs {
		if e != nil {
			writeErrs[i] = fmt.Errorf("write state file %s: %w", filepath.Join(d.path, files[i].Name), e)
		}
	}
	var errs []error
	for _, name := range removes {
		if err := checkName(name); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.Remove(filepath.Join(d.path, name)); err == nil {
			changed = true
		} else if !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove state file: %w", err))
		}
	}
	if changed {
		if err := d.step("syncdir"); err != nil {
			errs = append(errs, err)
		} else if err := syncDir(d.path); err != nil {
			errs = append(errs, fmt.Errorf("sync state directory %s: %w", d.path, err))
		}
	}
	return writeErrs, errors.Join(errs...)
}

// commitTemp creates and fills the temporary file of f, not yet fsynced.
func (d *Dir) commitTemp(f File) (*os.File, error) {
	if err := checkName(f.Name); err != nil {
		return nil, err
	}
	if err := d.step("create"); err != nil {
		return nil, err
	}
	t, err := os.CreateTemp(d.path, tempPrefix(f.Name)+"*")
	if err != nil {
		return nil, err
	}
	if err = d.step("write"); err == nil {
		if _, err = t.Write(frame(f.Payload)); err == nil {
			_, err = t.Write(f.Payload)
		}
	}
	if err != nil {
		t.Close()
		os.Remove(t.Name())
		return nil, err
	}
	return t, nil
}
