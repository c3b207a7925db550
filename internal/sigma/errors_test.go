package sigma

import (
	"fmt"
	"strings"
	"testing"
)

// render is a problem as the loader and the CLI print it.
func render(p Problem) string {
	return fmt.Sprintf("%s:%d:%d: %s: %s: %s", p.File, p.Line, p.Col, p.Item, p.Key, p.Msg)
}

const webRule = `title: t
id: r1
logsource: {category: webserver}
detection:
  selection:
    %s
  condition: %s
`

func TestUnsupportedIsAnErrorWithPosition(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"unknown modifier", fmt.Sprintf(webRule, "cs-uri-query|frob: x", "selection"),
			`x.yml:6:5: rule "r1": cs-uri-query|frob: unknown modifier "frob"`},
		{"base64offset", fmt.Sprintf(webRule, "cs-uri-query|base64offset|contains: x", "selection"),
			`x.yml:6:5: rule "r1": cs-uri-query|base64offset|contains: modifier "base64offset": base64offset is not supported`},
		{"utf16le", fmt.Sprintf(webRule, "cs-uri-query|utf16le: x", "selection"),
			`modifier "utf16le": events are UTF-8 text`},
		{"expand", fmt.Sprintf(webRule, "c-ip|expand: '%admins%'", "selection"),
			`modifier "expand": placeholders (expand) are not supported`},
		{"all with one value", fmt.Sprintf(webRule, "cs-uri-query|contains|all: x", "selection"),
			`x.yml:6:5: rule "r1": cs-uri-query|contains|all: modifier "all" needs a list of two or more values`},
		{"contains and endswith", fmt.Sprintf(webRule, "cs-uri-query|contains|endswith: x", "selection"),
			`contains and endswith cannot be combined`},
		{"bad regex", fmt.Sprintf(webRule, "cs-uri-query|re: 'a(?=b)'", "selection"),
			`x.yml:6:22: rule "r1": cs-uri-query|re: invalid regex (RE2 syntax)`},
		{"regex on the host", fmt.Sprintf(webRule, "cs-host|re: 'evil'", "selection"),
			`cs-host|re: a regex on cs-host (a part of request_url) is supported only on the query, and without anchors`},
		{"cidr with host bits", fmt.Sprintf(webRule, "c-ip|cidr: 10.1.2.3/16", "selection"),
			`x.yml:6:16: rule "r1": c-ip|cidr: cidr needs a network like 10.0.0.0/8 (host bits zero), got "10.1.2.3/16"`},
		{"undefined identifier", fmt.Sprintf(webRule, "c-ip: 1.2.3.4", "selection and not fliter"),
			`x.yml:7:32: rule "r1": detection.condition: undefined search identifier "fliter"`},
		{"aggregation", fmt.Sprintf(webRule, "c-ip: 1.2.3.4", "selection | count() > 5"),
			`x.yml:7:24: rule "r1": detection.condition: aggregations (|) are obsolete and not supported: write a correlation rule`},
		{"two of", fmt.Sprintf(webRule, "c-ip: 1.2.3.4", "2 of sel*"),
			`x.yml:7:14: rule "r1": detection.condition: "2" of: only "1 of" and "all of" are supported`},
		{"missing paren", fmt.Sprintf(webRule, "c-ip: 1.2.3.4", "(selection"),
			`x.yml:7:24: rule "r1": detection.condition: missing )`},
		{"pattern matches nothing", fmt.Sprintf(webRule, "c-ip: 1.2.3.4", "1 of filter_*"),
			`x.yml:7:19: rule "r1": detection.condition: "filter_*" matches no search identifier`},
		{"no title", "id: r1\ndetection: {s: {a: 1}, condition: s}\n",
			`x.yml:1:1: rule "r1": title: required`},
		{"bad level", "title: t\nid: r1\nlevel: severe\ndetection: {s: {a: 1}, condition: s}\n",
			`x.yml:3:8: rule "r1": level: must be one of informational, low, medium, high, critical, got "severe"`},
		{"yaml alias", "title: t\nid: r1\ndetection: {s: &a {a: 1}, t: *a, condition: s}\n",
			`x.yml:1:1: rule "r1": : yaml aliases are not allowed in rule files`},
		{"deep condition", fmt.Sprintf(webRule, "c-ip: 1.2.3.4", strings.Repeat("not ", 40)+"selection"),
			`x.yml:7:142: rule "r1": detection.condition: nests deeper than the 32 levels native rules allow`},
		{"exists on a part", fmt.Sprintf(webRule, "cs-uri-query|exists: true", "selection"),
			`x.yml:6:26: rule "r1": cs-uri-query|exists: exists takes true or false, on a whole field, got "true"`},
		{"broken yaml", "title: t\ndetection: {s: [\n",
			`x.yml:3:0: : : invalid yaml: did not find expected node content`},
		{"timeframe", "title: t\nid: r1\ndetection: {s: {a: 1}, timeframe: 5m, condition: s}\n",
			`x.yml:3:24: rule "r1": detection.timeframe: timeframe is obsolete`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Convert([]File{{Name: "x.yml", Data: []byte(tt.src)}}, Options{})
			var got []string
			for _, p := range res.Errors {
				got = append(got, render(p))
			}
			if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tt.want) {
				t.Errorf("got problems\n%s\nwant one containing\n%s", strings.Join(got, "\n"), tt.want)
			}
		})
	}
}

// corrFile is a correlation (%s: its type-specific lines) over two rules.
const corrFile = `title: c
id: c1
correlation:
%s
---
title: a
name: rule_a
logsource: {category: webserver}
detection: {s: {sc-status: 401}, condition: s}
---
title: b
name: rule_b
logsource: {category: webserver}
detection: {s: {sc-status: 200}, condition: s}
`

func TestCorrelationLimitsAreErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"temporal of two rules", "  type: temporal\n  rules: [rule_a, rule_b]\n  group-by: [c-ip]\n  timespan: 5m",
			`x.yml:4:9: rule "c1": correlation.type: temporal (any order) of 2 rules cannot be expressed exactly`},
		{"upper bound", "  type: event_count\n  rules: [rule_a]\n  group-by: [c-ip]\n  timespan: 5m\n  condition: {gt: 3, lte: 10}",
			`x.yml:8:14: rule "c1": correlation.condition.lte: lte cannot be expressed exactly`},
		{"eq", "  type: event_count\n  rules: [rule_a]\n  group-by: [c-ip]\n  timespan: 5m\n  condition: {eq: 10}",
			`correlation.condition.eq: eq cannot be expressed exactly`},
		{"gte 0", "  type: event_count\n  rules: [rule_a]\n  group-by: [c-ip]\n  timespan: 5m\n  condition: {gte: 0}",
			`correlation.condition.gte: gte: 0 holds of an empty window`},
		{"two days", "  type: event_count\n  rules: [rule_a]\n  group-by: [c-ip]\n  timespan: 2d\n  condition: {gte: 3}",
			`x.yml:7:13: rule "c1": correlation.timespan: native windows are at most 24h, got "2d"`},
		{"bare number timespan", "  type: event_count\n  rules: [rule_a]\n  group-by: [c-ip]\n  timespan: 300\n  condition: {gte: 3}",
			`correlation.timespan: must be a number and a unit (s, m, h, d), got "300"`},
		{"unknown rule", "  type: event_count\n  rules: [rule_a, rule_x]\n  group-by: [c-ip]\n  timespan: 5m\n  condition: {gte: 3}",
			`x.yml:5:19: rule "c1": correlation.rules: no rule has the id or name "rule_x"`},
		{"distinct over a group field", "  type: value_count\n  rules: [rule_a]\n  group-by: [c-ip]\n  timespan: 5m\n  condition: {field: c-ip, gte: 3}",
			`correlation.condition.field: "c-ip" is also a group-by field`},
		{"several value_count fields", "  type: value_count\n  rules: [rule_a]\n  group-by: [c-ip]\n  timespan: 5m\n  condition: {field: [cs-uri-stem, cs-method], gte: 3}",
			`correlation.condition.field: counting combinations of several fields is not supported`},
		{"aliases naming different fields", "  type: temporal_ordered\n  rules: [rule_a, rule_b]\n  group-by: [ip]\n  timespan: 5m\n  aliases:\n    ip: {rule_a: c-ip, rule_b: s-ip}",
			`"ip" is "client_ip" for one rule and "target_ip" for another: a native group_by names one field for every event`},
		{"partial order condition", "  type: temporal_ordered\n  rules: [rule_a, rule_b]\n  group-by: [c-ip]\n  timespan: 5m\n  condition: {gte: 1}",
			`correlation.condition: temporal_ordered needs every rule in order`},
		{"temporal gte 0", "  type: temporal\n  rules: [rule_a, rule_b]\n  group-by: [c-ip]\n  timespan: 5m\n  condition: {gte: 0}",
			`x.yml:8:14: rule "c1": correlation.condition: holds with no event at all`},
		{"unknown type", "  type: value_sum\n  rules: [rule_a]\n  group-by: [c-ip]\n  timespan: 5m\n  condition: {field: sc-bytes, gt: 3}",
			`x.yml:4:9: rule "c1": correlation.type: must be one of event_count, value_count, temporal, temporal_ordered, got "value_sum"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Convert([]File{{Name: "x.yml", Data: []byte(fmt.Sprintf(corrFile, tt.body))}}, Options{})
			var got []string
			for _, p := range res.Errors {
				got = append(got, render(p))
			}
			if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tt.want) {
				t.Errorf("got problems\n%s\nwant one containing\n%s", strings.Join(got, "\n"), tt.want)
			}
		})
	}
}

func TestChainLimitsAreErrors(t *testing.T) {
	chain := func(outer, inner string) string {
		return fmt.Sprintf(`title: outer
id: outer
correlation:
  type: temporal_ordered
  rules: [inner, rule_b]
  group-by: [c-ip]
  timespan: %s
---
title: inner
name: inner
correlation:
  type: %s
  rules: [rule_a]
  group-by: [c-ip]
  timespan: 5m
  condition: {gte: 3, field: cs-uri-stem}
---
title: a
name: rule_a
logsource: {category: webserver}
detection: {s: {sc-status: 401}, condition: s}
---
title: b
name: rule_b
logsource: {category: webserver}
detection: {s: {sc-status: 200}, condition: s}
`, outer, inner)
	}
	tests := []struct{ name, src, want string }{
		{"inner window shorter", chain("10m", "event_count"),
			`x.yml:5:11: rule "outer": correlation.rules: the chained correlation "inner" has a timespan (5m) shorter than this one (10m)`},
		{"value_count as a step", chain("5m", "value_count"),
			`x.yml:5:11: rule "outer": correlation.rules: a chained value_count cannot be a sequence step`},
		{"event_count over a correlation", `title: c
id: c1
correlation: {type: event_count, rules: [c2], group-by: [c-ip], timespan: 5m, condition: {gte: 2}}
---
title: c2
name: c2
correlation: {type: event_count, rules: [a], group-by: [c-ip], timespan: 5m, condition: {gte: 2}}
---
title: a
name: a
logsource: {category: webserver}
detection: {s: {sc-status: 401}, condition: s}
`, `x.yml:3:42: rule "c1": correlation.rules: event_count over the correlation "c2" cannot be expressed`},
		{"cycle", `title: c
id: c1
name: c1
correlation: {type: temporal_ordered, rules: [c2, a], group-by: [c-ip], timespan: 5m}
---
title: c2
name: c2
correlation: {type: temporal_ordered, rules: [c1, a], group-by: [c-ip], timespan: 5m}
---
title: a
name: a
logsource: {category: webserver}
detection: {s: {sc-status: 401}, condition: s}
`, `x.yml:4:14: rule "c1": correlation.rules: the chain of correlations refers back to this rule`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Convert([]File{{Name: "x.yml", Data: []byte(tt.src)}}, Options{})
			var got []string
			for _, p := range res.Errors {
				got = append(got, render(p))
			}
			if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), tt.want) {
				t.Errorf("got problems\n%s\nwant one containing\n%s", strings.Join(got, "\n"), tt.want)
			}
		})
	}
}

// TestCorrelationPartsStayParts: the rules of a correlation with a problem
// are not emitted on their own (they would alert on every event).
func TestCorrelationPartsStayParts(t *testing.T) {
	src := fmt.Sprintf(corrFile, "  type: event_count\n  rules: [rule_a, rule_b]\n  group-by: [c-ip]\n  timespan: 5m\n  condition: {lt: 3}")
	res := Convert([]File{{Name: "x.yml", Data: []byte(src)}}, Options{})
	if len(res.Errors) != 1 || res.Rules != 0 {
		t.Errorf("got %d rules and problems %+v; want no rule and the lt error", res.Rules, res.Errors)
	}
}
