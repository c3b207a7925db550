// Package amserver starts a real Prometheus Alertmanager for tests, on a
// free loopback port, and reads its alerts. Only _test.go files import it.
//
// The binary is Debian's prometheus-alertmanager (scripts/alertmanager.sh
// installs it; `make test` runs that first). When there is none the test
// fails: it is never skipped.
package amserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Binary finds the Alertmanager; a missing one fails t.
func Binary(t testing.TB) string {
	t.Helper()
	for _, n := range []string{"prometheus-alertmanager", "alertmanager", "/usr/bin/prometheus-alertmanager"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Fatal("alertmanager not found: run scripts/alertmanager.sh (make test-go does) to install Debian's prometheus-alertmanager")
	return ""
}

// Start runs an Alertmanager that notifies the webhook hook with every
// alert in one group (group_wait and group_interval 1s), stops it with
// t.Cleanup, and returns its URL once it is ready.
func Start(t testing.TB, hook string) string {
	t.Helper()
	bin := Binary(t)
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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
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
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := http.Get(url + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager at %s not ready after 20s", url)
		}
		time.Sleep(50 * time.Millisecond) // polling a real process
	}
}

// Alert is an alert as Alertmanager's API lists it.
type Alert struct {
	Labels map[string]string `json:"labels"`
	EndsAt time.Time         `json:"endsAt"`
	Status struct {
		State string `json:"state"`
	} `json:"status"`
}

// Alerts lists the Alertmanager's current (unresolved) alerts by their
// alert_id label; an alert_id listed twice fails t.
func Alerts(t testing.TB, url string) map[string]Alert {
	t.Helper()
	resp, err := http.Get(url + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []Alert
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	out := map[string]Alert{}
	for _, a := range list {
		if _, dup := out[a.Labels["alert_id"]]; dup {
			t.Errorf("alert_id %s twice in alertmanager", a.Labels["alert_id"])
		}
		out[a.Labels["alert_id"]] = a
	}
	return out
}
