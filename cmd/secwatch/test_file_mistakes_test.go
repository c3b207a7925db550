package main

import (
	"strings"
	"testing"
)

// A rule-test file with mistakes is reported like a rule file, every
// problem at its line and column, and the command fails.
func TestTestCommandReportsFileMistakes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "r.yaml", mergeRules)
	name := writeFile(t, dir, "r_test.yaml", `rule_files: [r.yaml]
tests:
  - name: typo and unknown rule
    input: |
      {"timestamp":"2026-01-28T19:00:01Z","event_type":"authentication_failure","client_ip":"203.0.113.7"}
    expect:
      - {rule: brust, grop: {client_ip: 203.0.113.7}}
`)
	out, errb, code := secwatch(t, "", "test", dir)
	if code != exitFailed {
		t.Fatalf("code %d, want %d:\nstdout: %s\nstderr: %s", code, exitFailed, out, errb)
	}
	want := name + `:7:16: test "typo and unknown rule": expect[0].rule: no rule "brust" in rule_files (did you mean "burst"?)` + "\n" +
		name + `:7:23: test "typo and unknown rule": expect[0].grop: unknown field (did you mean "group"?)` + "\n"
	if errb != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", errb, want)
	}
	if !strings.Contains(out, "0 passed, 1 failed\n") {
		t.Errorf("stdout lacks the summary:\n%s", out)
	}
}
