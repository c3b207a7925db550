package sigma

import (
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestIsSigma(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want bool
	}{
		{"detection", "title: t\ndetection: {s: {a: 1}, condition: s}\n", true},
		{"correlation first", "title: c\ncorrelation: {type: event_count}\n---\ntitle: t\n", true},
		{"native rule file", "rules:\n  - id: x\n", false},
		{"native file naming detection", "rules: []\ndetection: {}\n", false},
		{"empty", "", false},
		{"broken yaml", "title: [\n", false},
		{"a list", "- detection: {}\n", false},
	}
	for _, tt := range tests {
		if got := IsSigma([]byte(tt.src)); got != tt.want {
			t.Errorf("%s: IsSigma = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestNativeTurnsSkipsIntoProblems: the loader's entry point reports a
// rule that convert would skip, so a rules list never loses one silently.
func TestNativeTurnsSkipsIntoProblems(t *testing.T) {
	src := "title: t\nid: r1\nlogsource: {category: webserver}\ndetection:\n  s: {cs-cookie|contains: x}\n  condition: s\n"
	out, problems, isSigma := Native("r.yml", []byte(src))
	if !isSigma || len(problems) != 1 || problems[0].Line != 5 || !strings.Contains(problems[0].Msg, `field "cs-cookie"`) {
		t.Fatalf("Native: sigma %v, problems %+v", isSigma, problems)
	}
	if strings.Contains(string(out), "id: r1") {
		t.Errorf("the skipped rule is in the output:\n%s", out)
	}
	if _, _, isSigma := Native("n.yaml", []byte("rules: []\n")); isSigma {
		t.Error("a native file is taken for Sigma")
	}
}

// convertOne converts src and decodes the single rule it gives.
func convertOne(t *testing.T, src string, opt Options) nativeRule {
	t.Helper()
	res := Convert([]File{{Name: "x.yml", Data: []byte(src)}}, opt)
	if len(res.Errors) > 0 || len(res.Warnings) > 0 {
		t.Fatalf("problems: %+v %+v", res.Errors, res.Warnings)
	}
	var f struct{ Rules []nativeRule }
	if err := yaml.Unmarshal(res.YAML, &f); err != nil || len(f.Rules) != 1 {
		t.Fatalf("output (%v):\n%s", err, res.YAML)
	}
	return f.Rules[0]
}

func TestMetadataIsKept(t *testing.T) {
	r := convertOne(t, `title: Probe
id: 5E0A2C1D-0B7E-4F3A-9D41-7B1C0E2F9A01
description: "  a probe  "
references: [https://a.example/1, https://b.example/2]
tags: [attack.t1190, attack.initial-access, cve.2021-44228, emerging]
level: informational
logsource: {category: webserver}
detection: {s: {sc-status: 404}, condition: s}
`, Options{})
	want := nativeRule{ID: "5e0a2c1d-0b7e-4f3a-9d41-7b1c0e2f9a01", Title: "Probe", Severity: "info", Description: "a probe",
		Runbook: "https://a.example/1 https://b.example/2",
		Labels:  map[string]string{"attack": "t1190,initial-access", "cve": "2021-44228", "tag": "emerging"}}
	if r.ID != want.ID || r.Title != want.Title || r.Severity != want.Severity || r.Description != want.Description || r.Runbook != want.Runbook {
		t.Errorf("got %+v, want %+v", r, want)
	}
	for k, v := range want.Labels {
		if r.Labels[k] != v {
			t.Errorf("label %s: got %q, want %q", k, r.Labels[k], v)
		}
	}
}

// TestAliasesAcrossPipelines: c-ip in a webserver rule (alb) and
// client_ip in an application's JSON rule are one native field.
func TestAliasesAcrossPipelines(t *testing.T) {
	r := convertOne(t, `title: Probe then app error
id: c1
correlation:
  type: temporal_ordered
  rules: [probe, app_error]
  group-by: [ip]
  aliases:
    ip: {probe: c-ip, app_error: client_ip}
  timespan: 5m
---
title: probe
name: probe
logsource: {category: webserver}
detection: {s: {sc-status: 404}, condition: s}
---
title: app error
name: app_error
logsource: {product: app}
detection: {s: {level: ERROR}, condition: s}
`, Options{})
	if len(r.GroupBy) != 1 || r.GroupBy[0] != "client_ip" || len(r.Sequence) != 2 || r.Window != "5m" {
		t.Errorf("got group_by %v, window %q, %d steps; want [client_ip], 5m, 2", r.GroupBy, r.Window, len(r.Sequence))
	}
}

// TestValueRegexes checks the regexes of string values against texts
// that must and must not match.
func TestValueRegexes(t *testing.T) {
	alb := Pipelines["alb"]
	tests := []struct {
		field, mods, value string
		match, miss        []string
	}{
		{"cs-user-agent", "", `a*b?c`, []string{"AxyzBqC", "abxc"}, []string{"abc", "xabqc", "ab\nqcx"}},
		{"cs-user-agent", "contains", `50\%`, []string{"x50\\%y"}, []string{"50%"}},
		{"cs-user-agent", "contains", `\*\?\\`, []string{`*?\`}, []string{`x?\`, `*a\`}},
		{"cs-uri-stem", "endswith", "/.env", []string{"/a/.ENV", "/a%2F.env", "/a%2f%2Eenv"}, []string{"/a/.env/", "/a.env"}},
		{"cs-uri-query", "contains", "a b", []string{"https://h:443/p?x=a+b", "https://h:443/p?x=A%20B", "https://h:443/p?a b"}, []string{"https://h:443/a b?x=1", "https://h:443/p?x=ab"}},
		{"cs-uri-query", "startswith", "id=", []string{"https://h:443/p?id=1"}, []string{"https://h:443/p?x=1&id=2", "https://h:443/id="}},
		{"cs-host", "endswith", ".example.com", []string{"https://a.EXAMPLE.com:443/x", "http://b.example.com/"}, []string{"https://example.com.evil:443/x", "https://evil:443/a.example.com"}},
		{"cs-method", "cased", "get", []string{"get"}, []string{"GET"}},
	}
	for _, tt := range tests {
		tg, _ := alb.lookup(tt.field)
		var names []string
		if tt.mods != "" {
			names = strings.Split(tt.mods, "|")
		}
		m, err := parseModifiers(names)
		if err != nil {
			t.Fatal(err)
		}
		c := stringCond(tg, m, tt.value)
		var re *regexp.Regexp
		for op, v := range c.ops {
			q := regexp.QuoteMeta(v.(string))
			re = regexp.MustCompile(map[string]string{"regex": v.(string), "eq": "^" + q + "$", "contains": q, "prefix": "^" + q, "suffix": q + "$"}[op])
		}
		for _, s := range tt.match {
			if !re.MatchString(s) {
				t.Errorf("%s|%s %q (%s): does not match %q", tt.field, tt.mods, tt.value, re, s)
			}
		}
		for _, s := range tt.miss {
			if re.MatchString(s) {
				t.Errorf("%s|%s %q (%s): matches %q", tt.field, tt.mods, tt.value, re, s)
			}
		}
	}
}
