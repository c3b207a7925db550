package rulefile

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/secwatch/secwatch/internal/rules"
)

// FormatMatch renders m in the rule language, as one line of YAML flow
// syntax: {event_type: authentication_failure, status: [401, 403]}. A
// compiled condition renders to text that ParseMatch compiles back to the
// same tree. A nil Match, which matches every event, renders as {}.
func FormatMatch(m *rules.Match) string {
	var b strings.Builder
	writeMap(&b, m, false)
	return b.String()
}

// canonicalMatch is FormatMatch with the order of everything whose order
// does not matter (the conditions of a map, any and all, the operators of a
// field, the values of in, not_in, cidr and not_cidr) sorted, so that
// reordering a rule's conditions does not change its hash.
func canonicalMatch(m *rules.Match) string {
	if m == nil {
		return "none"
	}
	var b strings.Builder
	writeMap(&b, m, true)
	return b.String()
}

// writeMap writes m as a condition map. A MatchAll is the map of its
// children when their keys are unique; any other node is a map of one entry.
func writeMap(b *strings.Builder, m *rules.Match, canon bool) {
	if m == nil {
		b.WriteString("{}")
		return
	}
	children := []*rules.Match{m}
	if m.Kind == rules.MatchAll && uniqueKeys(m.Children) {
		children = m.Children
	}
	entries := make([]string, len(children))
	for i, c := range children {
		entries[i] = formatEntry(c, canon)
	}
	if canon {
		slices.Sort(entries)
	}
	b.WriteByte('{')
	b.WriteString(strings.Join(entries, ", "))
	b.WriteByte('}')
}

func entryKey(m *rules.Match) string {
	switch m.Kind {
	case rules.MatchAll:
		return "all"
	case rules.MatchAny:
		return "any"
	case rules.MatchNot:
		return "not"
	}
	return m.Field
}

func uniqueKeys(ms []*rules.Match) bool {
	seen := make(map[string]bool, len(ms))
	for _, m := range ms {
		k := entryKey(m)
		if seen[k] {
			return false
		}
		seen[k] = true
	}
	return true
}

// entry writes one map entry: `field: condition`, `any: [...]`,
// `all: [...]` or `not: {...}`.
func formatEntry(m *rules.Match, canon bool) string {
	var b strings.Builder
	switch m.Kind {
	case rules.MatchField:
		b.WriteString(formatKey(m.Field))
		b.WriteString(": ")
		writeField(&b, m.Tests, canon)
	case rules.MatchAll, rules.MatchAny:
		b.WriteString(entryKey(m))
		b.WriteString(": [")
		items := make([]string, len(m.Children))
		for i, c := range m.Children {
			var ib strings.Builder
			writeMap(&ib, c, canon)
			items[i] = ib.String()
		}
		if canon {
			slices.Sort(items)
		}
		b.WriteString(strings.Join(items, ", "))
		b.WriteByte(']')
	case rules.MatchNot:
		b.WriteString("not: ")
		if len(m.Children) == 1 {
			writeMap(&b, m.Children[0], canon)
		} else {
			// Eval holds for no event then; neither does not: {}.
			b.WriteString("{}")
		}
	}
	return b.String()
}

// writeField writes a field's tests: the shorthand for a lone eq or in,
// a map of operators otherwise.
func writeField(b *strings.Builder, tests []rules.Test, canon bool) {
	if len(tests) == 1 && (tests[0].Op == rules.OpEq || tests[0].Op == rules.OpIn) {
		b.WriteString(formatOperand(&tests[0], canon))
		return
	}
	items := make([]string, len(tests))
	for i := range tests {
		items[i] = string(tests[i].Op) + ": " + formatOperand(&tests[i], canon)
	}
	if canon {
		slices.Sort(items)
	}
	b.WriteByte('{')
	b.WriteString(strings.Join(items, ", "))
	b.WriteByte('}')
}

func formatOperand(t *rules.Test, canon bool) string {
	switch t.Op {
	case rules.OpExists:
		return strconv.FormatBool(t.Exists)
	case rules.OpIn, rules.OpNotIn:
		return formatList(t.Values, canon)
	case rules.OpCIDR, rules.OpNotCIDR:
		if len(t.Prefixes) == 0 {
			return formatList(t.Values, canon)
		}
		vals := make([]string, len(t.Prefixes))
		for i, p := range t.Prefixes {
			vals[i] = p.String()
		}
		if len(vals) == 1 {
			return formatValue(vals[0])
		}
		return formatList(vals, canon)
	}
	if len(t.Values) == 0 {
		return `""`
	}
	return formatValue(t.Values[0])
}

func formatList(vals []string, canon bool) string {
	items := make([]string, len(vals))
	for i, v := range vals {
		items[i] = formatValue(v)
	}
	if canon {
		slices.Sort(items)
	}
	return "[" + strings.Join(items, ", ") + "]"
}

// formatValue writes a value plain when YAML reads it back as the same
// text, double-quoted otherwise.
func formatValue(s string) string {
	if plainSafe(s) {
		return s
	}
	return strconv.Quote(s) // Go's escapes are a subset of YAML's
}

// formatKey writes a field name; the reserved words are never field names.
func formatKey(s string) string {
	return formatValue(s)
}

// plainSafe reports whether s can be written as a plain flow scalar whose
// text the loader keeps as is: no indicators, no spaces, and not a word
// YAML 1.2 reads as null or as a boolean spelled other than true/false.
func plainSafe(s string) bool {
	switch strings.ToLower(s) {
	case "", "null", "~":
		return false
	case "true", "false":
		return s == "true" || s == "false"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '/':
		case i > 0 && (c == '-' || c == '+' || c == '@'):
		default:
			return false
		}
	}
	return true
}

// ruleHash is the hex SHA-256 of a canonical encoding of everything in the
// rule that affects evaluation and output. Positions are left out, so a
// rule that moves within its file (or to another file) keeps its hash;
// defaults are resolved first, so writing a default out does not change it.
func ruleHash(r *rules.Rule) string {
	var b strings.Builder
	w := func(key, val string) {
		b.WriteString(key)
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(val))
		b.WriteByte('\n')
	}
	w("format", "secwatch rule v1")
	w("id", r.ID)
	w("title", r.Title)
	w("severity", r.Severity)
	w("description", r.Description)
	w("runbook", r.Runbook)
	for _, k := range slices.Sorted(maps.Keys(r.Labels)) {
		w("label", k)
		w("label_value", r.Labels[k])
	}
	w("kind", r.Kind.String())
	w("match", canonicalMatch(r.Match))
	for _, f := range r.GroupBy {
		w("group_by", f)
	}
	w("window", r.Window.String())
	w("threshold", strconv.Itoa(r.Threshold))
	w("distinct", r.Distinct)
	w("cooldown", r.Cooldown.String())
	w("absent", r.Absent.String())
	for _, s := range r.Steps {
		w("step_match", canonicalMatch(s.Match))
		w("step_threshold", strconv.Itoa(s.Threshold))
	}
	if a := r.Alarm; a != nil {
		w("alarm", "yes")
		w("alarm_filter_pattern", a.FilterPattern)
		w("alarm_format", a.Format)
		w("alarm_log_group", a.LogGroup)
		w("alarm_namespace", a.Namespace)
		w("alarm_metric_name", a.MetricName)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}
