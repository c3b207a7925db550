package daemon

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/rules"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// TestEvictionDocWire pins the eviction alert's wire form, id included:
// the id is what lets a restart within the hour drop the repeat, so it
// must not change from one release to the next.
func TestEvictionDocWire(t *testing.T) {
	hour := time.Date(2026, 1, 28, 10, 0, 0, 0, time.UTC)
	now := hour.Add(17*time.Minute + 3*time.Second + 250*time.Millisecond)
	d := evictionDoc(rules.RuleStats{Rule: "burst", Evicted: 120}, 45, 5, hour, now)
	got, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", "eviction.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("eviction alert document changed:\ngot  %s\nwant %s", got, want)
	}
}
