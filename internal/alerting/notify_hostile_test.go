package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
	"github.com/secwatch/secwatch/internal/testutil"
)

// renderings returns every form an alert takes on its way out: the alert
// document as JSON (stdout, replay, the outbox), the text renderings
// (stdout on a terminal, the replay text output), and the SNS request
// (Subject, the json-structured Message with its email and default forms,
// and the message attributes), built by the real SNS notifier.
func renderings(t *testing.T, a *rules.Alert) map[string]string {
	t.Helper()
	doc := NewDocument(a)
	j, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var stdoutJSON, stdoutText bytes.Buffer
	if err := (&Stdout{W: &stdoutJSON}).Notify(context.Background(), &doc); err != nil {
		t.Fatal(err)
	}
	if err := (&Stdout{W: &stdoutText, Text: true}).Notify(context.Background(), &doc); err != nil {
		t.Fatal(err)
	}
	f := &fakeSNS{}
	s := &SNS{Client: f, TopicARN: "arn:aws:sns:us-east-1:123456789012:alerts"}
	if err := s.Notify(context.Background(), &doc); err != nil {
		t.Fatal(err)
	}
	in := f.inputs[0]
	var attrs strings.Builder
	for k, v := range in.MessageAttributes {
		attrs.WriteString(k + "=" + aws.ToString(v.StringValue) + "\n")
	}
	var body snsBody
	if err := json.Unmarshal([]byte(aws.ToString(in.Message)), &body); err != nil {
		t.Fatal(err)
	}
	return map[string]string{
		"document":       string(j),
		"stdout json":    stdoutJSON.String(),
		"stdout text":    stdoutText.String(),
		"sns subject":    aws.ToString(in.Subject),
		"sns message":    aws.ToString(in.Message),
		"sns email":      body.Email,
		"sns default":    body.Default,
		"sns attributes": attrs.String(),
	}
}

// TestRedactionPropertyNotifications: events carrying random secrets in
// random secret-bearing fields make rules fire (grouped by a plain field,
// and by a secret field); no rendering of any alert holds a secret.
func TestRedactionPropertyNotifications(t *testing.T) {
	const seed = 11
	r := rand.New(rand.NewPCG(seed, 2))
	rs, err := rulefile.Parse("r.yaml", []byte(`rules:
  - id: every-failure
    title: Authentication failure
    match: {event_type: authentication_failure}
    group_by: [client_ip]
    window: 1m
    threshold: 0
  - id: by-key
    match: {event_type: authentication_failure}
    group_by: [api_key]
    window: 1m
    threshold: 0
`))
	if err != nil {
		t.Fatal(err)
	}
	e := rules.NewEngine(rs)
	t0 := time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)
	const n = 300
	var secrets []string
	checked := 0
	for i := range n {
		ev := event.Event{Time: t0.Add(time.Duration(i) * time.Second), Fields: []event.Field{
			{Key: "event_type", Value: "authentication_failure"}, {Key: "client_ip", Value: fmt.Sprintf("203.0.113.%d", i%250)}}}
		key := testutil.NewSecret(r)
		ev.Fields = append(ev.Fields, event.Field{Key: "api_key", Value: key})
		mine := []string{key}
		for range 1 + r.IntN(4) {
			f := testutil.NewSecretField(r)
			ev.Fields = append(ev.Fields, event.Field{Key: f.Key, Value: f.Value})
			mine = append(mine, f.Secret)
		}
		secrets = append(secrets, mine...)
		for _, a := range e.Observe(&ev) {
			for name, out := range renderings(t, &a) {
				checked++
				// Samples hold this event and up to two before it.
				for _, s := range secrets[max(0, len(secrets)-20):] {
					if strings.Contains(out, s) {
						t.Fatalf("seed %d: secret %q in the %s of alert %s:\n%s", seed, s, name, a.Rule.ID, out)
					}
				}
			}
		}
	}
	if checked < 2*n*8 { // 8 renderings per alert
		t.Fatalf("checked only %d renderings", checked)
	}
	t.Logf("seed %d: %d events with %d random secrets, %d renderings checked, no secret in any", seed, n, len(secrets), checked)
}

// TestHostileTextInNotifications: control characters, ANSI escapes,
// Unicode bidirectional overrides, zero-width characters and header
// injections in fields that reach an SNS subject, an email body or a
// terminal are removed; the subject is printable ASCII of at most 100
// characters; nothing injected starts a line of its own.
func TestHostileTextInNotifications(t *testing.T) {
	hostile := []string{
		"\x1b[2J\x1b[H\x1b]0;pwned\x07", "evil\u202egnp.exe", "a\u2066b\u2069c\u200b\ufeff", "\r\nBcc: victim@example.com",
		"x\nSubject: injected", "\x00\x01\x7f\u0085\u009b31m", "\xff\xfe invalid", strings.Repeat("é", 400),
		"\u061c\u200e\u200f\u202a\u202b\u202c\u202d", "line\u2028sep\u2029para",
	}
	rs, err := rulefile.Parse("r.yaml", []byte(`rules:
  - id: probe
    title: Probe from an origin
    severity: critical
    match: {event_type: cors}
    group_by: [origin, path]
    window: 1m
    threshold: 0
`))
	if err != nil {
		t.Fatal(err)
	}
	e := rules.NewEngine(rs)
	t0 := time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)
	for i, h := range hostile {
		ev := event.Event{Time: t0.Add(time.Duration(i) * time.Second), Fields: []event.Field{
			{Key: "event_type", Value: "cors"}, {Key: "origin", Value: "https://evil.example" + h},
			{Key: "path", Value: "/mcp" + h}, {Key: "user_agent", Value: h}, {Key: "@source", Value: "src" + h}}}
		alerts := e.Observe(&ev)
		if len(alerts) != 1 {
			t.Fatalf("%q: %d alerts", h, len(alerts))
		}
		out := renderings(t, &alerts[0])
		subject := out["sns subject"]
		if len(subject) > 100 {
			t.Errorf("%q: subject of %d bytes", h, len(subject))
		}
		for _, c := range subject {
			if c < 0x20 || c > 0x7e {
				t.Errorf("%q: subject %q holds %U", h, subject, c)
			}
		}
		for _, name := range []string{"sns email", "stdout text", "alert text"} {
			text := strings.TrimSuffix(out[name], "\n") // the line terminator of stdout
			for _, c := range text {
				if c == '\n' && name == "sns email" {
					continue
				}
				if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) || c == '\u2028' || c == '\u2029' {
					t.Errorf("%q: %s holds %U:\n%q", h, name, c, text)
					break
				}
			}
			for _, l := range strings.Split(text, "\n") {
				if strings.HasPrefix(l, "Bcc:") || strings.HasPrefix(l, "Subject:") {
					t.Errorf("%q: %s has an injected line %q", h, name, l)
				}
			}
		}
	}
}
