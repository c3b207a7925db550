package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/secwatch/secwatch/internal/testutil/amserver"
)

// amHook is the webhook receiver Alertmanager notifies: it records the
// alert_id label of every firing alert of every notification.
type amHook struct {
	mu  sync.Mutex
	ids []string
	got chan struct{}
}

func (h *amHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		Alerts []struct {
			Status string            `json:"status"`
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	for _, a := range msg.Alerts {
		if a.Status == "firing" {
			h.ids = append(h.ids, a.Labels["alert_id"])
		}
	}
	h.mu.Unlock()
	select {
	case h.got <- struct{}{}:
	default:
	}
}

// waitFor polls cond until it holds or timeout passes (a real process, so
// no synctest bubble).
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func liveDoc(n int, rule string) Document {
	d := testDoc(n)
	d.Rule = rule
	d.Time = time.Now().UTC().Format(time.RFC3339)
	d.Labels = map[string]string{"team": "secops", "pci.requirement": "10.2"}
	d.Runbook = "https://runbooks.example.com/" + rule
	return d
}

func TestAlertmanagerReal(t *testing.T) {
	hook := &amHook{got: make(chan struct{}, 1)}
	hs := httptest.NewServer(hook)
	defer hs.Close()
	url := amserver.Start(t, hs.URL)

	// A silence created through Alertmanager's API, before the alerts.
	silence := fmt.Sprintf(`{"matchers":[{"name":"rule","value":"silenced-rule","isRegex":false,"isEqual":true}],
		"startsAt":%q,"endsAt":%q,"createdBy":"secwatch test","comment":"pentest"}`,
		time.Now().UTC().Format(time.RFC3339), time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	resp, err := http.Post(url+"/api/v2/silences", "application/json", bytes.NewBufferString(silence))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("create silence: %s: %s", resp.Status, body)
	}

	kept := &Alertmanager{URL: url, RepostInterval: 500 * time.Millisecond, ActiveFor: time.Hour}
	once := &Alertmanager{ID: "am-once", URL: url, RepostInterval: 500 * time.Millisecond, ActiveFor: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error)
	go func() { runDone <- kept.Run(ctx) }()

	silenced, a, b := liveDoc(1, "silenced-rule"), liveDoc(2, "alb-path-scan"), liveDoc(3, "alb-path-scan")
	for _, d := range []Document{silenced, a, a, b} { // a twice: a redelivery
		if err := kept.Notify(ctx, &d); err != nil {
			t.Fatal(err)
		}
	}
	notKept := liveDoc(4, "alb-path-scan") // posted once, never re-posted
	if err := once.Notify(ctx, &notKept); err != nil {
		t.Fatal(err)
	}

	got := amserver.Alerts(t, url)
	if len(got) != 4 {
		t.Fatalf("alertmanager holds %d alerts, want 4 (one per alert_id)", len(got))
	}
	wantLabels := map[string]string{
		"alertname": "alb-path-scan", "rule": "alb-path-scan", "severity": "high", "alert_id": a.AlertID,
		"client_ip": a.Group["client_ip"], "team": "secops", "pci_requirement": "10.2",
	}
	if l := got[a.AlertID].Labels; !mapsEqual(l, wantLabels) {
		t.Errorf("labels = %v\nwant %v", l, wantLabels)
	}
	if s := got[silenced.AlertID].Status.State; s != "suppressed" {
		t.Errorf("silenced alert state = %q, want suppressed", s)
	}

	// The one-off alert expires at its endsAt (2 s); the re-posted ones are
	// still firing then.
	waitFor(t, 20*time.Second, "the alert that is not re-posted to resolve", func() bool {
		_, ok := amserver.Alerts(t, url)[notKept.AlertID]
		return !ok
	})
	got = amserver.Alerts(t, url)
	for _, d := range []Document{a, b} {
		if g, ok := got[d.AlertID]; !ok || g.Status.State != "active" || !g.EndsAt.After(time.Now()) {
			t.Errorf("re-posted alert %s: %+v, want active with endsAt ahead", d.AlertID, g)
		}
	}

	// Alertmanager notified the receiver of a and b, never of the silenced one.
	waitFor(t, 20*time.Second, "notifications of both alerts", func() bool {
		hook.mu.Lock()
		defer hook.mu.Unlock()
		return slices.Contains(hook.ids, a.AlertID) && slices.Contains(hook.ids, b.AlertID)
	})
	hook.mu.Lock()
	if slices.Contains(hook.ids, silenced.AlertID) {
		t.Errorf("the silenced alert was notified: %v", hook.ids)
	}
	hook.mu.Unlock()
	if kept.Active() != 3 {
		t.Errorf("Active() = %d, want 3", kept.Active())
	}
	cancel()
	if err := <-runDone; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Each post's endsAt is four intervals ahead, capped at the end of the
// active period; Run drops an alert once that end has passed.
func TestAlertmanagerEndsAt(t *testing.T) {
	var mu sync.Mutex
	var posts [][]amAlert
	srv := handlerClient(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var batch []amAlert
		json.NewDecoder(r.Body).Decode(&batch)
		mu.Lock()
		posts = append(posts, batch)
		mu.Unlock()
	}))
	am := &Alertmanager{Client: srv, URL: "http://am.test", RepostInterval: time.Minute, ActiveFor: 10 * time.Minute}
	now := time.Now()
	doc := testDoc(1)
	doc.Time = now.UTC().Format(time.RFC3339)
	act := &amActive{alert: amAlertOf(&doc), until: now.Add(10 * time.Minute)}
	for i, at := range []time.Time{now, now.Add(7 * time.Minute)} {
		if err := am.post(context.Background(), []*amActive{act}, at); err != nil {
			t.Fatal(err)
		}
		want := []time.Time{now.Add(4 * time.Minute), now.Add(10 * time.Minute)}[i]
		if got := posts[i][0].EndsAt; got != want.UTC().Format(time.RFC3339Nano) {
			t.Errorf("post at +%s: endsAt %s, want %s", at.Sub(now), got, want.UTC().Format(time.RFC3339Nano))
		}
	}
	am.active = map[string]*amActive{doc.AlertID: act}
	if n := len(am.due(now.Add(9 * time.Minute))); n != 1 {
		t.Errorf("due before the end = %d alerts, want 1", n)
	}
	if n := len(am.due(now.Add(10 * time.Minute))); n != 0 || am.Active() != 0 {
		t.Errorf("due at the end = %d alerts (%d kept), want 0", n, am.Active())
	}
}

// memActive is an ActiveStore in memory.
type memActive struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memActive) Save(id string, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[id] = b
	return nil
}

func (s *memActive) Remove(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
	return nil
}

func (s *memActive) Load() (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.m), nil
}

func (s *memActive) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// An alert kept in the Store outlives its notifier: a new one (a restart)
// re-posts it at once and each interval until its end, then forgets it;
// an unusable record is dropped.
func TestAlertmanagerActiveStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var posts []string
		client := handlerClient(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var batch []amAlert
			json.NewDecoder(r.Body).Decode(&batch)
			mu.Lock()
			defer mu.Unlock()
			for _, a := range batch {
				posts = append(posts, a.Labels["alert_id"])
			}
		}))
		st := &memActive{m: map[string][]byte{"ffff": []byte("{")}}
		first := &Alertmanager{Client: client, URL: "http://am.test", RepostInterval: time.Second, ActiveFor: time.Minute, Store: st}
		doc := testDoc(1)
		doc.Time = time.Now().UTC().Format(time.RFC3339Nano)
		if err := first.Notify(context.Background(), &doc); err != nil {
			t.Fatal(err)
		}
		if st.len() != 2 {
			t.Fatalf("store holds %d records, want the alert's and the unusable one", st.len())
		}

		second := &Alertmanager{Client: client, URL: "http://am.test", RepostInterval: time.Second, ActiveFor: time.Minute, Store: st}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- second.Run(ctx) }()
		synctest.Wait()
		mu.Lock()
		got := slices.Clone(posts)
		mu.Unlock()
		if want := []string{doc.AlertID, doc.AlertID}; !slices.Equal(got, want) {
			t.Fatalf("posts after the restart: got %v, want %v (Notify's, then the re-post at start)", got, want)
		}
		if second.Active() != 1 || st.len() != 1 {
			t.Fatalf("after load: %d active, %d stored, want 1 and 1 (the unusable record dropped)", second.Active(), st.len())
		}
		time.Sleep(time.Minute + 2*time.Second)
		synctest.Wait()
		if second.Active() != 0 || st.len() != 0 {
			t.Errorf("after the end: %d active, %d stored, want 0 and 0", second.Active(), st.len())
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
}
