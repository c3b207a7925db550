package rules

import (
	"testing"
	"time"
)

// TestAlertIDPerFiring pins the alert_id scheme: every firing of a group
// gets its own id — re-alerts of a sustained attack after each cooldown,
// and with threshold 0 and cooldown 0s every event, several at one
// millisecond included — and the same input gives the same ids.
func TestAlertIDPerFiring(t *testing.T) {
	var sustained []in
	for s := 0; s < 240; s += 10 { // one client failing every 10 s for 4 minutes
		sustained = append(sustained, fails("a", float64(s))...)
	}
	everyEvent := &Rule{ID: "r", Severity: "high", Kind: KindThreshold, Match: failures, GroupBy: []string{"ip"},
		Window: 5 * time.Minute, Threshold: 0, Cooldown: 0}
	tests := []struct {
		name   string
		rule   *Rule
		events []in
		want   int
	}{
		{"cooldown shorter than window", threshold(5*time.Minute, time.Minute, 2, "ip"), sustained, 4},
		{"threshold 0 cooldown 0s, three events at one millisecond", everyEvent, fails("a", 1, 1, 1, 2), 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, NewEngine([]*Rule{tc.rule}), tc.events)
			again := run(t, NewEngine([]*Rule{tc.rule}), tc.events)
			if len(got) != tc.want || len(again) != tc.want {
				t.Fatalf("got %d and %d alerts, want %d each", len(got), len(again), tc.want)
			}
			seen := map[string]bool{}
			for i, a := range got {
				if seen[a.ID] {
					t.Errorf("alert %d (time %s, count %d): id %s repeats an earlier firing's", i, a.Time, a.Count, a.ID)
				}
				seen[a.ID] = true
				if a.ID != again[i].ID {
					t.Errorf("alert %d: id %s, then %s on the same input", i, a.ID, again[i].ID)
				}
			}
		})
	}
}

// TestHashIDKeepsEarlierIDs checks that HashID gives flood digests and
// eviction alerts the ids they had before it existed (the first 16 bytes of
// the SHA-256 of their parts joined by NUL bytes), so an upgrade within the
// hour does not send them again.
func TestHashIDKeepsEarlierIDs(t *testing.T) {
	// printf 'digest\x00r\x002026-01-28T10:00:00Z' | sha256sum | cut -c1-32
	const want = "8b66f65e9c9ea7fbec02b934b3de9704"
	if got := HashID("digest", "r", "2026-01-28T10:00:00Z"); got != want {
		t.Errorf("HashID: got %s, want %s", got, want)
	}
}
