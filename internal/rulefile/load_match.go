package rulefile

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/rules"
	"github.com/secwatch/secwatch/internal/yamldiag"
)

// opNames are the operators of rule format v1, in the order the docs list them.
var opNames = []string{
	string(rules.OpEq), string(rules.OpNe), string(rules.OpIn), string(rules.OpNotIn), string(rules.OpPrefix),
	string(rules.OpSuffix), string(rules.OpContains), string(rules.OpRegex), string(rules.OpCIDR),
	string(rules.OpNotCIDR), string(rules.OpExists), string(rules.OpGt), string(rules.OpGte),
	string(rules.OpLt), string(rules.OpLte),
}

// opAliases are operator names from other tools.
var opAliases = map[string]string{
	"ge": "gte", "le": "lte", "neq": "ne", "equals": "eq", "is": "eq",
	"nin": "not_in", "startswith": "prefix", "starts_with": "prefix",
	"endswith": "suffix", "ends_with": "suffix", "regexp": "regex",
	"matches": "regex", "re": "regex", "in_cidr": "cidr", "exist": "exists",
}

// matchDepthMax bounds how deeply any/all/not may nest.
const matchDepthMax = 32

// matchRoot compiles the value of a match key.
func (p *ruleParser) matchRoot(n *yaml.Node, path string) *rules.Match {
	if n.Kind == yaml.ScalarNode && yamldiag.IsNull(n) {
		p.Errorf(n, path, "must be a map of field conditions, got %s (match: {} matches every event)", p.Describe(n))
		return nil
	}
	return p.conditions(n, path, 0)
}

// conditions compiles a map of field conditions, all of which must hold,
// with the reserved keys any, all and not.
func (p *ruleParser) conditions(n *yaml.Node, path string, depth int) *rules.Match {
	if !p.Is(n, yaml.MappingNode, path, "a map of field conditions") {
		return nil
	}
	if depth > matchDepthMax {
		p.Errorf(n, path, "conditions nested more than %d levels deep", matchDepthMax)
		return nil
	}
	m := &rules.Match{Kind: rules.MatchAll, Line: n.Line, Col: n.Column}
	for _, kv := range p.Entries(n, path) {
		key := yamldiag.JoinKey(path, kv.Name)
		var c *rules.Match
		switch kv.Name {
		case "any", "all":
			c = p.conditionList(kv, key, depth)
		case "not":
			if child := p.conditions(kv.Val, key, depth+1); child != nil {
				if len(kv.Val.Content) == 0 {
					p.Errorf(kv.Val, key, "must not be empty") // not: {} holds for no event
				}
				c = &rules.Match{Kind: rules.MatchNot, Children: []*rules.Match{child}, Line: kv.Key.Line, Col: kv.Key.Column}
			}
		default:
			c = p.field(kv, key)
		}
		if c != nil {
			m.Children = append(m.Children, c)
		}
	}
	return m
}

// conditionList compiles `any: [...]` or `all: [...]`.
func (p *ruleParser) conditionList(kv yamldiag.KeyVal, key string, depth int) *rules.Match {
	if !p.Is(kv.Val, yaml.SequenceNode, key, "a list of condition maps") {
		return nil
	}
	if len(kv.Val.Content) == 0 {
		p.Errorf(kv.Val, key, "must list at least one condition map")
		return nil
	}
	m := &rules.Match{Kind: rules.MatchAll, Line: kv.Key.Line, Col: kv.Key.Column}
	if kv.Name == "any" {
		m.Kind = rules.MatchAny
	}
	for i, item := range kv.Val.Content {
		if c := p.conditions(item, fmt.Sprintf("%s[%d]", key, i), depth+1); c != nil {
			m.Children = append(m.Children, c)
		}
	}
	return m
}

// field compiles one field's condition: a scalar (eq), a list (in) or a
// map of operators.
func (p *ruleParser) field(kv yamldiag.KeyVal, key string) *rules.Match {
	if strings.TrimSpace(kv.Name) == "" {
		p.Errorf(kv.Key, key, "empty field name")
		return nil
	}
	v := kv.Val
	if !p.NoAlias(v, key) {
		return nil
	}
	m := &rules.Match{Kind: rules.MatchField, Field: kv.Name, Line: kv.Key.Line, Col: kv.Key.Column}
	switch v.Kind {
	case yaml.ScalarNode:
		if yamldiag.IsNull(v) {
			p.Errorf(v, key, "must not be null (use {exists: false} to match a missing field)")
			return nil
		}
		s, ok := p.value(v, key)
		if !ok {
			return nil
		}
		m.Tests = []rules.Test{withNums(rules.Test{Op: rules.OpEq, Values: []string{s}, Line: v.Line, Col: v.Column})}
	case yaml.SequenceNode:
		vals, ok := p.values(v, key)
		if !ok {
			return nil
		}
		m.Tests = []rules.Test{withNums(rules.Test{Op: rules.OpIn, Values: vals, Line: v.Line, Col: v.Column})}
	case yaml.MappingNode:
		kvs := p.Entries(v, key)
		if len(kvs) == 0 {
			p.Errorf(v, key, "must name at least one operator")
			return nil
		}
		for _, op := range kvs {
			if t, ok := p.test(kv.Name, op, yamldiag.JoinKey(key, op.Name)); ok {
				m.Tests = append(m.Tests, t)
			}
		}
	default:
		p.Errorf(v, key, "must be a value, a list or a map of operators, got %s", p.Describe(v))
		return nil
	}
	return m
}

// test compiles one operator and its operand.
func (p *ruleParser) test(field string, kv yamldiag.KeyVal, key string) (rules.Test, bool) {
	t := rules.Test{Op: rules.Op(kv.Name), Line: kv.Key.Line, Col: kv.Key.Column}
	n := kv.Val
	var ok bool
	switch t.Op {
	case rules.OpEq, rules.OpNe:
		var s string
		if n.Kind == yaml.SequenceNode {
			p.Errorf(n, key, "must be a single value, got a list (use %s for a list)", map[rules.Op]rules.Op{rules.OpEq: rules.OpIn, rules.OpNe: rules.OpNotIn}[t.Op])
			return t, false
		}
		s, ok = p.value(n, key)
		t.Values = []string{s}
	case rules.OpIn, rules.OpNotIn:
		t.Values, ok = p.values(n, key)
	case rules.OpPrefix, rules.OpSuffix, rules.OpContains:
		var s string
		if s, ok = p.value(n, key); ok && s == "" {
			p.Errorf(n, key, "must not be empty")
			ok = false
		}
		t.Values = []string{s}
	case rules.OpRegex:
		var s string
		if s, ok = p.value(n, key); ok {
			t.Values = []string{s}
			t.Regex, ok = p.regex(n, key, s)
		}
	case rules.OpCIDR, rules.OpNotCIDR:
		if t.Values, ok = p.values(n, key); ok {
			t.Prefixes, ok = p.prefixes(n, key, t.Values)
		}
	case rules.OpExists:
		if ok = p.NoAlias(n, key); ok {
			if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
				p.Errorf(n, key, "must be true or false, got %s", p.Describe(n))
				ok = false
			}
			t.Exists = strings.EqualFold(n.Value, "true")
		}
	case rules.OpGt, rules.OpGte, rules.OpLt, rules.OpLte:
		var s string
		if s, ok = p.value(n, key); ok {
			if _, num := event.Number(s); !num {
				p.Errorf(n, key, "must be a number, got %q", s)
				ok = false
			}
			t.Values = []string{s}
		}
	default:
		p.Errorf(kv.Key, key, "unknown operator%s", opHint(field, kv.Name))
		return t, false
	}
	if !ok {
		return t, false
	}
	return withNums(t), true
}

// opHint explains an unknown operator.
func opHint(field, name string) string {
	if rest, ok := strings.CutPrefix(name, "not_"); ok && yamldiag.Suggest(rest, opNames, opAliases) == rest {
		return fmt.Sprintf(" (negate with not: {%s: {%s: ...}})", formatKey(field), rest)
	}
	if h := yamldiag.DidYouMean(name, opNames, opAliases); h != "" {
		return h
	}
	return fmt.Sprintf(" (for a nested field, write %q)", field+"."+name)
}

// numbered fills Nums and NumOK for the operators that compare numbers.
func withNums(t rules.Test) rules.Test {
	switch t.Op {
	case rules.OpEq, rules.OpNe, rules.OpIn, rules.OpNotIn, rules.OpGt, rules.OpGte, rules.OpLt, rules.OpLte:
	default:
		return t
	}
	t.Nums = make([]float64, len(t.Values))
	t.NumOK = make([]bool, len(t.Values))
	for i, v := range t.Values {
		t.Nums[i], t.NumOK[i] = event.Number(v)
	}
	return t
}

// value returns a scalar operand as its literal text. Booleans are written
// "true" and "false" whatever their YAML spelling, as events carry them.
func (p *ruleParser) value(n *yaml.Node, key string) (string, bool) {
	if !p.Is(n, yaml.ScalarNode, key, "a single value") {
		return "", false
	}
	if yamldiag.IsNull(n) {
		p.Errorf(n, key, "must not be null (use {exists: false} to match a missing field)")
		return "", false
	}
	s, ok := p.str(n, key)
	if ok && n.Tag == "!!bool" {
		s = strings.ToLower(s)
	}
	return s, ok
}

// values returns a list operand; a scalar is a list of one.
func (p *ruleParser) values(n *yaml.Node, key string) ([]string, bool) {
	if !p.NoAlias(n, key) {
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		s, ok := p.value(n, key)
		return []string{s}, ok
	}
	if len(n.Content) == 0 {
		p.Errorf(n, key, "must list at least one value")
		return nil, false
	}
	out := make([]string, 0, len(n.Content))
	ok := true
	for i, item := range n.Content {
		s, good := p.value(item, fmt.Sprintf("%s[%d]", key, i))
		ok = ok && good
		out = append(out, s)
	}
	return out, ok
}

// regex compiles an RE2 pattern; it is anchored only if it anchors itself.
func (p *ruleParser) regex(n *yaml.Node, key, s string) (*regexp.Regexp, bool) {
	if s == "" {
		p.Errorf(n, key, "must not be empty")
		return nil, false
	}
	re, err := regexp.Compile(s)
	if err != nil {
		p.Errorf(n, key, "invalid regex %q: %s", s, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		return nil, false
	}
	return re, true
}

// prefixes parses the operands of cidr and not_cidr.
func (p *ruleParser) prefixes(n *yaml.Node, key string, vals []string) ([]netip.Prefix, bool) {
	out := make([]netip.Prefix, 0, len(vals))
	ok := true
	for i, s := range vals {
		at, k := n, key
		if n.Kind == yaml.SequenceNode {
			at, k = n.Content[i], fmt.Sprintf("%s[%d]", key, i)
		}
		pfx, msg := parsePrefix(s)
		if msg != "" {
			p.Errorf(at, k, "%s", msg)
			ok = false
			continue
		}
		out = append(out, pfx)
	}
	return out, ok
}

// parsePrefix parses a CIDR or a bare address (a /32 or /128). A prefix
// with host bits set is refused: "10.0.0.1/8" is more likely a typo than a
// way to write 10.0.0.0/8. IPv4-mapped IPv6 prefixes become IPv4 ones,
// because events' addresses are unmapped before the test.
func parsePrefix(s string) (netip.Prefix, string) {
	bad := fmt.Sprintf("must be an IP address or a CIDR like \"10.0.0.0/8\", got %q", s)
	var pfx netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		if pfx, err = netip.ParsePrefix(s); err != nil {
			return pfx, bad
		}
		if m := pfx.Masked(); m != pfx {
			return pfx, fmt.Sprintf("%q has host bits set (did you mean %q?)", s, m.String())
		}
	} else {
		addr, err := netip.ParseAddr(s)
		if err != nil || addr.Zone() != "" {
			return pfx, bad
		}
		pfx = netip.PrefixFrom(addr, addr.BitLen())
	}
	if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
		pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
	}
	return pfx, ""
}
