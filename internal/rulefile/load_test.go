package rulefile

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/rules"
	"github.com/secwatch/secwatch/internal/yamldiag"
)

// loadErrLines returns the lines of an ErrorList, failing the test when err
// is some other error.
func loadErrLines(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var list yamldiag.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("got error of type %T, want ErrorList: %v", err, err)
	}
	if got, want := err.Error(), strings.Join(loadLinesOf(list), "\n"); got != want {
		t.Errorf("ErrorList.Error() = %q, want its errors joined by newlines %q", got, want)
	}
	return loadLinesOf(list)
}

func loadLinesOf(list yamldiag.ErrorList) []string {
	out := make([]string, len(list))
	for i, e := range list {
		out[i] = e.Error()
	}
	return out
}

func loadCompareLines(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("got %d problems:\n\t%s\nwant %d:\n\t%s", len(got), strings.Join(got, "\n\t"), len(want), strings.Join(want, "\n\t"))
	}
}

func loadMustParse(t *testing.T, src string) []*rules.Rule {
	t.Helper()
	rs, err := Parse("rules.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return rs
}

func TestParseValid(t *testing.T) {
	name := filepath.Join("testdata", "load", "valid", "mcp.yaml")
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Parse(name, data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	type want struct {
		rule  rules.Rule // compared field by field below, without rules.Match, Steps and Hash
		match string
		steps []string
	}
	wants := []want{
		{
			rule: rules.Rule{
				ID: "mcp-auth-failure-burst", Title: "Repeated authentication failures from one client",
				Severity:    "high",
				Description: "More than 10 failed API-key checks from one client IP within 5 minutes.",
				Runbook:     "https://wiki.example/runbooks/mcp-auth",
				Labels:      map[string]string{"requirement": "23.2", "team": "security"},
				Kind:        rules.KindThreshold, GroupBy: []string{"client_ip"},
				Window: 5 * time.Minute, Threshold: 10, Distinct: "correlation_id", Cooldown: 15 * time.Minute,
				Alarm: &rules.Alarm{},
				File:  name, Line: 3, Col: 5,
			},
			match: "{event_type: authentication_failure, status: [401, 403], client_ip: {not_cidr: 10.0.0.0/8}}",
		},
		{
			rule: rules.Rule{
				ID: "mcp-security-log-silent", Title: "No security events for an hour", Severity: "medium",
				Kind: rules.KindAbsent, Absent: time.Hour, Cooldown: time.Hour,
				File: name, Line: 20, Col: 5,
			},
			match: "{logger: security}",
		},
		{
			rule: rules.Rule{
				ID: "mcp-brute-force-success", Severity: "critical",
				Kind: rules.KindSequence, GroupBy: []string{"client_ip"}, Window: 10 * time.Minute, Cooldown: 10 * time.Minute,
				Alarm: &rules.Alarm{LogGroup: "/mcp-tagging/prod", Namespace: "secwatch", MetricName: "BruteForceSuccess", FilterPattern: "{ $.status = 200 }"},
				File:  name, Line: 25, Col: 5,
			},
			match: "", // none: each step has its own
			steps: []string{"5 {event_type: authentication_failure}", "0 {status: 200}"},
		},
	}
	if len(rs) != len(wants) {
		t.Fatalf("got %d rules, want %d", len(rs), len(wants))
	}
	for i, w := range wants {
		r := rs[i]
		t.Run(w.rule.ID, func(t *testing.T) {
			g := *r
			g.Match, g.Steps, g.Hash = nil, nil, ""
			if g.ID != w.rule.ID || g.Title != w.rule.Title || g.Severity != w.rule.Severity ||
				g.Description != w.rule.Description || g.Runbook != w.rule.Runbook || g.Kind != w.rule.Kind ||
				g.Window != w.rule.Window || g.Threshold != w.rule.Threshold || g.Distinct != w.rule.Distinct ||
				g.Cooldown != w.rule.Cooldown || g.Absent != w.rule.Absent || g.File != w.rule.File ||
				g.Line != w.rule.Line || g.Col != w.rule.Col {
				t.Errorf("got %+v, want %+v", g, w.rule)
			}
			if !loadMapsEqual(g.Labels, w.rule.Labels) {
				t.Errorf("labels: got %v, want %v", g.Labels, w.rule.Labels)
			}
			if !slices.Equal(g.GroupBy, w.rule.GroupBy) {
				t.Errorf("group_by: got %q, want %q", g.GroupBy, w.rule.GroupBy)
			}
			if (g.Alarm == nil) != (w.rule.Alarm == nil) || g.Alarm != nil && *g.Alarm != *w.rule.Alarm {
				t.Errorf("alarm: got %+v, want %+v", g.Alarm, w.rule.Alarm)
			}
			var gotMatch string
			if r.Match != nil {
				gotMatch = FormatMatch(r.Match)
			}
			if gotMatch != w.match {
				t.Errorf("match: got %q, want %q", gotMatch, w.match)
			}
			var steps []string
			for _, s := range r.Steps {
				steps = append(steps, strconv.Itoa(s.Threshold)+" "+FormatMatch(s.Match))
			}
			if !slices.Equal(steps, w.steps) {
				t.Errorf("steps: got %q, want %q", steps, w.steps)
			}
			if len(r.Hash) != 64 {
				t.Errorf("hash: got %q, want 64 hex digits", r.Hash)
			}
		})
	}
}

func loadMapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "\n", "# nothing yet\n", "rules: []\n", "rules:\n", "{}\n", "---\n"} {
		rs, err := Parse("empty.yaml", []byte(src))
		if err != nil || len(rs) != 0 {
			t.Errorf("Parse(%q): got %d rules, %v; want none, no error", src, len(rs), err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		// The file.
		{"invalid yaml", "rules:\n  - id: a\n    window: [5m\n",
			[]string{"r.yaml:3: invalid yaml: did not find expected ',' or ']'"}},
		{"bad indentation", "rules:\n  - id: a\n     window: 5m\n",
			[]string{"r.yaml:3: invalid yaml: mapping values are not allowed in this context"}},
		{"invalid utf-8", "rules:\n  - id: a\n    title: \"caf\xe9\"\n",
			[]string{"r.yaml:3:16: invalid yaml: invalid trailing UTF-8 octet"}},
		{"control character", "rules:\n  - id: a\n    title: \"a\x00b\"\n",
			[]string{"r.yaml:3:14: invalid yaml: control characters are not allowed"}},
		{"top level is a list", "- id: a\n",
			[]string{`r.yaml:1:1: a rule file must be a map with a "rules" list, got a list`}},
		{"top level is text", "hello\n",
			[]string{`r.yaml:1:1: a rule file must be a map with a "rules" list, got "hello"`}},
		{"unknown top-level key", "rule:\n  - id: a\n",
			[]string{`r.yaml:1:1: rule: unknown field (did you mean "rules"?)`}},
		{"two documents", "rules: []\n---\nrules: []\n",
			[]string{"r.yaml:2:1: a rule file must hold one yaml document, found another"}},
		{"rules is a map", "rules:\n  id: a\n",
			[]string{"r.yaml:2:3: rules: must be a list of rules, got a map"}},
		{"rule is not a map", "rules:\n  - a\n  - [b]\n",
			[]string{`r.yaml:2:5: rule #1: must be a map, got "a"`, "r.yaml:3:5: rule #2: must be a map, got a list"}},
		{"duplicate key", "rules:\n  - id: a\n    match: {}\n    window: 5m\n    window: 10m\n",
			[]string{`r.yaml:5:5: rule "a": duplicate key "window"`}},
		{"duplicate key in match", "rules:\n  - id: a\n    match: {status: 401, status: 403}\n    window: 5m\n",
			[]string{`r.yaml:3:26: rule "a": match: duplicate key "status"`}},
		{"key is not a string", "rules:\n  - id: a\n    match: {}\n    window: 5m\n    ? [x]\n    : 1\n",
			[]string{`r.yaml:5:7: rule "a": keys must be strings, got a list`}},
		{"alias", "rules:\n  - id: a\n    match: &m {x: 1}\n    window: 5m\n  - id: b\n    match: *m\n    window: 5m\n",
			[]string{`r.yaml:6:12: rule "b": match: yaml aliases are not allowed in rule files, got "*m"`}},
		{"undefined alias", "rules:\n  - id: a\n    match: *m\n",
			[]string{"r.yaml:3:12: invalid yaml: unknown anchor 'm' referenced"}},
		{"custom tag", "rules:\n  - id: a\n    match: {}\n    window: !secret 5m\n",
			[]string{`r.yaml:4:13: rule "a": window: unsupported yaml tag "!secret"`}},

		// Keys of a rule.
		{"unknown keys", "rules:\n  - id: a\n    match: {}\n    Window: 5m\n    treshold: 1\n    group-by: x\n    tags: {a: b}\n    frobnicate: 1\n",
			[]string{
				`r.yaml:2:5: rule "a": window: required`,
				`r.yaml:4:5: rule "a": Window: unknown field (did you mean "window"?)`,
				`r.yaml:5:5: rule "a": treshold: unknown field (did you mean "threshold"?)`,
				`r.yaml:6:5: rule "a": group-by: unknown field (did you mean "group_by"?)`,
				`r.yaml:7:5: rule "a": tags: unknown field (did you mean "labels"?)`,
				`r.yaml:8:5: rule "a": frobnicate: unknown field`,
			}},
		{"id missing", "rules:\n  - match: {}\n    window: 5m\n",
			[]string{"r.yaml:2:5: rule #1: id: required"}},
		{"id invalid", "rules:\n  - id: a\n    match: {}\n    window: 5m\n  - id: Auth_Burst\n    match: {}\n    window: 5m\n",
			[]string{`r.yaml:5:9: rule #2: id: must match [a-z0-9][a-z0-9-]*, got "Auth_Burst"`}},
		{"id leading dash", "rules:\n  - id: -a\n    match: {}\n    window: 5m\n",
			[]string{`r.yaml:2:9: rule #1: id: must match [a-z0-9][a-z0-9-]*, got "-a"`}},
		{"id not a string", "rules:\n  - id: {a: 1}\n    match: {}\n    window: 5m\n",
			[]string{"r.yaml:2:9: rule #1: id: must be a string, got a map"}},
		{"duplicate id", "rules:\n  - id: a\n    match: {}\n    window: 5m\n  - id: a\n    match: {}\n    window: 1m\n",
			[]string{`r.yaml:5:9: rule "a": id: duplicate id, first defined at r.yaml:2:9`}},
		{"severity", "rules:\n  - id: a\n    match: {}\n    window: 5m\n    severity: HIGH\n  - id: b\n    match: {}\n    window: 5m\n    severity: urgent\n",
			[]string{
				`r.yaml:5:15: rule "a": severity: must be one of info, low, medium, high, critical, got "HIGH" (did you mean "high"?)`,
				`r.yaml:9:15: rule "b": severity: must be one of info, low, medium, high, critical, got "urgent"`,
			}},
		{"empty title", "rules:\n  - id: a\n    match: {}\n    window: 5m\n    title:\n",
			[]string{`r.yaml:5:11: rule "a": title: must be a string, got an empty value`}},
		{"labels", "rules:\n  - id: a\n    match: {}\n    window: 5m\n    labels: {team: [a, b], owner: ~, req: 23.2}\n  - id: b\n    match: {}\n    window: 5m\n    labels: [a]\n",
			[]string{
				`r.yaml:5:20: rule "a": labels.team: must be a string, got a list`,
				`r.yaml:5:35: rule "a": labels.owner: must be a string, got null`,
				`r.yaml:9:13: rule "b": labels: must be a map of names to values, got a list`,
			}},
		{"group_by", "rules:\n  - id: a\n    match: {}\n    window: 5m\n    group_by: [client_ip, client_ip, {a: 1}, \"\"]\n",
			[]string{
				`r.yaml:5:27: rule "a": group_by[1]: duplicate field "client_ip"`,
				`r.yaml:5:38: rule "a": group_by[2]: must be a string, got a map`,
				`r.yaml:5:46: rule "a": group_by[3]: must be a field name, got ""`,
			}},

		// Durations and numbers.
		{"window zero", "rules:\n  - id: a\n    match: {}\n    window: 0s\n",
			[]string{`r.yaml:4:13: rule "a": window: must be between 1s and 24h, got "0s"`}},
		{"window too long", "rules:\n  - id: a\n    match: {}\n    window: 25h\n",
			[]string{`r.yaml:4:13: rule "a": window: must be between 1s and 24h, got "25h"`}},
		{"window without unit", "rules:\n  - id: a\n    match: {}\n    window: 300\n",
			[]string{`r.yaml:4:13: rule "a": window: must be a duration like "5m", got "300"`}},
		{"window in days", "rules:\n  - id: a\n    match: {}\n    window: 1d\n",
			[]string{`r.yaml:4:13: rule "a": window: must be a duration like "5m", got "1d" (write days as hours: "24h")`}},
		{"window edges", "rules:\n  - id: a\n    match: {}\n    window: 1s\n  - id: b\n    match: {}\n    window: 24h\n  - id: c\n    match: {}\n    window: 999ms\n",
			[]string{`r.yaml:10:13: rule "c": window: must be between 1s and 24h, got "999ms"`}},
		{"cooldown", "rules:\n  - id: a\n    match: {}\n    window: 5m\n    cooldown: -1s\n  - id: b\n    match: {}\n    window: 5m\n    cooldown: 169h\n  - id: c\n    match: {}\n    window: 5m\n    cooldown: 0s\n",
			[]string{
				`r.yaml:5:15: rule "a": cooldown: must be between 0s and 168h, got "-1s"`,
				`r.yaml:9:15: rule "b": cooldown: must be between 0s and 168h, got "169h"`,
			}},
		{"threshold", "rules:\n  - id: a\n    match: {}\n    window: 5m\n    threshold: -1\n  - id: b\n    match: {}\n    window: 5m\n    threshold: 2.5\n  - id: c\n    match: {}\n    window: 5m\n    threshold: ten\n",
			[]string{
				`r.yaml:5:16: rule "a": threshold: must be a whole number >= 0, got "-1"`,
				`r.yaml:9:16: rule "b": threshold: must be a whole number >= 0, got "2.5"`,
				`r.yaml:13:16: rule "c": threshold: must be a whole number >= 0, got "ten"`,
			}},
		{"distinct in group_by", "rules:\n  - id: a\n    match: {}\n    window: 5m\n    group_by: client_ip\n    distinct: client_ip\n",
			[]string{`r.yaml:6:15: rule "a": distinct: "client_ip" is also in group_by, so it always counts 1`}},

		// Kinds.
		{"threshold rule needs window and match", "rules:\n  - id: a\n    threshold: 3\n",
			[]string{
				`r.yaml:2:5: rule "a": window: required`,
				`r.yaml:2:5: rule "a": match: required (match: {} matches every event)`,
			}},
		{"absent conflicts", "rules:\n  - id: a\n    match: {}\n    absent: 15m\n    window: 5m\n    threshold: 1\n    distinct: x\n    sequence: []\n",
			[]string{
				`r.yaml:5:5: rule "a": window: not allowed in an absent rule`,
				`r.yaml:6:5: rule "a": threshold: not allowed in an absent rule`,
				`r.yaml:7:5: rule "a": distinct: not allowed in an absent rule`,
				`r.yaml:8:5: rule "a": sequence: not allowed in an absent rule`,
				`r.yaml:8:15: rule "a": sequence: must have at least 2 steps, got 0`,
			}},
		{"absent needs match", "rules:\n  - id: a\n    absent: 15m\n",
			[]string{`r.yaml:2:5: rule "a": match: required (match: {} matches every event)`}},
		{"absent range", "rules:\n  - id: a\n    match: {}\n    absent: 48h\n",
			[]string{`r.yaml:4:13: rule "a": absent: must be between 1s and 24h, got "48h"`}},
		{"sequence conflicts", "rules:\n  - id: a\n    match: {}\n    threshold: 2\n    distinct: x\n    sequence:\n      - match: {a: 1}\n      - match: {b: 1}\n",
			[]string{
				`r.yaml:2:5: rule "a": window: required`,
				`r.yaml:3:5: rule "a": match: not allowed in a sequence rule`,
				`r.yaml:4:5: rule "a": threshold: not allowed in a sequence rule`,
				`r.yaml:5:5: rule "a": distinct: not allowed in a sequence rule`,
			}},
		{"sequence steps", "rules:\n  - id: a\n    window: 5m\n    sequence:\n      - match: {a: 1}\n        threshold: -2\n        treshold: 2\n      - threshold: 1\n      - [x]\n",
			[]string{
				`r.yaml:6:20: rule "a": sequence[0].threshold: must be a whole number >= 0, got "-2"`,
				`r.yaml:7:9: rule "a": sequence[0].treshold: unknown field (did you mean "threshold"?)`,
				`r.yaml:8:9: rule "a": sequence[1].match: required`,
				`r.yaml:9:9: rule "a": sequence[2]: must be a map with match and threshold, got a list`,
			}},
		{"sequence too short", "rules:\n  - id: a\n    window: 5m\n    sequence:\n      - match: {a: 1}\n",
			[]string{`r.yaml:5:7: rule "a": sequence: must have at least 2 steps, got 1`}},
		{"sequence too long", "rules:\n  - id: a\n    window: 5m\n    sequence:\n" + strings.Repeat("      - match: {a: 1}\n", 17),
			[]string{`r.yaml:5:7: rule "a": sequence: must have at most 16 steps, got 17`}},
		{"sequence not a list", "rules:\n  - id: a\n    window: 5m\n    sequence: {match: {a: 1}}\n",
			[]string{`r.yaml:4:15: rule "a": sequence: must be a list of steps, got a map`}},
		{"alarm", "rules:\n  - id: a\n    match: {}\n    window: 5m\n    alarm: {log_grp: x, namespace: [a]}\n  - id: b\n    match: {}\n    window: 5m\n    alarm: true\n",
			[]string{
				`r.yaml:5:13: rule "a": alarm.log_grp: unknown field (did you mean "log_group"?)`,
				`r.yaml:5:36: rule "a": alarm.namespace: must be a string, got a list`,
				`r.yaml:9:12: rule "b": alarm: must be a map (alarm: {} for the defaults), got "true"`,
			}},

		// Match conditions.
		{"match null", "rules:\n  - id: a\n    match:\n    window: 5m\n",
			[]string{`r.yaml:3:11: rule "a": match: must be a map of field conditions, got an empty value (match: {} matches every event)`}},
		{"match list", "rules:\n  - id: a\n    match: [a]\n    window: 5m\n",
			[]string{`r.yaml:3:12: rule "a": match: must be a map of field conditions, got a list`}},
		{"unknown operators", "rules:\n  - id: a\n    window: 5m\n    match:\n      client_ip: {not_cdr: 10.0.0.0/8}\n      status: {ge: 400, not_regex: x}\n      details: {failure_type: invalid_key}\n",
			[]string{
				`r.yaml:5:19: rule "a": match.client_ip.not_cdr: unknown operator (did you mean "not_cidr"?)`,
				`r.yaml:6:16: rule "a": match.status.ge: unknown operator (did you mean "gte"?)`,
				`r.yaml:6:25: rule "a": match.status.not_regex: unknown operator (negate with not: {status: {regex: ...}})`,
				`r.yaml:7:17: rule "a": match.details.failure_type: unknown operator (for a nested field, write "details.failure_type")`,
			}},
		{"null value", "rules:\n  - id: a\n    window: 5m\n    match: {session_id: null, x: {eq: ~}, y: [a, null]}\n",
			[]string{
				`r.yaml:4:25: rule "a": match.session_id: must not be null (use {exists: false} to match a missing field)`,
				`r.yaml:4:39: rule "a": match.x.eq: must not be null (use {exists: false} to match a missing field)`,
				`r.yaml:4:50: rule "a": match.y[1]: must not be null (use {exists: false} to match a missing field)`,
			}},
		{"operands", "rules:\n  - id: a\n    window: 5m\n    match:\n      a: {in: []}\n      b: {eq: [1, 2]}\n      c: {gt: ten}\n      d: {exists: yes}\n      e: {prefix: \"\"}\n      f: {}\n      g: []\n      h: {contains: {x: 1}}\n",
			[]string{
				`r.yaml:5:15: rule "a": match.a.in: must list at least one value`,
				`r.yaml:6:15: rule "a": match.b.eq: must be a single value, got a list (use in for a list)`,
				`r.yaml:7:15: rule "a": match.c.gt: must be a number, got "ten"`,
				`r.yaml:8:19: rule "a": match.d.exists: must be true or false, got "yes"`,
				`r.yaml:9:19: rule "a": match.e.prefix: must not be empty`,
				`r.yaml:10:10: rule "a": match.f: must name at least one operator`,
				`r.yaml:11:10: rule "a": match.g: must list at least one value`,
				`r.yaml:12:21: rule "a": match.h.contains: must be a single value, got a map`,
			}},
		{"regex", "rules:\n  - id: a\n    window: 5m\n    match: {path: {regex: \"(?P<x\"}, ua: {regex: \"a{2,1}\"}}\n",
			[]string{
				"r.yaml:4:27: rule \"a\": match.path.regex: invalid regex \"(?P<x\": invalid named capture: `(?P<x`",
				"r.yaml:4:49: rule \"a\": match.ua.regex: invalid regex \"a{2,1}\": invalid repeat count: `{2,1}`",
			}},
		{"cidr", "rules:\n  - id: a\n    window: 5m\n    match:\n      a: {cidr: [10.0.0.0/8, 10.1.2.3/16, 300.0.0.1, \"fe80::1%eth0\", 2001:db8::/129]}\n      b: {not_cidr: nope}\n",
			[]string{
				`r.yaml:5:30: rule "a": match.a.cidr[1]: "10.1.2.3/16" has host bits set (did you mean "10.1.0.0/16"?)`,
				`r.yaml:5:43: rule "a": match.a.cidr[2]: must be an IP address or a CIDR like "10.0.0.0/8", got "300.0.0.1"`,
				`r.yaml:5:54: rule "a": match.a.cidr[3]: must be an IP address or a CIDR like "10.0.0.0/8", got "fe80::1%eth0"`,
				`r.yaml:5:70: rule "a": match.a.cidr[4]: must be an IP address or a CIDR like "10.0.0.0/8", got "2001:db8::/129"`,
				`r.yaml:6:21: rule "a": match.b.not_cidr: must be an IP address or a CIDR like "10.0.0.0/8", got "nope"`,
			}},
		{"boolean structure", "rules:\n  - id: a\n    window: 5m\n    match:\n      any: []\n      all: {a: 1}\n      not: {}\n  - id: b\n    window: 5m\n    match:\n      any:\n        - {status: {eq: [1]}}\n        - x\n      not: [a]\n",
			[]string{
				`r.yaml:5:12: rule "a": match.any: must list at least one condition map`,
				`r.yaml:6:12: rule "a": match.all: must be a list of condition maps, got a map`,
				`r.yaml:7:12: rule "a": match.not: must not be empty`,
				`r.yaml:12:25: rule "b": match.any[0].status.eq: must be a single value, got a list (use in for a list)`,
				`r.yaml:13:11: rule "b": match.any[1]: must be a map of field conditions, got "x"`,
				`r.yaml:14:12: rule "b": match.not: must be a map of field conditions, got a list`,
			}},
		{"nesting limit", "rules:\n  - id: a\n    window: 5m\n    match: " + strings.Repeat("{not: ", 40) + "{a: 1}" + strings.Repeat("}", 40) + "\n",
			[]string{`r.yaml:4:210: rule "a": match.not.not.not.not.not.not.not.not.not.not.not.not.not.not.not.not.not.not.not.not.not.not.not.not.not.not.not.not.not.not.not.not.not: conditions nested more than 32 levels deep`}},
		{"columns count characters", "rules:\n  - id: a\n    window: 5m\n    match: {title: \"héllo wörld\", n: {gt: x}}\n",
			[]string{`r.yaml:4:43: rule "a": match.n.gt: must be a number, got "x"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("r.yaml", []byte(tt.src))
			loadCompareLines(t, loadErrLines(t, err), tt.want)
		})
	}
}

func TestParseManyMistakes(t *testing.T) {
	name := filepath.Join("testdata", "load", "mistakes", "mcp.yaml")
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Parse(name, data)
	p := name + ":"
	loadCompareLines(t, loadErrLines(t, err), []string{
		p + `4:13: rule "mcp-auth-failure-burst": window: must be between 1s and 24h, got "0s"`,
		p + `5:5: rule "mcp-auth-failure-burst": treshold: unknown field (did you mean "threshold"?)`,
		p + `8:19: rule "mcp-auth-failure-burst": match.client_ip.not_cdr: unknown operator (did you mean "not_cidr"?)`,
		p + `10:5: rule #2: id: required`,
		p + `21:15: rule "mcp-sanitization": severity: must be one of info, low, medium, high, critical, got "urgent"`,
		p + "27:21: rule \"mcp-traversal\": match.path.regex: invalid regex \"\\\\.\\\\.(/\": missing closing ): `\\.\\.(/`",
		p + `34:57: rule "mcp-unknown-tools": match.any[1].session_id: must not be null (use {exists: false} to match a missing field)`,
		p + `38:31: rule "mcp-internal-probe": match.client_ip.cidr: must be an IP address or a CIDR like "10.0.0.0/8", got "10.0.0.300/8"`,
		p + `44:5: rule "mcp-silent": window: not allowed in an absent rule`,
		p + `48:13: rule "mcp-budget": window: must be a duration like "5m", got "300"`,
	})
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	if want := []string{"mcp-cors-burst"}; !slices.Equal(ids, want) {
		t.Errorf("rules returned: got %q, want %q", ids, want)
	}
}

func TestParseAliasBomb(t *testing.T) {
	name := filepath.Join("testdata", "load", "bomb", "bomb.yaml")
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	rs, err := Parse(name, data)
	runtime.ReadMemStats(&after)
	if len(rs) != 0 {
		t.Errorf("got %d rules, want none", len(rs))
	}
	p := name + ":"
	want := []string{}
	for i, c := range "abcdefghi" {
		want = append(want, p+strconv.Itoa(i+3)+":1: x-"+string(c)+": unknown field")
	}
	want = append(want,
		p+`15:30: rule "lol": match.event_type.in: yaml aliases are not allowed in rule files, got "*i"`,
		p+`18:12: rule "lol-too": match: yaml aliases are not allowed in rule files, got "*i"`,
	)
	loadCompareLines(t, loadErrLines(t, err), want)
	// Expanded, the bomb is hundreds of millions of nodes; refused, it
	// costs what its 1 KB of text costs.
	if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
		t.Errorf("parsing the bomb allocated %d bytes, want < 8 MiB", got)
	}
}

func TestParseDidYouMean(t *testing.T) {
	tests := []struct {
		word  string
		known []string
		want  string
	}{
		{"treshold", ruleKeys, "threshold"},
		{"THRESHOLD", ruleKeys, "threshold"},
		{"group-by", ruleKeys, "group_by"},
		{"groupby", ruleKeys, "group_by"},
		{"windw", ruleKeys, "window"},
		{"name", ruleKeys, "id"},
		{"frobnicate", ruleKeys, ""},
		{"x", ruleKeys, ""},
		{"not_cdr", opNames, "not_cidr"},
		{"NotIn", opNames, "not_in"},
		{"regexp", opNames, "regex"},
		{"ge", opNames, "gte"},
		{"le", opNames, "lte"},
		{"startswith", opNames, "prefix"},
		{"exist", opNames, "exists"},
		{"failure_type", opNames, ""},
		{"log_grp", alarmKeys, "log_group"},
		{"filterPattern", alarmKeys, "filter_pattern"},
	}
	for _, tt := range tests {
		aliases := keyAliases
		if slices.Equal(tt.known, opNames) {
			aliases = opAliases
		}
		if got := yamldiag.Suggest(tt.word, tt.known, aliases); got != tt.want {
			t.Errorf("suggestion for %q: got %q, want %q", tt.word, got, tt.want)
		}
	}
}

// loadEvent builds an event from key, value pairs.
func loadEvent(kv ...string) *event.Event {
	ev := &event.Event{Time: time.Date(2026, 1, 28, 19, 15, 2, 0, time.UTC)}
	for i := 0; i+1 < len(kv); i += 2 {
		ev.Add(kv[i], kv[i+1])
	}
	return ev
}

func loadParseMatch(t *testing.T, src string) *rules.Match {
	t.Helper()
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(src), &n); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	m, err := parseMatch("m.yaml", &n, "match")
	if err != nil {
		t.Fatalf("ParseMatch(%s): %v", src, err)
	}
	return m
}

func TestParseMatchEval(t *testing.T) {
	tests := []struct {
		name  string
		match string
		ev    *event.Event
		want  bool
	}{
		{"empty map matches everything", `{}`, loadEvent(), true},
		{"scalar eq", `{event_type: authentication_failure}`, loadEvent("event_type", "authentication_failure"), true},
		{"scalar eq other value", `{event_type: authentication_failure}`, loadEvent("event_type", "cors_violation"), false},
		{"scalar eq absent field", `{event_type: authentication_failure}`, loadEvent(), false},
		{"list in", `{status: [401, 403]}`, loadEvent("status", "403"), true},
		{"list in miss", `{status: [401, 403]}`, loadEvent("status", "404"), false},
		{"numeric equality", `{status: 401}`, loadEvent("status", "401.0"), true},
		{"numeric equality in list", `{status: [401, 403]}`, loadEvent("status", "4.01e2"), true},
		{"quoted number is still a number", `{status: "401"}`, loadEvent("status", "401.0"), true},
		{"text is not a number", `{status: 401}`, loadEvent("status", "401 Unauthorized"), false},
		{"boolean", `{ok: false}`, loadEvent("ok", "false"), true},
		{"boolean in other case", `{ok: False}`, loadEvent("ok", "false"), true},
		{"ne", `{status: {ne: 200}}`, loadEvent("status", "401"), true},
		{"ne absent field", `{status: {ne: 200}}`, loadEvent(), false},
		{"not_in", `{method: {not_in: [GET, HEAD]}}`, loadEvent("method", "POST"), true},
		{"not_in scalar", `{method: {not_in: GET}}`, loadEvent("method", "GET"), false},
		{"in scalar", `{method: {in: POST}}`, loadEvent("method", "POST"), true},
		{"prefix", `{path: {prefix: /mcp/}}`, loadEvent("path", "/mcp/tools/call"), true},
		{"suffix", `{path: {suffix: /call}}`, loadEvent("path", "/mcp/tools/call"), true},
		{"contains", `{detail: {contains: "x-forwarded-host"}}`, loadEvent("detail", "Dangerous header not allowed: x-forwarded-host"), true},
		{"regex unanchored", `{path: {regex: "\\.\\./"}}`, loadEvent("path", "/static/../etc/passwd"), true},
		{"regex anchored by the pattern", `{path: {regex: "^/etc"}}`, loadEvent("path", "/static/../etc/passwd"), false},
		{"cidr ipv4", `{client_ip: {cidr: [10.0.0.0/8, "2001:db8::/32"]}}`, loadEvent("client_ip", "10.0.1.57"), true},
		{"cidr ipv6", `{client_ip: {cidr: [10.0.0.0/8, "2001:db8::/32"]}}`, loadEvent("client_ip", "2001:db8::7"), true},
		{"cidr ipv4-mapped event", `{client_ip: {cidr: 10.0.0.0/8}}`, loadEvent("client_ip", "::ffff:10.0.0.1"), true},
		{"cidr ipv4-mapped prefix", `{client_ip: {cidr: "::ffff:10.0.0.0/104"}}`, loadEvent("client_ip", "10.0.0.1"), true},
		{"cidr bare address", `{client_ip: {cidr: 203.0.113.7}}`, loadEvent("client_ip", "203.0.113.7"), true},
		{"cidr outside", `{client_ip: {cidr: 10.0.0.0/8}}`, loadEvent("client_ip", "203.0.113.7"), false},
		{"cidr not an ip", `{client_ip: {cidr: 10.0.0.0/8}}`, loadEvent("client_ip", "unknown"), false},
		{"not_cidr outside", `{client_ip: {not_cidr: [10.0.0.0/8]}}`, loadEvent("client_ip", "203.0.113.7"), true},
		{"not_cidr inside", `{client_ip: {not_cidr: [10.0.0.0/8]}}`, loadEvent("client_ip", "10.0.0.1"), false},
		{"not_cidr not an ip", `{client_ip: {not_cidr: [10.0.0.0/8]}}`, loadEvent("client_ip", "unknown"), false},
		{"not_cidr absent field", `{client_ip: {not_cidr: [10.0.0.0/8]}}`, loadEvent(), false},
		{"exists false on absent field", `{session_id: {exists: false}}`, loadEvent(), true},
		{"exists false on present field", `{session_id: {exists: false}}`, loadEvent("session_id", ""), false},
		{"exists true", `{session_id: {exists: true}}`, loadEvent("session_id", "s1"), true},
		{"gt", `{call_count: {gt: 3}}`, loadEvent("call_count", "4"), true},
		{"gt equal", `{call_count: {gt: 3}}`, loadEvent("call_count", "3"), false},
		{"gte lt range", `{status: {gte: 500, lt: 600}}`, loadEvent("status", "503"), true},
		{"gte lt range outside", `{status: {gte: 500, lt: 600}}`, loadEvent("status", "600"), false},
		{"lte not a number", `{status: {lte: 500}}`, loadEvent("status", "abc"), false},
		{"all fields must hold", `{event_type: a, status: 401}`, loadEvent("event_type", "a", "status", "200"), false},
		{"any", `{any: [{status: 401}, {status: 403}]}`, loadEvent("status", "403"), true},
		{"any none", `{any: [{status: 401}, {status: 403}]}`, loadEvent("status", "200"), false},
		{"all", `{all: [{a: 1}, {b: 2}]}`, loadEvent("a", "1", "b", "2"), true},
		{"not", `{not: {status: 200}}`, loadEvent("status", "401"), true},
		{"not of an absent field", `{not: {status: 200}}`, loadEvent(), true},
		{"nested any all not",
			`{event_type: authentication_failure, any: [{failure_type: invalid_key}, {all: [{failure_type: missing_header}, {not: {origin: {suffix: .example.com}}}]}]}`,
			loadEvent("event_type", "authentication_failure", "failure_type", "missing_header", "origin", "https://evil.test"), true},
		{"nested any all not, excluded",
			`{event_type: authentication_failure, any: [{failure_type: invalid_key}, {all: [{failure_type: missing_header}, {not: {origin: {suffix: .example.com}}}]}]}`,
			loadEvent("event_type", "authentication_failure", "failure_type", "missing_header", "origin", "https://app.example.com"), false},
		{"dotted field", `{details.failure_type: invalid_key}`, loadEvent("details.failure_type", "invalid_key"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := loadParseMatch(t, tt.match)
			if got := m.Eval(tt.ev); got != tt.want {
				t.Errorf("%s on %v: got %v, want %v", tt.match, tt.ev.Fields, got, tt.want)
			}
		})
	}
}

func TestParseMatchTree(t *testing.T) {
	m := loadParseMatch(t, "status: [401, 0x1F, 1e3, \"403\"]\nok: {eq: True, ne: 1.50}\nip: {cidr: 10.0.0.0/8}\n")
	if m.Kind != rules.MatchAll || len(m.Children) != 3 || m.Line != 1 || m.Col != 1 {
		t.Fatalf("got kind %v with %d children at %d:%d, want rules.MatchAll with 3 at 1:1", m.Kind, len(m.Children), m.Line, m.Col)
	}
	status := m.Children[0]
	if status.Kind != rules.MatchField || status.Field != "status" || status.Line != 1 || status.Col != 1 || len(status.Tests) != 1 {
		t.Fatalf("got %+v, want field status at 1:1 with one test", status)
	}
	in := status.Tests[0]
	if in.Op != rules.OpIn || in.Line != 1 || in.Col != 9 {
		t.Errorf("got op %s at %d:%d, want in at 1:9", in.Op, in.Line, in.Col)
	}
	if want := []string{"401", "0x1F", "1e3", "403"}; !slices.Equal(in.Values, want) {
		t.Errorf("values: got %q, want %q (literal text)", in.Values, want)
	}
	if want := []float64{401, 0, 1000, 403}; !slices.Equal(in.Nums, want) {
		t.Errorf("nums: got %v, want %v", in.Nums, want)
	}
	if want := []bool{true, false, true, true}; !slices.Equal(in.NumOK, want) {
		t.Errorf("numOK: got %v, want %v (0x1F is not a decimal number, so it compares as text)", in.NumOK, want)
	}
	ok := m.Children[1]
	if len(ok.Tests) != 2 || ok.Tests[0].Op != rules.OpEq || ok.Tests[0].Values[0] != "true" || ok.Tests[1].Op != rules.OpNe ||
		ok.Tests[1].Values[0] != "1.50" || !ok.Tests[1].NumOK[0] || ok.Tests[1].Nums[0] != 1.5 {
		t.Errorf("got %+v, want eq true and ne 1.50 (1.5)", ok.Tests)
	}
	if ok.Tests[1].Line != 2 || ok.Tests[1].Col != 16 {
		t.Errorf("ne position: got %d:%d, want 2:16", ok.Tests[1].Line, ok.Tests[1].Col)
	}
	ip := m.Children[2].Tests[0]
	if ip.Op != rules.OpCIDR || len(ip.Prefixes) != 1 || ip.Prefixes[0].String() != "10.0.0.0/8" || !slices.Equal(ip.Values, []string{"10.0.0.0/8"}) {
		t.Errorf("got %+v, want cidr 10.0.0.0/8", ip)
	}
	// not is reserved in condition maps, not an operator of a field.
	not := loadParseMatch(t, "{not: {b: 1}}")
	if len(not.Children) != 1 || not.Children[0].Kind != rules.MatchNot {
		t.Errorf("{not: {b: 1}}: got %s, want a rules.MatchNot", FormatMatch(not))
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte("{a: {not: {b: 1}}}"), &n); err != nil {
		t.Fatal(err)
	}
	_, err := parseMatch("m.yaml", &n, "match")
	if got, want := loadErrLines(t, err), []string{`m.yaml:1:6: match.a.not: unknown operator (did you mean "ne"?)`}; !slices.Equal(got, want) {
		t.Errorf("{a: {not: {b: 1}}}: got %q, want %q", got, want)
	}
}

func TestFormatMatch(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{`{}`, `{}`},
		{`{event_type: authentication_failure, status: [401, 403], client_ip: {not_cidr: [10.0.0.0/8, "::ffff:192.168.0.0/112"]}}`,
			`{event_type: authentication_failure, status: [401, 403], client_ip: {not_cidr: [10.0.0.0/8, 192.168.0.0/16]}}`},
		{`{"@source": "mcp prod", path: {regex: "^/a\\.b$", prefix: "-x"}, ok: True, s: "True", n: "null", e: {exists: false}}`,
			`{"@source": "mcp prod", path: {regex: "^/a\\.b$", prefix: "-x"}, ok: true, s: "True", n: "null", e: {exists: false}}`},
		{`{any: [{a: 1}, {all: [{b: 2}, {not: {c: {gte: 3, lt: 4}}}]}], d: {cidr: 203.0.113.7}}`,
			`{any: [{a: 1}, {all: [{b: 2}, {not: {c: {gte: 3, lt: 4}}}]}], d: {cidr: 203.0.113.7/32}}`},
		{`{ua: {contains: "curl/7", not_in: [a, "b, c"]}, v: {eq: "x: y"}}`,
			`{ua: {contains: curl/7, not_in: [a, "b, c"]}, v: "x: y"}`},
		{`{ip: {cidr: "2001:db8::/32"}, tab: "a\tb", uni: "héllo"}`,
			`{ip: {cidr: "2001:db8::/32"}, tab: "a\tb", uni: "héllo"}`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			m := loadParseMatch(t, tt.src)
			got := FormatMatch(m)
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
			again := FormatMatch(loadParseMatch(t, got))
			if again != got {
				t.Errorf("formatting the parsed output: got %s, want %s", again, got)
			}
		})
	}
	if got := FormatMatch(nil); got != "{}" {
		t.Errorf("nil: got %s, want {}", got)
	}
}

func TestParseHash(t *testing.T) {
	const base = `rules:
  - id: auth-burst
    match: {event_type: authentication_failure, status: [401, 403]}
    group_by: [client_ip]
    window: 5m
    threshold: 10
    labels: {team: security, req: "23.2"}
`
	hash := func(src, id string) string {
		t.Helper()
		for _, r := range loadMustParse(t, src) {
			if r.ID == id {
				return r.Hash
			}
		}
		t.Fatalf("rule %s not found", id)
		return ""
	}
	h := hash(base, "auth-burst")
	same := []struct{ name, src string }{
		{"moved below another rule", "# comment\nrules:\n  - id: other\n    match: {}\n    window: 1m\n\n" + strings.TrimPrefix(base, "rules:\n")},
		{"keys reordered", "rules:\n  - labels: {req: \"23.2\", team: security}\n    threshold: 10\n    window: 5m\n    group_by: client_ip\n    match: {status: [403, 401], event_type: authentication_failure}\n    id: auth-burst\n"},
		{"defaults written out", base + "    severity: medium\n    cooldown: 5m\n"},
		{"flow style", "rules: [{id: auth-burst, match: {event_type: {eq: authentication_failure}, status: {in: [401, 403]}}, group_by: [client_ip], window: 300s, threshold: 10, labels: {team: security, req: '23.2'}}]\n"},
	}
	for _, tt := range same {
		if got := hash(tt.src, "auth-burst"); got != h {
			t.Errorf("%s: got hash %s, want %s (unchanged)", tt.name, got, h)
		}
	}
	different := []struct{ name, old, new string }{
		{"threshold", "threshold: 10", "threshold: 11"},
		{"window", "window: 5m", "window: 6m"},
		{"match value", "401, 403", "401, 404"},
		{"label", "team: security", "team: secops"},
		{"group_by", "[client_ip]", "[client_ip, path]"},
		{"in versus eq", "status: [401, 403]", "status: {in: [401], eq: 403}"},
	}
	seen := map[string]string{h: "base"}
	for _, tt := range different {
		src := strings.Replace(base, tt.old, tt.new, 1)
		if src == base {
			t.Fatalf("%s: %q not in the base rule", tt.name, tt.old)
		}
		got := hash(src, "auth-burst")
		if prev, dup := seen[got]; dup {
			t.Errorf("%s: got the same hash as %s, want a different one", tt.name, prev)
		}
		seen[got] = tt.name
	}
	if got := hash(base+"    alarm: {}\n", "auth-burst"); got == h {
		t.Errorf("alarm added: got the same hash, want a different one")
	}
	if got := hash(base+"    cooldown: 10m\n", "auth-burst"); got == h {
		t.Errorf("cooldown changed: got the same hash, want a different one")
	}
}

func TestLoadDirectory(t *testing.T) {
	dir := filepath.Join("testdata", "load", "dir")
	rs, err := Load(dir)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.File+":"+r.ID)
	}
	want := []string{
		filepath.Join(dir, "a.yaml") + ":a-one",
		filepath.Join(dir, "a.yaml") + ":a-two",
		filepath.Join(dir, "b.yml") + ":b-one",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q (no tests, hidden files, other extensions, directories or subdirectories)", got, want)
	}

	// Files and directories mix; a file named twice is read once.
	rs, err = Load(filepath.Join(dir, "sub", "c.yaml"), dir, filepath.Join(dir, "a.yaml"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	got = got[:0]
	for _, r := range rs {
		got = append(got, r.ID)
	}
	if want := []string{"c-one", "a-one", "a-two", "b-one"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLoadDuplicateIDs(t *testing.T) {
	dir := filepath.Join("testdata", "load", "dup")
	rs, err := Load(dir)
	one, two := filepath.Join(dir, "one.yaml"), filepath.Join(dir, "two.yaml")
	loadCompareLines(t, loadErrLines(t, err), []string{
		two + `:6:9: rule "auth-burst": id: duplicate id, first defined at ` + one + ":2:9",
	})
	var got []string
	for _, r := range rs {
		got = append(got, r.ID)
	}
	if want := []string{"auth-burst", "cors-burst", "probe-failed"}; !slices.Equal(got, want) {
		t.Errorf("rules: got %q, want %q", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	missing := filepath.Join("testdata", "load", "missing")
	mistakes := filepath.Join("testdata", "load", "mistakes", "mcp.yaml")
	valid := filepath.Join("testdata", "load", "valid")
	rs, err := Load(missing, mistakes, valid)
	lines := loadErrLines(t, err)
	// A rule with problems still claims its id: valid/mcp.yaml repeats
	// the id of the first (broken) rule in mistakes/mcp.yaml.
	if len(lines) != 12 {
		t.Fatalf("got %d problems, want 12 (a missing path, 10 mistakes, a duplicate id):\n%s", len(lines), strings.Join(lines, "\n"))
	}
	// Sorted by file name: "missing" < "mistakes/…" < "valid/…".
	if want := missing + ": stat: no such file or directory"; lines[0] != want {
		t.Errorf("got %q, want %q", lines[0], want)
	}
	if want := mistakes + ":4:13: "; !strings.HasPrefix(lines[1], want) {
		t.Errorf("got %q, want it to start with %q", lines[1], want)
	}
	if want := filepath.Join(valid, "mcp.yaml") + `:3:9: rule "mcp-auth-failure-burst": id: duplicate id, first defined at ` + mistakes + ":3:9"; lines[11] != want {
		t.Errorf("got %q, want %q", lines[11], want)
	}
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	if want := []string{"mcp-cors-burst", "mcp-security-log-silent", "mcp-brute-force-success"}; !slices.Equal(ids, want) {
		t.Errorf("rules without problems: got %q, want %q", ids, want)
	}

	rs, err = Load()
	if len(rs) != 0 || err != nil {
		t.Errorf("Load(): got %d rules, %v; want none, nil", len(rs), err)
	}
}

// parseMatch compiles a match condition: node is a YAML map of field
// conditions, the value of a rule's match key (a document node holding such
// a map is accepted too). file and path locate problems ("rules/x.yaml",
// "match"). Every problem is returned at once as an ErrorList. The loader
// reaches it through the rules that hold a match; tests use it alone.
func parseMatch(file string, node *yaml.Node, path string) (*rules.Match, error) {
	p := newParser(file)
	if node == nil {
		p.Errorf(nil, path, "required")
		return nil, p.Errs.Err()
	}
	if node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
		node = node.Content[0]
	}
	m := p.matchRoot(node, path)
	if err := p.Errs.Err(); err != nil {
		return nil, err
	}
	return m, nil
}
