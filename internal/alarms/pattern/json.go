package pattern

import (
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// node is one part of a JSON property expression.
type node = condition[map[string]any]

// step is one selector step: a property name, or an array index when
// index >= 0.
type step struct {
	name  string
	index int
}

type condOp int

const (
	opEq condOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
	opIsNull
	opIsTrue
	opIsFalse
	opNotExists
)

type valKind int

const (
	valString valKind = iota // literal text with optional leading/trailing '*'
	valNumber
	valRegex
)

// cond is one comparison: SELECTOR OP VALUE, or SELECTOR IS NULL etc.
type cond struct {
	sel  []step
	op   condOp
	kind valKind
	// valString: core text; lead/trail say whether a '*' stood before/after it.
	core        string
	lead, trail bool
	num         float64
	re          *regexp.Regexp
}

// resolve follows the selector; missing is true when a step does not exist
// (including a step into a value that is not an object or array).
func resolve(root map[string]any, sel []step) (v any, missing bool) {
	var cur any = root
	for _, s := range sel {
		if s.index >= 0 {
			a, ok := cur.([]any)
			if !ok || s.index >= len(a) {
				return nil, true
			}
			cur = a[s.index]
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, true
		}
		if cur, ok = m[s.name]; !ok {
			return nil, true
		}
	}
	return cur, false
}

// scalarText is the text a string comparison sees: a string's value, a
// number's literal text, true or false. Null, arrays and objects have none.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return string(x), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

// number returns a JSON number's value; strings, even ones holding digits,
// are not numbers, and neither is a number beyond the float64 range.
func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	return f, err == nil
}

func (c *cond) eval(root map[string]any) bool {
	v, missing := resolve(root, c.sel)
	switch c.op {
	case opNotExists:
		return missing
	case opIsNull:
		return !missing && v == nil
	case opIsTrue:
		return v == true
	case opIsFalse:
		return v == false
	}
	if missing {
		return false
	}
	if c.kind == valNumber {
		n, ok := number(v)
		if !ok {
			return false
		}
		return c.compareNumber(n)
	}
	t, ok := scalarText(v)
	if !ok {
		return false // the selector points at null, an array or an object
	}
	return c.compareText(t)
}

// evalText applies the comparison to a space-delimited field's text: a
// number compares numerically when the field's text is a number.
func (c *cond) evalText(t string) bool {
	if c.kind == valNumber {
		n, ok := parseNumber(t)
		if !ok {
			return false
		}
		return c.compareNumber(n)
	}
	return c.compareText(t)
}

// compareNumber applies a numeric comparison.
func (c *cond) compareNumber(n float64) bool {
	switch c.op {
	case opEq:
		return n == c.num
	case opNe:
		return n != c.num
	case opLt:
		return n < c.num
	case opLe:
		return n <= c.num
	case opGt:
		return n > c.num
	}
	return n >= c.num
}

// compareText applies = or != against a string, glob or regex value.
func (c *cond) compareText(t string) bool {
	var m bool
	if c.kind == valRegex {
		m = c.re.MatchString(t)
	} else {
		m = c.matchString(t)
	}
	return m == (c.op == opEq)
}

func (c *cond) matchString(t string) bool {
	switch {
	case c.lead && c.trail:
		return strings.Contains(t, c.core)
	case c.lead:
		return strings.HasSuffix(t, c.core)
	case c.trail:
		return strings.HasPrefix(t, c.core)
	}
	return t == c.core
}

// decodeObject decodes a message holding exactly one JSON object.
func decodeObject(msg []byte) (map[string]any, bool) {
	msg = bytes.TrimSpace(msg)
	if len(msg) == 0 || msg[0] != '{' {
		return nil, false
	}
	d := json.NewDecoder(bytes.NewReader(msg))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, false
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, false
	}
	return m, true
}

// jsonParser parses a JSON property expression.
type jsonParser struct {
	s         string
	i         int
	regexes   int
	depth     int
	delimited bool // parsing a space-delimited pattern: ',' and ']' end a value
}

const maxJSONDepth = 32

func parseJSON(s string, i int) (node, error) {
	p := &jsonParser{s: s, i: i + 1}
	p.space()
	if p.i < len(s) && s[p.i] == '}' {
		return nil, errAt(p.i, "empty JSON pattern")
	}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i >= len(s) {
		return nil, errAt(p.i, "missing closing '}'")
	}
	if s[p.i] != '}' {
		return nil, errAt(p.i, "expected '&&', '||' or '}', found %s", p.found())
	}
	if j := skipSpace(s, p.i+1); j != len(s) {
		return nil, errAt(j, "unexpected text after the closing '}'")
	}
	return n, nil
}

func (p *jsonParser) space() { p.i = skipSpace(p.s, p.i) }

func (p *jsonParser) found() string {
	if p.i >= len(p.s) {
		return "end of pattern"
	}
	j := p.i
	for j < len(p.s) && j-p.i < 12 && p.s[j] != ' ' {
		j++
	}
	return strconv.Quote(p.s[p.i:j])
}

func (p *jsonParser) peek(tok string) bool {
	p.space()
	return strings.HasPrefix(p.s[p.i:], tok)
}

// or parses a JSON property expression's conditions joined by && and ||.
func (p *jsonParser) or() (node, error) { return parseOr(p, p.primary) }

func (p *jsonParser) primary() (node, error) {
	p.space()
	if p.i >= len(p.s) {
		return nil, errAt(p.i, "expected a condition, found end of pattern")
	}
	if p.s[p.i] == '(' {
		if p.depth++; p.depth > maxJSONDepth {
			return nil, errAt(p.i, "parentheses nested deeper than %d", maxJSONDepth)
		}
		open := p.i
		p.i++
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return nil, errAt(open, "unclosed '('")
		}
		p.i++
		p.depth--
		return n, nil
	}
	return p.cond()
}

func isSelectorByte(c byte) bool { return isTermByte(c) || c == '-' }

func (p *jsonParser) selector() ([]step, error) {
	s := p.s
	if p.i >= len(s) || s[p.i] != '$' {
		return nil, errAt(p.i, "expected a property selector such as $.field, found %s", p.found())
	}
	start := p.i
	p.i++
	var sel []step
	for p.i < len(s) {
		switch s[p.i] {
		case '.':
			j := p.i + 1
			for j < len(s) && isSelectorByte(s[j]) {
				j++
			}
			if j == p.i+1 {
				return nil, errAt(j, "expected a property name after '.' (letters, digits, '_' and '-')")
			}
			sel = append(sel, step{name: s[p.i+1 : j], index: -1})
			p.i = j
			continue
		case '[':
			if len(sel) == 0 {
				return nil, errAt(p.i, "an array index must follow a property")
			}
			j := p.i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == p.i+1 || j >= len(s) || s[j] != ']' {
				return nil, errAt(p.i, "expected an array index such as [0]")
			}
			n, err := strconv.Atoi(s[p.i+1 : j])
			if err != nil {
				return nil, errAt(p.i+1, "array index out of range")
			}
			sel = append(sel, step{index: n})
			p.i = j + 1
			continue
		}
		break
	}
	if len(sel) == 0 {
		return nil, errAt(start, "expected a property selector such as $.field")
	}
	return sel, nil
}

// keyword reads an upper- or lower-case word.
func (p *jsonParser) keyword() string {
	p.space()
	j := p.i
	for j < len(p.s) && isTermByte(p.s[j]) {
		j++
	}
	w := strings.ToUpper(p.s[p.i:j])
	p.i = j
	return w
}

func (p *jsonParser) cond() (node, error) {
	sel, err := p.selector()
	if err != nil {
		return nil, err
	}
	p.space()
	c := &cond{sel: sel}
	s := p.s
	at := p.i
	switch {
	case strings.HasPrefix(s[p.i:], "!="):
		c.op, p.i = opNe, p.i+2
	case strings.HasPrefix(s[p.i:], "<="):
		c.op, p.i = opLe, p.i+2
	case strings.HasPrefix(s[p.i:], ">="):
		c.op, p.i = opGe, p.i+2
	case strings.HasPrefix(s[p.i:], "="):
		c.op, p.i = opEq, p.i+1
	case strings.HasPrefix(s[p.i:], "<"):
		c.op, p.i = opLt, p.i+1
	case strings.HasPrefix(s[p.i:], ">"):
		c.op, p.i = opGt, p.i+1
	default:
		switch w := p.keyword(); w {
		case "IS":
			switch w2 := p.keyword(); w2 {
			case "NULL":
				c.op = opIsNull
			case "TRUE":
				c.op = opIsTrue
			case "FALSE":
				c.op = opIsFalse
			default:
				return nil, errAt(at, "expected IS NULL, IS TRUE or IS FALSE")
			}
			return c, nil
		case "NOT":
			if p.keyword() != "EXISTS" {
				return nil, errAt(at, "expected NOT EXISTS")
			}
			c.op = opNotExists
			return c, nil
		}
		p.i = at
		return nil, errAt(at, "expected an operator (=, !=, <, <=, >, >=, IS NULL, IS TRUE, IS FALSE, NOT EXISTS), found %s", p.found())
	}
	return c, p.value(c)
}

func (p *jsonParser) value(c *cond) error {
	p.space()
	s := p.s
	at := p.i
	if p.i >= len(s) {
		return errAt(p.i, "expected a value, found end of pattern")
	}
	relational := c.op != opEq && c.op != opNe
	switch s[p.i] {
	case '"':
		q, j, err := parseQuoted(s, p.i)
		if err != nil {
			return err
		}
		if relational {
			return errAt(at, "%s needs a number, found a quoted string", opText[c.op])
		}
		p.i = j
		c.kind = valString
		c.setWildcards(q)
		return nil
	case '%':
		if relational {
			return errAt(at, "%s needs a number, found a regex", opText[c.op])
		}
		if p.regexes++; p.regexes > maxRegexes {
			return errAt(at, "more than %d regexes in one pattern", maxRegexes)
		}
		re, j, err := parseRegex(s, p.i)
		if err != nil {
			return err
		}
		p.i = j
		c.kind, c.re = valRegex, re
		return nil
	}
	if strings.IndexByte("=!<>", s[p.i]) >= 0 {
		return errAt(at, "expected a value, found %q (the operators are =, !=, <, <=, >, >=)", s[p.i])
	}
	j := p.i
	for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' && s[j] != '\r' && s[j] != ')' && s[j] != '}' &&
		!(p.delimited && (s[j] == ',' || s[j] == ']')) &&
		!strings.HasPrefix(s[j:], "&&") && !strings.HasPrefix(s[j:], "||") {
		if s[j] == '"' || s[j] == '(' || s[j] == '%' {
			return errAt(j, "unexpected %q in an unquoted value", s[j])
		}
		j++
	}
	tok := s[p.i:j]
	if tok == "" {
		return errAt(at, "expected a value, found %s", p.found())
	}
	p.i = j
	if n, ok := parseNumber(tok); ok {
		c.kind, c.num = valNumber, n
		return nil
	}
	if relational {
		return errAt(at, "%s needs a number, found %q", opText[c.op], tok)
	}
	c.kind = valString
	c.setWildcards(tok)
	return nil
}

var opText = map[condOp]string{opEq: "=", opNe: "!=", opLt: "<", opLe: "<=", opGt: ">", opGe: ">="}

// setWildcards splits a string value into its core and the '*' wildcards
// at its ends. A '*' elsewhere is a literal character (AWS: "Ev*ent will
// only match the actual string Ev*ent").
func (c *cond) setWildcards(v string) {
	if strings.HasPrefix(v, "*") {
		c.lead, v = true, v[1:]
	}
	if strings.HasSuffix(v, "*") {
		c.trail, v = true, v[:len(v)-1]
	}
	if c.lead && !c.trail && v == "" {
		c.trail = true // "*" alone: any text
	}
	c.core = v
}

// Properties returns the first step of every selector of a JSON property
// pattern ("a" for $.a.b[0]), sorted and without repeats; nil for other
// patterns. A property no event of the log group has makes its
// conditions false, whatever the operator, except NOT EXISTS.
func (p *Pattern) Properties() []string {
	if p.kind != kindJSON {
		return nil
	}
	seen := map[string]bool{}
	var walk func(n node)
	walk = func(n node) {
		switch n := n.(type) {
		case allOf[map[string]any]:
			for _, k := range n {
				walk(k)
			}
		case anyOf[map[string]any]:
			for _, k := range n {
				walk(k)
			}
		case *cond:
			if len(n.sel) > 0 {
				seen[n.sel[0].name] = true
			}
		}
	}
	walk(p.json)
	return slices.Sorted(maps.Keys(seen))
}
