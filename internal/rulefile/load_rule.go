package rulefile

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/secwatch/secwatch/internal/rules"
	"github.com/secwatch/secwatch/internal/yamldiag"
)

var ruleKeys = []string{
	"id", "title", "severity", "description", "runbook", "labels", "match",
	"group_by", "window", "threshold", "distinct", "cooldown", "absent",
	"sequence", "alarm",
}

var alarmKeys = []string{"filter_pattern", "format", "log_group", "namespace", "metric_name"}

// AlarmFormats are the valid values of alarm.format.
var AlarmFormats = []string{"json", "text"}

var stepKeys = []string{"match", "threshold"}

// keyAliases are words users write for a key under another name.
var keyAliases = map[string]string{
	"name": "id", "tags": "labels", "level": "severity", "priority": "severity",
	"condition": "match", "conditions": "match", "filter": "match", "where": "match",
	"count": "threshold", "limit": "threshold", "steps": "sequence",
	"period": "window", "interval": "window", "timeframe": "window",
	"groups": "rules", "group": "group_by", "by": "group_by", "unique": "distinct",
	"realert": "cooldown", "silence": "cooldown",
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// Limits of rule format v1.
const (
	windowMin   = time.Second
	windowMax   = 24 * time.Hour
	cooldownMax = 7 * 24 * time.Hour
	stepsMin    = 2
	stepsMax    = 16 // the engine tracks steps in a bit set; real sequences have 2 to 5
)

// parseRule compiles the n-th (1-based) item of the rules list. It returns
// a nil Rule only when the item is not a map.
func (p *ruleParser) parseRule(n *yaml.Node, index int) (*rules.Rule, idPos) {
	p.Item = ruleLabel("", index)
	defer func() { p.Item = "" }()
	if !p.Is(n, yaml.MappingNode, "", "a map") {
		return nil, idPos{}
	}
	// The id labels every problem of the rule, so it comes first, even
	// before duplicate keys are reported.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == "id" && k.Kind == yaml.ScalarNode {
			if v.Kind == yaml.ScalarNode && idPattern.MatchString(v.Value) {
				p.Item = ruleLabel(v.Value, 0)
			}
			break
		}
	}
	kvs := p.Entries(n, "")
	keys := make(map[string]yamldiag.KeyVal, len(kvs))
	for _, kv := range kvs {
		keys[kv.Name] = kv
	}
	r := &rules.Rule{File: p.File, Line: n.Line, Col: n.Column, Severity: "medium"}
	id := p.ruleID(r, n, keys)
	for _, kv := range kvs {
		p.ruleKey(r, kv)
	}
	p.kind(r, n, keys)
	r.Hash = ruleHash(r)
	return r, id
}

// ruleID validates the id and sets r.ID.
func (p *ruleParser) ruleID(r *rules.Rule, n *yaml.Node, keys map[string]yamldiag.KeyVal) idPos {
	kv, ok := keys["id"]
	if !ok {
		p.Errorf(n, "id", "required")
		return idPos{}
	}
	s, ok := p.str(kv.Val, "id")
	if !ok {
		return idPos{}
	}
	if !idPattern.MatchString(s) {
		p.Errorf(kv.Val, "id", "must match [a-z0-9][a-z0-9-]*, got %q", s)
		return idPos{}
	}
	r.ID = s
	return idPos{id: s, file: p.File, line: kv.Val.Line, col: kv.Val.Column}
}

// ruleKey parses one key of a rule into r.
func (p *ruleParser) ruleKey(r *rules.Rule, kv yamldiag.KeyVal) {
	switch kv.Name {
	case "id": // ruleID
	case "title":
		r.Title, _ = p.str(kv.Val, kv.Name)
	case "severity":
		if s, ok := p.str(kv.Val, kv.Name); ok {
			if slices.Contains(rules.Severities, s) {
				r.Severity = s
			} else {
				p.Errorf(kv.Val, kv.Name, "must be one of %s, got %q%s", strings.Join(rules.Severities, ", "), s, yamldiag.DidYouMean(s, rules.Severities, nil))
			}
		}
	case "description":
		r.Description, _ = p.str(kv.Val, kv.Name)
	case "runbook":
		r.Runbook, _ = p.str(kv.Val, kv.Name)
	case "labels":
		r.Labels = p.labels(kv.Val)
	case "match":
		r.Match = p.matchRoot(kv.Val, "match")
	case "group_by":
		r.GroupBy = p.fieldList(kv.Val, kv.Name)
	case "window":
		r.Window, _ = p.duration(kv.Val, kv.Name, windowMin, windowMax)
	case "threshold":
		r.Threshold, _ = p.count(kv.Val, kv.Name)
	case "distinct":
		r.Distinct, _ = p.fieldName(kv.Val, kv.Name)
	case "cooldown":
		r.Cooldown, _ = p.duration(kv.Val, kv.Name, 0, cooldownMax)
	case "absent":
		r.Absent, _ = p.duration(kv.Val, kv.Name, windowMin, windowMax)
	case "sequence":
		r.Steps = p.steps(kv.Val)
	case "alarm":
		r.Alarm = p.alarm(kv.Val)
	default:
		p.Unknown(kv.Key, "", "field", ruleKeys, keyAliases)
	}
}

// kind decides the rule's kind, reports keys that do not belong to it and
// keys it requires, and resolves the default cooldown.
func (p *ruleParser) kind(r *rules.Rule, n *yaml.Node, keys map[string]yamldiag.KeyVal) {
	notAllowed := func(kind string, names ...string) {
		for _, name := range names {
			if kv, ok := keys[name]; ok {
				p.Errorf(kv.Key, name, "not allowed in %s rule", kind)
			}
		}
	}
	required := func(name, hint string) {
		if _, ok := keys[name]; !ok {
			p.Errorf(n, name, "required%s", hint)
		}
	}
	const matchHint = " (match: {} matches every event)"
	switch {
	case hasKey(keys, "absent"):
		r.Kind = rules.KindAbsent
		notAllowed("an absent", "sequence", "threshold", "distinct", "window")
		required("match", matchHint)
	case hasKey(keys, "sequence"):
		r.Kind = rules.KindSequence
		notAllowed("a sequence", "match", "threshold", "distinct")
		required("window", "")
	default:
		r.Kind = rules.KindThreshold
		required("window", "")
		required("match", matchHint)
	}
	if r.Distinct != "" && slices.Contains(r.GroupBy, r.Distinct) {
		p.Errorf(keys["distinct"].Val, "distinct", "%q is also in group_by, so it always counts 1", r.Distinct)
	}
	if _, ok := keys["cooldown"]; !ok {
		r.Cooldown = r.Window
		if r.Kind == rules.KindAbsent {
			r.Cooldown = r.Absent
		}
	}
}

func hasKey(keys map[string]yamldiag.KeyVal, name string) bool {
	_, ok := keys[name]
	return ok
}

// labels parses a map of string to string.
func (p *ruleParser) labels(n *yaml.Node) map[string]string {
	if !p.Is(n, yaml.MappingNode, "labels", "a map of names to values") {
		return nil
	}
	m := make(map[string]string)
	for _, kv := range p.Entries(n, "labels") {
		key := "labels." + kv.Name
		if kv.Name == "" {
			p.Errorf(kv.Key, "labels", "empty label name")
			continue
		}
		if v, ok := p.str(kv.Val, key); ok {
			m[kv.Name] = v
		}
	}
	return m
}

// fieldList parses group_by: a list of field names or a single name.
func (p *ruleParser) fieldList(n *yaml.Node, key string) []string {
	if !p.NoAlias(n, key) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		if s, ok := p.fieldName(n, key); ok {
			return []string{s}
		}
		return nil
	}
	var out []string
	for i, item := range n.Content {
		k := fmt.Sprintf("%s[%d]", key, i)
		s, ok := p.fieldName(item, k)
		if !ok {
			continue
		}
		if slices.Contains(out, s) {
			p.Errorf(item, k, "duplicate field %q", s)
			continue
		}
		out = append(out, s)
	}
	return out
}

// fieldName parses a non-empty field name.
func (p *ruleParser) fieldName(n *yaml.Node, key string) (string, bool) {
	s, ok := p.str(n, key)
	if !ok {
		return "", false
	}
	if strings.TrimSpace(s) == "" {
		p.Errorf(n, key, "must be a field name, got %q", s)
		return "", false
	}
	return s, true
}

// duration parses a Go duration with a unit and checks it against
// [lo, hi].
func (p *ruleParser) duration(n *yaml.Node, key string, lo, hi time.Duration) (time.Duration, bool) {
	s, ok := p.str(n, key)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		hint := ""
		if num, ok := strings.CutSuffix(s, "d"); ok {
			if days, err := strconv.Atoi(num); err == nil && days > 0 {
				hint = fmt.Sprintf(" (write days as hours: \"%dh\")", days*24)
			}
		}
		p.Errorf(n, key, "must be a duration like \"5m\", got %q%s", s, hint)
		return 0, false
	}
	if d < lo || d > hi {
		p.Errorf(n, key, "must be between %s and %s, got %q", fmtDuration(lo), fmtDuration(hi), s)
		return 0, false
	}
	return d, true
}

func fmtDuration(d time.Duration) string { return rules.FormatDuration(d) }

// count parses a threshold: a decimal integer >= 0.
func (p *ruleParser) count(n *yaml.Node, key string) (int, bool) {
	s, ok := p.str(n, key)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || strings.HasPrefix(s, "+") {
		p.Errorf(n, key, "must be a whole number >= 0, got %q", s)
		return 0, false
	}
	return v, true
}

// steps parses a sequence's steps.
func (p *ruleParser) steps(n *yaml.Node) []rules.Step {
	if !p.Is(n, yaml.SequenceNode, "sequence", "a list of steps") {
		return nil
	}
	if len(n.Content) < stepsMin {
		p.Errorf(n, "sequence", "must have at least %d steps, got %d", stepsMin, len(n.Content))
	}
	if len(n.Content) > stepsMax {
		p.Errorf(n, "sequence", "must have at most %d steps, got %d", stepsMax, len(n.Content))
	}
	var steps []rules.Step
	for i, item := range n.Content {
		key := fmt.Sprintf("sequence[%d]", i)
		if !p.Is(item, yaml.MappingNode, key, "a map with match and threshold") {
			continue
		}
		var st rules.Step
		hasMatch := false
		for _, kv := range p.Entries(item, key) {
			switch kv.Name {
			case "match":
				hasMatch = true
				st.Match = p.matchRoot(kv.Val, key+".match")
			case "threshold":
				st.Threshold, _ = p.count(kv.Val, key+".threshold")
			default:
				p.Unknown(kv.Key, key, "field", stepKeys, keyAliases)
			}
		}
		if !hasMatch {
			p.Errorf(item, key+".match", "required")
		}
		steps = append(steps, st)
	}
	return steps
}

// alarm parses the alarm map; every key is an optional string.
func (p *ruleParser) alarm(n *yaml.Node) *rules.Alarm {
	if !p.Is(n, yaml.MappingNode, "alarm", "a map (alarm: {} for the defaults)") {
		return nil
	}
	a := &rules.Alarm{}
	for _, kv := range p.Entries(n, "alarm") {
		key := "alarm." + kv.Name
		var dst *string
		switch kv.Name {
		case "filter_pattern":
			dst = &a.FilterPattern
		case "log_group":
			dst = &a.LogGroup
		case "namespace":
			dst = &a.Namespace
		case "metric_name":
			dst = &a.MetricName
		case "format":
			if v, ok := p.str(kv.Val, key); ok {
				if !slices.Contains(AlarmFormats, v) {
					p.Errorf(kv.Val, key, "must be one of %s, got %q", strings.Join(AlarmFormats, ", "), v)
				} else {
					a.Format = v
				}
			}
			continue
		default:
			p.Unknown(kv.Key, "alarm", "field", alarmKeys, keyAliases)
			continue
		}
		*dst, _ = p.str(kv.Val, key)
	}
	return a
}
