package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secwatch/secwatch/internal/rulefile"
)

func TestVerifyAlarms(t *testing.T) {
	dir := filepath.Join("testdata", "alarms_verify")
	rs, err := rulefile.Load(filepath.Join(dir, "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "events.log")
	var stdout, stderr bytes.Buffer
	n, err := verifyAlarms(&stdout, &stderr, rs, "json", "", []string{log})
	if err != nil {
		t.Fatalf("verifyAlarms: %v\nstderr: %s", err, stderr.String())
	}
	want := strings.Join([]string{
		log + `:2: rule "broad-pattern": filter pattern matches, rule does not`,
		log + `:3: rule "wrong-path": rule matches, filter pattern does not`,
		log + `:7: rule "broad-pattern": filter pattern matches, rule does not`,
		`rule "key-guess": 2 lines match the rule, 2 the filter pattern { $.event_type = "authentication_failure" && $.details.failure_type = "invalid_key" }`,
		`rule "broad-pattern": 2 lines match the rule, 4 the filter pattern { $.event_type = "authentication_failure" }`,
		`rule "wrong-path": 1 lines match the rule, 0 the filter pattern { $.status >= 200 }`,
		`rule "access-401": 1 lines match the rule, 1 the filter pattern "401 Unauthorized"`,
		`verified 4 alarmed rules on 7 lines: 3 disagreements`,
	}, "\n") + "\n"
	if got := stdout.String(); got != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", got, want)
	}
	if n != 3 {
		t.Errorf("got %d disagreements, want 3", n)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr: %s", stderr.String())
	}
}

func TestVerifyAlarmsErrors(t *testing.T) {
	const head = "rules:\n  - id: r\n    window: 5m\n    threshold: 1\n"
	tests := []struct {
		name, rule, want string
	}{
		{"untranslatable", "    match: {client_ip: {cidr: [10.0.0.0/8]}}\n    alarm: {}\n",
			`r.yaml:5:25: rule "r": match.client_ip: cidr ["10.0.0.0/8"]: a filter pattern cannot test IP address ranges exactly`},
		{"bad pattern", "    match: {a: b}\n    alarm: {filter_pattern: '{ $.a == b }'}\n",
			`rule "r": alarm.filter_pattern "{ $.a == b }": filter pattern: column 8: expected a value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs, err := rulefile.Parse("r.yaml", []byte(head+tt.rule))
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			_, err = verifyAlarms(&stdout, &stderr, rs, "json", "", []string{filepath.Join("testdata", "alarms_verify", "events.log")})
			if err == nil {
				t.Fatalf("no error; stdout: %s", stdout.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tt.want)
			}
		})
	}
}

// The command line end to end: the config supplies the rules and the
// source format; the exit status is 1 because of the disagreements.
func TestAlarmsPlanVerifyCommand(t *testing.T) {
	dir := filepath.Join("testdata", "alarms_verify")
	log := filepath.Join(dir, "events.log")
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"alarms", "plan", "--verify", "--config", filepath.Join(dir, "secwatch.yaml"), log}, nil, &stdout, &stderr)
	if code != exitFailed {
		t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", code, exitFailed, stdout.String(), stderr.String())
	}
	for _, want := range []string{
		log + `:3: rule "wrong-path": rule matches, filter pattern does not`,
		`verified 4 alarmed rules on 7 lines: 3 disagreements`,
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
}
