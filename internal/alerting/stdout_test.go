package alerting

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// stdoutDocs are an ordinary alert, one with hostile group text, an
// absent-rule alert without a group, and a digest.
func stdoutDocs() []Document {
	plain := testDoc(7)
	plain.Labels = map[string]string{"requirement": "23.2"}
	plain.Samples = []map[string]string{{"@time": "2026-01-28T19:15:22Z", "authorization": "[REDACTED]", "path": "/mcp"}}
	plain.Source = "mcp-prod"
	plain.AlertID = "9f2c0a1b2c3d4e5f60718293a4b5c6d7"

	hostile := testDoc(8)
	hostile.Group = map[string]string{"path": "/a\x1b[2J\u202e\nFAKE: ok", "client_ip": "198.51.100.4"}
	hostile.Title = "Probe\r\nInjected-Header: x"
	hostile.AlertID = "1b2c3d4e5f60718293a4b5c6d79f2c0a"

	absent := testDoc(9)
	absent.Rule, absent.Title, absent.Severity = "heartbeat-missing", "No heartbeat", "critical"
	absent.Group, absent.Count, absent.Threshold, absent.Window = map[string]string{}, 0, 0, "15m0s"
	absent.Time, absent.FirstSeen = "2026-01-28T19:30:00.123456Z", "2026-01-28T19:15:00Z"
	absent.Truncated = true
	absent.AlertID = "c0ffee00c0ffee00c0ffee00c0ffee00"

	digest := Document{
		AlertID: "ffd81c907998a317066c3535290e443a", Rule: "mcp-auth-failure-burst",
		Title: "7 alerts suppressed for mcp-auth-failure-burst", Severity: "high",
		Group: map[string]string{"digest": "2026-01-28T10:00:00Z"}, Count: 7, Threshold: 3, Window: "1h0m0s",
		Time: "2026-01-28T10:46:00Z", FirstSeen: "2026-01-28T10:16:00Z",
	}
	return []Document{plain, hostile, absent, digest}
}

func TestStdoutGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		text bool
	}{{"json", false}, {"text", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			s := &Stdout{W: &out, Text: tc.text}
			if s.Name() != "stdout" {
				t.Errorf("Name() = %q", s.Name())
			}
			for _, d := range stdoutDocs() {
				if err := s.Notify(context.Background(), &d); err != nil {
					t.Fatal(err)
				}
			}
			golden(t, "stdout/"+tc.name+".golden", out.Bytes())
			if tc.text {
				for i, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
					if strings.ContainsFunc(line, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\u202e' }) {
						t.Errorf("line %d holds a control character: %q", i+1, line)
					}
				}
				if n := strings.Count(out.String(), "\n"); n != len(stdoutDocs()) {
					t.Errorf("%d lines for %d documents", n, len(stdoutDocs()))
				}
			}
		})
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestStdoutErrors(t *testing.T) {
	d := testDoc(1)
	err := (&Stdout{W: failWriter{}}).Notify(context.Background(), &d)
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "broken pipe") {
		t.Errorf("write failure: got %v, want a retryable error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out bytes.Buffer
	if err := (&Stdout{W: &out}).Notify(ctx, &d); !errors.Is(err, context.Canceled) || out.Len() != 0 {
		t.Errorf("cancelled: got %v and %d bytes written", err, out.Len())
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("InvalidParameter")
	p := Permanent(base)
	if !IsPermanent(p) || !errors.Is(p, base) || p.Error() != "InvalidParameter" {
		t.Errorf("Permanent(%v) = %v: IsPermanent %v, wraps %v", base, p, IsPermanent(p), errors.Is(p, base))
	}
	wrapped := errors.Join(errors.New("publish"), p)
	if !IsPermanent(wrapped) {
		t.Error("IsPermanent does not see through wrapping")
	}
	if IsPermanent(base) || IsPermanent(nil) || Permanent(nil) != nil {
		t.Error("plain error or nil reported permanent")
	}
}

// blockedWriter blocks every Write until release is closed, like a pipe
// nobody reads; it counts the writes started.
type blockedWriter struct {
	release chan struct{}
	writes  atomic.Int32
	out     syncBuffer
}

func (w *blockedWriter) Write(b []byte) (int, error) {
	w.writes.Add(1)
	<-w.release
	return w.out.Write(b)
}

// TestStdoutBlockedWrite: a write that never returns fails the attempt when
// its context ends; later attempts fail without starting another write
// until it returns; then writing resumes.
func TestStdoutBlockedWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &blockedWriter{release: make(chan struct{})}
		s := &Stdout{W: w}
		attempt := func(n int) error {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			d := testDoc(n)
			return s.Notify(ctx, &d)
		}
		for i := range 3 {
			start := time.Now()
			err := attempt(1 + i)
			if !errors.Is(err, context.DeadlineExceeded) || IsPermanent(err) || !strings.Contains(err.Error(), "stdout blocked") {
				t.Errorf("attempt %d: got %v, want a retryable error saying stdout is blocked", i+1, err)
			}
			if d := time.Since(start); d != 30*time.Second {
				t.Errorf("attempt %d gave up after %v, want the attempt's 30s", i+1, d)
			}
		}
		if n := w.writes.Load(); n != 1 {
			t.Errorf("%d writes started while the first was blocked, want 1", n)
		}
		close(w.release)
		if err := attempt(4); err != nil {
			t.Fatalf("after the writer returned: %v", err)
		}
		if n := w.writes.Load(); n != 2 {
			t.Errorf("%d writes, want 2", n)
		}
		if got := strings.Count(w.out.String(), "\n"); got != 2 {
			t.Errorf("%d lines written, want 2 (the blocked one, then the fourth)", got)
		}
	})
}
