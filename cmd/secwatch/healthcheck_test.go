package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHealthcheckDaemon runs the daemon binary with a file source and
// asks it with `secwatch healthcheck --config`, as the container health
// check does: exit 0 while the source is read, 1 with the daemon's reason
// once its directory is gone for longer than down_after, 0 again when it
// is back.
func TestHealthcheckDaemon(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logs := filepath.Join(dir, "logs")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, logs, "app.log", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := daemonConfig(t, dir, fmt.Sprintf("  - {name: app, type: file, format: json, paths: [%q], poll_interval: 10ms, down_after: 1s}", filepath.Join(logs, "*.log")))
	body, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "secwatch.yaml", strings.Replace(string(body), "127.0.0.1:0", addr, 1))
	p := startDaemon(t, cfg)

	check := func(want int, reason string) func() bool {
		return func() bool {
			out, errb, code := secwatch(t, "", "healthcheck", "--config", cfg)
			return code == want && strings.Contains(out+errb, reason)
		}
	}
	eventually(t, "healthcheck exit 0", check(0, "ok"), p.stderr)
	if err := os.RemoveAll(logs); err != nil {
		t.Fatal(err)
	}
	eventually(t, "healthcheck exit 1 naming the source", check(1, "sources failing: app"), p.stderr)
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, logs, "app.log", "")
	eventually(t, "healthcheck exit 0 again", check(0, "ok"), p.stderr)
}

// TestHealthcheckAnswers: the exit code and the reason for each answer a
// health check can get.
func TestHealthcheckAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "state not writable: 3 checkpoints failed")
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"unhealthy", []string{"--url", srv.URL + "/healthz"}, 1, "answered 503: state not writable"},
		{"not listening", []string{"--url", closed.URL + "/healthz"}, 1, "connection refused"},
		{"no listener configured", []string{"--config", writeFile(t, t.TempDir(), "c.yaml", "sources: [{name: in, type: stdin}]\nrules: [r.yaml]\nhttp: {listen: \"\"}\n")}, 1, "http.listen is empty"},
		{"bad config", []string{"--config", filepath.Join(t.TempDir(), "none.yaml")}, 1, "none.yaml"},
		{"operand", []string{"extra"}, 2, "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errb, code := secwatch(t, "", append([]string{"healthcheck"}, tc.args...)...)
			if code != tc.code || !strings.Contains(errb, tc.stderr) {
				t.Errorf("got exit %d, stderr %q; want exit %d, stderr with %q", code, errb, tc.code, tc.stderr)
			}
		})
	}
}

func TestHealthzURL(t *testing.T) {
	for listen, want := range map[string]string{
		"127.0.0.1:9464": "http://127.0.0.1:9464/healthz",
		":9464":          "http://127.0.0.1:9464/healthz",
		"0.0.0.0:9464":   "http://127.0.0.1:9464/healthz",
		"[::]:9464":      "http://[::1]:9464/healthz",
		"localhost:80":   "http://localhost:80/healthz",
	} {
		if got, err := healthzURL(listen); got != want || err != nil {
			t.Errorf("healthzURL(%q) = %q, %v; want %q", listen, got, err, want)
		}
	}
}
