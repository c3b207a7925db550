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
)

// A webhook answering 400 dead-letters the alert; once it is fixed,
// outbox redrive against the running daemon delivers it there once, and
// stdout, which had acked it, does not get it again.
func TestOutboxRedriveDeadLetterWhileRunning(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	var mu sync.Mutex
	fixed, rejected := false, 0
	var delivered []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if !fixed {
			rejected++
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		var doc struct {
			AlertID string `json:"alert_id"`
		}
		json.Unmarshal(body, &doc)
		delivered = append(delivered, doc.AlertID)
	}))
	defer srv.Close()

	dir := t.TempDir()
	cfg := daemonConfig(t, dir, `  - {name: app, type: file, format: json, paths: [app.log], start: beginning, poll_interval: 20ms}`)
	cfg = writeFile(t, dir, "secwatch.yaml", strings.Replace(mustRead(t, cfg), "  initial_backoff: 100ms\n", fmt.Sprintf(`  initial_backoff: 100ms
  notifiers:
    - {name: hook, type: webhook, url: %q, match: ['secwatch!="self"']}
`, srv.URL), 1)) // the dead letter's own self-alert goes to stdout only
	p := startDaemon(t, cfg)
	w := &logWriter{t: t, clock: time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)}
	w.appendTo(filepath.Join(dir, "app.log"), w.lines("authentication_failure", "203.0.113.7", 11))
	eventually(t, "the alert dead-lettered", func() bool { return metric(p.stderr.String(), "secwatch_dead_letters") == 1 }, p.stderr)

	// The gauge counts a dead letter when it is decided; the file reaches
	// the disk with the outbox's next commit.
	var out string
	eventually(t, "the dead letter on disk", func() bool {
		o, errb, code := secwatch(t, "", "outbox", "list", "--dead", "--output", "json", "--config", cfg)
		if code != exitOK {
			t.Fatalf("outbox list: %s", errb)
		}
		out = o
		return strings.TrimSpace(o) != ""
	}, p.stderr)
	var item struct {
		Kind, AlertID, Note string
	}
	if err := json.Unmarshal([]byte(out), &item); err != nil || item.Kind != "dead" || !strings.Contains(item.Note, "400") {
		t.Fatalf("outbox list --dead: got %q (%v), want the dead letter rejected with 400", out, err)
	}
	var ids struct {
		ID string `json:"alert_id"`
	}
	json.Unmarshal([]byte(out), &ids)

	mu.Lock()
	fixed = true
	mu.Unlock()
	out, errb, code := secwatch(t, "", "outbox", "redrive", "--config", cfg, ids.ID)
	if code != exitOK || !strings.Contains(out, "running daemon") {
		t.Fatalf("outbox redrive: code %d: %s%s", code, out, errb)
	}
	eventually(t, "the re-driven delivery", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(delivered) == 1
	}, p.stderr)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.wait(t); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(delivered) != 1 || delivered[0] != ids.ID {
		t.Errorf("webhook got %v, want %s once", delivered, ids.ID)
	}
	n := 0
	for _, a := range parseAlerts(t, p.stdout.String()) {
		if a.ID == ids.ID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("stdout got the alert %d times, want once (it had acked before the redrive)", n)
	}
	if out, _, _ := secwatch(t, "", "outbox", "list", "--config", cfg); strings.Contains(out, ids.ID) {
		t.Errorf("the re-driven alert is still listed:\n%s", out)
	}
}
