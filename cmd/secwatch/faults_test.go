package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Fault injection on the state directory: damaged files, a full disk, a
// read-only filesystem. The daemon must never panic or crash-loop; alerts
// must still reach the notifiers (from memory when they cannot be stored),
// and what it cannot do is reported.

// faultConfig writes a config tailing logPath — when empty, a new
// live.log in dir holding the recorded MCP log — into dir and returns its
// path and the replay's alert ids.
func faultConfig(t *testing.T, dir, stateDir, logPath string) (cfg string, want map[string]alertDoc) {
	t.Helper()
	src, err := os.ReadFile("../../testdata/logs/mcp-stderr.log")
	if err != nil {
		t.Fatal(err)
	}
	rulesPath, err := filepath.Abs("../../rules/mcp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if logPath == "" {
		logPath = writeFile(t, dir, "live.log", string(src))
	}
	cfg = writeFile(t, dir, "secwatch.yaml", fmt.Sprintf(`state_dir: %q
rules: [%q]
engine: {tick: 100ms}
checkpoint_interval: 1s
shutdown_grace: 5s
sources:
  - {name: mcp, type: file, format: mcp, paths: [%q], start: beginning, poll_interval: 10ms}
alerts: {stdout: {enabled: true, format: json}, initial_backoff: 10ms, max_backoff: 1s}
http: {listen: "127.0.0.1:0"}
log: {level: info, format: json}
`, stateDir, rulesPath, logPath))
	out, errb, code := secwatch(t, "", "replay", "--rules", rulesPath, "--format", "mcp", "--source", "mcp", logPath)
	if code != exitOK {
		t.Fatalf("replay: %s", errb)
	}
	want = map[string]alertDoc{}
	for _, d := range parseAlerts(t, out) {
		want[d.ID] = d
	}
	return cfg, want
}

// runOnce runs `secwatch run --once` in-process with goroutine-safe
// output buffers (the daemon logs from several goroutines).
func runOnce(t *testing.T, cfg string) (string, string, int) {
	t.Helper()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	code := run(context.Background(), []string{"run", "--once", "--config", cfg}, strings.NewReader(""), stdout, stderr)
	return stdout.String(), stderr.String(), code
}

// checkSubset fails unless every alert in out is one of want, identical.
func checkSubset(t *testing.T, out string, want map[string]alertDoc) int {
	t.Helper()
	n := 0
	for _, d := range parseAlerts(t, out) {
		if d.Source == "secwatch" {
			continue // a self-alert (the state cannot be written): no replay has it
		}
		n++
		if w, ok := want[d.ID]; !ok || fmt.Sprint(w) != fmt.Sprint(d) {
			t.Errorf("alert not in replay (or different): %+v", d)
		}
	}
	return n
}

// TestDamagedStateFiles damages each file of a state directory in turn —
// emptied, cut in half, overwritten with garbage, one bit flipped, a
// header claiming a huge payload, replaced by a directory — and runs
// `run --once` on it. Every run must start, never panic, report the bad
// file, and deliver only alerts that replay also finds.
func TestDamagedStateFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon many times")
	}
	base := t.TempDir()
	cfg, want := faultConfig(t, base, "state", "")
	out, errb, code := runOnce(t, cfg)
	if code != exitOK || checkSubset(t, out, want) != len(want) {
		t.Fatalf("first run: code %d, %d alerts, want %d\n%s", code, len(parseAlerts(t, out)), len(want), errb)
	}
	pristine := filepath.Join(base, "state")
	var files []string
	filepath.WalkDir(pristine, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() != "lock" {
			rel, _ := filepath.Rel(pristine, p)
			files = append(files, rel)
		}
		return nil
	})
	if len(files) < 3 {
		t.Fatalf("state directory holds only %v", files)
	}
	damages := map[string]func(path string, b []byte) error{
		"empty": func(p string, _ []byte) error { return os.WriteFile(p, nil, 0o600) },
		"half":  func(p string, b []byte) error { return os.WriteFile(p, b[:len(b)/2], 0o600) },
		"garbage": func(p string, b []byte) error {
			return os.WriteFile(p, []byte(strings.Repeat("\xff\x00garbage", 64)), 0o600)
		},
		"bit flip": func(p string, b []byte) error { b[len(b)*2/3] ^= 0x04; return os.WriteFile(p, b, 0o600) },
		"huge size": func(p string, b []byte) error {
			return os.WriteFile(p, []byte("secwatch-state v1 "+strings.Repeat("0", 64)+" 99999999999999\n{}"), 0o600)
		},
		"directory": func(p string, _ []byte) error { os.Remove(p); return os.Mkdir(p, 0o700) },
	}
	runs := 0
	for _, f := range files {
		for name, damage := range damages {
			t.Run(f+"/"+name, func(t *testing.T) {
				dir := t.TempDir()
				if err := os.CopyFS(filepath.Join(dir, "state"), os.DirFS(pristine)); err != nil {
					t.Fatal(err)
				}
				// The state belongs to the log it was written for: the
				// same file (a copy under another inode, with the
				// original still where the cursor says, would be a
				// rotated file and a new one, both read).
				cfg, _ := faultConfig(t, dir, "state", filepath.Join(base, "live.log"))
				p := filepath.Join(dir, "state", f)
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if len(b) == 0 {
					t.Skip("empty file")
				}
				if err := damage(p, b); err != nil {
					t.Fatal(err)
				}
				out, errb, code := runOnce(t, cfg)
				runs++
				if strings.Contains(errb, "panic") {
					t.Fatalf("panic:\n%s", errb)
				}
				checkSubset(t, out, want)
				if name == "directory" {
					// Not a damaged file but a tampered directory: it
					// cannot be moved aside and replaced, so the run may
					// fail, but only with an error that names it.
					if code != exitOK && !strings.Contains(errb, p) {
						t.Errorf("exit %d without naming %s\n%s", code, p, errb)
					}
					return
				}
				if code != exitOK {
					t.Fatalf("run --once exit %d after damaging %s (%s)\n%s", code, f, name, errb)
				}
				// A second run over the repaired directory is clean.
				if _, errb, code := runOnce(t, cfg); code != exitOK || strings.Contains(errb, "corrupt") {
					t.Errorf("second run: exit %d\n%s", code, errb)
				}
			})
		}
	}
	t.Logf("%d state files × %d kinds of damage: %d runs, none crashed", len(files), len(damages), runs)
}

// TestStateDirFull runs the daemon with a file size limit (RLIMIT_FSIZE,
// set by prlimit) too small for any state file: every checkpoint and
// outbox write fails as on a full disk. Every alert is still delivered
// (from memory), the failures are logged, and the run exits 1 because
// its state could not be saved; the process is not killed by SIGXFSZ.
func TestStateDirFull(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) not installed")
	}
	dir := t.TempDir()
	cfg, want := faultConfig(t, dir, "state", "")
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd := exec.Command(prlimit, "--fsize=256", secwatchBinary(t), "run", "--once", "--config", cfg)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err = cmd.Run()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Fatalf("killed by %v\n%s", ws.Signal(), stderr)
	}
	if strings.Contains(stderr.String(), "panic") {
		t.Fatalf("panic:\n%s", stderr)
	}
	if n := checkSubset(t, stdout.String(), want); n < len(want) {
		t.Errorf("%d alerts delivered with a full disk, want all %d", n, len(want))
	}
	for _, msg := range []string{"outbox write failed", "file too large"} {
		if !strings.Contains(stderr.String(), msg) {
			t.Errorf("log lacks %q\n%s", msg, stderr)
		}
	}
	if err == nil {
		t.Errorf("run --once exit 0 although no state could be saved")
	}
	if !strings.Contains(stdout.String(), `"rule":"secwatch-state-unwritable"`) {
		t.Errorf("no secwatch-state-unwritable alert delivered\n%s", stdout)
	}
	t.Logf("full disk: %d alerts delivered, exit %v", len(parseAlerts(t, stdout.String())), err)
}

// TestStateDirFilesystem mounts a small tmpfs as the state directory (root
// only). It lets the daemon start, fills the filesystem under the running
// daemon (ENOSPC on every write) and appends an attack: the alert is still
// delivered, the write failures are logged, SIGTERM still ends the daemon.
// After space is freed the next run resumes cleanly. Then the filesystem is
// remounted read-only: a daemon started on it refuses with a clear error.
func TestStateDirFilesystem(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	if err := os.Mkdir(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", stateDir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", stateDir).Run() })

	cfg := daemonConfig(t, dir, `  - {name: app, type: file, format: json, paths: [app.log], start: beginning, poll_interval: 20ms}`)
	w := &logWriter{t: t, clock: time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)}
	logPath := filepath.Join(dir, "app.log")
	w.appendTo(logPath, w.lines("request", "198.51.100.1", 2))
	p := startDaemon(t, cfg)
	p.waitEvents(t, 2)

	// Fill the filesystem.
	filler := filepath.Join(stateDir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the tmpfs: %v", err)
			}
			break
		}
	}
	f.Close()
	w.appendTo(logPath, w.lines("authentication_failure", "203.0.113.7", 11))
	ruleAlerts := func(out string) (n int) {
		for _, d := range parseAlerts(t, out) {
			if d.Rule == "auth-burst" {
				n++
			}
		}
		return n
	}
	eventually(t, "the alert despite a full state directory", func() bool { return ruleAlerts(p.stdout.String()) == 1 }, p.stderr)
	eventually(t, "the write failure logged", func() bool { return strings.Contains(p.stderr.String(), "no space left on device") }, p.stderr)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = p.wait(t)
	if strings.Contains(p.stderr.String(), "panic") {
		t.Fatalf("panic:\n%s", p.stderr)
	}
	t.Logf("full state directory: alert delivered, exit after SIGTERM: %v", err)

	// Space again: the next run resumes; an alert it fires again carries
	// the same id.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	out, errb, code := runOnce(t, cfg)
	if code != exitOK || strings.Contains(errb, "panic") {
		t.Fatalf("run after freeing space: exit %d\n%s", code, errb)
	}
	var first string
	for _, d := range parseAlerts(t, p.stdout.String()) {
		if d.Rule == "auth-burst" {
			first = d.ID
		}
	}
	for _, d := range parseAlerts(t, out) {
		if d.ID != first {
			t.Errorf("run after freeing space sent a new alert %+v", d)
		}
	}

	// Read-only: refused at start, with the reason.
	if out, err := exec.Command("mount", "-o", "remount,ro", stateDir).CombinedOutput(); err != nil {
		t.Fatalf("remount read-only: %v %s", err, out)
	}
	_, errb, code = runOnce(t, cfg)
	if code == exitOK || !strings.Contains(errb, "read-only file system") {
		t.Errorf("start on a read-only state directory: exit %d\n%s", code, errb)
	}
}
