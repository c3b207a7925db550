package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/rs/zerolog"
)

// reloadDebounce lets an editor finish writing (write, rename, chmod) before
// the rules are read again.
const reloadDebounce = 200 * time.Millisecond

// watchRules sends on reload (without blocking) when a rule file under
// paths changes. It watches directories, not files, so that editors that
// replace a file by renaming keep being noticed. It returns a function that
// stops watching. A platform without file notifications still reloads on
// SIGHUP.
func watchRules(ctx context.Context, paths []string, reload chan<- struct{}, log zerolog.Logger) func() {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		log.Warn().Err(err).Msg("cannot watch rule files; reload with SIGHUP")
		return func() {}
	}
	dirs := map[string]bool{}
	files := map[string]bool{}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			continue
		}
		st, err := os.Stat(abs)
		if err == nil && st.IsDir() {
			dirs[abs] = true
		} else {
			files[abs] = true
			dirs[filepath.Dir(abs)] = true
			// A rule file that is a symbolic link is edited where it
			// points: watch the target's directory too.
			if target, err := filepath.EvalSymlinks(abs); err == nil && target != abs {
				files[target] = true
				dirs[filepath.Dir(target)] = true
			}
		}
	}
	for d := range dirs {
		if err := w.Add(d); err != nil {
			log.Warn().Err(err).Str("dir", d).Msg("cannot watch rule directory; reload with SIGHUP")
		}
	}
	relevant := func(name string) bool {
		if files[name] {
			return true
		}
		base := filepath.Base(name)
		if !dirs[filepath.Dir(name)] {
			return false
		}
		// A mounted Kubernetes ConfigMap or Secret swaps every file at
		// once by renaming its "..data" link; the visible files are links
		// through it and see no event of their own.
		if base == "..data" {
			return true
		}
		return !strings.HasPrefix(base, ".") &&
			(strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml"))
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var timer <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if relevant(ev.Name) {
					timer = time.After(reloadDebounce)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				log.Warn().Err(err).Msg("rule watch error")
			case <-timer:
				timer = nil
				select {
				case reload <- struct{}{}:
				default:
				}
			}
		}
	}()
	return func() { w.Close(); <-done }
}
