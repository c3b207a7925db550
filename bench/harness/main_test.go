package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/secwatch/secwatch/internal/loggen"
)

func TestJudge(t *testing.T) {
	truth := loggen.Truth{Attackers: []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"}, NearMisses: []string{"192.0.2.9"}}
	for _, tc := range []struct {
		name   string
		alerts string
		want   quality
		exact  bool
	}{
		{"exact", `{"rule":"burst","group":{"client_ip":"203.0.113.1"}}
{"rule":"other","group":{"client_ip":"192.0.2.9"}}
{"rule":"burst","group":{"client_ip":"203.0.113.3"}}
{"rule":"burst","group":{"client_ip":"203.0.113.2"}}
`, quality{alerts: 3, found: 3}, true},
		{"missed and wrong", `{"rule":"burst","group":{"client_ip":"203.0.113.1"}}
{"rule":"burst","group":{"client_ip":"203.0.113.1"}}
{"rule":"burst","group":{"client_ip":"192.0.2.9"}}
{"rule":"burst","group":{"client_ip":"198.51.100.4"}}
`, quality{alerts: 4, found: 1, missed: 2, nearMiss: 1, falsePos: 1, repeats: 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "alerts.jsonl")
			if err := os.WriteFile(f, []byte(tc.alerts), 0o644); err != nil {
				t.Fatal(err)
			}
			q, err := judge(f, "burst", truth)
			if err != nil {
				t.Fatal(err)
			}
			got := [6]int{q.alerts, q.found, q.missed, q.nearMiss, q.falsePos, q.repeats}
			want := [6]int{tc.want.alerts, tc.want.found, tc.want.missed, tc.want.nearMiss, tc.want.falsePos, tc.want.repeats}
			if got != want {
				t.Errorf("got alerts, found, missed, near misses, false positives, repeats %v, want %v", got, want)
			}
			if q.exact() != tc.exact {
				t.Errorf("exact() = %v, want %v", q.exact(), tc.exact)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median of 3 1 2 = %v, want 2", got)
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median of 4 1 3 2 = %v, want 2.5", got)
	}
}
