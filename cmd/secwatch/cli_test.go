package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/secwatch/secwatch/internal/alerting"
)

const cliEvents = `{"timestamp":"2026-01-28T19:00:01Z","event_type":"authentication_failure","client_ip":"203.0.113.7"}
{"timestamp":"2026-01-28T19:00:02Z","event_type":"authentication_failure","client_ip":"203.0.113.7"}
{"timestamp":"2026-01-28T19:00:03Z","event_type":"authentication_failure","client_ip":"203.0.113.7"}
`

func TestFlagsAnywhere(t *testing.T) {
	dir := t.TempDir()
	r := writeFile(t, dir, "r.yaml", mergeRules)
	in := writeFile(t, dir, "in.jsonl", cliEvents)
	before, _, code := secwatch(t, "", "replay", "--rules", r, "--output", "text", in)
	if code != exitOK {
		t.Fatalf("flags first: code %d", code)
	}
	after, errb, code := secwatch(t, "", "replay", in, "--output", "text", "--rules", r)
	if code != exitOK || after != before || !strings.Contains(after, " burst client_ip=203.0.113.7: ") {
		t.Fatalf("flags after the file: code %d, stdout %q (want %q), stderr %q", code, after, before, errb)
	}
	// After --, a flag-like argument is a file name.
	_, errb, code = secwatch(t, "", "replay", "--rules", r, in, "--", "--output")
	if code != exitFailed || !strings.Contains(errb, "open --output") {
		t.Errorf("-- then --output: code %d, stderr %q; want the file --output not found", code, errb)
	}
	// Operands and flags keep their order: files are merged in any case,
	// but a wrong flag after a file is still a usage error.
	_, errb, code = secwatch(t, "", "replay", in, "--rules", r, "--bogus")
	if code != exitUsage || !strings.Contains(errb, "flag provided but not defined: -bogus") {
		t.Errorf("bad flag after a file: code %d, stderr %q", code, errb)
	}
}

func TestHelpCommand(t *testing.T) {
	for _, c := range commands() {
		out, errb, code := secwatch(t, "", "help", c.name)
		if code != exitOK || !strings.HasPrefix(out, "Usage: secwatch "+c.name) || errb != "" {
			t.Errorf("help %s: code %d, stdout %q, stderr %q; want the command's usage on stdout", c.name, code, out, errb)
		}
	}
	out, _, code := secwatch(t, "", "help", "alarms", "plan")
	if code != exitOK || !strings.HasPrefix(out, "Usage: secwatch alarms plan") {
		t.Errorf("help alarms plan: code %d, stdout %q", code, out)
	}
	out, _, code = secwatch(t, "", "help")
	if code != exitOK || !strings.Contains(out, "Commands:") {
		t.Errorf("help: code %d, stdout %q", code, out)
	}
	_, errb, code := secwatch(t, "", "help", "frobnicate")
	if code != exitUsage || !strings.Contains(errb, `unknown command "frobnicate"`) {
		t.Errorf("help frobnicate: code %d, stderr %q", code, errb)
	}
}

func TestOutputJSON(t *testing.T) {
	dir := t.TempDir()
	r := writeFile(t, dir, "r.yaml", mergeRules)
	in := writeFile(t, dir, "in.jsonl", cliEvents)
	writeFile(t, dir, "r_test.yaml", "rule_files: [r.yaml]\ntests:\n  - name: fires\n    input: |\n"+
		indent(cliEvents, "      ")+"    expect:\n      - {rule: burst, group: {client_ip: 203.0.113.7}}\n")
	tests := []struct {
		name string
		args []string
		want string // a key of the (first) JSON object
	}{
		{"check", []string{"check", r, "--output", "json"}, `"rules":1`},
		{"test", []string{"test", dir, "--output", "json"}, `"passed":1`},
		{"explain", []string{"explain", "--rules", r, in, "--output", "json"}, `"selected":[{"rule":"burst"`},
		{"replay", []string{"replay", "--rules", r, in, "--output", "json"}, `"rule":"burst"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errb, code := secwatch(t, "", tt.args...)
			if code != exitOK {
				t.Fatalf("code %d, stderr %q", code, errb)
			}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if !json.Valid([]byte(line)) {
					t.Errorf("not a JSON line: %q", line)
				}
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("got %s, want it to hold %s", out, tt.want)
			}
		})
		t.Run(tt.name+" bad value", func(t *testing.T) {
			args := append(tt.args[:len(tt.args)-1:len(tt.args)-1], "yaml")
			_, errb, code := secwatch(t, "", args...)
			if code != exitUsage || !strings.Contains(errb, `must be text or json, got "yaml"`) {
				t.Errorf("--output yaml: code %d, stderr %q", code, errb)
			}
		})
	}
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+prefix) + "\n"
}

// TestOutputAlias: on probe and alarms, --json stays and --output sets the
// same switch.
func TestOutputAlias(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"--json"}, true},
		{[]string{"--output", "json"}, true},
		{[]string{"--json", "--output", "text"}, false},
	} {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		asJSON := fs.Bool("json", false, "")
		outputAlias(fs, asJSON)
		if err := fs.Parse(tt.args); err != nil || *asJSON != tt.want {
			t.Errorf("%q: got %v (%v), want %v", tt.args, *asJSON, err, tt.want)
		}
	}
}

// TestOneAlertText: replay's text line for an alert is the daemon stdout
// notifier's rendering of the same alert document.
func TestOneAlertText(t *testing.T) {
	dir := t.TempDir()
	r := writeFile(t, dir, "r.yaml", mergeRules)
	in := writeFile(t, dir, "in.jsonl", cliEvents)
	jsonOut, _, _ := secwatch(t, "", "replay", "--rules", r, in, "--output", "json")
	textOut, _, _ := secwatch(t, "", "replay", "--rules", r, in, "--output", "text")
	var doc alerting.Document
	if err := json.Unmarshal([]byte(jsonOut), &doc); err != nil {
		t.Fatalf("%v: %q", err, jsonOut)
	}
	var notified bytes.Buffer
	n := &alerting.Stdout{W: &notified, Text: true}
	if err := n.Notify(t.Context(), &doc); err != nil {
		t.Fatal(err)
	}
	if textOut != notified.String() {
		t.Errorf("replay text %q, stdout notifier %q", textOut, notified.String())
	}
}

func TestTestJUnit(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "r.yaml", mergeRules)
	writeFile(t, dir, "r_test.yaml", "rule_files: [r.yaml]\ntests:\n  - name: fires\n    input: |\n"+
		indent(cliEvents, "      ")+"    expect:\n      - {rule: burst, group: {client_ip: 203.0.113.7}}\n"+
		"  - name: <expects too much>\n    input: |\n"+indent(cliEvents, "      ")+"    expect: []\n")
	report := filepath.Join(dir, "junit.xml")
	out, _, code := secwatch(t, "", "test", dir, "--junit", report)
	if code != exitFailed || !strings.Contains(out, "1 passed, 1 failed") {
		t.Fatalf("code %d, stdout %q", code, out)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var got junitSuites
	if err := xml.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v:\n%s", err, b)
	}
	if got.Tests != 2 || got.Failures != 1 || got.Errors != 0 || len(got.Suites) != 1 || len(got.Suites[0].Cases) != 2 {
		t.Fatalf("got %+v, want 2 tests, 1 failure in one suite", got)
	}
	c := got.Suites[0].Cases[1]
	if c.Name != "<expects too much>" || c.Line != 10 || c.Failure == nil ||
		c.Failure.Message != "0 missing, 1 unexpected alerts" || !strings.Contains(c.Failure.Text, "unexpected: {rule: burst") {
		t.Errorf("failing case: got %+v %+v", c, c.Failure)
	}
	if got.Suites[0].Cases[0].Failure != nil {
		t.Errorf("passing case has a failure")
	}
	// A test file that cannot be loaded is an error case.
	writeFile(t, dir, "bad_test.yaml", "rule_files: [r.yaml]\ntests:\n  - nme: x\n")
	secwatch(t, "", "test", dir, "--junit", report)
	b, _ = os.ReadFile(report)
	if !strings.Contains(string(b), `<error message="`) || !strings.Contains(string(b), "bad_test.yaml:3:") {
		t.Errorf("unloadable file not reported as an error with its position:\n%s", b)
	}
}

func TestIsTerminal(t *testing.T) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if isTerminal(null) {
		t.Errorf("%s is a terminal", os.DevNull)
	}
	if isTerminal(&bytes.Buffer{}) || isTerminal((*os.File)(nil)) {
		t.Errorf("a buffer or a nil file is a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Errorf("a regular file is a terminal")
	}
}

func TestProgressClearedBeforeOutput(t *testing.T) {
	var term bytes.Buffer // stands for the one terminal stdout and stderr share
	var events atomic.Int64
	events.Store(42)
	p := &progress{w: &term, events: &events}
	out := p.before(&term)
	p.draw()
	io.WriteString(out, "ALERT\n")
	io.WriteString(out, "ALERT 2\n") // nothing to clear now
	p.draw()
	p.mu.Lock()
	p.clearLocked()
	p.mu.Unlock()
	want := "\r\033[K42 events…\r\033[KALERT\nALERT 2\n\r\033[K42 events…\r\033[K"
	if term.String() != want {
		t.Errorf("got %q, want %q", term.String(), want)
	}
	// Disabled (stderr not a terminal): writes pass through, nothing drawn.
	var plain bytes.Buffer
	q := startProgress(false, &plain, &events)
	if w := q.before(&plain); w != io.Writer(&plain) {
		t.Errorf("disabled progress wraps the writer")
	}
	q.stop()
	if plain.Len() != 0 {
		t.Errorf("disabled progress wrote %q", plain.String())
	}
}

func TestReplayNoProgressWhenNotTerminal(t *testing.T) {
	dir := t.TempDir()
	r := writeFile(t, dir, "r.yaml", mergeRules)
	in := writeFile(t, dir, "in.jsonl", cliEvents)
	_, errb, _ := secwatch(t, "", "replay", "--rules", r, in)
	if strings.Contains(errb, "\r") || strings.Contains(errb, "events…") {
		t.Errorf("progress drawn on a non-terminal stderr: %q", errb)
	}
}
