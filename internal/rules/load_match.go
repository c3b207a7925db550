package rules

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/secwatch/secwatch/internal/event"
)

// ParseMatch compiles a match condition: node is a YAML map of field
// conditions, the value of a rule's match key (a document node holding such
// a map is accepted too). file and path locate problems ("rules/x.yaml",
// "match"). Every problem is returned at once as an ErrorList.
func ParseMatch(file string, node *yaml.Node, path string) (*Match, error) {
	p := &ruleParser{file: file}
	if node == nil {
		p.errorf(nil, path, "required")
		return nil, p.errs.err()
	}
	if node.Kind == yaml.DocumentNode && len(node.Content) == 1 {
		node = node.Content[0]
	}
	m := p.matchRoot(node, path)
	if err := p.errs.err(); err != nil {
		return nil, err
	}
	return m, nil
}

// opNames are the operators of rule format v1, in the order the docs list them.
var opNames = []string{
	string(OpEq), string(OpNe), string(OpIn), string(OpNotIn), string(OpPrefix),
	string(OpSuffix), string(OpContains), string(OpRegex), string(OpCIDR),
	string(OpNotCIDR), string(OpExists), string(OpGt), string(OpGte),
	string(OpLt), string(OpLte),
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
func (p *ruleParser) matchRoot(n *yaml.Node, path string) *Match {
	if n.Kind == yaml.ScalarNode && isNull(n) {
		p.errorf(n, path, "must be a map of field conditions, got %s (match: {} matches every event)", describeNode(n))
		return nil
	}
	return p.conditions(n, path, 0)
}

// conditions compiles a map of field conditions, all of which must hold,
// with the reserved keys any, all and not.
func (p *ruleParser) conditions(n *yaml.Node, path string, depth int) *Match {
	if !p.noAlias(n, path) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, path, "must be a map of field conditions, got %s", describeNode(n))
		return nil
	}
	if depth > matchDepthMax {
		p.errorf(n, path, "conditions nested more than %d levels deep", matchDepthMax)
		return nil
	}
	m := &Match{Kind: MatchAll, Line: n.Line, Col: n.Column}
	for _, kv := range p.mapping(n, path) {
		key := joinKey(path, kv.name)
		var c *Match
		switch kv.name {
		case "any", "all":
			c = p.conditionList(kv, key, depth)
		case "not":
			if child := p.conditions(kv.val, key, depth+1); child != nil {
				if len(kv.val.Content) == 0 {
					p.errorf(kv.val, key, "must not be empty") // not: {} holds for no event
				}
				c = &Match{Kind: MatchNot, Children: []*Match{child}, Line: kv.key.Line, Col: kv.key.Column}
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
func (p *ruleParser) conditionList(kv keyVal, key string, depth int) *Match {
	if !p.noAlias(kv.val, key) {
		return nil
	}
	if kv.val.Kind != yaml.SequenceNode {
		p.errorf(kv.val, key, "must be a list of condition maps, got %s", describeNode(kv.val))
		return nil
	}
	if len(kv.val.Content) == 0 {
		p.errorf(kv.val, key, "must list at least one condition map")
		return nil
	}
	m := &Match{Kind: MatchAll, Line: kv.key.Line, Col: kv.key.Column}
	if kv.name == "any" {
		m.Kind = MatchAny
	}
	for i, item := range kv.val.Content {
		if c := p.conditions(item, fmt.Sprintf("%s[%d]", key, i), depth+1); c != nil {
			m.Children = append(m.Children, c)
		}
	}
	return m
}

// field compiles one field's condition: a scalar (eq), a list (in) or a
// map of operators.
func (p *ruleParser) field(kv keyVal, key string) *Match {
	if strings.TrimSpace(kv.name) == "" {
		p.errorf(kv.key, key, "empty field name")
		return nil
	}
	v := kv.val
	if !p.noAlias(v, key) {
		return nil
	}
	m := &Match{Kind: MatchField, Field: kv.name, Line: kv.key.Line, Col: kv.key.Column}
	switch v.Kind {
	case yaml.ScalarNode:
		if isNull(v) {
			p.errorf(v, key, "must not be null (use {exists: false} to match a missing field)")
			return nil
		}
		s, ok := p.value(v, key)
		if !ok {
			return nil
		}
		m.Tests = []Test{withNums(Test{Op: OpEq, Values: []string{s}, Line: v.Line, Col: v.Column})}
	case yaml.SequenceNode:
		vals, ok := p.values(v, key)
		if !ok {
			return nil
		}
		m.Tests = []Test{withNums(Test{Op: OpIn, Values: vals, Line: v.Line, Col: v.Column})}
	case yaml.MappingNode:
		kvs := p.mapping(v, key)
		if len(kvs) == 0 {
			p.errorf(v, key, "must name at least one operator")
			return nil
		}
		for _, op := range kvs {
			if t, ok := p.test(kv.name, op, joinKey(key, op.name)); ok {
				m.Tests = append(m.Tests, t)
			}
		}
	default:
		p.errorf(v, key, "must be a value, a list or a map of operators, got %s", describeNode(v))
		return nil
	}
	return m
}

// test compiles one operator and its operand.
func (p *ruleParser) test(field string, kv keyVal, key string) (Test, bool) {
	t := Test{Op: Op(kv.name), Line: kv.key.Line, Col: kv.key.Column}
	n := kv.val
	var ok bool
	switch t.Op {
	case OpEq, OpNe:
		var s string
		if n.Kind == yaml.SequenceNode {
			p.errorf(n, key, "must be a single value, got a list (use %s for a list)", map[Op]Op{OpEq: OpIn, OpNe: OpNotIn}[t.Op])
			return t, false
		}
		s, ok = p.value(n, key)
		t.Values = []string{s}
	case OpIn, OpNotIn:
		t.Values, ok = p.values(n, key)
	case OpPrefix, OpSuffix, OpContains:
		var s string
		if s, ok = p.value(n, key); ok && s == "" {
			p.errorf(n, key, "must not be empty")
			ok = false
		}
		t.Values = []string{s}
	case OpRegex:
		var s string
		if s, ok = p.value(n, key); ok {
			t.Values = []string{s}
			t.Regex, ok = p.regex(n, key, s)
		}
	case OpCIDR, OpNotCIDR:
		if t.Values, ok = p.values(n, key); ok {
			t.Prefixes, ok = p.prefixes(n, key, t.Values)
		}
	case OpExists:
		if ok = p.noAlias(n, key); ok {
			if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
				p.errorf(n, key, "must be true or false, got %s", describeNode(n))
				ok = false
			}
			t.Exists = strings.EqualFold(n.Value, "true")
		}
	case OpGt, OpGte, OpLt, OpLte:
		var s string
		if s, ok = p.value(n, key); ok {
			if _, num := event.Number(s); !num {
				p.errorf(n, key, "must be a number, got %q", s)
				ok = false
			}
			t.Values = []string{s}
		}
	default:
		p.errorf(kv.key, key, "unknown operator%s", opHint(field, kv.name))
		return t, false
	}
	if !ok {
		return t, false
	}
	return withNums(t), true
}

// opHint explains an unknown operator.
func opHint(field, name string) string {
	if rest, ok := strings.CutPrefix(name, "not_"); ok && suggestWord(rest, opNames, opAliases) == rest {
		return fmt.Sprintf(" (negate with not: {%s: {%s: ...}})", formatKey(field), rest)
	}
	if h := didYouMean(name, opNames, opAliases); h != "" {
		return h
	}
	return fmt.Sprintf(" (for a nested field, write %q)", field+"."+name)
}

// numbered fills Nums and NumOK for the operators that compare numbers.
func withNums(t Test) Test {
	switch t.Op {
	case OpEq, OpNe, OpIn, OpNotIn, OpGt, OpGte, OpLt, OpLte:
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
	if !p.noAlias(n, key) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		p.errorf(n, key, "must be a single value, got %s", describeNode(n))
		return "", false
	}
	if isNull(n) {
		p.errorf(n, key, "must not be null (use {exists: false} to match a missing field)")
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
	if !p.noAlias(n, key) {
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		s, ok := p.value(n, key)
		return []string{s}, ok
	}
	if len(n.Content) == 0 {
		p.errorf(n, key, "must list at least one value")
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
		p.errorf(n, key, "must not be empty")
		return nil, false
	}
	re, err := regexp.Compile(s)
	if err != nil {
		p.errorf(n, key, "invalid regex %q: %s", s, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
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
			p.errorf(at, k, "%s", msg)
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
