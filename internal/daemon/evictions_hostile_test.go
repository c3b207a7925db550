package daemon

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

const sprayRule = `rules:
  - id: burst
    match: {event_type: authentication_failure}
    group_by: [client_ip]
    window: 5m
    threshold: 10
`

// TestEvictionAlert: a spray of distinct client addresses beyond max_keys
// raises one secwatch-key-evictions alert for the rule, with the number of
// evictions, and no more than one per rule and hour however long the
// spray goes on.
func TestEvictionAlert(t *testing.T) {
	tb := newTestbed(t, sprayRule)
	cfg := tb.config(options{})
	cfg.Engine.MaxKeys = 5
	in := start(t, cfg, nil)
	var spray []string
	for i := range 50 {
		spray = append(spray, tb.lines("authentication_failure", fmt.Sprintf("198.51.100.%d", i), 1)...)
	}
	tb.feed(spray)
	in.waitEvents(50)
	docs := in.waitAlerts(1)
	d := docs[0]
	if d.Rule != EvictionRule || d.Group["rule"] != "burst" || d.Count != 45 || d.Severity != "high" || d.Labels["max_keys"] != "5" {
		t.Fatalf("got alert %+v, want %s for rule burst with count 45", d, EvictionRule)
	}
	in.waitMetric(`secwatch_rule_evicted_total{rule="burst"}`, 45)
	// More of the spray in the same hour: counted, not alerted again.
	spray = spray[:0]
	for i := range 20 {
		spray = append(spray, tb.lines("authentication_failure", fmt.Sprintf("198.51.101.%d", i), 1)...)
	}
	tb.feed(spray)
	in.waitEvents(70)
	in.waitMetric(`secwatch_rule_evicted_total{rule="burst"}`, 65)
	in.stopClean()
	perHour := map[string]int{}
	for _, d := range in.alerts() {
		if d.Rule == EvictionRule {
			perHour[d.FirstSeen]++
		}
	}
	for h, n := range perHour {
		if n != 1 {
			t.Errorf("hour %s: %d eviction alerts, want 1", h, n)
		}
	}
}

// TestFutureEventRejected: a line stamped in 2199 is rejected with its
// position and does not blind the rule to the burst that follows it.
func TestFutureEventRejected(t *testing.T) {
	tb := newTestbed(t, sprayRule)
	in := start(t, tb.config(options{}), nil)
	forged := `{"timestamp":"2199-12-31T00:00:00Z","event_type":"authentication_failure","client_ip":"198.51.100.66"}`
	tb.feed(append([]string{forged}, tb.lines("authentication_failure", "203.0.113.7", 11)...))
	in.waitEvents(11)
	docs := in.waitAlerts(1)
	if d := docs[0]; d.Rule != "burst" || d.Group["client_ip"] != "203.0.113.7" || d.Count != 11 {
		t.Fatalf("got alert %+v, want burst for 203.0.113.7 with count 11", d)
	}
	in.waitMetric(`secwatch_source_malformed_total{source="app"}`, 1)
	var found bool
	for _, e := range in.logEntries("line rejected") {
		if pos, _ := e["position"].(string); strings.HasSuffix(pos, "app.log:1") && strings.Contains(fmt.Sprint(e["reason"]), "ahead of the clock") {
			found = true
		}
	}
	if !found {
		t.Errorf("no \"line rejected\" log at app.log:1 for the forged time\n%s", in.log)
	}
	in.stopClean()
}

// TestMaxFutureConfigured: engine.max_future moves the limit; generated
// traffic running ahead of the clock (the demo) is then counted, not
// rejected.
func TestMaxFutureConfigured(t *testing.T) {
	tb := newTestbed(t, sprayRule)
	tb.clock = time.Now().Add(30 * 24 * time.Hour)
	cfg := tb.config(options{})
	cfg.Engine.MaxFuture = 365 * 24 * time.Hour
	in := start(t, cfg, nil)
	tb.feed(tb.lines("authentication_failure", "203.0.113.8", 11))
	in.waitEvents(11)
	if d := in.waitAlerts(1)[0]; d.Rule != "burst" || d.Count != 11 {
		t.Fatalf("got alert %+v, want burst with count 11", d)
	}
	if n := len(in.logEntries("line rejected")); n != 0 {
		t.Errorf("%d lines rejected 30 days ahead with max_future 1 year", n)
	}
	in.stopClean()
}
