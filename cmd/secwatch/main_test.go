package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/secwatch/secwatch/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite golden files")

// secwatch runs the command line in-process and returns stdout, stderr and
// the exit code.
func secwatch(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	// Goroutine-safe: a daemon run in-process logs from several goroutines.
	var out, errb testutil.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string // in stdout or stderr
	}{
		{nil, exitUsage, "Usage: secwatch <command>"},
		{[]string{"--help"}, exitOK, "Commands:"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"replay", "--help"}, exitOK, "Usage: secwatch replay"},
		{[]string{"check", "--help"}, exitOK, "Usage: secwatch check"},
		{[]string{"test", "--help"}, exitOK, "Usage: secwatch test"},
		{[]string{"explain", "--help"}, exitOK, "Usage: secwatch explain"},
		{[]string{"version", "--help"}, exitOK, "Usage: secwatch version"},
		{[]string{"run", "--help"}, exitOK, "Usage: secwatch run"},
		{[]string{"probe", "--help"}, exitOK, "Usage: secwatch probe"},
		{[]string{"replay", "--no-such-flag"}, exitUsage, "flag provided but not defined"},
		{[]string{"replay", "--rules", "../../rules"}, exitUsage, "no input files"},
		{[]string{"replay", "--format", "xml", "--rules", "../../rules", "x.log"}, exitUsage, `unknown format "xml"`},
		{[]string{"replay", "--time-format", "rfc3146", "--rules", "../../rules", "x.log"}, exitUsage, `time_format: unknown name "rfc3146" (did you mean "rfc3164"?)`},
		{[]string{"replay", "--format", "nginx", "--time-zone", "UTC", "--rules", "../../rules", "x.log"}, exitUsage, `time_zone: not used by format nginx`},
		{[]string{"version"}, exitOK, "secwatch "},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errb, code := secwatch(t, "", tt.args...)
			if code != tt.code {
				t.Errorf("exit code: got %d, want %d (stderr %q)", code, tt.code, errb)
			}
			if !strings.Contains(out+errb, tt.want) {
				t.Errorf("output does not contain %q:\nstdout: %s\nstderr: %s", tt.want, out, errb)
			}
			// --help is printed once, on stdout.
			if slices.Contains(tt.args, "--help") && (errb != "" || strings.Count(out, "Usage:") != 1) {
				t.Errorf("--help: stdout %q, stderr %q; want the usage once, on stdout", out, errb)
			}
		})
	}
}

func TestCheckReportsEveryMistake(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "bad.yaml", `rules:
  - id: auth-burst
    window: 0s
    treshold: 10
    match:
      status: {gte: many}
      client_ip: {cidr: [10.0.0.0/33]}
  - title: no id here
    window: 5m
    match: {path: {regex: "(unclosed"}}
  - id: auth-burst
    window: 5m
    severity: urgent
    match: {event_type: x}
`)
	out, errb, code := secwatch(t, "", "check", dir)
	if code != exitFailed {
		t.Fatalf("exit code: got %d, want %d; stdout %q", code, exitFailed, out)
	}
	lines := strings.Split(strings.TrimSpace(errb), "\n")
	wantPrefixes := []string{
		"bad.yaml:3:13: rule \"auth-burst\": window:",
		"bad.yaml:4:5: rule \"auth-burst\": treshold: unknown field (did you mean \"threshold\"?)",
		"bad.yaml:6:21: rule \"auth-burst\": match.status.gte:",
		"bad.yaml:7:26: rule \"auth-burst\": match.client_ip.cidr[0]: must be an IP address or a CIDR",
		"bad.yaml:8:5: rule #2: id: required",
		"bad.yaml:10:27: rule #2: match.path.regex: invalid regex",
		"bad.yaml:11:9: rule \"auth-burst\": id: duplicate",
		"bad.yaml:13:15: rule \"auth-burst\": severity:",
	}
	if len(lines) != len(wantPrefixes) {
		t.Fatalf("got %d lines, want %d (one per mistake):\n%s", len(lines), len(wantPrefixes), errb)
	}
	for i, w := range wantPrefixes {
		if !strings.HasPrefix(lines[i], filepath.Join(dir, w)) {
			t.Errorf("line %d:\ngot  %s\nwant prefix %s", i+1, lines[i], filepath.Join(dir, w))
		}
	}
}

func TestCheckShippedRules(t *testing.T) {
	out, errb, code := secwatch(t, "", "check", "../../rules")
	if code != exitOK || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("check rules: code %d, stdout %q, stderr %q", code, out, errb)
	}
}

const mergeRules = `rules:
  - id: burst
    match: {event_type: authentication_failure}
    group_by: [client_ip]
    window: 10s
    threshold: 2
`

func TestReplayMergesFilesByTimeAndReadsStdin(t *testing.T) {
	dir := t.TempDir()
	rules := writeFile(t, dir, "r.yaml", mergeRules)
	a := writeFile(t, dir, "a.jsonl",
		`{"timestamp":"2026-01-28T19:00:01Z","event_type":"authentication_failure","client_ip":"203.0.113.7"}
{"timestamp":"2026-01-28T19:00:05Z","event_type":"authentication_failure","client_ip":"203.0.113.7"}
`)
	stdin := `{"timestamp":"2026-01-28T19:00:03Z","event_type":"authentication_failure","client_ip":"203.0.113.7"}
`
	out, errb, code := secwatch(t, stdin, "replay", "--rules", rules, "--source", "test", a, "-")
	if code != exitOK {
		t.Fatalf("code %d: %s", code, errb)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		t.Fatalf("got %d alerts, want 1:\n%s", len(lines), out)
	}
	for _, want := range []string{`"count":3`, `"time":"2026-01-28T19:00:05Z"`, `"first_seen":"2026-01-28T19:00:01Z"`, `"source":"test"`, `"@file":"-"`} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("alert lacks %s:\n%s", want, lines[0])
		}
	}
	if !strings.Contains(errb, "lines 3, events 3") {
		t.Errorf("summary: %s", errb)
	}
}

func TestReplayReportsBadLinesWithPosition(t *testing.T) {
	dir := t.TempDir()
	rules := writeFile(t, dir, "r.yaml", mergeRules)
	in := writeFile(t, dir, "in.jsonl", "{\"timestamp\":\"2026-01-28T19:00:01Z\",\"event_type\":\"x\"}\nnot json\n\xff\xfe\n")
	_, errb, code := secwatch(t, "", "replay", "--rules", rules, in)
	if code != exitOK {
		t.Fatalf("code %d, want 0 without --strict: %s", code, errb)
	}
	for _, want := range []string{in + ":2: ", in + ":3: ", "rejected 2"} {
		if !strings.Contains(errb, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb)
		}
	}
	if _, _, code := secwatch(t, "", "replay", "--strict", "--rules", rules, in); code != exitFailed {
		t.Errorf("--strict: code %d, want %d", code, exitFailed)
	}
}

// bundled pairs each recorded log with its pack and format.
var bundled = []struct{ name, rules, format, log string }{
	{"alb", "alb.yaml", "alb", "alb-access.log"},
	{"mcp-stderr", "mcp.yaml", "mcp", "mcp-stderr.log"},
	{"mcp-cloudwatch", "mcp.yaml", "mcp", "mcp-cloudwatch.jsonl"},
	{"json", "json.yaml", "json", "security-events.jsonl"},
}

// TestReplayGolden replays every bundled log through its shipped pack and
// compares the alerts with reviewed golden files (-update rewrites them),
// and checks a second run is byte-identical.
func TestReplayGolden(t *testing.T) {
	for _, b := range bundled {
		t.Run(b.name, func(t *testing.T) {
			args := []string{"replay", "--rules", "../../rules/" + b.rules, "--format", b.format, "../../testdata/logs/" + b.log}
			out1, errb, code := secwatch(t, "", args...)
			if code != exitOK {
				t.Fatalf("code %d: %s", code, errb)
			}
			out2, _, _ := secwatch(t, "", args...)
			if out1 != out2 {
				t.Fatalf("two replays of the same input differ")
			}
			for _, format := range []string{"json", "text"} {
				got := out1
				if format == "text" {
					got, _, _ = secwatch(t, "", append([]string{args[0], "--output", "text"}, args[1:]...)...)
				}
				golden := filepath.Join("testdata", "golden", b.name+"."+format)
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./cmd/secwatch -run Golden -update and review the result)", err)
				}
				if got != string(want) {
					t.Errorf("%s output differs from %s; rerun with -update and review the diff", format, golden)
				}
			}
		})
	}
}

func TestExplain(t *testing.T) {
	dir := t.TempDir()
	rules := writeFile(t, dir, "r.yaml", mergeRules)
	in := writeFile(t, dir, "in.jsonl", `{"timestamp":"2026-01-28T19:00:01Z","event_type":"authentication_failure","client_ip":"203.0.113.7"}
{"timestamp":"2026-01-28T19:00:02Z","event_type":"request","client_ip":"203.0.113.7"}
{"timestamp":"2026-01-28T19:00:03Z","event_type":"authentication_failure"}
{"timestamp":"2026-01-28T19:00:04Z","event_type":"authentication_failure","client_ip":"203.0.113.7"}
{"timestamp":"2026-01-28T19:00:05Z","event_type":"authentication_failure","client_ip":"203.0.113.7"}
`)
	out, errb, code := secwatch(t, "", "explain", "--rules", rules, in)
	if code != exitOK {
		t.Fatalf("code %d: %s", code, errb)
	}
	for _, want := range []string{
		in + ":1 2026-01-28T19:00:01Z\n  fields: timestamp=2026-01-28T19:00:01Z event_type=authentication_failure client_ip=203.0.113.7 @source=replay\n  burst                            client_ip=203.0.113.7  count 1, fires above 2\n",
		in + ":3 2026-01-28T19:00:03Z\n  fields: timestamp=2026-01-28T19:00:03Z event_type=authentication_failure @source=replay\n  burst                            -  ungrouped: no field \"client_ip\"\n",
		"fired: count 3 > 2\n  ALERT ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, ":2 ") {
		t.Errorf("an event that matches no rule is listed without --all:\n%s", out)
	}
	out, _, _ = secwatch(t, "", "explain", "--all", "--rules", rules, in)
	if !strings.Contains(out, ":2 2026-01-28T19:00:02Z\n  fields: timestamp=2026-01-28T19:00:02Z event_type=request client_ip=203.0.113.7 @source=replay\n  selected by no rule\n  burst                            not selected: event_type request is not eq authentication_failure (") {
		t.Errorf("--all does not list the unmatched event:\n%s", out)
	}
}

func TestTestCommand(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "r.yaml", mergeRules)
	writeFile(t, dir, "r_test.yaml", `rule_files: [r.yaml]
tests:
  - name: three failures fire
    input: |
      {"timestamp":"2026-01-28T19:00:01Z","event_type":"authentication_failure","client_ip":"203.0.113.7"}
      {"timestamp":"2026-01-28T19:00:02Z","event_type":"authentication_failure","client_ip":"203.0.113.7"}
      {"timestamp":"2026-01-28T19:00:03Z","event_type":"authentication_failure","client_ip":"203.0.113.7"}
    expect:
      - {rule: burst, group: {client_ip: 203.0.113.7}, time: "2026-01-28T19:00:03Z", count: 3}
  - name: wrong expectation
    input: |
      {"timestamp":"2026-01-28T19:00:01Z","event_type":"authentication_failure","client_ip":"203.0.113.7"}
    expect:
      - {rule: burst, group: {client_ip: 203.0.113.7}}
`)
	out, _, code := secwatch(t, "", "test", dir)
	if code != exitFailed {
		t.Fatalf("code %d, want %d:\n%s", code, exitFailed, out)
	}
	for _, want := range []string{
		"FAIL  " + filepath.Join(dir, "r_test.yaml") + ":10: wrong expectation\n",
		"      missing:    {rule: burst, group: {client_ip: \"203.0.113.7\"}}\n",
		"1 passed, 1 failed\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckConfig(t *testing.T) {
	out, errb, code := secwatch(t, "", "check", "--config", "../../examples/secwatch.yaml")
	if code != exitOK || !strings.Contains(out, "ok: ../../examples/secwatch.yaml\nok: 15 rules\n") {
		t.Fatalf("check --config example: code %d, stdout %q, stderr %q", code, out, errb)
	}
	dir := t.TempDir()
	bad := writeFile(t, dir, "bad.yaml", "state_dir: s\nsources:\n  - {name: a, type: file, paths: [x.log], statr: end}\n")
	_, errb, code = secwatch(t, "", "check", "--config", bad, "../../rules")
	if code != exitFailed || !strings.Contains(errb, bad+":3:") || !strings.Contains(errb, `did you mean "start"`) {
		t.Fatalf("check --config with a misspelt key: code %d, stderr %q", code, errb)
	}
	// Without rule paths, a broken configuration leaves nothing to say
	// "ok" about: the rules it would name are unknown.
	out, errb, code = secwatch(t, "", "check", "--config", bad)
	if code != exitFailed || strings.Contains(out, "rules") || !strings.Contains(errb, "rules not checked") {
		t.Fatalf("check --config bad: code %d, stdout %q, stderr %q", code, out, errb)
	}
}

// replay reads times with --time-format and --time-zone.
func TestReplayTimeFormat(t *testing.T) {
	dir := t.TempDir()
	rules := writeFile(t, dir, "r.yaml", "rules:\n  - id: any\n    match: {event_type: login}\n    window: 1m\n    threshold: 0\n")
	in := `{"when": "01/03/2026 12:00:01", "event_type": "login"}` + "\n"
	out, errb, code := secwatch(t, in, "replay", "--rules", rules, "--time-field", "when",
		"--time-format", "%d/%m/%Y %H:%M:%S", "--time-zone", "Europe/Paris", "-")
	if code != exitOK || !strings.Contains(out, `"time":"2026-03-01T11:00:01Z"`) {
		t.Errorf("code %d, stdout %q, stderr %q; want an alert at 2026-03-01T11:00:01Z", code, out, errb)
	}
}
