package ingest

import (
	"context"
	"path/filepath"
)

// pollChecked is poll that also tells whether the read completed: a
// pattern whose directory is gone (a glob over it matches nothing and says
// nothing) or a file that cannot be opened makes the poll incomplete
// (Stats.Problem); a complete poll sets Stats.LastRead.
func (t *tailer) pollChecked(ctx context.Context, out chan<- Record) error {
	t.failed = nil
	missing := missingDirs(t.f.Paths)
	for _, p := range t.f.Paths {
		if dir := filepath.Dir(p); missing[dir] == nil {
			delete(t.openErrs, dir) // back: reported again if it goes again
		}
	}
	for dir, err := range missing {
		t.fail(dir, err.Error(), err)
	}
	if err := t.poll(ctx, out); err != nil {
		return err
	}
	t.stats.Problem.Store(t.failed)
	if t.failed == nil {
		t.stats.markRead(t.now())
	}
	return nil
}

// fail counts a read error at where, makes the poll incomplete, and
// reports it once until its message changes.
func (t *tailer) fail(where, msg string, err error) {
	kind := ErrPermanent
	t.stats.countError(kind)
	t.failed = &ReadError{Source: t.f.Name, Where: where, Kind: kind, Err: err}
	if t.openErrs[where] == msg {
		return
	}
	t.openErrs[where] = msg
	if t.f.Fail == nil {
		t.bad(Position{File: where}, msg)
		return
	}
	t.f.Fail(t.failed)
}
