package daemon

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
)

// sustainedRule re-alerts once per minute while a client keeps failing:
// its cooldown is shorter than its window.
const sustainedRule = `rules:
  - id: sustained
    match: {event_type: login_failed}
    group_by: [client_ip]
    window: 5m
    threshold: 2
    cooldown: 1m
`

// sustainedLines is one client failing every 10 s for 4 minutes, from
// start: the rule fires 4 times, each firing counting since the same
// first_seen.
func sustainedLines(start time.Time, ip string) []string {
	var out []string
	for s := 0; s < 240; s += 10 {
		at := start.Add(time.Duration(s) * time.Second)
		out = append(out, fmt.Sprintf(`{"timestamp":%q,"event_type":"login_failed","client_ip":%q}`, at.Format(time.RFC3339), ip))
	}
	return out
}

// replayIDs runs the engine over lines as replay does and returns the
// alert ids it fires, in order.
func replayIDs(t *testing.T, rulesYAML string, lines []string) []string {
	t.Helper()
	rs, err := rulefile.Parse("rules.yaml", []byte(rulesYAML))
	if err != nil {
		t.Fatal(err)
	}
	e := rules.NewEngine(rs)
	var ids []string
	for _, l := range lines {
		var v struct {
			Timestamp time.Time `json:"timestamp"`
			Type      string    `json:"event_type"`
			IP        string    `json:"client_ip"`
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatal(err)
		}
		ev := event.Event{Time: v.Timestamp, Fields: []event.Field{{Key: "event_type", Value: v.Type}, {Key: "client_ip", Value: v.IP}}}
		for _, a := range e.Observe(&ev) {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

// TestSustainedAttackAlertsOncePerFiring feeds a sustained attack to a
// daemon with the state directory: it delivers the 4 alerts replay fires,
// with replay's 4 distinct ids, and drops none as a duplicate.
func TestSustainedAttackAlertsOncePerFiring(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t, sustainedRule)
	in := start(t, tb.config(options{}), nil)
	lines := sustainedLines(tb.clock, "203.0.113.7")
	want := replayIDs(t, sustainedRule, lines)
	if len(want) != 4 {
		t.Fatalf("replay fired %d alerts, want 4", len(want))
	}
	tb.feed(lines)
	in.waitEvents(len(lines))
	in.waitMetric("secwatch_outbox_depth", 0)
	docs := in.waitAlerts(4)
	dups := in.metric("secwatch_alerts_duplicate_total")
	in.stopClean()
	if len(docs) != 4 {
		t.Fatalf("got %d alerts, want 4", len(docs))
	}
	seen := map[string]bool{}
	for i, d := range docs {
		if d.AlertID != want[i] {
			t.Errorf("alert %d (time %s): id %s, replay's is %s", i, d.Time, d.AlertID, want[i])
		}
		if seen[d.AlertID] {
			t.Errorf("alert %d (time %s): id %s delivered twice", i, d.Time, d.AlertID)
		}
		seen[d.AlertID] = true
		if d.FirstSeen != docs[0].FirstSeen {
			t.Errorf("alert %d: first_seen %s, want %s (one window)", i, d.FirstSeen, docs[0].FirstSeen)
		}
	}
	if dups != 0 {
		t.Errorf("secwatch_alerts_duplicate_total = %v, want 0", dups)
	}
}
