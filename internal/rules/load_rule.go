package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
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
func (p *ruleParser) parseRule(n *yaml.Node, index int) (*Rule, idPos) {
	p.rule = ruleLabel("", index)
	defer func() { p.rule = "" }()
	if !p.noAlias(n, "") {
		return nil, idPos{}
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "", "must be a map, got %s", describeNode(n))
		return nil, idPos{}
	}
	// The id labels every problem of the rule, so it comes first, even
	// before duplicate keys are reported.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == "id" && k.Kind == yaml.ScalarNode {
			if v.Kind == yaml.ScalarNode && idPattern.MatchString(v.Value) {
				p.rule = ruleLabel(v.Value, 0)
			}
			break
		}
	}
	kvs := p.mapping(n, "")
	keys := make(map[string]keyVal, len(kvs))
	for _, kv := range kvs {
		keys[kv.name] = kv
	}
	r := &Rule{File: p.file, Line: n.Line, Col: n.Column, Severity: "medium"}
	id := p.ruleID(r, n, keys)
	for _, kv := range kvs {
		p.ruleKey(r, kv)
	}
	p.kind(r, n, keys)
	r.Hash = ruleHash(r)
	return r, id
}

// ruleID validates the id and sets r.ID.
func (p *ruleParser) ruleID(r *Rule, n *yaml.Node, keys map[string]keyVal) idPos {
	kv, ok := keys["id"]
	if !ok {
		p.errorf(n, "id", "required")
		return idPos{}
	}
	s, ok := p.str(kv.val, "id")
	if !ok {
		return idPos{}
	}
	if !idPattern.MatchString(s) {
		p.errorf(kv.val, "id", "must match [a-z0-9][a-z0-9-]*, got %q", s)
		return idPos{}
	}
	r.ID = s
	return idPos{id: s, file: p.file, line: kv.val.Line, col: kv.val.Column}
}

// ruleKey parses one key of a rule into r.
func (p *ruleParser) ruleKey(r *Rule, kv keyVal) {
	switch kv.name {
	case "id": // ruleID
	case "title":
		r.Title, _ = p.str(kv.val, kv.name)
	case "severity":
		if s, ok := p.str(kv.val, kv.name); ok {
			if slices.Contains(Severities, s) {
				r.Severity = s
			} else {
				p.errorf(kv.val, kv.name, "must be one of %s, got %q%s", strings.Join(Severities, ", "), s, didYouMean(s, Severities, nil))
			}
		}
	case "description":
		r.Description, _ = p.str(kv.val, kv.name)
	case "runbook":
		r.Runbook, _ = p.str(kv.val, kv.name)
	case "labels":
		r.Labels = p.labels(kv.val)
	case "match":
		r.Match = p.matchRoot(kv.val, "match")
	case "group_by":
		r.GroupBy = p.fieldList(kv.val, kv.name)
	case "window":
		r.Window, _ = p.duration(kv.val, kv.name, windowMin, windowMax)
	case "threshold":
		r.Threshold, _ = p.count(kv.val, kv.name)
	case "distinct":
		r.Distinct, _ = p.fieldName(kv.val, kv.name)
	case "cooldown":
		r.Cooldown, _ = p.duration(kv.val, kv.name, 0, cooldownMax)
	case "absent":
		r.Absent, _ = p.duration(kv.val, kv.name, windowMin, windowMax)
	case "sequence":
		r.Steps = p.steps(kv.val)
	case "alarm":
		r.Alarm = p.alarm(kv.val)
	default:
		p.unknownKey(kv.key, "", "field", ruleKeys, keyAliases)
	}
}

// kind decides the rule's kind, reports keys that do not belong to it and
// keys it requires, and resolves the default cooldown.
func (p *ruleParser) kind(r *Rule, n *yaml.Node, keys map[string]keyVal) {
	notAllowed := func(kind string, names ...string) {
		for _, name := range names {
			if kv, ok := keys[name]; ok {
				p.errorf(kv.key, name, "not allowed in %s rule", kind)
			}
		}
	}
	required := func(name, hint string) {
		if _, ok := keys[name]; !ok {
			p.errorf(n, name, "required%s", hint)
		}
	}
	const matchHint = " (match: {} matches every event)"
	switch {
	case hasKey(keys, "absent"):
		r.Kind = KindAbsent
		notAllowed("an absent", "sequence", "threshold", "distinct", "window")
		required("match", matchHint)
	case hasKey(keys, "sequence"):
		r.Kind = KindSequence
		notAllowed("a sequence", "match", "threshold", "distinct")
		required("window", "")
	default:
		r.Kind = KindThreshold
		required("window", "")
		required("match", matchHint)
	}
	if r.Distinct != "" && slices.Contains(r.GroupBy, r.Distinct) {
		p.errorf(keys["distinct"].val, "distinct", "%q is also in group_by, so it always counts 1", r.Distinct)
	}
	if _, ok := keys["cooldown"]; !ok {
		r.Cooldown = r.Window
		if r.Kind == KindAbsent {
			r.Cooldown = r.Absent
		}
	}
}

func hasKey(keys map[string]keyVal, name string) bool {
	_, ok := keys[name]
	return ok
}

// labels parses a map of string to string.
func (p *ruleParser) labels(n *yaml.Node) map[string]string {
	if !p.noAlias(n, "labels") {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "labels", "must be a map of names to values, got %s", describeNode(n))
		return nil
	}
	m := make(map[string]string)
	for _, kv := range p.mapping(n, "labels") {
		key := "labels." + kv.name
		if kv.name == "" {
			p.errorf(kv.key, "labels", "empty label name")
			continue
		}
		if v, ok := p.str(kv.val, key); ok {
			m[kv.name] = v
		}
	}
	return m
}

// fieldList parses group_by: a list of field names or a single name.
func (p *ruleParser) fieldList(n *yaml.Node, key string) []string {
	if !p.noAlias(n, key) {
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
			p.errorf(item, k, "duplicate field %q", s)
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
		p.errorf(n, key, "must be a field name, got %q", s)
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
		p.errorf(n, key, "must be a duration like \"5m\", got %q%s", s, hint)
		return 0, false
	}
	if d < lo || d > hi {
		p.errorf(n, key, "must be between %s and %s, got %q", fmtDuration(lo), fmtDuration(hi), s)
		return 0, false
	}
	return d, true
}

func fmtDuration(d time.Duration) string { return FormatDuration(d) }

// FormatDuration writes a limit the way users write it: "5m", "24h".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// count parses a threshold: a decimal integer >= 0.
func (p *ruleParser) count(n *yaml.Node, key string) (int, bool) {
	s, ok := p.str(n, key)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || strings.HasPrefix(s, "+") {
		p.errorf(n, key, "must be a whole number >= 0, got %q", s)
		return 0, false
	}
	return v, true
}

// steps parses a sequence's steps.
func (p *ruleParser) steps(n *yaml.Node) []Step {
	if !p.noAlias(n, "sequence") {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "sequence", "must be a list of steps, got %s", describeNode(n))
		return nil
	}
	if len(n.Content) < stepsMin {
		p.errorf(n, "sequence", "must have at least %d steps, got %d", stepsMin, len(n.Content))
	}
	if len(n.Content) > stepsMax {
		p.errorf(n, "sequence", "must have at most %d steps, got %d", stepsMax, len(n.Content))
	}
	var steps []Step
	for i, item := range n.Content {
		key := fmt.Sprintf("sequence[%d]", i)
		if !p.noAlias(item, key) {
			continue
		}
		if item.Kind != yaml.MappingNode {
			p.errorf(item, key, "must be a map with match and threshold, got %s", describeNode(item))
			continue
		}
		var st Step
		hasMatch := false
		for _, kv := range p.mapping(item, key) {
			switch kv.name {
			case "match":
				hasMatch = true
				st.Match = p.matchRoot(kv.val, key+".match")
			case "threshold":
				st.Threshold, _ = p.count(kv.val, key+".threshold")
			default:
				p.unknownKey(kv.key, key, "field", stepKeys, keyAliases)
			}
		}
		if !hasMatch {
			p.errorf(item, key+".match", "required")
		}
		steps = append(steps, st)
	}
	return steps
}

// alarm parses the alarm map; every key is an optional string.
func (p *ruleParser) alarm(n *yaml.Node) *Alarm {
	if !p.noAlias(n, "alarm") {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "alarm", "must be a map (alarm: {} for the defaults), got %s", describeNode(n))
		return nil
	}
	a := &Alarm{}
	for _, kv := range p.mapping(n, "alarm") {
		key := "alarm." + kv.name
		var dst *string
		switch kv.name {
		case "filter_pattern":
			dst = &a.FilterPattern
		case "log_group":
			dst = &a.LogGroup
		case "namespace":
			dst = &a.Namespace
		case "metric_name":
			dst = &a.MetricName
		case "format":
			if v, ok := p.str(kv.val, key); ok {
				if !slices.Contains(AlarmFormats, v) {
					p.errorf(kv.val, key, "must be one of %s, got %q", strings.Join(AlarmFormats, ", "), v)
				} else {
					a.Format = v
				}
			}
			continue
		default:
			p.unknownKey(kv.key, "alarm", "field", alarmKeys, keyAliases)
			continue
		}
		*dst, _ = p.str(kv.val, key)
	}
	return a
}
