package alerting

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// slackServer answers like a Slack incoming webhook: 200 "ok" for a JSON
// object with a text, 400 "invalid_payload" otherwise, and 429 with
// Retry-After while limited is set.
type slackServer struct {
	mu      sync.Mutex
	limited bool
	texts   []string
}

func (s *slackServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.limited {
		w.Header().Set("Retry-After", "7")
		http.Error(w, "rate_limited", http.StatusTooManyRequests)
		return
	}
	var msg struct {
		Text   string `json:"text"`
		Mrkdwn *bool  `json:"mrkdwn"`
	}
	body, _ := io.ReadAll(r.Body)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" ||
		json.Unmarshal(body, &msg) != nil || msg.Text == "" || msg.Mrkdwn == nil {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	s.texts = append(s.texts, msg.Text)
	io.WriteString(w, "ok")
}

func TestSlack(t *testing.T) {
	srv := &slackServer{}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	s := &Slack{Client: ts.Client(), URL: ts.URL + "/services/T000/B000/XXXX"}

	doc := testDoc(1)
	doc.Group["user"] = "<!channel> & <https://evil.example|click here>\x1b[31m\u202e"
	doc.Runbook = "https://runbooks.example.com/mcp-auth"
	doc.Labels = map[string]string{"team": "sec"}
	if err := s.Notify(context.Background(), &doc); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	text := srv.texts[0]
	srv.mu.Unlock()
	for _, want := range []string{
		"*[HIGH] Repeated authentication failures from one client*",
		"*Rule:* mcp-auth-failure-burst",
		"user=&lt;!channel&gt; &amp; &lt;https://evil.example|click here&gt;",
		"*Count:* 11 (threshold 10, window 5m0s)",
		"*Labels:* team=sec",
		"*Runbook:* <https://runbooks.example.com/mcp-auth|runbook>",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("message lacks %q:\n%s", want, text)
		}
	}
	if strings.ContainsAny(text, "\x1b\u202e") || strings.Count(text, "<") != 1 {
		t.Errorf("message keeps a control character or an unescaped <:\n%q", text)
	}

	srv.mu.Lock()
	srv.limited = true
	srv.mu.Unlock()
	err := s.Notify(context.Background(), &doc)
	if err == nil || IsPermanent(err) || retryAfterOf(err) != 7*time.Second {
		t.Errorf("rate limited: Notify = %v (wait %v), want retryable after 7s", err, retryAfterOf(err))
	}
	if strings.Contains(err.Error(), "XXXX") {
		t.Errorf("error shows the webhook URL's secret path: %v", err)
	}

	gone := &Slack{Client: ts.Client(), URL: ts.URL}
	ts.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no_service", http.StatusNotFound)
	})
	if err := gone.Notify(context.Background(), &doc); !IsPermanent(err) || !strings.Contains(err.Error(), "no_service") {
		t.Errorf("removed webhook: Notify = %v, want a permanent error quoting no_service", err)
	}
}
