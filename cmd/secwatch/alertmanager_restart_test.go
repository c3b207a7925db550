package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/testutil/amserver"
	"github.com/secwatch/secwatch/internal/testutil/redisserver"
)

// A daemon killed while an alert is active in Alertmanager, and started
// again, goes on re-posting it from the state: the alert is still firing
// after the endsAt of the last post before the kill has passed. On both
// backends.
func TestAlertmanagerActiveAcrossRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	for _, backend := range []string{"dir", "redis"} {
		t.Run(backend, func(t *testing.T) {
			hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			defer hook.Close()
			am := amserver.Start(t, hook.URL)
			dir := t.TempDir()
			notifier := fmt.Sprintf("  notifiers:\n    - {name: am, type: alertmanager, url: %q, repost_interval: 1s, active_for: 1m}\n", am)
			var cfg string
			if backend == "redis" {
				cfg = redisDaemonConfig(t, dir, redisserver.Start(t).Addr, notifier)
			} else {
				cfg = daemonConfig(t, dir, `  - {name: app, type: file, format: json, paths: [app.log], start: beginning, poll_interval: 20ms}`)
				cfg = writeFile(t, dir, "secwatch.yaml", strings.Replace(mustRead(t, cfg), "  initial_backoff: 100ms\n", "  initial_backoff: 100ms\n"+notifier, 1))
			}
			p := startDaemon(t, cfg)
			// Events of the last minute: the alert is active for a minute
			// from its time, far longer than four re-post intervals.
			w := &logWriter{t: t, clock: time.Now().Add(-80 * time.Second)}
			w.appendTo(filepath.Join(dir, "app.log"), w.lines("authentication_failure", "203.0.113.7", 11))
			var id string
			eventually(t, "the alert in alertmanager", func() bool {
				for k, a := range amserver.Alerts(t, am) {
					id = k
					return a.Status.State == "active"
				}
				return false
			}, p.stderr)
			// A checkpoint past the delivery: the restarted daemon must not
			// fire the alert again, so only the state can keep it firing.
			c0 := metric(p.stderr.String(), "secwatch_checkpoints_total")
			eventually(t, "a checkpoint after the delivery", func() bool {
				return metric(p.stderr.String(), "secwatch_checkpoints_total") > c0
			}, p.stderr)
			p.cmd.Process.Signal(syscall.SIGKILL)
			p.wait(t)
			killed := time.Now()

			p2 := startDaemon(t, cfg)
			eventually(t, "the restarted daemon", func() bool { return strings.Contains(p2.stderr.String(), `"started"`) }, p2.stderr)
			// The last post before the kill said endsAt at most four
			// intervals (4s) later.
			for time.Now().Before(killed.Add(6 * time.Second)) {
				time.Sleep(100 * time.Millisecond) // waiting out that endsAt, not a timing assertion
			}
			a, ok := amserver.Alerts(t, am)[id]
			if !ok || a.Status.State != "active" || !a.EndsAt.After(time.Now()) {
				t.Fatalf("alert %s after the restart: %+v (listed %v), want still active with endsAt ahead\n%s", id, a, ok, p2.stderr)
			}
			if n := len(parseAlerts(t, p2.stdout.String())); n != 0 {
				t.Fatalf("the restarted daemon delivered %d alerts, want none (the alert was delivered and checkpointed)", n)
			}
			p2.cmd.Process.Signal(syscall.SIGTERM)
			if err := p2.wait(t); err != nil {
				t.Fatalf("exit: %v\n%s", err, p2.stderr)
			}
		})
	}
}
