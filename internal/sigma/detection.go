package sigma

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// converter converts the detection of one Sigma rule.
type converter struct {
	p    *parser
	d    *document
	pipe *Pipeline
	// skip is set when the rule needs a field the pipeline lacks.
	skip *Problem
	// idents are the search identifiers, in file order, and their nodes.
	idents []string
	nodes  map[string]pair
	done   map[string]cond
	// cond is the condition node, for positions.
	cond *yaml.Node
}

// maxDepth is the native loader's nesting limit for conditions.
const maxDepth = 32

// detection converts d.detection to a native condition. ok is false after
// an error or when the rule is skipped (c.skip).
func (c *converter) detection() (cond, bool) {
	det := c.d.detection
	if det.Kind != yaml.MappingNode {
		c.p.errorf(c.d, det, "detection", "must be a map, got %s", describe(det))
		return cond{}, false
	}
	c.nodes, c.done = map[string]pair{}, map[string]cond{}
	for _, kv := range pairs(det) {
		switch kv.k.Value {
		case "condition":
			c.cond = kv.v
		case "timeframe":
			c.p.errorf(c.d, kv.k, "detection.timeframe", "timeframe is obsolete and not supported: write a correlation rule")
			return cond{}, false
		default:
			c.idents = append(c.idents, kv.k.Value)
			c.nodes[kv.k.Value] = kv
		}
	}
	if c.cond == nil {
		c.p.errorf(c.d, det, "detection.condition", "required")
		return cond{}, false
	}
	exprs := []*yaml.Node{c.cond}
	if c.cond.Kind == yaml.SequenceNode { // a list of conditions: any of them
		exprs = c.cond.Content
	}
	var alts []cond
	for _, e := range exprs {
		if e.Kind != yaml.ScalarNode {
			c.p.errorf(c.d, e, "detection.condition", "must be a string, got %s", describe(e))
			return cond{}, false
		}
		x, ok := c.condition(e)
		if !ok {
			return cond{}, false
		}
		alts = append(alts, x)
	}
	out := join("any", alts)
	if out.depth() > maxDepth {
		c.p.errorf(c.d, c.cond, "detection.condition", "nests deeper than the %d levels native rules allow", maxDepth)
		return cond{}, false
	}
	return out, true
}

// ident converts one search identifier (memoized).
func (c *converter) ident(name string) (cond, bool) {
	if x, ok := c.done[name]; ok {
		return x, true
	}
	kv := c.nodes[name]
	x, ok := c.search(kv.k, kv.v)
	if ok {
		c.done[name] = x
	}
	return x, ok
}

// search converts a search identifier's value: a map (all of its fields),
// a list of maps (any of them) or a list of keywords (any of them).
func (c *converter) search(k, v *yaml.Node) (cond, bool) {
	switch v.Kind {
	case yaml.MappingNode:
		if len(v.Content) == 0 {
			c.p.errorf(c.d, v, k.Value, "empty selection")
			return cond{}, false
		}
		var cs []cond
		for _, kv := range pairs(v) {
			x, ok := c.fieldCond(kv.k, kv.v)
			if !ok {
				return cond{}, false
			}
			cs = append(cs, x)
		}
		return join("all", cs), true
	case yaml.SequenceNode:
		if len(v.Content) == 0 {
			c.p.errorf(c.d, v, k.Value, "empty selection")
			return cond{}, false
		}
		var cs []cond
		for _, item := range v.Content {
			var x cond
			var ok bool
			if item.Kind == yaml.MappingNode {
				x, ok = c.search(k, item)
			} else {
				x, ok = c.keywordCond(item, modifiers{mode: "contains"})
			}
			if !ok {
				return cond{}, false
			}
			cs = append(cs, x)
		}
		return join("any", cs), true
	case yaml.ScalarNode:
		return c.keywordCond(v, modifiers{mode: "contains"})
	}
	c.p.errorf(c.d, v, k.Value, "must be a map or a list, got %s", describe(v))
	return cond{}, false
}

// condTok is a word of a condition and its byte offset.
type condTok struct {
	s   string
	off int
}

func lexCondition(s string) []condTok {
	var out []condTok
	start := -1
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '(' && s[i] != ')' {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			out = append(out, condTok{s[start:i], start})
			start = -1
		}
		if i < len(s) && (s[i] == '(' || s[i] == ')') {
			out = append(out, condTok{s[i : i+1], i})
		}
	}
	return out
}

// condParser is a recursive-descent parser of a condition: or binds
// loosest, then and, then not.
type condParser struct {
	c     *converter
	n     *yaml.Node
	toks  []condTok
	i     int
	err   bool
	depth int // of not and parentheses, bounded so a hostile condition cannot exhaust the stack
}

func (c *converter) condition(n *yaml.Node) (cond, bool) {
	cp := &condParser{c: c, n: n, toks: lexCondition(n.Value)}
	if len(cp.toks) == 0 {
		c.p.errorf(c.d, n, "detection.condition", "empty condition")
		return cond{}, false
	}
	x := cp.or()
	if t := cp.toks[min(cp.i, len(cp.toks)-1)]; !cp.err && cp.i < len(cp.toks) {
		if strings.HasPrefix(t.s, "|") {
			cp.fail(t, "aggregations (|) are obsolete and not supported: write a correlation rule")
		}
		cp.fail(t, "unexpected %q", t.s)
	}
	return x, !cp.err && c.skip == nil
}

// fail reports a problem at the token's column (for a one-line condition).
func (cp *condParser) fail(t condTok, format string, args ...any) {
	if cp.err {
		return
	}
	cp.err = true
	pr := problem(cp.c.d, cp.n, "detection.condition", fmt.Sprintf(format, args...))
	if !strings.Contains(cp.n.Value, "\n") {
		pr.Col += t.off
		if cp.n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			pr.Col++
		}
	}
	cp.c.p.problems = append(cp.c.p.problems, pr)
}

func (cp *condParser) peek() (condTok, bool) {
	if cp.i < len(cp.toks) {
		return cp.toks[cp.i], true
	}
	return condTok{off: len(cp.n.Value)}, false
}

func (cp *condParser) word(w string) bool {
	t, ok := cp.peek()
	if ok && strings.EqualFold(t.s, w) {
		cp.i++
		return true
	}
	return false
}

func (cp *condParser) or() cond {
	xs := []cond{cp.and()}
	for !cp.err && cp.word("or") {
		xs = append(xs, cp.and())
	}
	return join("any", xs)
}

func (cp *condParser) and() cond {
	xs := []cond{cp.not()}
	for !cp.err && cp.word("and") {
		xs = append(xs, cp.not())
	}
	return join("all", xs)
}

func (cp *condParser) not() cond {
	if cp.depth++; cp.depth > maxDepth {
		t, _ := cp.peek()
		cp.fail(t, "nests deeper than the %d levels native rules allow", maxDepth)
		return cond{}
	}
	defer func() { cp.depth-- }()
	if cp.word("not") {
		return negate(cp.not())
	}
	return cp.primary()
}

func (cp *condParser) primary() cond {
	t, ok := cp.peek()
	switch {
	case cp.err:
		return cond{}
	case !ok:
		cp.fail(t, "condition ends too early")
		return cond{}
	case t.s == "(":
		cp.i++
		x := cp.or()
		if !cp.word(")") {
			t, _ := cp.peek()
			cp.fail(t, "missing )")
		}
		return x
	}
	for _, w := range []string{"and", "or", "of", "them", ")", "near"} {
		if strings.EqualFold(t.s, w) {
			cp.fail(t, "unexpected %q", t.s)
			return cond{}
		}
	}
	cp.i++
	if next, ok := cp.peek(); ok && strings.EqualFold(next.s, "of") {
		cp.i++
		return cp.of(t)
	}
	if !slices.Contains(cp.c.idents, t.s) {
		cp.fail(t, "undefined search identifier %q", t.s)
		return cond{}
	}
	x, ok := cp.c.ident(t.s)
	if !ok {
		cp.err = true
	}
	return x
}

// of parses "1 of pattern", "all of pattern", "1 of them", "all of them".
func (cp *condParser) of(q condTok) cond {
	op := "any"
	switch strings.ToLower(q.s) {
	case "1", "any":
	case "all":
		op = "all"
	default:
		cp.fail(q, "%q of: only \"1 of\" and \"all of\" are supported", q.s)
		return cond{}
	}
	t, ok := cp.peek()
	if !ok {
		cp.fail(t, "%s of: missing a pattern or \"them\"", q.s)
		return cond{}
	}
	cp.i++
	var names []string
	for _, name := range cp.c.idents {
		if strings.EqualFold(t.s, "them") {
			if !strings.HasPrefix(name, "_") {
				names = append(names, name)
			}
		} else if m, _ := path.Match(t.s, name); m {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		cp.fail(t, "%q matches no search identifier", t.s)
		return cond{}
	}
	var xs []cond
	for _, name := range names {
		x, ok := cp.c.ident(name)
		if !ok {
			cp.err = true
			return cond{}
		}
		xs = append(xs, x)
	}
	return join(op, xs)
}
