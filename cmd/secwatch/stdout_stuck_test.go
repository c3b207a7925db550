//go:build linux

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/alerting"
)

// snsFake answers SNS Publish requests (the SDK's Query protocol) and
// records the alert id of each message.
type snsFake struct {
	mu  sync.Mutex
	ids []string
}

func (f *snsFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, err := url.ParseQuery(string(body))
	if err != nil || form.Get("Action") != "Publish" {
		http.Error(w, "unexpected request", http.StatusBadRequest)
		return
	}
	// A json-structured message: the alert document is the "default" string.
	var msg struct{ Default string }
	var doc struct {
		ID string `json:"alert_id"`
	}
	if json.Unmarshal([]byte(form.Get("Message")), &msg) != nil || json.Unmarshal([]byte(msg.Default), &doc) != nil || doc.ID == "" {
		http.Error(w, "message is not an alert document", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.ids = append(f.ids, doc.ID)
	n := len(f.ids)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-%d</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>`, n)
}

func (f *snsFake) published() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ids)
}

// fillPipe writes to w until the pipe holds all it can, so that the next
// write blocks, and leaves w blocking again.
func fillPipe(t *testing.T, w *os.File) {
	t.Helper()
	raw, err := w.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var werr error
	raw.Control(func(fd uintptr) {
		if werr = syscall.SetNonblock(int(fd), true); werr != nil {
			return
		}
		filler := []byte(strings.Repeat("#", 4095) + "\n")
		for {
			if _, werr = syscall.Write(int(fd), filler); werr != nil {
				break
			}
		}
		if errors.Is(werr, syscall.EAGAIN) {
			// Fill the last bytes one at a time.
			for {
				if _, werr = syscall.Write(int(fd), []byte{'\n'}); werr != nil {
					break
				}
			}
		}
		if !errors.Is(werr, syscall.EAGAIN) {
			return
		}
		werr = syscall.SetNonblock(int(fd), false)
	})
	if werr != nil {
		t.Fatal(werr)
	}
}

var healthzAddr = regexp.MustCompile(`"addr":"([0-9.:]+)"`)

// healthz returns the daemon's /healthz answer.
func healthz(stderr string) (int, string) {
	m := healthzAddr.FindStringSubmatch(stderr)
	if m == nil {
		return 0, ""
	}
	resp, err := http.Get("http://" + m[1] + "/healthz")
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestStdoutBlockedThenClosed runs the daemon with its stdout a pipe that
// nobody reads, then closes the pipe's read end. Throughout, SNS gets every
// alert; stdout's failed attempts are counted and logged; /healthz names
// the stalled notifier; the process survives the broken pipe (no SIGPIPE
// death) and every alert stays in the outbox for stdout.
func TestStdoutBlockedThenClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon binary")
	}
	sns := &snsFake{}
	srv := httptest.NewServer(sns)
	defer srv.Close()

	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	writeFile(t, dir, "app.log", "")
	writeFile(t, dir, "rules.yaml", `rules:
  - id: any-failure
    match: {event_type: authentication_failure}
    group_by: [client_ip]
    window: 5m
    threshold: 0
`)
	cfg := writeFile(t, dir, "secwatch.yaml", fmt.Sprintf(`state_dir: state
rules: [rules.yaml]
engine: {tick: 100ms}
shutdown_grace: 5s
sources:
  - {name: app, type: file, format: json, paths: [%q], start: beginning, poll_interval: 50ms}
alerts:
  stdout: {enabled: true, format: json}
  sns: {topic_arn: "arn:aws:sns:eu-west-1:123456789012:alerts", endpoint: %q}
  initial_backoff: 100ms
  max_backoff: 1s
  attempt_timeout: 1s
  stall_after: 3s
http: {listen: "127.0.0.1:0"}
log: {level: info, format: json}
`, logPath, srv.URL))

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fillPipe(t, w)
	stderr := &syncBuffer{}
	cmd := exec.Command(secwatchBinary(t), "run", "--config", cfg)
	cmd.Stdout, cmd.Stderr = w, stderr
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDSTUCKTEST", "AWS_SECRET_ACCESS_KEY=stuck-test-secret",
		"AWS_REGION=eu-west-1", "AWS_EC2_METADATA_DISABLED=true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close() // the child holds its own copy
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		r.Close()
		<-done
	})
	alive := func(stage string) {
		t.Helper()
		select {
		case <-done:
			t.Fatalf("%s: the daemon exited: %v\n%s", stage, waitErr, stderr)
		default:
		}
	}

	lw := &logWriter{t: t, clock: time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)}
	for i := range 5 {
		lw.appendTo(logPath, lw.lines("authentication_failure", fmt.Sprintf("203.0.113.%d", i+1), 1))
	}
	eventually(t, "SNS to get the 5 alerts while stdout is blocked", func() bool { return len(sns.published()) == 5 }, stderr)
	eventually(t, "/healthz to report stdout stalled", func() bool {
		code, body := healthz(stderr.String())
		return code == http.StatusServiceUnavailable && strings.HasPrefix(body, "notifiers stalled: stdout (no delivery for ") &&
			strings.Contains(body, "5 alerts pending")
	}, stderr)
	code, body := healthz(stderr.String())
	t.Logf("blocked: /healthz %d %q", code, body)
	eventually(t, "stdout's failed attempts counted", func() bool {
		return metric(stderr.String(), `secwatch_notifier_failures_total{notifier="stdout"}`) >= 2
	}, stderr)
	if v := metric(stderr.String(), `secwatch_notifier_pending{notifier="stdout"}`); v != 5 {
		t.Errorf("stdout pending while blocked: got %d, want 5", v)
	}
	if v := metric(stderr.String(), `secwatch_notifier_failures_total{notifier="sns"}`); v != 0 {
		t.Errorf("sns failures: got %d, want 0", v)
	}
	if !strings.Contains(stderr.String(), `"notifier":"stdout","error":"write alert `) ||
		!strings.Contains(stderr.String(), `stdout blocked`) {
		t.Errorf("no log of the blocked stdout:\n%s", stderr)
	}
	alive("stdout blocked")
	blockedFailures := metric(stderr.String(), `secwatch_notifier_failures_total{notifier="stdout"}`)

	// The reader goes away: writes fail with EPIPE instead of killing the
	// process.
	r.Close()
	for i := range 3 {
		lw.appendTo(logPath, lw.lines("authentication_failure", fmt.Sprintf("198.51.100.%d", i+1), 1))
	}
	eventually(t, "SNS to get the 3 alerts after stdout closed", func() bool { return len(sns.published()) == 8 }, stderr)
	eventually(t, "stdout's failures after the close counted", func() bool {
		return metric(stderr.String(), `secwatch_notifier_failures_total{notifier="stdout"}`) > blockedFailures+3 &&
			metric(stderr.String(), `secwatch_notifier_pending{notifier="stdout"}`) == 8
	}, stderr)
	code, body = healthz(stderr.String())
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "stdout") {
		t.Errorf("/healthz after the close: %d %q, want 503 naming stdout", code, body)
	}
	if strings.Contains(stderr.String(), "delivery recovered") {
		t.Errorf("stdout recovered with no reader:\n%s", stderr)
	}
	t.Logf("closed: /healthz %d %q; stdout failures %d; sns published %d", code, body,
		metric(stderr.String(), `secwatch_notifier_failures_total{notifier="stdout"}`), len(sns.published()))
	alive("stdout closed")

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		err = waitErr
	case <-time.After(waitFor):
		t.Fatalf("the daemon did not stop\n%s", stderr)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("the daemon died of %v\n%s", ws.Signal(), stderr)
		}
	}
	pending, err := alerting.ReadPending(filepath.Join(dir, "state", "outbox"))
	if err != nil {
		t.Fatal(err)
	}
	ids := sns.published()
	slices.Sort(ids)
	var kept []string
	for _, e := range pending {
		kept = append(kept, e.Doc.AlertID)
	}
	slices.Sort(kept)
	if !slices.Equal(kept, ids) || len(ids) != 8 {
		t.Errorf("outbox after the stop: %v, want the 8 alerts SNS got, still pending for stdout: %v", kept, ids)
	}
}
