package alerting

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

// verify checks a signed webhook request the way docs/notifiers.md tells a
// receiver to: recompute the HMAC over timestamp "." body and compare in
// constant time; refuse a timestamp more than five minutes off.
func verify(secret []byte, r *http.Request, body []byte, now time.Time) bool {
	ts := r.Header.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	want := Sign(secret, ts, body)
	return hmac.Equal([]byte(r.Header.Get(HeaderSignature)), []byte(want))
}

// An HTTPS receiver verifies every signature; the body is the document or
// the template's output, and custom headers arrive.
func TestWebhookSignedOverHTTPS(t *testing.T) {
	secret := []byte("k3y-for-tests")
	var mu sync.Mutex
	var bodies []string
	bad := 0
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodPost || !verify(secret, r, body, time.Now()) || r.Header.Get("X-Team") != "secops" {
			bad++
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		bodies = append(bodies, r.Header.Get(HeaderAlertID)+" "+string(body))
	}))
	defer srv.Close()

	plain := &Webhook{Client: srv.Client(), URL: srv.URL + "/hook", Secret: secret, Header: http.Header{"X-Team": {"secops"}}}
	tmpl, err := ParseWebhookTemplate(`{"text": {{json .Title}}, "ip": {{json (index .Group "client_ip")}}}`)
	if err != nil {
		t.Fatal(err)
	}
	templated := &Webhook{ID: "hook2", Client: srv.Client(), URL: srv.URL, Secret: secret, Header: plain.Header, Template: tmpl}
	hostile := testDoc(2)
	hostile.Group["client_ip"] = `1.2.3.4", "admin": true, "x": "`
	for _, c := range []struct {
		w   *Webhook
		doc Document
	}{{plain, testDoc(1)}, {templated, hostile}, {plain, hostile}} {
		if err := c.w.Notify(context.Background(), &c.doc); err != nil {
			t.Fatalf("%s: Notify: %v", c.w.Name(), err)
		}
	}
	// A wrong secret is refused by the receiver, permanently (401).
	wrong := &Webhook{Client: srv.Client(), URL: srv.URL, Secret: []byte("other"), Header: plain.Header}
	doc := testDoc(3)
	if err := wrong.Notify(context.Background(), &doc); !IsPermanent(err) {
		t.Errorf("wrong secret: Notify = %v, want a permanent error", err)
	}

	mu.Lock()
	defer mu.Unlock()
	if bad != 1 || len(bodies) != 3 {
		t.Fatalf("receiver verified %d requests and refused %d, want 3 and 1", len(bodies), bad)
	}
	want1, _ := json.Marshal(testDoc(1))
	if got, want := bodies[0], testDoc(1).AlertID+" "+string(want1); got != want {
		t.Errorf("document body\ngot  %s\nwant %s", got, want)
	}
	var fromTemplate map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(bodies[1], " ", 2)[1]), &fromTemplate); err != nil {
		t.Fatalf("template body is not JSON: %v: %s", err, bodies[1])
	}
	if fromTemplate["ip"] != hostile.Group["client_ip"] || len(fromTemplate) != 2 {
		t.Errorf("template body = %v, want the hostile value kept inside one JSON string", fromTemplate)
	}
}

// handlerClient is an HTTP client whose requests are served in process by
// h, so that a receiver can take part in a synctest bubble.
func handlerClient(h http.Handler) *http.Client {
	return &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec.Result(), nil
	})}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// receiver answers with the statuses in order (the last one repeats) and
// records when each request came.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	header   http.Header // sent with every 429
	at       []time.Time
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.at = append(rc.at, time.Now())
	status := rc.statuses[min(len(rc.at), len(rc.statuses))-1]
	for k, v := range rc.header {
		if status == http.StatusTooManyRequests {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(status)
}

func (rc *receiver) times(start time.Time) []time.Duration {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []time.Duration
	for _, t := range rc.at {
		out = append(out, t.Sub(start))
	}
	return out
}

// webhookRig is an outbox with one webhook notifier and its dispatcher.
func webhookRig(t *testing.T, rc *receiver) (*Outbox, *Dispatcher) {
	t.Helper()
	w := &Webhook{Client: handlerClient(rc), URL: "https://receiver.test/hook", Secret: []byte("k")}
	ob, err := OpenOutbox(filepath.Join(t.TempDir(), "outbox"), []string{w.Name()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	return ob, &Dispatcher{Outbox: ob, Notifiers: []Notifier{w}, Log: zerolog.Nop(), Rand: func() float64 { return 1 }}
}

// 429 with Retry-After: 30, then 500, then 200: the next attempt waits the
// 30 s asked for (not the 1 s backoff), the one after the 500 backs off
// (2 s), and the alert arrives exactly once.
func TestWebhookRetryAfterThen500Then200(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rc := &receiver{statuses: []int{429, 500, 200}, header: http.Header{"Retry-After": {"30"}}}
		ob, d := webhookRig(t, rc)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		start := time.Now()
		mustPut(t, ob, testDoc(1), start)
		d.Wake()
		time.Sleep(time.Hour)
		synctest.Wait()
		cancel()
		<-done

		want := []time.Duration{0, 30 * time.Second, 32 * time.Second}
		if got := rc.times(start); !slices.Equal(got, want) {
			t.Errorf("requests at %v, want %v", got, want)
		}
		if ob.Len() != 0 || d.Metrics.Delivered.Load() != 1 || ob.DeadLetters() != 0 {
			t.Errorf("outbox %d pending, %d dead letters, %d delivered; want 0, 0, 1", ob.Len(), ob.DeadLetters(), d.Metrics.Delivered.Load())
		}
	})
}

// A 400 is permanent: one request, then the alert is dead-lettered.
func TestWebhook400DeadLetters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rc := &receiver{statuses: []int{400}}
		ob, d := webhookRig(t, rc)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		mustPut(t, ob, testDoc(1), time.Now())
		d.Wake()
		time.Sleep(time.Hour)
		synctest.Wait()
		cancel()
		<-done

		if got := len(rc.times(time.Now())); got != 1 {
			t.Errorf("%d requests, want 1", got)
		}
		if ob.Len() != 0 || ob.DeadLetters() != 1 || d.Metrics.DeadLettered.Load() != 1 {
			t.Errorf("outbox %d pending, %d dead letters; want 0 and 1", ob.Len(), ob.DeadLetters())
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"30", 30 * time.Second}, {"-1", 0}, {"soon", 0},
		{"Mon, 07 Dec 2026 12:01:00 GMT", time.Minute},
		{"Mon, 07 Dec 2026 11:00:00 GMT", 0},
		{"999999", maxRetryAfter},
	} {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// Errors never show the URL's path or query, which hold the token.
func TestWebhookErrorHidesURL(t *testing.T) {
	w := &Webhook{URL: "http://127.0.0.1:1/services/T0/B0/s3cr3tt0ken?k=v", Client: &http.Client{Timeout: time.Second}}
	doc := testDoc(1)
	err := w.Notify(context.Background(), &doc)
	if err == nil || IsPermanent(err) {
		t.Fatalf("Notify to a closed port = %v, want a retryable error", err)
	}
	if strings.Contains(err.Error(), "s3cr3tt0ken") || strings.Contains(err.Error(), "k=v") {
		t.Errorf("error shows the URL's secret part: %v", err)
	}
}
