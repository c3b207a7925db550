package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCheckWarnsOfUnroutedSelfAlerts: `check --config` warns, without
// failing, when no notifier's matchers take the self-alerts, and says
// nothing once one does.
func TestCheckWarnsOfUnroutedSelfAlerts(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "rules.yaml", "rules:\n  - id: x\n    match: {a: b}\n    window: 1m\n    threshold: 1\n")
	config := func(match string) string {
		return writeFile(t, dir, "secwatch.yaml", `rules: [rules.yaml]
sources: [{name: in, type: stdin}]
alerts:
  stdout: {enabled: false}
  notifiers:
    - {type: webhook, url: "https://soar.example.com/hook", match: [`+match+`]}
`)
	}
	_, errb, code := secwatch(t, "", "check", "--config", config(`'severity="critical"'`))
	if code != exitOK {
		t.Fatalf("check: exit %d, want 0 (a warning is not a failure):\n%s", code, errb)
	}
	for _, rule := range []string{"secwatch-source-down", "secwatch-dead-letter", "secwatch-state-unwritable", "secwatch-key-evictions"} {
		if !strings.Contains(errb, "warning: no notifier's match takes "+rule+" alerts") {
			t.Errorf("no warning about %s:\n%s", rule, errb)
		}
	}
	out, _, _ := secwatch(t, "", "check", "--output", "json", "--config", config(`'severity="critical"'`))
	var rep checkReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || !rep.OK || len(rep.Warnings) != 4 {
		t.Errorf("json: %v; got %s, want ok with 4 warnings", err, out)
	}
	if _, errb, code := secwatch(t, "", "check", "--config", config(`'secwatch="self"'`)); code != exitOK || strings.Contains(errb, "warning") {
		t.Errorf("routed: exit %d, stderr %q; want 0 and no warning", code, errb)
	}
}
