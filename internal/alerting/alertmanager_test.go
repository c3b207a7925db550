package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// alertmanagerBinary finds the Alertmanager that scripts/alertmanager.sh
// installs; a missing one fails the test (it is never skipped).
func alertmanagerBinary(t *testing.T) string {
	t.Helper()
	for _, n := range []string{"prometheus-alertmanager", "alertmanager", "/usr/bin/prometheus-alertmanager"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Fatal("alertmanager not found: run scripts/alertmanager.sh (make test-go does) to install Debian's prometheus-alertmanager")
	return ""
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

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

// startAlertmanager runs a real Alertmanager on a free loopback port that
// notifies hook with every alert in one group, and returns its URL.
func startAlertmanager(t *testing.T, hook string) string {
	t.Helper()
	bin := alertmanagerBinary(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`route:
  receiver: hook
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %q
        send_resolved: false
`, hook)
	if err := os.WriteFile(filepath.Join(dir, "am.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	var logs bytes.Buffer
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "am.yml"), "--storage.path="+dir,
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager output:\n%s", logs.String())
		}
	})
	url := "http://" + addr
	waitFor(t, 20*time.Second, "alertmanager ready", func() bool {
		resp, err := http.Get(url + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return url
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

type amGot struct {
	Labels map[string]string `json:"labels"`
	EndsAt time.Time         `json:"endsAt"`
	Status struct {
		State string `json:"state"`
	} `json:"status"`
}

// amAlerts lists Alertmanager's current (unresolved) alerts by alert_id.
func amAlerts(t *testing.T, url string) map[string]amGot {
	t.Helper()
	resp, err := http.Get(url + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []amGot
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	out := map[string]amGot{}
	for _, a := range list {
		if _, dup := out[a.Labels["alert_id"]]; dup {
			t.Errorf("alert_id %s twice in alertmanager", a.Labels["alert_id"])
		}
		out[a.Labels["alert_id"]] = a
	}
	return out
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
	url := startAlertmanager(t, hs.URL)

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

	got := amAlerts(t, url)
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
		_, ok := amAlerts(t, url)[notKept.AlertID]
		return !ok
	})
	got = amAlerts(t, url)
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
