package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestOnceTimeoutStopsAndSaves: a scheduled run whose CloudWatch Logs
// endpoint never answers would retry forever and keep the state lock; with
// --timeout it stops, still delivers what the other sources gave it, saves
// its state and exits 1 so the schedule shows a failed run.
func TestOnceTimeoutStopsAndSaves(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	cfg := daemonConfig(t, dir, `  - {name: app, type: file, format: json, paths: [app.log], start: beginning}
  - {name: cw, type: cloudwatch, log_groups: [/mcp/prod], region: us-east-1, endpoint: "http://127.0.0.1:1"}`)
	w := &logWriter{t: t, clock: time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)}
	w.appendTo(logPath, w.lines("authentication_failure", "203.0.113.7", 11))

	start := time.Now()
	out, errb, code := secwatch(t, "", "run", "--once", "--timeout", "2s", "--config", cfg)
	if code != exitFailed {
		t.Fatalf("code %d, want %d (timed out)\n%s", code, exitFailed, errb)
	}
	if !strings.Contains(errb, "stopped at its timeout") {
		t.Errorf("no timeout message in the log:\n%s", errb)
	}
	byRule := map[string]int{}
	for _, a := range parseAlerts(t, out) {
		byRule[a.Rule]++
	}
	// The file source's alert, and one saying cw never completed a read.
	if byRule["auth-burst"] != 1 || byRule["secwatch-source-down"] != 1 || len(byRule) != 2 {
		t.Errorf("alerts delivered by rule: %v, want auth-burst 1 and secwatch-source-down 1", byRule)
	}
	// Not a timing assertion: a generous bound only to tell "stopped" from
	// "ran until the shutdown grace or forever".
	if d := time.Since(start); d > time.Minute {
		t.Errorf("run took %v", d)
	}
	// The file source's cursor was saved: a second run has nothing new.
	out2, errb2, _ := secwatch(t, "", "run", "--once", "--timeout", "2s", "--config", cfg)
	if n := len(parseAlerts(t, out2)); n != 0 {
		t.Errorf("second run re-read the file: %d alerts\n%s", n, errb2)
	}
}
