package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSilenceWhileRunning adds a silence to a running daemon: the matching
// alert is kept (not sent) and counted, survives a SIGKILL, is listed, and
// is sent once when re-driven; an alert after the silence ends is sent.
func TestSilenceWhileRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	cfg := daemonConfig(t, dir, `  - {name: app, type: file, format: json, paths: [app.log], start: beginning, poll_interval: 20ms}`)
	w := &logWriter{t: t, clock: time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)}
	p := startDaemon(t, cfg)
	eventually(t, "the daemon started", func() bool { return strings.Contains(p.stderr.String(), `"started"`) }, p.stderr)

	added := time.Now()
	out, errb, code := secwatch(t, "", "silence", "add", "--config", cfg, "--matcher", "rule=auth-burst",
		"--matcher", `client_ip=~"203\\.0\\.113\\..*"`, "--for", "4s", "--comment", "pentest")
	if code != exitOK {
		t.Fatalf("silence add: %s", errb)
	}
	eventually(t, "the daemon loaded the silence", func() bool { return strings.Contains(p.stderr.String(), "silences loaded") }, p.stderr)
	t.Logf("silence obeyed %v after it was added", time.Since(added))
	id := strings.Fields(out)[0]
	if out, _, _ := secwatch(t, "", "silence", "list", "--config", cfg); !strings.Contains(out, id) || !strings.Contains(out, "pentest") {
		t.Fatalf("silence list does not show %s:\n%s", id, out)
	}

	w.appendTo(logPath, w.lines("authentication_failure", "203.0.113.7", 11))
	w.appendTo(logPath, w.lines("authentication_failure", "198.51.100.9", 11))
	eventually(t, "one alert sent, one silenced", func() bool {
		return len(parseAlerts(t, p.stdout.String())) == 1 && metric(p.stderr.String(), "secwatch_alerts_silenced_total") == 1
	}, p.stderr)
	if got := parseAlerts(t, p.stdout.String())[0].Group["client_ip"]; got != "198.51.100.9" {
		t.Fatalf("sent alert for %s, want only 198.51.100.9's", got)
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t)

	// After the silence ends (it expires by itself), alerts are sent.
	for time.Now().Before(added.Add(4 * time.Second)) {
		time.Sleep(100 * time.Millisecond) // waiting out the silence, not a timing assertion
	}
	p2 := startDaemon(t, cfg)
	out, _, _ = secwatch(t, "", "outbox", "list", "--silenced", "--config", cfg)
	if n := strings.Count(out, "silenced "); n != 1 || !strings.Contains(out, "silence "+id) {
		t.Fatalf("outbox list --silenced after SIGKILL: want the one silenced alert:\n%s", out)
	}
	w.appendTo(logPath, w.lines("authentication_failure", "203.0.113.8", 11))
	sentFor := func(p *proc, ip string) int {
		n := 0
		for _, a := range parseAlerts(t, p.stdout.String()) {
			if a.Group["client_ip"] == ip {
				n++
			}
		}
		return n
	}
	eventually(t, "the alert after the silence ended", func() bool { return sentFor(p2, "203.0.113.8") == 1 }, p2.stderr)

	silencedID := strings.Fields(strings.Split(out, "\n")[1])[1]
	if _, errb, code := secwatch(t, "", "outbox", "redrive", "--config", cfg, silencedID); code != exitOK {
		t.Fatalf("outbox redrive: %s", errb)
	}
	eventually(t, "the re-driven alert", func() bool { return sentFor(p2, "203.0.113.7") == 1 }, p2.stderr)
	if out, _, _ := secwatch(t, "", "outbox", "list", "--config", cfg); strings.Contains(out, silencedID) {
		t.Errorf("the re-driven alert is still listed:\n%s", out)
	}
	p2.cmd.Process.Signal(syscall.SIGTERM)
	if err := p2.wait(t); err != nil {
		t.Fatalf("exit: %v\n%s", err, p2.stderr)
	}
	if n := sentFor(p2, "203.0.113.7"); n != 1 {
		t.Errorf("re-driven alert sent %d times, want once\n%s", n, p2.stdout)
	}
}
