package sigma

import (
	"maps"
	"regexp"
	"strings"
)

// cond is a native match condition: a leaf (one field and its operators)
// or all/any/not of others.
type cond struct {
	op    string // "leaf", "all", "any", "not"
	kids  []cond
	field string
	ops   map[string]any // native operator → operand
}

func leaf(field, op string, operand any) cond {
	return cond{op: "leaf", field: field, ops: map[string]any{op: operand}}
}

// join combines conditions with all or any, flattening nested ones of the
// same kind; one condition stands for itself.
func join(op string, cs []cond) cond {
	var kids []cond
	for _, c := range cs {
		if c.op == op {
			kids = append(kids, c.kids...)
		} else {
			kids = append(kids, c)
		}
	}
	if op == "any" {
		kids = mergeRegexes(kids)
	}
	if len(kids) == 1 {
		return kids[0]
	}
	return cond{op: op, kids: kids}
}

// mergeRegexes turns alternatives that are regexes on the same field with
// the same flags into one regex, (?flags)(?:a|b|…): one RE2 pass per event
// instead of one per value, for rules that list dozens of values.
func mergeRegexes(kids []cond) []cond {
	type group struct {
		at     int // index in out
		flags  string
		bodies []string
	}
	var out []cond
	var groups []*group
	byKey := map[string]*group{}
	for _, k := range kids {
		re, ok := k.ops["regex"].(string)
		if k.op != "leaf" || !ok || len(k.ops) != 1 {
			out = append(out, k)
			continue
		}
		flags, body := splitFlags(re)
		if inlineFlags.MatchString(body) {
			body = "(?:" + body + ")" // keeps a flag set inside the body from reaching the next alternative
		}
		key := k.field + "\x00" + flags
		g := byKey[key]
		if g == nil {
			g = &group{at: len(out), flags: flags}
			byKey[key] = g
			groups = append(groups, g)
			out = append(out, cond{op: "leaf", field: k.field})
		}
		g.bodies = append(g.bodies, body)
	}
	for _, g := range groups {
		re := g.flags + g.bodies[0]
		if len(g.bodies) > 1 {
			re = g.flags + "(?:" + strings.Join(g.bodies, "|") + ")"
		}
		out[g.at].ops = map[string]any{"regex": re}
	}
	return out
}

var (
	leadingFlags = regexp.MustCompile(`^\(\?[imsU]+\)`)
	inlineFlags  = regexp.MustCompile(`\(\?[imsU-]+\)`)
)

// splitFlags splits "(?is)body" into "(?is)" and "body".
func splitFlags(re string) (flags, body string) {
	f := leadingFlags.FindString(re)
	return f, re[len(f):]
}

func negate(c cond) cond {
	if c.op == "not" {
		return c.kids[0]
	}
	return cond{op: "not", kids: []cond{c}}
}

// depth is the nesting depth of c as the native loader counts it.
func (c cond) depth() int {
	d := 0
	for _, k := range c.kids {
		d = max(d, k.depth())
	}
	return d + 1
}

// yaml renders c as a native condition map. An "all" whose members are maps
// with distinct keys becomes one map (a map means "all of these hold").
func (c cond) yaml() map[string]any {
	switch c.op {
	case "leaf":
		return map[string]any{c.field: c.ops}
	case "not":
		return map[string]any{"not": c.kids[0].yaml()}
	case "all":
		merged := map[string]any{}
		for _, k := range c.kids {
			m := k.yaml()
			for key := range m {
				if _, dup := merged[key]; dup {
					return map[string]any{"all": c.list()}
				}
			}
			maps.Copy(merged, m)
		}
		return merged
	}
	return map[string]any{"any": c.list()}
}

func (c cond) list() []map[string]any {
	out := make([]map[string]any, len(c.kids))
	for i, k := range c.kids {
		out[i] = k.yaml()
	}
	return out
}

// nativeRule is one rule of the output file, in the key order of the
// native reference.
type nativeRule struct {
	ID          string            `yaml:"id"`
	Title       string            `yaml:"title,omitempty"`
	Severity    string            `yaml:"severity,omitempty"`
	Description string            `yaml:"description,omitempty"`
	Runbook     string            `yaml:"runbook,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Match       map[string]any    `yaml:"match,omitempty"`
	GroupBy     []string          `yaml:"group_by,omitempty"`
	Window      string            `yaml:"window,omitempty"`
	Threshold   *int              `yaml:"threshold,omitempty"`
	Distinct    string            `yaml:"distinct,omitempty"`
	Cooldown    string            `yaml:"cooldown,omitempty"`
	Sequence    []nativeStep      `yaml:"sequence,omitempty"`
}

type nativeStep struct {
	Match     map[string]any `yaml:"match"`
	Threshold int            `yaml:"threshold,omitempty"`
}
