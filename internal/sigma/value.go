package sigma

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// modifiers are the parsed modifiers of one field key ("cs-uri-query|contains|all").
type modifiers struct {
	mode    string // "eq", "contains", "startswith", "endswith"
	all     bool
	cased   bool
	re      bool
	reFlags string
	cidr    bool
	exists  bool
	neq     bool
	windash bool
	base64  bool
	cmp     string // "gt", "gte", "lt", "lte"
}

// unsupported modifiers, with the reason given in the error.
var unsupported = map[string]string{
	"base64offset": "base64offset is not supported",
	"utf16le":      "events are UTF-8 text; utf16le is not supported",
	"utf16be":      "events are UTF-8 text; utf16be is not supported",
	"utf16":        "events are UTF-8 text; utf16 is not supported",
	"wide":         "events are UTF-8 text; wide is not supported",
	"expand":       "placeholders (expand) are not supported",
	"fieldref":     "comparing two fields (fieldref) is not supported",
	"minute":       "time modifiers are not supported", "hour": "time modifiers are not supported",
	"day": "time modifiers are not supported", "week": "time modifiers are not supported",
	"month": "time modifiers are not supported", "year": "time modifiers are not supported",
}

// parseModifiers parses the modifiers after a field name.
func parseModifiers(names []string) (modifiers, error) {
	m := modifiers{mode: "eq"}
	for i, name := range names {
		switch name {
		case "contains", "startswith", "endswith":
			if m.mode != "eq" {
				return m, fmt.Errorf("%s and %s cannot be combined", m.mode, name)
			}
			m.mode = name
		case "all":
			m.all = true
		case "cased":
			m.cased = true
		case "re":
			m.re = true
		case "i", "m", "s":
			if i == 0 || !m.re {
				return m, fmt.Errorf("modifier %q only follows re", name)
			}
			m.reFlags += name
		case "cidr":
			m.cidr = true
		case "exists":
			m.exists = true
		case "neq":
			m.neq = true
		case "windash":
			m.windash = true
		case "base64":
			m.base64 = true
		case "gt", "gte", "lt", "lte":
			m.cmp = name
		default:
			if why, ok := unsupported[name]; ok {
				return m, fmt.Errorf("modifier %q: %s", name, why)
			}
			return m, fmt.Errorf("unknown modifier %q", name)
		}
	}
	special := 0
	for _, b := range []bool{m.re, m.cidr, m.exists, m.cmp != ""} {
		if b {
			special++
		}
	}
	if special > 1 || (special == 1 && (m.mode != "eq" || m.windash || m.base64 || m.cased)) {
		return m, fmt.Errorf("modifiers %q cannot be combined", strings.Join(names, "|"))
	}
	return m, nil
}

// fieldCond converts one "field|modifiers: values" entry of a selection.
// It returns false after reporting a problem, or when the field is one the
// pipeline lacks (c.skip is then set).
func (c *converter) fieldCond(k, v *yaml.Node) (cond, bool) {
	parts := strings.Split(k.Value, "|")
	name := parts[0]
	m, err := parseModifiers(parts[1:])
	if err != nil {
		c.p.errorf(c.d, k, k.Value, "%v", err)
		return cond{}, false
	}
	var t target
	if name == "" {
		t = target{} // keyword with modifiers: searched in the keyword fields
	} else {
		var ok bool
		if t, ok = c.pipe.lookup(name); !ok {
			c.skipField(k, name)
			return cond{}, false
		}
		if t.field == "any" || t.field == "all" || t.field == "not" {
			c.p.errorf(c.d, k, k.Value, "field %q cannot be matched: it is a reserved word of native rules", name)
			return cond{}, false
		}
	}
	vals := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		vals = v.Content
		if len(vals) == 0 {
			c.p.errorf(c.d, v, k.Value, "empty list of values")
			return cond{}, false
		}
	}
	if m.all && len(vals) < 2 {
		c.p.errorf(c.d, k, k.Value, "modifier \"all\" needs a list of two or more values")
		return cond{}, false
	}
	var cs []cond
	for _, val := range vals {
		var x cond
		var ok bool
		if name == "" {
			x, ok = c.keywordCond(val, m)
		} else {
			x, ok = c.valueCond(t, m, k, val)
		}
		if !ok {
			return cond{}, false
		}
		cs = append(cs, x)
	}
	op := "any"
	if m.all {
		op = "all"
	}
	out := join(op, cs)
	if m.neq {
		out = negate(out)
	}
	return out, true
}

// skipField records that the rule needs a field the format lacks.
func (c *converter) skipField(k *yaml.Node, name string) {
	if c.skip != nil {
		return
	}
	msg := fmt.Sprintf("field %q is not one the %s pipeline maps", name, c.pipe.Name)
	if slices.Contains(c.pipe.Missing, name) {
		msg = fmt.Sprintf("field %q is not in the %s pipeline's events", name, c.pipe.Name)
	}
	c.skip = &Problem{File: c.d.file, Line: k.Line, Col: k.Column, Item: c.d.label, Key: k.Value, Msg: "skipped: " + msg}
}

// keywordCond matches a value anywhere in the pipeline's keyword fields.
func (c *converter) keywordCond(v *yaml.Node, m modifiers) (cond, bool) {
	if v.Kind != yaml.ScalarNode || isNull(v) {
		c.p.errorf(c.d, v, "", "a keyword must be a string, got %s", describe(v))
		return cond{}, false
	}
	if m.mode == "eq" {
		m.mode = "contains"
	}
	if m.mode != "contains" || m.re || m.cidr || m.exists || m.cmp != "" {
		c.p.errorf(c.d, v, "", "keywords take only the all, cased, windash and base64 modifiers")
		return cond{}, false
	}
	var cs []cond
	for _, t := range c.pipe.Keywords {
		cs = append(cs, stringCond(t, m, v.Value))
	}
	return join("any", cs), true
}

// valueCond converts one value of a field.
func (c *converter) valueCond(t target, m modifiers, k, v *yaml.Node) (cond, bool) {
	if v.Kind != yaml.ScalarNode {
		c.p.errorf(c.d, v, k.Value, "a value must be a scalar, got %s", describe(v))
		return cond{}, false
	}
	bad := func(format string, args ...any) (cond, bool) {
		c.p.errorf(c.d, v, k.Value, format, args...)
		return cond{}, false
	}
	switch {
	case m.exists:
		b, err := strconv.ParseBool(v.Value)
		if err != nil || v.Tag != "!!bool" || t.part != nil {
			return bad("exists takes true or false, on a whole field, got %q", v.Value)
		}
		return leaf(t.field, "exists", b), true
	case isNull(v):
		switch {
		case m.mode != "eq" || (t.part != nil && t.part != urlQuery):
			return bad("null only means a missing field")
		case t.part == urlQuery:
			return leaf(t.field, "regex", `^[^?]*\??$`), true // no query, or an empty one
		}
		return leaf(t.field, "exists", false), true
	case m.cmp != "":
		if _, err := strconv.ParseFloat(v.Value, 64); err != nil || t.part != nil {
			return bad("%s needs a number, got %q", m.cmp, v.Value)
		}
		return leaf(t.field, m.cmp, v.Value), true
	case m.cidr:
		p, err := netip.ParsePrefix(v.Value)
		if err != nil || p.Masked() != p || t.part != nil {
			return bad("cidr needs a network like 10.0.0.0/8 (host bits zero), got %q", v.Value)
		}
		return leaf(t.field, "cidr", []string{v.Value}), true
	case m.re:
		return c.regexCond(t, m, k, v)
	}
	if m.mode == "eq" && t.part == nil && (v.Tag == "!!int" || v.Tag == "!!float" || v.Tag == "!!bool") {
		return leaf(t.field, "eq", v.Value), true // numbers compare numerically, booleans as true/false
	}
	return stringCond(t, m, v.Value), true
}

// regexCond converts a re value; Sigma regexes are case-sensitive unless
// the i flag is given.
func (c *converter) regexCond(t target, m modifiers, k, v *yaml.Node) (cond, bool) {
	re := v.Value
	if m.reFlags != "" {
		re = "(?" + m.reFlags + ")" + re
	}
	if _, err := regexp.Compile(re); err != nil {
		c.p.errorf(c.d, v, k.Value, "invalid regex (RE2 syntax): %v", err)
		return cond{}, false
	}
	if t.part != nil {
		if t.part != urlQuery || strings.ContainsAny(v.Value, "^$") {
			c.p.errorf(c.d, v, k.Value, "a regex on %s (a part of %s) is supported only on the query, and without anchors", strings.Split(k.Value, "|")[0], t.field)
			return cond{}, false
		}
		re = "(?s:" + t.part.start + ".*)(?:" + re + ")"
	}
	return leaf(t.field, "regex", re), true
}

// token is one piece of a Sigma value: literal text or a wildcard.
type token struct {
	lit      rune
	wildcard byte // '*' or '?', or 0 for a literal
}

// tokens splits a Sigma value at its wildcards. A backslash escapes '*',
// '?' and '\'; before any other character it is a backslash.
func tokens(s string, wild bool) []token {
	var out []token
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case !wild:
			out = append(out, token{lit: r})
		case r == '\\' && i+1 < len(rs) && strings.ContainsRune(`*?\`, rs[i+1]):
			out = append(out, token{lit: rs[i+1]})
			i++
		case r == '*' || r == '?':
			out = append(out, token{wildcard: byte(r)})
		default:
			out = append(out, token{lit: r})
		}
	}
	return out
}

// stringCond matches text, case-insensitively unless cased, with Sigma's
// wildcards. A plain value on a whole field whose case cannot matter (no
// letters, or cased) uses the native text operators; anything else is an
// RE2 regex, with (?i) for case-insensitive matching.
func stringCond(t target, m modifiers, s string) cond {
	wild := true
	if m.base64 {
		s, wild, m.cased = base64.StdEncoding.EncodeToString([]byte(s)), false, true
	}
	toks := tokens(s, wild)
	plain := t.part == nil && !m.windash
	var lit strings.Builder
	for _, tk := range toks {
		if tk.wildcard != 0 || (t.urlDecoded && !isAlnum(tk.lit)) || (!m.cased && unicode.ToLower(tk.lit) != unicode.ToUpper(tk.lit)) {
			plain = false
		}
		lit.WriteRune(tk.lit)
	}
	if plain {
		op := map[string]string{"eq": "eq", "contains": "contains", "startswith": "prefix", "endswith": "suffix"}[m.mode]
		return leaf(t.field, op, lit.String())
	}
	return leaf(t.field, "regex", t.regex(toks, m))
}

func isAlnum(r rune) bool {
	return r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

// regex renders tokens as an RE2 pattern for the target and mode.
func (t target) regex(toks []token, m modifiers) string {
	anyRE, oneRE := ".*", "."
	if t.part != nil {
		anyRE, oneRE = t.part.any, t.part.one
	}
	var b strings.Builder
	dot := t.part == urlQuery // its any is ".*"
	for _, tk := range toks {
		dot = dot || tk.wildcard != 0 && t.part == nil
		switch tk.wildcard {
		case '*':
			b.WriteString(anyRE)
		case '?':
			b.WriteString(oneRE)
		default:
			b.WriteString(t.literal(tk.lit, m.windash))
		}
	}
	body := b.String()
	switch p := t.part; {
	case p == nil && m.mode == "eq":
		body = "^" + body + "$"
	case p == nil && m.mode == "startswith":
		body = "^" + body
	case p == nil && m.mode == "endswith":
		body += "$"
	case p == nil:
	case m.mode == "eq":
		body = p.start + body + p.end
	case m.mode == "startswith":
		body = p.start + body
	case m.mode == "endswith":
		body = p.start + p.any + body + p.end
	default:
		body = p.start + p.any + body
	}
	flags := ""
	if !m.cased {
		flags += "i"
	}
	if dot {
		flags += "s" // a wildcard matches any character, newlines included
	}
	if flags != "" {
		body = "(?" + flags + ")" + body
	}
	return body
}

// dashes are the characters windash makes interchangeable.
const dashes = "-/\u2013\u2014\u2015"

// literal renders one character, with its percent-encoded forms for a
// URL field and its dash variants for windash.
func (t target) literal(r rune, windash bool) string {
	if windash && strings.ContainsRune(dashes, r) {
		var alts []string
		for _, d := range dashes {
			alts = append(alts, t.literal(d, false))
		}
		return "(?:" + strings.Join(alts, "|") + ")"
	}
	q := regexp.QuoteMeta(string(r))
	if !t.urlDecoded || isAlnum(r) {
		return q
	}
	var enc strings.Builder
	for _, c := range []byte(string(r)) {
		fmt.Fprintf(&enc, "%%%02X", c)
	}
	alts := []string{q, "(?i:" + enc.String() + ")"}
	if r == ' ' && t.plusSpace {
		alts = append(alts, `\+`)
	}
	return "(?:" + strings.Join(alts, "|") + ")"
}
