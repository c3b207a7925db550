package daemon

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// reloadAfter starts watchRules on paths, runs change, and reports whether
// a reload was asked for within a generous bound (not a timing assertion:
// the debounce is 200ms).
func reloadAfter(t *testing.T, paths []string, change func()) bool {
	t.Helper()
	reload := make(chan struct{}, 1)
	stop := watchRules(t.Context(), paths, reload, zerolog.Nop())
	defer stop()
	change()
	select {
	case <-reload:
		return true
	case <-time.After(5 * time.Second):
		return false
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestWatchFollowsSymlinkedRuleFile: the configured rule file is a link
// into another directory, and the target is edited in place.
func TestWatchFollowsSymlinkedRuleFile(t *testing.T) {
	conf, store := t.TempDir(), t.TempDir()
	target := filepath.Join(store, "site.yaml")
	write(t, target, "rules: []\n")
	link := filepath.Join(conf, "rules.yaml")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if !reloadAfter(t, []string{link}, func() { write(t, target, "rules: [] # edited\n") }) {
		t.Fatal("editing the link's target did not reload")
	}
}

// TestWatchConfigMapSwap: a Kubernetes-style atomic update of a mounted
// directory (new timestamped dir, ..data link renamed over) reloads.
func TestWatchConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	v1 := filepath.Join(dir, "..2026_11_26_v1")
	if err := os.Mkdir(v1, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(v1, "rules.yaml"), "rules: []\n")
	if err := os.Symlink("..2026_11_26_v1", filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/rules.yaml", filepath.Join(dir, "rules.yaml")); err != nil {
		t.Fatal(err)
	}
	swap := func() {
		v2 := filepath.Join(dir, "..2026_11_26_v2")
		if err := os.Mkdir(v2, 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(v2, "rules.yaml"), "rules: [] # v2\n")
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink("..2026_11_26_v2", tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	if !reloadAfter(t, []string{dir}, swap) {
		t.Fatal("swapping ..data did not reload")
	}
}

// TestWatchIgnoresUnrelatedFiles: a change that is not a rule file asks
// for nothing.
func TestWatchIgnoresUnrelatedFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "rules.yaml"), "rules: []\n")
	if reloadAfter(t, []string{dir}, func() { write(t, filepath.Join(dir, "notes.txt"), "x") }) {
		t.Fatal("a non-rule file reloaded the rules")
	}
}
