package alerting

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/rules"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (run with -update and review the diff):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

var burst = &rules.Rule{
	ID:       "mcp-auth-failure-burst",
	Title:    "Repeated authentication failures from one client",
	Severity: "high",
	Runbook:  "https://wiki.example/runbooks/mcp-auth",
	Labels:   map[string]string{"requirement": "23.2", "team": "security"},
	GroupBy:  []string{"client_ip"},
}

func alertAt(r *rules.Rule, at string, ip string) *rules.Alert {
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		panic(err)
	}
	a := &rules.Alert{Rule: r, Time: t, FirstSeen: t.Add(-time.Minute), Count: 11, Source: "mcp-prod"}
	if ip != "" {
		a.Group = []event.Field{{Key: "client_ip", Value: ip}}
	}
	return a
}

// admitAll feeds alerts and returns which were admitted.
func admitAll(f *Flood, alerts []*rules.Alert) []bool {
	var out []bool
	for _, a := range alerts {
		out = append(out, f.Admit(a))
	}
	return out
}

func hourOfAlerts() []*rules.Alert {
	// 10 alerts in the 10:00 hour: .1 ×5, .2 ×3, .3 ×2, interleaved.
	ips := []string{"1", "1", "2", "1", "3", "2", "1", "3", "2", "1"}
	var as []*rules.Alert
	for i, ip := range ips {
		as = append(as, alertAt(burst, fmt.Sprintf("2026-01-28T10:%02d:00Z", i*5+1), "203.0.113."+ip))
	}
	return as
}

func TestFloodCapAndDigest(t *testing.T) {
	m := new(Metrics)
	f := &Flood{Cap: 3, Metrics: m}
	got := admitAll(f, hourOfAlerts())
	want := []bool{true, true, true, false, false, false, false, false, false, false}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("admitted %v, want %v", got, want)
	}
	if d := f.Flush(time.Date(2026, 1, 28, 10, 59, 59, 0, time.UTC)); len(d) != 0 {
		t.Errorf("Flush before the hour ended gave %d digests", len(d))
	}
	ds := f.Flush(time.Date(2026, 1, 28, 11, 0, 0, 0, time.UTC))
	if len(ds) != 1 {
		t.Fatalf("Flush at the hour's end gave %d digests, want 1", len(ds))
	}
	d := ds[0]
	if d.Count != 7 || m.Suppressed.Load() != 7 || m.Digests.Load() != 1 {
		t.Errorf("digest count %d, Suppressed %d, Digests %d; want 7, 7, 1", d.Count, m.Suppressed.Load(), m.Digests.Load())
	}
	if d.AlertID != digestID(burst.ID, time.Date(2026, 1, 28, 10, 0, 0, 0, time.UTC)) || len(d.AlertID) != 32 {
		t.Errorf("alert_id %q is not the hash of rule and hour", d.AlertID)
	}
	if burst.Labels["digest"] != "" {
		t.Error("digest labels written into the rule's map")
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "flood/digest.json", append(b, '\n'))
	if d := f.Flush(time.Date(2026, 1, 29, 0, 0, 0, 0, time.UTC)); len(d) != 0 {
		t.Errorf("second Flush gave %d more digests", len(d))
	}
}

// The rule's first alert of a later hour closes the earlier hour; an
// hour without suppression has no digest.
func TestFloodHourChange(t *testing.T) {
	f := &Flood{Cap: 3}
	admitAll(f, hourOfAlerts())
	if !f.Admit(alertAt(burst, "2026-01-28T11:05:00Z", "203.0.113.1")) {
		t.Error("first alert of a new hour suppressed")
	}
	// Still the 11:00 hour, from another group and out of order: counts
	// against 11:00, the open hour.
	f.Admit(alertAt(burst, "2026-01-28T10:59:00Z", "203.0.113.9"))
	ds := f.Flush(time.Date(2026, 1, 28, 11, 10, 0, 0, time.UTC))
	if len(ds) != 1 || ds[0].Count != 7 || ds[0].Group["digest"] != "2026-01-28T10:00:00Z" {
		t.Fatalf("digests %+v; want the 10:00 one with count 7", ds)
	}
	if ds := f.Flush(time.Date(2026, 1, 28, 12, 0, 0, 0, time.UTC)); len(ds) != 0 {
		t.Errorf("11:00 hour (2 alerts, cap 3) gave a digest: %+v", ds)
	}
}

// An alert for an hour Flush already closed goes to the next hour, so
// that no rule and hour gets two digests with one alert_id.
func TestFloodLateAlert(t *testing.T) {
	f := &Flood{Cap: 1}
	f.Admit(alertAt(burst, "2026-01-28T10:00:00Z", "a"))
	f.Admit(alertAt(burst, "2026-01-28T10:01:00Z", "a"))
	first := f.Flush(time.Date(2026, 1, 28, 11, 0, 0, 0, time.UTC))
	if f.Admit(alertAt(burst, "2026-01-28T10:59:00Z", "b")) != true {
		t.Error("late alert, first of the next hour, suppressed")
	}
	f.Admit(alertAt(burst, "2026-01-28T10:59:30Z", "b"))
	second := f.Flush(time.Date(2026, 1, 28, 12, 0, 0, 0, time.UTC))
	if len(first) != 1 || len(second) != 1 {
		t.Fatalf("digests %d then %d, want 1 and 1", len(first), len(second))
	}
	if first[0].AlertID == second[0].AlertID || second[0].Group["digest"] != "2026-01-28T11:00:00Z" {
		t.Errorf("second digest %+v should be for 11:00 with its own id", second[0])
	}
}

func TestFloodUnlimited(t *testing.T) {
	var f Flood
	for _, ok := range admitAll(&f, hourOfAlerts()) {
		if !ok {
			t.Fatal("Cap 0 suppressed an alert")
		}
	}
	if d := f.Flush(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)); len(d) != 0 {
		t.Errorf("Cap 0 made %d digests", len(d))
	}
}

// Rules are capped separately.
func TestFloodPerRule(t *testing.T) {
	other := &rules.Rule{ID: "probe-tls", Severity: "critical"}
	f := &Flood{Cap: 1}
	got := admitAll(f, []*rules.Alert{
		alertAt(burst, "2026-01-28T10:00:00Z", "a"),
		alertAt(other, "2026-01-28T10:00:00Z", ""),
		alertAt(burst, "2026-01-28T10:01:00Z", "a"),
		alertAt(other, "2026-01-28T10:01:00Z", ""),
	})
	if fmt.Sprint(got) != "[true true false false]" {
		t.Errorf("admitted %v", got)
	}
	ds := f.Flush(time.Date(2026, 1, 28, 11, 0, 0, 0, time.UTC))
	if len(ds) != 2 || ds[0].Rule != "mcp-auth-failure-burst" || ds[1].Rule != "probe-tls" {
		t.Fatalf("digests %+v, want one per rule, sorted", ds)
	}
	if ds[1].Title != "1 alert suppressed for probe-tls" || !strings.Contains(ds[1].Description, "(no group): 1") {
		t.Errorf("ungrouped digest: title %q description %q", ds[1].Title, ds[1].Description)
	}
}

// The description lists the top 20 groups; the rest, and groups beyond
// the tracking bound, are summed; attacker text is sanitized.
func TestFloodManyGroups(t *testing.T) {
	f := &Flood{Cap: 1}
	f.Admit(alertAt(burst, "2026-01-28T10:00:00Z", "first"))
	total := 0
	for range 5 {
		f.Admit(alertAt(burst, "2026-01-28T10:01:00Z", "evil\x1b[31m\nInjected: line"))
		total++
	}
	for i := range maxFloodGroups + 50 {
		n := 1
		if i < 3 {
			n = 10 - i // three big groups
		}
		for range n {
			f.Admit(alertAt(burst, "2026-01-28T10:30:00Z", fmt.Sprintf("10.0.%d.%d", i/256, i%256)))
			total++
		}
	}
	ds := f.Flush(time.Date(2026, 1, 28, 11, 0, 0, 0, time.UTC))
	if len(ds) != 1 || ds[0].Count != total {
		t.Fatalf("digest count %d, want %d", ds[0].Count, total)
	}
	desc := ds[0].Description
	lines := strings.Split(desc, "\n")
	if !strings.HasPrefix(lines[2], "  client_ip=10.0.0.0: 10") || !strings.HasPrefix(lines[4], "  client_ip=10.0.0.2: 8") || !strings.HasPrefix(lines[5], "  client_ip=evil") {
		t.Errorf("groups not sorted by count:\n%s", desc)
	}
	listed := 0
	for _, l := range lines[2:] {
		var n int
		if i := strings.LastIndex(l, ": "); i >= 0 && !strings.Contains(l, "more alerts") {
			fmt.Sscan(l[i+2:], &n)
			listed += n
		}
	}
	var rest int
	fmt.Sscanf(lines[len(lines)-1], "  and %d more alerts in other groups", &rest)
	if len(lines) != 2+DigestTopGroups+1 || listed+rest != total {
		t.Errorf("%d lines, listed %d + rest %d; want 20 groups and a sum of %d:\n%s", len(lines), listed, rest, total, desc)
	}
	if !strings.Contains(desc, "\n  client_ip=evil Injected: line: 5\n") || strings.Contains(desc, "\x1b") {
		t.Errorf("attacker text not sanitized:\n%q", desc)
	}
	if n := len(f.rules); n != 1 {
		t.Errorf("%d rule states", n)
	}
}

// A checkpoint mid-hour, restored into a new Flood, gives the same
// decisions and digest as an uninterrupted run.
func TestFloodStateRoundTrip(t *testing.T) {
	alerts := hourOfAlerts()
	alerts = append(alerts, alertAt(burst, "2026-01-28T11:30:00Z", "203.0.113.4")) // closes 10:00 into a pending digest
	end := time.Date(2026, 1, 28, 12, 0, 0, 0, time.UTC)

	whole := &Flood{Cap: 3}
	wantAdmit := admitAll(whole, alerts)
	wantDigests := whole.Flush(end)

	for cut := range len(alerts) + 1 {
		a := &Flood{Cap: 3}
		got := admitAll(a, alerts[:cut])
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		m := new(Metrics)
		restored := &Flood{Cap: 3, Metrics: m}
		if err := json.Unmarshal(b, restored); err != nil {
			t.Fatalf("cut %d: %v\n%s", cut, err, b)
		}
		got = append(got, admitAll(restored, alerts[cut:])...)
		gotDigests := restored.Flush(end)
		if fmt.Sprint(got) != fmt.Sprint(wantAdmit) {
			t.Errorf("cut %d: admitted %v, want %v", cut, got, wantAdmit)
		}
		gj, _ := json.Marshal(gotDigests)
		wj, _ := json.Marshal(wantDigests)
		if string(gj) != string(wj) {
			t.Errorf("cut %d: digests\n%s\nwant\n%s", cut, gj, wj)
		}
	}
	if err := json.Unmarshal([]byte(`{"v":2}`), &Flood{}); err == nil {
		t.Error("state of an unknown version accepted")
	}
}
