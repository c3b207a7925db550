package alerting

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"text/template"
	"time"
)

// Headers of a webhook request (docs/notifiers.md shows how a receiver
// verifies the signature).
const (
	HeaderTimestamp = "X-Secwatch-Timestamp" // Unix seconds when the request was signed
	HeaderSignature = "X-Secwatch-Signature" // "v1=" + hex HMAC-SHA256(secret, timestamp + "." + body)
	HeaderAlertID   = "X-Secwatch-Alert-Id"  // the same on every attempt, for idempotent receivers
)

// Webhook POSTs each alert to URL: the alert document as JSON, or the
// output of Template executed with the document (see WebhookFuncs). When
// Secret is set, every request is signed (HeaderTimestamp,
// HeaderSignature). Header adds custom headers (a Content-Type there
// replaces application/json).
//
// A 2xx answer is delivered; 408, 429 and 5xx are retried, not before a
// Retry-After; any other status is Permanent, and so is a template that
// fails. Errors and logs show the URL's scheme and host only. Its name is
// ID, or "webhook" when ID is empty. Client nil means http.DefaultClient.
type Webhook struct {
	ID       string
	Client   *http.Client
	URL      string
	Secret   []byte
	Header   http.Header
	Template *template.Template
	Now      func() time.Time // signing time; nil: time.Now
}

// Name returns ID, or "webhook".
func (w *Webhook) Name() string { return nameOr(w.ID, "webhook") }

// Notify sends doc.
func (w *Webhook) Notify(ctx context.Context, doc *Document) error {
	body, err := w.body(doc)
	if err != nil {
		return Permanent(fmt.Errorf("%s: alert %s: %w", w.Name(), doc.AlertID, err))
	}
	h := w.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set(HeaderAlertID, doc.AlertID)
	if len(w.Secret) > 0 {
		now := time.Now
		if w.Now != nil {
			now = w.Now
		}
		ts := strconv.FormatInt(now().Unix(), 10)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, Sign(w.Secret, ts, body))
	}
	_, err = postJSON(ctx, w.Client, w.Name(), w.URL, body, h)
	return err
}

func (w *Webhook) body(doc *Document) ([]byte, error) {
	if w.Template == nil {
		return appendDocumentJSON(nil, doc), nil // json.Marshal's bytes (docjson.go)
	}
	var b bytes.Buffer
	if err := w.Template.Execute(&b, doc); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	return b.Bytes(), nil
}

// Sign returns the value of HeaderSignature for a request body signed at
// timestamp (decimal Unix seconds): "v1=" and the hex HMAC-SHA256, keyed
// with secret, of timestamp, ".", body.
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// WebhookFuncs are the functions a webhook template may call besides
// text/template's own: json renders a value as JSON (a quoted, escaped
// string for a string), which is how log values must be placed in a JSON
// body, since they are attacker-controlled.
var WebhookFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}

// ParseWebhookTemplate parses a webhook body template with WebhookFuncs;
// missing map keys are errors rather than "<no value>".
func ParseWebhookTemplate(text string) (*template.Template, error) {
	return template.New("body").Funcs(WebhookFuncs).Option("missingkey=error").Parse(text)
}

func nameOr(name, def string) string {
	if name == "" {
		return def
	}
	return name
}
