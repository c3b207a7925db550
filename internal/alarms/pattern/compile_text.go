package pattern

import (
	"strings"

	"github.com/secwatch/secwatch/internal/rules"
)

// textField is the only field a text-format rule can test: secwatch's
// CloudWatch source puts a message that is not a JSON object in "message".
const textField = "message"

// text compiles a rule for a log group of plain text lines. Expressible:
// an "and" of contains / not contains (terms and -exclusions), an "or" of
// contains (?alternatives), or one single eq, prefix, suffix or regex test
// (a standalone %regex%).
func (c *compiler) text() (string, error) {
	e, err := c.walk(c.r.Match, false, c.textLeaf)
	if err != nil {
		return "", err
	}
	fail := func(msg string) (string, error) {
		return "", c.errorf(c.r.Line, c.r.Col, "match", "%s", msg)
	}
	switch e.kind {
	case eTrue:
		return "", nil
	case eFalse:
		return fail("the match can never hold")
	case eLeaf:
		if e.whole != "" {
			return e.whole, nil
		}
		return renderTerm(e), nil
	case eAnd:
		parts := make([]string, len(e.kids))
		for i, k := range e.kids {
			if k.kind != eLeaf || k.whole != "" {
				return fail("a text pattern can only require terms (contains) and exclude terms (not contains) together; an \"any\" inside an \"all\", or a regex, prefix, suffix or eq next to other conditions, cannot be expressed")
			}
			parts[i] = renderTerm(k)
		}
		return strings.Join(parts, " "), nil
	case eOr:
		parts := make([]string, len(e.kids))
		for i, k := range e.kids {
			if k.kind != eLeaf || k.whole != "" || k.negate {
				return fail("a text pattern can only offer alternatives (?term) of plain contains conditions")
			}
			parts[i] = "?" + renderTerm(k)
		}
		return strings.Join(parts, " "), nil
	}
	return fail("cannot be expressed as a text pattern")
}

func renderTerm(e *expr) string {
	s := `"` + e.term + `"`
	if e.negate {
		return "-" + s
	}
	return s
}

// regexLiteral escapes s for a CloudWatch regex, or reports false when s
// holds a character the dialect cannot express.
func regexLiteral(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isTermByte(c) || strings.IndexByte(regexSymbols, c) >= 0:
			b.WriteByte(c)
		case strings.IndexByte(regexOperators, c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			return "", false
		}
	}
	return b.String(), true
}

func (c *compiler) textLeaf(f string, t *rules.Test, neg bool) (*expr, error) {
	if f != textField {
		return nil, c.testErr(f, t, "with alarm.format text only %q (the whole line) can be matched", textField)
	}
	v := ""
	if len(t.Values) > 0 {
		v = t.Values[0]
	}
	checkTerm := func() error {
		if v == "" {
			return c.testErr(f, t, "an empty term cannot be matched")
		}
		if strings.TrimSpace(v) != v {
			return c.testErr(f, t, "a term with leading or trailing white space cannot be matched exactly (secwatch trims the line)")
		}
		if _, why := quoteValue(v); why != "" {
			return c.testErr(f, t, "%s", why)
		}
		return nil
	}
	whole := func(src string) (*expr, error) {
		if neg {
			return nil, c.testErr(f, t, "a negated %s cannot be expressed as a text pattern", t.Op)
		}
		if off, msg := CheckRegex(src); off >= 0 {
			return nil, c.testErr(f, t, "regex cannot be used by CloudWatch: byte %d: %s", off+1, msg)
		}
		return &expr{kind: eLeaf, whole: "%" + src + "%", leaf: "%" + src + "%"}, nil
	}
	switch t.Op {
	case rules.OpExists:
		// Every text line has a message.
		if t.Exists != neg {
			return exprTrue, nil
		}
		return exprFalse, nil
	case rules.OpContains:
		if err := checkTerm(); err != nil {
			return nil, err
		}
		return &expr{kind: eLeaf, term: v, negate: neg, leaf: "term:" + boolText(neg) + v}, nil
	case rules.OpRegex:
		return whole(t.Regex.String())
	case rules.OpEq, rules.OpPrefix, rules.OpSuffix:
		if t.Op == rules.OpEq && len(t.NumOK) > 0 && t.NumOK[0] {
			return nil, c.testErr(f, t, "a numeric eq on the whole line cannot be expressed as a text pattern")
		}
		lit, ok := regexLiteral(v)
		if !ok || v == "" {
			return nil, c.testErr(f, t, "the value has characters a CloudWatch regex cannot express")
		}
		switch t.Op {
		case rules.OpEq:
			lit = "^" + lit + "$"
		case rules.OpPrefix:
			lit = "^" + lit
		default:
			lit += "$"
		}
		return whole(lit)
	}
	return nil, c.testErr(f, t, "operator %s cannot be expressed as a text pattern", t.Op)
}

func boolText(b bool) string {
	if b {
		return "-"
	}
	return "+"
}
