package daemon

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/ingest"
	"github.com/secwatch/secwatch/internal/state"
)

// ofRule returns the alerts of rule.
func ofRule(docs []alerting.Document, rule string) []alerting.Document {
	var out []alerting.Document
	for _, d := range docs {
		if d.Rule == rule {
			out = append(out, d)
		}
	}
	return out
}

// hoursSpanned is the number of clock hours from start to now: a
// self-alert may be sent once in each.
func hoursSpanned(start time.Time) int {
	return int(time.Now().UTC().Truncate(time.Hour).Sub(start.UTC().Truncate(time.Hour))/time.Hour) + 1
}

// TestSourceDownSelfAlert: a file source on a directory that does not
// exist raises one secwatch-source-down alert through the outbox (to the
// stdout notifier, like any alert) once down_after has passed, however
// many ticks it stays down, and makes /healthz 503; when the directory
// appears the source is up again, which is logged, and /healthz is 200.
func TestSourceDownSelfAlert(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t, fmt.Sprintf(ruleA, 1))
	missing := filepath.Join(tb.dir, "missing")
	cfg := tb.config(options{sources: fmt.Sprintf("  - {name: gone, type: file, format: json, paths: [%q], poll_interval: 10ms, down_after: 1s}", filepath.Join(missing, "*.log"))})
	begin := time.Now()
	in := start(t, cfg, nil)
	eventually(t, "a secwatch-source-down alert", func() bool { return len(ofRule(in.alerts(), SourceDownRule)) > 0 }, in)
	code, body, err := in.get("/healthz")
	if err != nil || code != http.StatusServiceUnavailable || !strings.Contains(body, "gone") {
		t.Errorf("/healthz while down: %d %q %v; want 503 naming gone", code, body, err)
	}
	// More ticks (100ms each) while down: no second alert this hour.
	time.Sleep(500 * time.Millisecond)
	got := ofRule(in.alerts(), SourceDownRule)
	if len(got) > hoursSpanned(begin) {
		t.Errorf("got %d source-down alerts, want one per hour: %+v", len(got), got)
	}
	d := got[0]
	if d.Group["source"] != "gone" || d.Severity != "high" || d.Labels["secwatch"] != "self" || !strings.Contains(d.Description, "missing") {
		t.Errorf("source-down alert: %+v", d)
	}

	if err := os.Mkdir(missing, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(missing, "app.log"), "")
	eventually(t, "source up again", func() bool { return len(in.logEntries("source up again")) == 1 }, in)
	eventually(t, "/healthz 200", func() bool { code, _, _ := in.get("/healthz"); return code == http.StatusOK }, in)
	in.stopClean()
}

// TestSelfAlertIDs: a self-alert's id is the same for one subject within
// one hour (a restart or the next --once run sends nothing again) and
// differs across subjects and hours.
func TestSelfAlertIDs(t *testing.T) {
	hour := time.Date(2026, 1, 28, 10, 0, 0, 0, time.UTC)
	since := hour.Add(-time.Minute)
	a := sourceDownDoc("cw", "cw (denied)", time.Minute, since, hour, hour.Add(time.Minute))
	b := sourceDownDoc("cw", "cw (not found)", time.Minute, since.Add(time.Second), hour, hour.Add(40*time.Minute))
	if a.AlertID != b.AlertID {
		t.Errorf("same source and hour: ids %s and %s differ", a.AlertID, b.AlertID)
	}
	for name, other := range map[string]alerting.Document{
		"other source": sourceDownDoc("files", "files", time.Minute, since, hour, hour),
		"next hour":    sourceDownDoc("cw", "cw", time.Minute, since, hour.Add(time.Hour), hour.Add(time.Hour)),
		"dead letters": deadLetterDoc(1, hour, hour),
		"state":        stateDownDoc("/var/lib/secwatch", &stateProblem{since: since, err: "no space left on device", failures: 2}, hour, hour),
	} {
		if other.AlertID == a.AlertID {
			t.Errorf("%s: same id %s", name, a.AlertID)
		}
	}
}

// TestDeadLetterSelfAlert: an alert a notifier refuses permanently goes
// to the dead-letter directory, and a secwatch-dead-letter alert about it
// reaches the notifiers whose matchers take it, here the stdout notifier.
func TestDeadLetterSelfAlert(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t, fmt.Sprintf(ruleA, 1))
	cfg := tb.config(options{})
	pager := &refusingNotifier{}
	in := start(t, cfg, func(d *Daemon) { d.Notifiers = []alerting.Notifier{pager} })
	tb.feed(tb.lines("login_failed", "203.0.113.9", 2))
	eventually(t, "a secwatch-dead-letter alert", func() bool { return len(ofRule(in.alerts(), DeadLetterRule)) == 1 }, in)
	d := ofRule(in.alerts(), DeadLetterRule)[0]
	if d.Count != 1 || !strings.Contains(d.Title, "1 alerts") {
		t.Errorf("dead-letter alert: %+v", d)
	}
	in.waitMetric("secwatch_dead_letters", 2) // the rule's alert and the dead-letter alert itself
	in.stop()
}

// refusingNotifier refuses every alert but its own kind permanently.
type refusingNotifier struct{}

func (*refusingNotifier) Name() string { return "pager" }
func (*refusingNotifier) Notify(_ context.Context, doc *alerting.Document) error {
	return alerting.Permanent(fmt.Errorf("pager refuses %s", doc.Rule))
}

// mountTmpfs mounts a tmpfs of size bytes on dir, or skips the test when
// that is not allowed (not root).
func mountTmpfs(t *testing.T, dir string, size int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// fill writes to path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			return
		}
	}
}

// TestFullStateDisk: a state directory on a full file system (a 1 MiB
// tmpfs, filled) makes checkpoints fail: /healthz answers 503 naming the
// state, secwatch_state_up is 0, a secwatch-state-unwritable alert is sent,
// and alerts keep being delivered from memory. Once space returns the next
// checkpoint succeeds and all three recover; a restart then resumes from
// that checkpoint and loses nothing: an event after it completes a window
// that started before the disk filled.
func TestFullStateDisk(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t, fmt.Sprintf(ruleA, 2))
	if err := os.Mkdir(tb.state, 0o700); err != nil {
		t.Fatal(err)
	}
	mountTmpfs(t, tb.state, 1<<20)
	cfg := tb.config(options{})
	cfg.CheckpointInterval = 50 * time.Millisecond
	in := start(t, cfg, nil)
	tb.feed(tb.lines("login_failed", "198.51.100.1", 1))
	in.waitEvents(1)
	eventually(t, "a checkpoint holding the first event", func() bool { return checkpointedOffset(t, tb.state) > 0 }, in)
	filler := filepath.Join(tb.state, "filler")
	fill(t, filler)

	// Three lines of one client: an alert, while nothing can be written.
	tb.feed(tb.lines("login_failed", "203.0.113.5", 3))
	eventually(t, "a secwatch-state-unwritable alert", func() bool { return len(ofRule(in.alerts(), StateDownRule)) == 1 }, in)
	in.waitMetric("secwatch_state_up", 0)
	code, body, _ := in.get("/healthz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "state not writable") || !strings.Contains(body, "no space left") {
		t.Errorf("/healthz with a full disk: %d %q; want 503 naming the state", code, body)
	}
	eventually(t, "the rule's alert, delivered from memory", func() bool { return len(ofRule(in.alerts(), "a")) == 1 }, in)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	in.waitMetric("secwatch_state_up", 1)
	eventually(t, "/healthz 200", func() bool { code, _, _ := in.get("/healthz"); return code == http.StatusOK }, in)
	in.stopClean()

	// 198.51.100.1's first event was seen before the disk filled: a
	// second one, after the restart, completes its window.
	again := start(t, cfg, nil)
	tb.feed(tb.lines("login_failed", "198.51.100.1", 2))
	again.waitEvents(2)
	eventually(t, "the window started before the outage", func() bool { return len(ofRule(again.alerts(), "a")) == 1 }, again)
	if got := ofRule(again.alerts(), "a")[0]; got.Group["client_ip"] != "198.51.100.1" || got.Count != 3 {
		t.Errorf("after the restart: got %+v, want 198.51.100.1 counted 3 times", got)
	}
	// Resumed from the checkpoint written once space returned: the lines
	// read during the outage are not read again.
	if got := again.metric("secwatch_engine_events_total"); got != 2 {
		t.Errorf("after the restart: %v events observed, want 2", got)
	}
	again.stopClean()
}

// TestFullStateDiskOnce: a --once run whose state cannot be written fails
// (the scheduled task shows a failed run) and still delivers its alerts
// and a secwatch-state-unwritable alert; once space returns the next run
// succeeds, having lost no event: the lines of the failed run are read
// again from the last checkpoint written.
func TestFullStateDiskOnce(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t, fmt.Sprintf(ruleA, 1))
	if err := os.Mkdir(tb.state, 0o700); err != nil {
		t.Fatal(err)
	}
	mountTmpfs(t, tb.state, 1<<20)
	cfg := tb.config(options{})
	if _, log, err := runOnce(t, cfg, &pager{}); err != nil {
		t.Fatalf("first run: %v\n%s", err, log)
	}
	filler := filepath.Join(tb.state, "filler")
	fill(t, filler)
	tb.feed(tb.lines("login_failed", "203.0.113.8", 2))
	stdout, log, err := runOnce(t, cfg, &pager{})
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Errorf("run on a full disk: got %v, want a checkpoint error\n%s", err, log)
	}
	docs := alerts(t, stdout.String())
	if len(ofRule(docs, "a")) != 1 || len(ofRule(docs, StateDownRule)) != 1 {
		t.Errorf("run on a full disk delivered %+v; want the rule's alert and one %s", docs, StateDownRule)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	stdout, log, err = runOnce(t, cfg, &pager{})
	if err != nil {
		t.Fatalf("run with space again: %v\n%s", err, log)
	}
	// At least once: the failed run's checkpoint was never written, so
	// its lines are read (and their alert sent) again.
	if docs := alerts(t, stdout.String()); len(ofRule(docs, "a")) != 1 {
		t.Errorf("run with space again delivered %+v; want the rule's alert again", docs)
	}
}

// checkpointedOffset returns the offset of the newest checkpoint's file
// cursor of source app, or 0.
func checkpointedOffset(t *testing.T, stateDir string) int64 {
	t.Helper()
	dir, err := state.OpenUnlocked(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	ck, _ := loadCheckpoint(dir)
	if ck == nil {
		return 0
	}
	var off int64
	for _, c := range storedCursors[ingest.FileCursor](ck, "app", zerolog.Nop()) {
		off = max(off, c.Offset)
	}
	return off
}
