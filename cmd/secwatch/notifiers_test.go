package main

import (
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/alerting"
)

// The daemon delivers to configured webhooks, signed with the secret from
// the environment, and only to those whose matchers accept the alert.
func TestRunDeliversToRoutedWebhooks(t *testing.T) {
	const secret = "hook-secret-for-tests"
	t.Setenv("SECWATCH_TEST_HOOK_SECRET", secret)
	var mu sync.Mutex
	got := map[string][]string{} // path → alert ids
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts := r.Header.Get(alerting.HeaderTimestamp)
		if !hmac.Equal([]byte(r.Header.Get(alerting.HeaderSignature)), []byte(alerting.Sign([]byte(secret), ts, body))) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var doc struct {
			AlertID string `json:"alert_id"`
		}
		json.Unmarshal(body, &doc)
		mu.Lock()
		got[r.URL.Path] = append(got[r.URL.Path], doc.AlertID)
		mu.Unlock()
	}))
	defer srv.Close()

	dir := t.TempDir()
	cfg := daemonConfig(t, dir, `  - {name: app, type: file, format: json, paths: [app.log], start: beginning}`)
	cfg = writeFile(t, dir, "secwatch.yaml", strings.Replace(mustRead(t, cfg), "  initial_backoff: 100ms\n", fmt.Sprintf(`  initial_backoff: 100ms
  notifiers:
    - {name: high, type: webhook, url: %q, secret_env: SECWATCH_TEST_HOOK_SECRET, match: ['severity=~"high|critical"']}
    - {name: critical, type: webhook, url: %q, secret_env: SECWATCH_TEST_HOOK_SECRET, match: [severity=critical]}
`, srv.URL+"/high", srv.URL+"/critical"), 1))
	w := &logWriter{t: t, clock: time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)}
	w.appendTo(filepath.Join(dir, "app.log"), w.lines("authentication_failure", "203.0.113.7", 11))

	out, errb, code := secwatch(t, "", "run", "--once", "--config", cfg)
	if code != exitOK {
		t.Fatalf("run --once: code %d\n%s", code, errb)
	}
	alerts := parseAlerts(t, out)
	mu.Lock()
	defer mu.Unlock()
	if len(alerts) != 1 || len(got["/high"]) != 1 || got["/high"][0] != alerts[0].ID || len(got["/critical"]) != 0 {
		t.Errorf("stdout alerts %+v; webhooks got %v; want the one alert at /high only", alerts, got)
	}
	if strings.Contains(errb, secret) {
		t.Error("the log shows the webhook secret")
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
