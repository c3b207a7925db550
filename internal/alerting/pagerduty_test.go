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
	"unicode/utf8"
)

// pdServer answers like the Events API v2: 202 with a status for a valid
// event, 400 "invalid event" with errors otherwise, 429 while limited.
type pdServer struct {
	mu      sync.Mutex
	limited bool
	events  []map[string]any
}

func (s *pdServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if s.limited {
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"status":"throttle event","message":"Requests for this service are arriving too quickly. Please retry later."}`)
		return
	}
	var ev struct {
		RoutingKey  string `json:"routing_key"`
		EventAction string `json:"event_action"`
		DedupKey    string `json:"dedup_key"`
		Payload     struct {
			Summary  string `json:"summary"`
			Source   string `json:"source"`
			Severity string `json:"severity"`
		} `json:"payload"`
	}
	body, _ := io.ReadAll(r.Body)
	var errs []string
	if r.URL.Path != "/v2/enqueue" || json.Unmarshal(body, &ev) != nil {
		errs = append(errs, "Event object is invalid")
	}
	if len(ev.RoutingKey) != 32 {
		errs = append(errs, "'routing_key' must be 32 characters")
	}
	if ev.EventAction != "trigger" {
		errs = append(errs, "'event_action' is invalid")
	}
	if ev.Payload.Summary == "" || len(ev.Payload.Summary) > 1024 || !utf8.ValidString(ev.Payload.Summary) {
		errs = append(errs, "'payload.summary' is missing, too long or not UTF-8")
	}
	if ev.Payload.Source == "" {
		errs = append(errs, "'payload.source' is missing")
	}
	if !strings.Contains(" critical error warning info ", " "+ev.Payload.Severity+" ") {
		errs = append(errs, "'payload.severity' is invalid")
	}
	if len(errs) > 0 {
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": errs})
		return
	}
	var m map[string]any
	json.Unmarshal(body, &m)
	s.events = append(s.events, m)
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
}

func TestPagerDuty(t *testing.T) {
	srv := &pdServer{}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	key := strings.Repeat("k", 32)
	p := &PagerDuty{Client: ts.Client(), URL: ts.URL + "/v2/enqueue", RoutingKey: key}

	doc := testDoc(1)
	doc.Severity = "critical"
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g"} { // 7 × 200 bytes: cut between characters
		doc.Group[k] = strings.Repeat("é", 150)
	}
	doc.Runbook = "https://runbooks.example.com/x"
	if err := p.Notify(context.Background(), &doc); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	ev := srv.events[0]
	srv.mu.Unlock()
	payload := ev["payload"].(map[string]any)
	if ev["dedup_key"] != doc.AlertID || payload["severity"] != "critical" {
		t.Errorf("dedup_key %v severity %v, want %s critical", ev["dedup_key"], payload["severity"], doc.AlertID)
	}
	if s := payload["summary"].(string); len(s) > 1024 || !strings.HasPrefix(s, "[CRITICAL] Repeated") || !utf8.ValidString(s) || !strings.HasSuffix(s, "…") {
		t.Errorf("summary of %d bytes = %.40q…, want a cut one within 1024", len(s), s)
	}
	if links := ev["links"].([]any); links[0].(map[string]any)["href"] != doc.Runbook {
		t.Errorf("links = %v", links)
	}

	for sev, want := range map[string]string{"high": "error", "medium": "warning", "low": "info", "info": "info"} {
		if got := PagerDutySeverity(sev); got != want {
			t.Errorf("PagerDutySeverity(%q) = %q, want %q", sev, got, want)
		}
	}

	bad := &PagerDuty{Client: ts.Client(), URL: ts.URL + "/v2/enqueue", RoutingKey: "short"}
	err := bad.Notify(context.Background(), &doc)
	if !IsPermanent(err) || !strings.Contains(err.Error(), "400") {
		t.Errorf("invalid event: Notify = %v, want permanent 400", err)
	}
	if strings.Contains(err.Error(), key) {
		t.Errorf("error shows the routing key: %v", err)
	}

	srv.mu.Lock()
	srv.limited = true
	srv.mu.Unlock()
	if err := p.Notify(context.Background(), &doc); err == nil || IsPermanent(err) || retryAfterOf(err) != 0 {
		t.Errorf("throttled: Notify = %v, want retryable with the dispatcher's own backoff", err)
	}
}
