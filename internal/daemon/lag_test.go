package daemon

import (
	"fmt"
	"testing"
)

// TestLagIgnoresRejectedEvents feeds a line stamped far in the future,
// which the source rejects: the lag gauge (it feeds the lag alarm) takes
// only the events that were accepted, so it stays positive.
func TestLagIgnoresRejectedEvents(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t, fmt.Sprintf(ruleA, 0))
	in := start(t, tb.config(options{}), nil)
	lines := tb.lines("request", "198.51.100.1", 1)
	lines = append(lines, `{"timestamp":"2185-01-01T00:00:00Z","event_type":"request","client_ip":"198.51.100.9"}`)
	tb.feed(lines)
	in.waitMetric(`secwatch_source_malformed_total{source="app"}`, 1)
	in.waitEvents(1)
	if lag := in.metric(`secwatch_source_lag_seconds{source="app"}`); lag <= 0 {
		t.Errorf("secwatch_source_lag_seconds after a rejected far-future line: got %v, want > 0 (the accepted 2026 event's lag)", lag)
	}
	in.stopClean()
}
