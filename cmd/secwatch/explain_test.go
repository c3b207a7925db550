package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExplainWhyNotGolden pins what explain says about events that rules
// skipped: one excluded by not_cidr, one by a field the rule misspells and
// one by a numeric comparison, in text (closest rules) and JSON (--all).
// -update rewrites the golden files.
func TestExplainWhyNotGolden(t *testing.T) {
	dir := filepath.Join("testdata", "explain")
	for _, c := range []struct {
		golden string
		args   []string
	}{
		{"want.text", nil},
		{"want.json", []string{"--all", "--output", "json"}},
	} {
		t.Run(c.golden, func(t *testing.T) {
			// The file name first and flags after it: flags go anywhere.
			args := append([]string{"explain", filepath.Join(dir, "events.jsonl"), "--rules", filepath.Join(dir, "rules.yaml")}, c.args...)
			got, errb, code := secwatch(t, "", args...)
			if code != exitOK {
				t.Fatalf("code %d: %s", code, errb)
			}
			golden := filepath.Join(dir, c.golden)
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("got:\n%s\nwant (%s):\n%s", got, golden, want)
			}
			if strings.Contains(got, "sk-live-123") {
				t.Errorf("explain shows a secret field's value:\n%s", got)
			}
		})
	}
}
