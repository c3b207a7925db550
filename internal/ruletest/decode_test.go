package ruletest

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/secwatch/secwatch/internal/yamldiag"
)

// decodeErrLines decodes path and returns its problems one per line,
// failing the test when the error is not a yamldiag.ErrorList.
func decodeErrLines(t *testing.T, path string) []string {
	t.Helper()
	_, err := Decode(path)
	if err == nil {
		return nil
	}
	var list yamldiag.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("got error of type %T, want a yamldiag.ErrorList: %v", err, err)
	}
	return strings.Split(err.Error(), "\n")
}

// TestDecodeMistakes makes every class of mistake of docs/rules.md
// ("Error messages") in one rule-test file: each is reported at its line
// and column, all at once, sorted, with a suggestion where one is close.
func TestDecodeMistakes(t *testing.T) {
	name := filepath.Join("testdata", "mistakes", "auth_test.yaml")
	p := name + ":"
	want := []string{
		p + `2:11: max_keys: must be a whole number >= 0, got "lots"`,
		p + `3:1: tets: unknown field (did you mean "tests"?)`,
		p + `6:5: test "misspelt keys": imput: unknown field (did you mean "input"?)`,
		p + `8:5: test "misspelt keys": expct: unknown field (did you mean "expect"?)`,
		p + `10:13: test "wrong values": format: unknown format "jsn" (valid: json, logfmt, regex, syslog, clf, nginx, mcp, alb)`,
		p + `11:13: test "wrong values": rules[0]: no rule "auth-sucess" in rule_files (did you mean "auth-success"?)`,
		p + `13:5: test "wrong values": exactly one of input and input_file is required`,
		p + `15:36: test "wrong values": expect[0].time: must be a timestamp like "2026-01-28T19:14:59Z", got "yesterday"`,
		p + `15:54: test "wrong values": expect[0].count: must be a whole number >= 0, got "-1"`,
		p + `15:65: test "wrong values": expect[0].group: must be a map of field names to values, got a list`,
		p + `16:9: test "wrong values": expect[1].rule: required`,
		p + `16:33: test "wrong values": expect[1].cuont: unknown field (did you mean "count"?)`,
		p + `17:30: test "wrong values": expect[2]: duplicate key "rule"`,
		p + `18:9: test "wrong values": expect[3]: must be a map with rule, group, time and count, got "a"`,
		p + `19:16: test "wrong values": expect[4].rule: no rule "auth-failure-brust" in rule_files (did you mean "auth-failure-burst"?)`,
		p + `22:17: test "yaml the loader refuses": time_field: unsupported yaml tag "!secret"`,
		p + `23:7: test "yaml the loader refuses": keys must be strings, got a list`,
		p + `25:13: test "yaml the loader refuses": expect: yaml aliases are not allowed in rule test files, got "*in"`,
		p + `26:5: test #4: name: required`,
		p + `27:13: test #4: expect: must be a list of alerts (an empty list means no alert fires), got a map`,
		p + `28:5: test #5: name: required`,
		p + `28:5: test #5: exactly one of input and input_file is required`,
	}
	if got := decodeErrLines(t, name); !slices.Equal(got, want) {
		t.Errorf("got %d problems:\n\t%s\nwant %d:\n\t%s", len(got), strings.Join(got, "\n\t"), len(want), strings.Join(want, "\n\t"))
	}
}

// TestDecodeFileMistakes covers the mistakes that stop a file from being
// read at all, each alone in its file.
func TestDecodeFileMistakes(t *testing.T) {
	rulesFile := "rules:\n  - id: auth-success\n    match: {event_type: authentication_success}\n    window: 5m\n"
	tests := []struct {
		name string
		src  string
		want string // after "<file>:"
	}{
		{"invalid yaml", "rule_files: [auth.yaml\ntests: []\n",
			`2: invalid yaml: did not find expected ',' or ']'`},
		{"control character", "rule_files: [auth.yaml]\ntests:\n  - name: \"a\x00b\"\n",
			`3:13: invalid yaml: control characters are not allowed`},
		{"undefined alias", "rule_files: *files\n",
			`1:13: invalid yaml: unknown anchor 'files' referenced`},
		{"two documents", "rule_files: [auth.yaml]\n---\ntests: []\n",
			`2:1: a rule test file must hold one yaml document, found another`},
		{"not a map", "- rule_files: [auth.yaml]\n",
			`1:1: must be a map with "rule_files" and "tests", got a list`},
		{"rule_files missing", "tests: []\n",
			`1:1: rule_files: required`},
		{"rule_files misspelt", "rule_file: [auth.yaml]\ntests: []\n",
			`1:1: rule_file: unknown field (did you mean "rule_files"?)`},
		{"rule_files not a list", "rule_files: auth.yaml\ntests: []\n",
			`1:13: rule_files: must be a list of rule files or directories, got "auth.yaml"`},
		{"rule_files null item", "rule_files: [auth.yaml, ~]\ntests: []\n",
			`1:25: rule_files[1]: must be a string, got null`},
		{"tests not a list", "rule_files: [auth.yaml]\ntests: {name: a}\n",
			`2:8: tests: must be a list of tests, got a map`},
		{"test not a map", "rule_files: [auth.yaml]\ntests:\n  - a\n",
			`3:5: test #1: must be a map with name, input and expect, got "a"`},
		{"expect missing", "rule_files: [auth.yaml]\ntests:\n  - name: a\n    input: x\n",
			`3:5: test "a": expect: required (an empty list means no alert fires)`},
		{"time_field the format does not use", "rule_files: [auth.yaml]\ntests:\n  - name: a\n    format: alb\n    time_field: ts\n    input: x\n    expect: []\n",
			`5:17: test "a": time_field: not used by format alb`},
		{"pattern without regex", "rule_files: [auth.yaml]\ntests:\n  - name: a\n    pattern: x\n    input: x\n    expect: []\n",
			`4:14: test "a": pattern: only valid with formats regex and syslog`},
		{"time_format misspelt", "rule_files: [auth.yaml]\ntests:\n  - name: a\n    time_format: rfc3146\n    input: x\n    expect: []\n",
			`4:18: test "a": time_format: unknown name "rfc3146" (did you mean "rfc3164"?)`},
		{"input_mtime not a time", "rule_files: [auth.yaml]\ntests:\n  - name: a\n    format: syslog\n    input_mtime: 2027-01-01\n    input: x\n    expect: []\n",
			`5:18: test "a": input_mtime: must be an RFC 3339 time like "2027-01-01T00:10:00Z", got "2027-01-01"`},
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "auth.yaml"), []byte(rulesFile), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := filepath.Join(dir, "x_test.yaml")
			if err := os.WriteFile(name, []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			want := []string{name + ":" + tt.want}
			if got := decodeErrLines(t, name); !slices.Equal(got, want) {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
}

// A rule file with problems is not the test file's mistake: the test file
// decodes, and each of its tests fails with the rule file's problems.
func TestRunFileBadRules(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("auth.yaml", "rules:\n  - id: a\n    match: {}\n    window: 0s\n")
	name := write("auth_test.yaml", "rule_files: [auth.yaml]\ntests:\n  - name: t\n    input: x\n    expect: []\n")
	results, err := RunFile(name)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "auth.yaml") + `:4:13: rule "a": window: must be between 1s and 24h, got "0s"`
	if len(results) != 1 || results[0].Err == nil || results[0].Err.Error() != want {
		t.Fatalf("got %+v, want one result failing with %q", results, want)
	}
}
