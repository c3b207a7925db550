package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/testutil/redisserver"
)

// redisDaemonConfig is daemonConfig on the Redis at addr, with alerts
// lines added to the alerts section.
func redisDaemonConfig(t *testing.T, dir, addr, alerts string) string {
	t.Helper()
	cfg := daemonConfig(t, dir, `  - {name: app, type: file, format: json, paths: [app.log], start: beginning, poll_interval: 20ms}`)
	s := strings.Replace(mustRead(t, cfg), "state_dir: state\n",
		fmt.Sprintf("state_dir: state\nstate: {backend: redis, redis: {addr: %q, lease: 3s}}\n", addr), 1)
	s = strings.Replace(s, "  initial_backoff: 100ms\n", "  initial_backoff: 100ms\n"+alerts, 1)
	return writeFile(t, dir, "secwatch.yaml", s)
}

// sentTo counts the alerts for client ip on the stdout of the daemons.
func sentTo(t *testing.T, ip string, ps ...*proc) int {
	n := 0
	for _, p := range ps {
		for _, a := range parseAlerts(t, p.stdout.String()) {
			if a.Group["client_ip"] == ip {
				n++
			}
		}
	}
	return n
}

// Two replicas on one Redis: a silence added while they run is obeyed by
// both, the silenced alert is kept once and counted once, survives a
// SIGKILL of a replica, is listed, is re-driven to exactly one delivery,
// and alerts after the silence ends are sent.
func TestSilenceOnRedisWithTwoReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	srv := redisserver.Start(t)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	cfg := redisDaemonConfig(t, dir, srv.Addr, "")
	w := &logWriter{t: t, clock: time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)}
	a, b := startDaemon(t, cfg), startDaemon(t, cfg)
	for _, p := range []*proc{a, b} {
		eventually(t, "a replica started", func() bool { return strings.Contains(p.stderr.String(), `"started"`) }, p.stderr)
	}

	added := time.Now()
	out, errb, code := secwatch(t, "", "silence", "add", "--config", cfg, "--matcher", "rule=auth-burst",
		"--matcher", `client_ip=~"203\\.0\\.113\\..*"`, "--for", "6s", "--comment", "pentest")
	if code != exitOK {
		t.Fatalf("silence add: %s", errb)
	}
	stored := time.Now()
	id := strings.Fields(out)[0]
	for _, p := range []*proc{a, b} {
		eventually(t, "a replica loaded the silence", func() bool { return strings.Contains(p.stderr.String(), "silences loaded") }, p.stderr)
	}
	t.Logf("both replicas obeyed the silence %v after silence add returned", time.Since(stored))
	if out, _, _ := secwatch(t, "", "silence", "list", "--config", cfg); !strings.Contains(out, id) || !strings.Contains(out, "pentest") {
		t.Fatalf("silence list does not show %s:\n%s", id, out)
	}

	w.appendTo(logPath, w.lines("authentication_failure", "203.0.113.7", 11))
	w.appendTo(logPath, w.lines("authentication_failure", "198.51.100.9", 11))
	eventually(t, "one alert sent, one silenced, by the two replicas", func() bool {
		return sentTo(t, "198.51.100.9", a, b) == 1 &&
			metric(a.stderr.String(), "secwatch_alerts_silenced_total")+metric(b.stderr.String(), "secwatch_alerts_silenced_total") == 1
	}, a.stderr, b.stderr)
	// Both replicas read the line that fired it; the other found it kept.
	eventually(t, "both replicas past the silenced firing", func() bool {
		return metric(a.stderr.String(), "secwatch_engine_events_total") >= 22 && metric(b.stderr.String(), "secwatch_engine_events_total") >= 22
	}, a.stderr, b.stderr)

	a.cmd.Process.Signal(syscall.SIGKILL)
	a.wait(t)
	w.appendTo(logPath, w.lines("authentication_failure", "203.0.113.9", 11))
	eventually(t, "the surviving replica silenced the next alert", func() bool {
		return metric(b.stderr.String(), "secwatch_alerts_silenced_total") >= 1 && silencedListed(t, cfg) == 2
	}, b.stderr)
	a2 := startDaemon(t, cfg) // resumes from a checkpoint: may fire the silenced alerts again
	eventually(t, "the restarted replica", func() bool { return strings.Contains(a2.stderr.String(), `"started"`) }, a2.stderr)
	if n := sentTo(t, "203.0.113.7", a2, b) + sentTo(t, "203.0.113.9", a2, b); n != 0 {
		t.Fatalf("silenced alerts sent %d times", n)
	}

	for time.Now().Before(added.Add(6 * time.Second)) {
		time.Sleep(100 * time.Millisecond) // waiting out the silence, not a timing assertion
	}
	w.appendTo(logPath, w.lines("authentication_failure", "203.0.113.8", 11))
	eventually(t, "the alert after the silence ended", func() bool { return sentTo(t, "203.0.113.8", a2, b) == 1 }, a2.stderr, b.stderr)
	if got := silencedListed(t, cfg); got != 2 {
		t.Fatalf("outbox list --silenced: got %d silenced alerts, want 2", got)
	}

	out, _, _ = secwatch(t, "", "outbox", "list", "--silenced", "--output", "json", "--config", cfg)
	var first struct {
		ID   string `json:"alert_id"`
		Note string `json:"note"`
	}
	if err := json.Unmarshal([]byte(strings.Split(out, "\n")[0]), &first); err != nil || first.Note != "silence "+id {
		t.Fatalf("outbox list --silenced: got %q (%v), want alerts muted by silence %s", out, err, id)
	}
	if out, errb, code := secwatch(t, "", "outbox", "redrive", "--config", cfg, first.ID); code != exitOK {
		t.Fatalf("outbox redrive: %s%s", out, errb)
	}
	redriven := func() int {
		n := 0
		for _, p := range []*proc{a2, b} {
			for _, d := range parseAlerts(t, p.stdout.String()) {
				if d.ID == first.ID {
					n++
				}
			}
		}
		return n
	}
	eventually(t, "the re-driven alert", func() bool { return redriven() == 1 }, a2.stderr, b.stderr)
	for _, p := range []*proc{a2, b} {
		p.cmd.Process.Signal(syscall.SIGTERM)
		if err := p.wait(t); err != nil {
			t.Fatalf("exit: %v\n%s", err, p.stderr)
		}
	}
	if n := redriven(); n != 1 {
		t.Errorf("the re-driven alert was sent %d times, want once", n)
	}
	if got := silencedListed(t, cfg); got != 1 {
		t.Errorf("outbox list --silenced after the redrive: got %d, want 1", got)
	}
	// Of the two silenced alerts, only the re-driven one was ever sent.
	if n := sentTo(t, "203.0.113.7", a, a2, b) + sentTo(t, "203.0.113.9", a, a2, b); n != 1 {
		t.Errorf("silenced alerts sent %d times in all, want once (the re-driven one)", n)
	}
	if n := sentTo(t, "198.51.100.9", a, a2, b); n != 1 {
		t.Errorf("the unsilenced alert was sent %d times, want once", n)
	}
}

// silencedListed returns how many alerts outbox list --silenced lists.
func silencedListed(t *testing.T, cfg string) int {
	t.Helper()
	out, errb, code := secwatch(t, "", "outbox", "list", "--silenced", "--output", "json", "--config", cfg)
	if code != exitOK {
		t.Fatalf("outbox list: %s", errb)
	}
	return strings.Count(out, `"kind":"silenced"`)
}

// On Redis, a webhook answering 400 dead-letters the alert; outbox redrive
// while two replicas run delivers it there exactly once when fixed.
func TestOutboxRedriveOnRedisWithTwoReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	var mu sync.Mutex
	fixed := false
	var delivered []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if !fixed {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		var doc struct {
			AlertID string `json:"alert_id"`
		}
		json.Unmarshal(body, &doc)
		delivered = append(delivered, doc.AlertID)
	}))
	defer hook.Close()
	srv := redisserver.Start(t)
	dir := t.TempDir()
	cfg := redisDaemonConfig(t, dir, srv.Addr, fmt.Sprintf("  notifiers:\n    - {name: hook, type: webhook, url: %q, match: ['secwatch!=\"self\"']}\n", hook.URL))
	a, b := startDaemon(t, cfg), startDaemon(t, cfg)
	w := &logWriter{t: t, clock: time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)}
	w.appendTo(filepath.Join(dir, "app.log"), w.lines("authentication_failure", "203.0.113.7", 11))

	var out string
	eventually(t, "the dead letter in redis", func() bool {
		o, errb, code := secwatch(t, "", "outbox", "list", "--dead", "--output", "json", "--config", cfg)
		if code != exitOK {
			t.Fatalf("outbox list: %s", errb)
		}
		out = o
		return strings.TrimSpace(o) != ""
	}, a.stderr, b.stderr)
	var item struct {
		Kind string
		ID   string `json:"alert_id"`
		Note string
	}
	if err := json.Unmarshal([]byte(out), &item); err != nil || item.Kind != "dead" || !strings.Contains(item.Note, "400") {
		t.Fatalf("outbox list --dead: got %q (%v), want the dead letter rejected with 400", out, err)
	}
	if o, _, code := secwatch(t, "", "outbox", "show", "--config", cfg, item.ID); code != exitOK || !strings.Contains(o, "kind: dead") {
		t.Fatalf("outbox show: code %d: %s", code, o)
	}
	eventually(t, "the dead-letter gauge", func() bool {
		return metric(a.stderr.String(), "secwatch_dead_letters") == 1 && metric(b.stderr.String(), "secwatch_dead_letters") == 1
	}, a.stderr, b.stderr)

	mu.Lock()
	fixed = true
	mu.Unlock()
	if o, errb, code := secwatch(t, "", "outbox", "redrive", "--config", cfg, item.ID); code != exitOK {
		t.Fatalf("outbox redrive: code %d: %s%s", code, o, errb)
	}
	eventually(t, "the re-driven delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) == 1
	}, a.stderr, b.stderr)
	if o, errb, code := secwatch(t, "", "outbox", "redrive", "--config", cfg, item.ID); code == exitOK {
		t.Fatalf("a second redrive of a delivered alert: got success: %s%s", o, errb)
	}
	for _, p := range []*proc{a, b} {
		p.cmd.Process.Signal(syscall.SIGTERM)
		if err := p.wait(t); err != nil {
			t.Fatalf("exit: %v\n%s", err, p.stderr)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(delivered) != 1 || delivered[0] != item.ID {
		t.Errorf("webhook got %v, want %s once", delivered, item.ID)
	}
	// The dead letter also raised a secwatch-dead-letter self-alert; only
	// the rule's alert is counted here.
	n := 0
	for _, d := range append(parseAlerts(t, a.stdout.String()), parseAlerts(t, b.stdout.String())...) {
		if d.ID == item.ID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("stdout got the alert %d times across the replicas, want once (it had acked before the redrive)", n)
	}
	if o, _, _ := secwatch(t, "", "outbox", "list", "--config", cfg); strings.Contains(o, item.ID) {
		t.Errorf("the re-driven alert is still listed:\n%s", o)
	}
}
