package ingest

import (
	"path/filepath"
	"strings"

	"github.com/fsnotify/fsnotify"
)

// dirWatch wakes a File's poll loop when something changes in the
// directories of its paths (inotify on Linux), so that a line is read
// when it is written rather than up to a poll interval later. Polling goes
// on at PollInterval whatever happens: a directory that cannot be watched
// (a glob in the directory part, a network file system that sends no
// events, no inotify instance left) only loses the early wake-up.
type dirWatch struct {
	w    *fsnotify.Watcher
	wake chan struct{} // one pending wake at most
	done chan struct{}
}

// watchDirs watches the directories of paths; nil if none can be.
func watchDirs(paths []string) *dirWatch {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil
	}
	added := 0
	seen := map[string]bool{}
	for _, p := range paths {
		dir := filepath.Dir(p)
		if seen[dir] || strings.ContainsAny(dir, `*?[\`) {
			continue
		}
		seen[dir] = true
		if w.Add(dir) == nil {
			added++
		}
	}
	if added == 0 {
		w.Close()
		return nil
	}
	d := &dirWatch{w: w, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go d.run()
	return d
}

func (d *dirWatch) run() {
	defer close(d.done)
	for {
		select {
		case _, ok := <-d.w.Events:
			if !ok {
				return
			}
			select {
			case d.wake <- struct{}{}:
			default: // a wake is pending already
			}
		case _, ok := <-d.w.Errors:
			if !ok {
				return
			}
			// An overflow or a read error: the poll interval still holds.
		}
	}
}

// C is the channel a wake is sent on; nil (never ready) for a nil watch.
func (d *dirWatch) C() <-chan struct{} {
	if d == nil {
		return nil
	}
	return d.wake
}

func (d *dirWatch) close() {
	if d == nil {
		return
	}
	d.w.Close()
	<-d.done
}
