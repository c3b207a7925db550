package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckLintsFieldsNoSourceProduces: with only alb sources, a misspelt
// ALB field in a match or group_by is a check error naming the rule, the
// field and the right spelling; the shipped alb rules pass; a json source
// (whose events may carry any field) turns the lint off.
func TestCheckLintsFieldsNoSourceProduces(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "rules.yaml", `rules:
  - id: alb-5xx
    match: {elb_status_cod: {prefix: "5"}, "@source": alb}
    group_by: [clent_ip]
    window: 5m
    threshold: 10
  - id: alb-fine
    match: {elb_status_code: "502"}
    group_by: [client_ip]
    window: 5m
    threshold: 10
`)
	writeFile(t, dir, "a.log", "")
	cfg := writeFile(t, dir, "secwatch.yaml", "rules: [rules.yaml]\nsources:\n  - {name: alb, type: file, format: alb, paths: [a.log]}\n")
	out, errb, code := secwatch(t, "", "check", "--config", cfg)
	for _, want := range []string{
		`rules.yaml:3:30: rule "alb-5xx": match.elb_status_cod: no source produces field "elb_status_cod" (the sources' formats alb never do) (did you mean "elb_status_code"?)`,
		`rules.yaml:2:5: rule "alb-5xx": group_by: no source produces field "clent_ip" (the sources' formats alb never do) (did you mean "client_ip"?)`,
	} {
		if !strings.Contains(errb, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb)
		}
	}
	if code != exitFailed || strings.Contains(errb, "alb-fine") || !strings.Contains(out, "ok: 2 rules") {
		t.Errorf("got exit %d\nstdout: %s\nstderr: %s", code, out, errb)
	}

	albRules, err := filepath.Abs("../../rules/alb.yaml")
	if err != nil {
		t.Fatal(err)
	}
	shipped := writeFile(t, dir, "shipped.yaml", "rules: ["+albRules+"]\nsources:\n  - {name: alb, type: file, format: alb, paths: [a.log]}\n")
	if _, errb, code := secwatch(t, "", "check", "--config", shipped); code != exitOK {
		t.Errorf("shipped alb rules on an alb source: exit %d\n%s", code, errb)
	}
	json := writeFile(t, dir, "json.yaml", "rules: [rules.yaml]\nsources:\n  - {name: app, type: file, format: json, paths: [a.log]}\n  - {name: alb, type: file, format: alb, paths: [a.log]}\n")
	if _, errb, code := secwatch(t, "", "check", "--config", json); code != exitOK {
		t.Errorf("with a json source: exit %d\n%s", code, errb)
	}
}
