package alerting

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/secwatch/secwatch/internal/redact"
)

// Stdout is the notifier for local use: it writes each alert document to W
// as one line of JSON, or, when Text is true (cmd sets it when W is a
// terminal), as the one-line text rendering of DocumentText. Each document
// is written with a single Write call. Its name is "stdout".
//
// A write to a pipe nobody reads blocks and cannot be cancelled, so each
// Write runs in a goroutine of its own and Notify gives up when its
// context ends: the attempt fails, the alert stays pending, and at most
// one write is ever outstanding. While it is, Notify waits for it (until
// its context ends) before writing anything else. A write that completes
// after its attempt gave up may leave a line that the retry writes again,
// with the same alert id.
//
// Stdout is safe for use by one goroutine at a time, which is how the
// dispatcher calls a notifier.
type Stdout struct {
	W    io.Writer
	Text bool

	stuck      chan error // the outstanding write's result; nil when none
	stuckSince time.Time  // when the outstanding write started
}

// Name returns "stdout".
func (s *Stdout) Name() string { return "stdout" }

// Notify writes doc. A write error, or a write still blocked when ctx
// ends, is returned as a retryable error.
func (s *Stdout) Notify(ctx context.Context, doc *Document) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var b []byte
	if s.Text {
		b = []byte(DocumentText(doc) + "\n")
	} else {
		b = append(appendDocumentJSON(nil, doc), '\n') // json.Marshal's bytes (docjson.go)
	}
	if s.stuck != nil {
		select {
		case <-s.stuck: // done at last; its attempt has already failed
			s.stuck = nil
		case <-ctx.Done():
			return fmt.Errorf("write alert %s: stdout blocked: a write started at %s has not returned: %w",
				doc.AlertID, s.stuckSince.UTC().Format(time.RFC3339), ctx.Err())
		}
	}
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := s.W.Write(b)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("write alert %s: %w", doc.AlertID, err)
		}
		return nil
	case <-ctx.Done():
		s.stuck, s.stuckSince = done, start
		return fmt.Errorf("write alert %s: stdout blocked: the write has not returned: %w", doc.AlertID, ctx.Err())
	}
}

// DocumentText renders an alert document as one human-readable line:
//
//	2026-01-28T19:15:22Z HIGH     mcp-auth-failure-burst client_ip=203.0.113.7: Repeated authentication failures from one client (count 11, threshold 10, window 5m0s, since 19:11:02) id=9f2c0a1b2c3d
//
// Group values and the title are sanitized and cut, since they can carry
// attacker-controlled text; group keys are sorted.
func DocumentText(doc *Document) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-8s %s", docTime(doc.Time, "2006-01-02T15:04:05Z07:00"), strings.ToUpper(redact.Sanitize(doc.Severity, 16)), redact.Sanitize(doc.Rule, maxShown))
	for _, k := range SortedKeys(doc.Group) {
		b.WriteString(" " + redact.Sanitize(k, maxShown) + "=" + redact.Sanitize(doc.Group[k], maxShown))
	}
	fmt.Fprintf(&b, ": %s (count %d, threshold %d, window %s, since %s) id=%s",
		redact.Sanitize(doc.Title, maxShown), doc.Count, doc.Threshold, redact.Sanitize(doc.Window, 32),
		docTime(doc.FirstSeen, "15:04:05"), redact.Sanitize(doc.AlertID[:min(12, len(doc.AlertID))], 12))
	if doc.Truncated {
		b.WriteString(" truncated")
	}
	return b.String()
}

// docTime reformats a document time (RFC 3339) with layout, or returns it
// sanitized when it does not parse.
func docTime(s, layout string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return redact.Sanitize(s, 40)
	}
	return t.UTC().Format(layout)
}
