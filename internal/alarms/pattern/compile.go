package pattern

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/secwatch/secwatch/internal/rules"
)

// Formats of alarm.format: how the log group's events are shaped.
const (
	FormatJSON = "json" // one JSON object per event: JSON property patterns
	FormatText = "text" // plain text lines: terms, phrases or one %regex%
)

// Error is a condition Compile cannot express. It reads like a rule load
// error: "rules/x.yaml:12:7: rule "id": match.message: regex ...: reason".
type Error struct {
	File      string
	Line, Col int
	Rule      string
	Cond      string // the condition as written, e.g. `match.client_ip: cidr [10.0.0.0/8]`
	Msg       string
}

func (e *Error) Error() string {
	pos := e.File
	if e.Line > 0 {
		pos = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Col)
	}
	if pos != "" {
		pos += ": "
	}
	cond := ""
	if e.Cond != "" {
		cond = e.Cond + ": "
	}
	return fmt.Sprintf("%srule %q: %s%s (give alarm.filter_pattern to choose a pattern yourself)", pos, e.Rule, cond, e.Msg)
}

// Compile returns the CloudWatch Logs filter pattern for r:
// r.Alarm.FilterPattern when set, else the pattern compiled from r.Match
// according to r.Alarm.Format (json when empty). A condition that cannot be
// expressed exactly is an *Error naming the rule and the condition, never a
// broader pattern. A rule without an alarm block compiles as json. A
// sequence rule has no single match and needs alarm.filter_pattern.
//
// The result is exact under the event model described in docs/alarms.md
// ("Filter patterns"): for every event in that model, the pattern matches
// the raw line exactly when r.Match holds for the parsed event.
func Compile(r *rules.Rule) (string, error) {
	format := FormatJSON
	if r.Alarm != nil && r.Alarm.Format != "" {
		format = r.Alarm.Format
	}
	return CompileFormat(r, format)
}

// CompileFormat is Compile with the log group's event shape given by the
// caller (FormatJSON or FormatText) in place of r.Alarm.Format;
// r.Alarm.FilterPattern still wins.
func CompileFormat(r *rules.Rule, format string) (string, error) {
	if r.Alarm != nil && r.Alarm.FilterPattern != "" {
		return r.Alarm.FilterPattern, nil
	}
	c := &compiler{r: r, format: format}
	if r.Kind == rules.KindSequence {
		return "", c.errorf(r.Line, r.Col, "sequence", "a sequence rule has no single match to compile")
	}
	var out string
	var err error
	switch format {
	case FormatJSON:
		out, err = c.json()
	case FormatText:
		out, err = c.text()
	default:
		err = c.errorf(r.Line, r.Col, "alarm.format", "unknown format %q", format)
	}
	if err != nil {
		return "", err
	}
	if len(out) > maxPatternBytes {
		return "", c.errorf(r.Line, r.Col, "match", "the compiled pattern is %d bytes, more than CloudWatch's %d", len(out), maxPatternBytes)
	}
	return out, nil
}

type compiler struct {
	r      *rules.Rule
	format string
}

func (c *compiler) errorf(line, col int, cond, format string, args ...any) *Error {
	return &Error{File: c.r.File, Line: line, Col: col, Rule: c.r.ID, Cond: cond, Msg: fmt.Sprintf(format, args...)}
}

func (c *compiler) testErr(f string, t *rules.Test, format string, args ...any) *Error {
	return c.errorf(t.Line, t.Col, condText(f, t), format, args...)
}

// condText renders a test as the user wrote it: match.field: op operand.
func condText(f string, t *rules.Test) string {
	var v string
	switch t.Op {
	case rules.OpExists:
		v = strconv.FormatBool(t.Exists)
	case rules.OpIn, rules.OpNotIn, rules.OpCIDR, rules.OpNotCIDR:
		q := make([]string, len(t.Values))
		for i, s := range t.Values {
			q[i] = strconv.Quote(s)
		}
		v = "[" + strings.Join(q, ", ") + "]"
	default:
		if len(t.Values) > 0 {
			v = strconv.Quote(t.Values[0])
		}
	}
	return fmt.Sprintf("match.%s: %s %s", f, t.Op, v)
}

// expr is the compiled boolean structure before rendering. Negation has
// been pushed to the leaves: CloudWatch patterns have no general NOT.
type expr struct {
	kind    exprKind
	kids    []*expr
	leaf    string // rendered condition
	regexes int    // %regex% values in the leaf
	// text format leaves
	term   string // contains
	negate bool   // -term
	whole  string // a leaf only valid as the whole pattern (%regex%)
}

type exprKind int

const (
	eTrue exprKind = iota
	eFalse
	eAnd
	eOr
	eLeaf
)

var (
	exprTrue  = &expr{kind: eTrue}
	exprFalse = &expr{kind: eFalse}
)

// mk builds an and/or node, folding constants, flattening nested nodes of
// the same kind and dropping duplicate leaves.
func mk(kind exprKind, kids ...*expr) *expr {
	unit, zero := eTrue, eFalse // identity and absorbing constants of and
	if kind == eOr {
		unit, zero = eFalse, eTrue
	}
	var out []*expr
	seen := map[string]bool{}
	var add func(k *expr)
	add = func(k *expr) {
		switch {
		case k.kind == unit:
		case k.kind == kind:
			for _, kk := range k.kids {
				add(kk)
			}
		default:
			key := k.String()
			if !seen[key] {
				seen[key] = true
				out = append(out, k)
			}
		}
	}
	for _, k := range kids {
		if k.kind == zero {
			return &expr{kind: zero}
		}
		add(k)
	}
	switch len(out) {
	case 0:
		return &expr{kind: unit}
	case 1:
		return out[0]
	}
	return &expr{kind: kind, kids: out}
}

// String renders a JSON property expression (without the braces).
func (e *expr) String() string {
	switch e.kind {
	case eLeaf:
		if e.leaf != "" {
			return e.leaf
		}
		return fmt.Sprintf("term(%q,%v,%q)", e.term, e.negate, e.whole)
	case eTrue:
		return "true"
	case eFalse:
		return "false"
	}
	sep := " && "
	if e.kind == eOr {
		sep = " || "
	}
	parts := make([]string, len(e.kids))
	for i, k := range e.kids {
		parts[i] = k.String()
		if k.kind == eAnd || k.kind == eOr {
			parts[i] = "(" + parts[i] + ")"
		}
	}
	return strings.Join(parts, sep)
}

func (e *expr) regexCount() int {
	n := e.regexes
	for _, k := range e.kids {
		n += k.regexCount()
	}
	return n
}

// walk compiles m (negated when neg) with leaf building the leaves.
func (c *compiler) walk(m *rules.Match, neg bool, leaf func(f string, t *rules.Test, neg bool) (*expr, error)) (*expr, error) {
	if m == nil {
		if neg {
			return exprFalse, nil
		}
		return exprTrue, nil
	}
	var kids []*expr
	combine := eAnd
	switch m.Kind {
	case rules.MatchNot:
		if len(m.Children) != 1 {
			return nil, c.errorf(m.Line, m.Col, "match.not", "must have exactly one condition")
		}
		return c.walk(m.Children[0], !neg, leaf)
	case rules.MatchAll, rules.MatchAny:
		if (m.Kind == rules.MatchAny) != neg {
			combine = eOr
		}
		for _, ch := range m.Children {
			k, err := c.walk(ch, neg, leaf)
			if err != nil {
				return nil, err
			}
			kids = append(kids, k)
		}
	case rules.MatchField:
		// Every test must hold; negated: at least one fails.
		if neg {
			combine = eOr
		}
		for i := range m.Tests {
			k, err := leaf(m.Field, &m.Tests[i], neg)
			if err != nil {
				return nil, err
			}
			kids = append(kids, k)
		}
	default:
		return nil, c.errorf(m.Line, m.Col, "match", "unknown match kind %d", m.Kind)
	}
	return mk(combine, kids...), nil
}

func (c *compiler) json() (string, error) {
	e, err := c.walk(c.r.Match, false, c.jsonLeaf)
	if err != nil {
		return "", err
	}
	switch e.kind {
	case eTrue:
		return "", nil // the empty pattern matches every event
	case eFalse:
		return "", c.errorf(c.r.Line, c.r.Col, "match", "the match can never hold")
	}
	if n := e.regexCount(); n > maxRegexes {
		return "", c.errorf(c.r.Line, c.r.Col, "match", "needs %d regexes; CloudWatch allows %d in one pattern", n, maxRegexes)
	}
	return "{ " + e.String() + " }", nil
}

// selectorFor maps a flattened field name to a JSON selector.
func (c *compiler) selectorFor(f string, t *rules.Test) (string, error) {
	if strings.HasPrefix(f, "@") {
		return "", c.testErr(f, t, "%s is set by secwatch, not written in the log line", f)
	}
	for _, seg := range strings.Split(f, ".") {
		if seg == "" {
			return "", c.testErr(f, t, "field name has an empty part")
		}
		for i := 0; i < len(seg); i++ {
			if !isSelectorByte(seg[i]) {
				return "", c.testErr(f, t, "a CloudWatch selector allows only letters, digits, '_' and '-' in property names, got %s", quoteByte(seg[i]))
			}
		}
	}
	return "$." + f, nil
}

func leafExpr(s string) *expr { return &expr{kind: eLeaf, leaf: s} }

// quoteValue renders s as a quoted string value, or fails when a pattern
// cannot hold it literally.
func quoteValue(s string) (string, string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '*':
			return "", "a '*' is a wildcard in CloudWatch patterns and cannot be matched literally"
		case c == '"' || c == '\\':
			return "", fmt.Sprintf("CloudWatch does not document how to escape %s in a quoted value", quoteByte(c))
		case c < 0x20 || c == 0x7f:
			return "", fmt.Sprintf("control character %s in value", quoteByte(c))
		}
	}
	return `"` + s + `"`, ""
}

func formatNumber(f float64) (string, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "", false
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if g, ok := parseNumber(s); !ok || g != f {
		return "", false
	}
	return s, true
}

// jsonLeaf compiles one test on field f (negated when neg).
func (c *compiler) jsonLeaf(f string, t *rules.Test, neg bool) (*expr, error) {
	sel, err := c.selectorFor(f, t)
	if err != nil {
		return nil, err
	}
	absent := mk(eOr, leafExpr(sel+" NOT EXISTS"), leafExpr(sel+" IS NULL"))
	present := leafExpr(sel + " = *")
	// cmp renders "sel op operand i" for eq/ne with operand i.
	cmp := func(i int, eq bool) (*expr, error) {
		v := t.Values[i]
		op := " = "
		if !eq {
			op = " != "
		}
		if i < len(t.NumOK) && t.NumOK[i] {
			n, ok := formatNumber(t.Nums[i])
			if !ok {
				return nil, c.testErr(f, t, "%q is not a finite number CloudWatch can compare", v)
			}
			return leafExpr(sel + op + n), nil
		}
		q, why := quoteValue(v)
		if why != "" {
			return nil, c.testErr(f, t, "%s", why)
		}
		e := leafExpr(sel + op + q)
		// A boolean may be logged as true or as "true"; say both so the
		// pattern does not depend on how CloudWatch compares the two.
		switch {
		case v == "true" && eq, v == "false" && !eq:
			e = mk(eOr, e, leafExpr(sel+" IS TRUE"))
		case v == "false" && eq, v == "true" && !eq:
			e = mk(eOr, e, leafExpr(sel+" IS FALSE"))
		}
		return e, nil
	}
	wild := func(pre, core, post string, eq bool) (*expr, error) {
		if core == "" {
			if eq {
				return present, nil
			}
			return exprFalse, nil
		}
		q, why := quoteValue(core)
		if why != "" {
			return nil, c.testErr(f, t, "%s", why)
		}
		op := " = "
		if !eq {
			op = " != "
		}
		return leafExpr(sel + op + `"` + pre + q[1:len(q)-1] + post + `"`), nil
	}
	var pos *expr // the test as it holds for a present value
	switch t.Op {
	case rules.OpExists:
		if t.Exists != neg {
			return present, nil
		}
		return absent, nil
	case rules.OpEq, rules.OpNe, rules.OpIn, rules.OpNotIn:
		isEq := t.Op == rules.OpEq || t.Op == rules.OpIn
		if neg {
			isEq = !isEq
		}
		var kids []*expr
		for i := range t.Values {
			k, err := cmp(i, isEq)
			if err != nil {
				return nil, err
			}
			kids = append(kids, k)
		}
		if isEq {
			pos = mk(eOr, kids...)
		} else {
			pos = mk(eAnd, kids...)
		}
	case rules.OpPrefix:
		pos, err = wild("", t.Values[0], "*", !neg)
	case rules.OpSuffix:
		pos, err = wild("*", t.Values[0], "", !neg)
	case rules.OpContains:
		pos, err = wild("*", t.Values[0], "*", !neg)
	case rules.OpRegex:
		src := t.Regex.String()
		if off, msg := CheckRegex(src); off >= 0 {
			return nil, c.testErr(f, t, "regex cannot be used by CloudWatch: byte %d: %s", off+1, msg)
		}
		op := " = "
		if neg {
			op = " != "
		}
		pos = &expr{kind: eLeaf, leaf: sel + op + "%" + src + "%", regexes: 1}
	case rules.OpGt, rules.OpGte, rules.OpLt, rules.OpLte:
		n, ok := formatNumber(t.Nums[0])
		if !ok {
			return nil, c.testErr(f, t, "%q is not a finite number CloudWatch can compare", t.Values[0])
		}
		op := map[rules.Op]string{rules.OpGt: ">", rules.OpGte: ">=", rules.OpLt: "<", rules.OpLte: "<="}[t.Op]
		if neg {
			op = map[rules.Op]string{rules.OpGt: "<=", rules.OpGte: "<", rules.OpLt: ">=", rules.OpLte: ">"}[t.Op]
		}
		pos = leafExpr(sel + " " + op + " " + n)
	case rules.OpCIDR, rules.OpNotCIDR:
		return nil, c.testErr(f, t, "a filter pattern cannot test IP address ranges exactly (a prefix such as \"10.*\" also matches text that is not an address)")
	default:
		return nil, c.testErr(f, t, "operator %s has no filter-pattern form", t.Op)
	}
	if err != nil {
		return nil, err
	}
	if neg {
		// A negated test also holds when the field is absent.
		return mk(eOr, absent, pos), nil
	}
	return pos, nil
}
