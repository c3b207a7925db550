package daemon

import (
	"os"
	"testing"
)

// TestTruncationCheckpoints: lines read before a copytruncate can no
// longer be read again, so the truncation makes the daemon checkpoint at
// once (the periodic checkpoint is ten minutes away here).
func TestTruncationCheckpoints(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t, burstRule)
	cfg := tb.config(options{})
	const ip = "203.0.113.7"

	in := start(t, cfg, nil)
	tb.feed(tb.lines("login_failed", ip, 3))
	in.waitEvents(3)
	before := in.metric("secwatch_checkpoints_total")
	if err := os.Truncate(tb.log, 0); err != nil {
		t.Fatal(err)
	}
	in.waitMetric("secwatch_source_truncations_total{source=\"app\"}", 1)
	in.waitMetric("secwatch_checkpoints_total", before+1)
}
