// Package match parses and evaluates label matchers in Alertmanager's
// syntax (name=value, name!=value, name=~regex, name!~regex), which route
// alerts to notifiers. It is a leaf: config validates matchers with it and
// alerting evaluates them.
package match

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Op is a matcher's operator.
type Op string

// The four operators of Alertmanager's matchers.
const (
	Equal     Op = "="
	NotEqual  Op = "!="
	Regexp    Op = "=~"
	NotRegexp Op = "!~"
)

// Matcher compares one label with a value or a regular expression. A label
// an alert does not have has the value "", as in Alertmanager.
type Matcher struct {
	Name  string
	Op    Op
	Value string
	re    *regexp.Regexp // anchored at both ends; nil for = and !=
}

var labelName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// Parse parses one matcher: a label name, an operator and a value, which
// may be double-quoted (with Go escapes) and must be when it holds spaces
// or quotes. A regular expression matches the whole value, as
// Alertmanager's does. Errors say what is wrong, without a position.
func Parse(s string) (Matcher, error) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, "=!")
	if i <= 0 {
		return Matcher{}, fmt.Errorf("must be name=value, name!=value, name=~regex or name!~regex, got %q", s)
	}
	m := Matcher{Name: strings.TrimSpace(s[:i])}
	rest := s[i:]
	for _, op := range []Op{Regexp, NotRegexp, NotEqual, Equal} { // two-character operators first
		if strings.HasPrefix(rest, string(op)) {
			m.Op, rest = op, rest[len(op):]
			break
		}
	}
	if m.Op == "" {
		return Matcher{}, fmt.Errorf("must be name=value, name!=value, name=~regex or name!~regex, got %q", s)
	}
	if !labelName.MatchString(m.Name) {
		return Matcher{}, fmt.Errorf("label name must match [A-Za-z_][A-Za-z0-9_.-]*, got %q", m.Name)
	}
	v := strings.TrimSpace(rest)
	if strings.HasPrefix(v, `"`) {
		u, err := strconv.Unquote(v)
		if err != nil {
			return Matcher{}, fmt.Errorf("value %s: unterminated or invalid quoted string", v)
		}
		v = u
	} else if strings.ContainsAny(v, "\"' \t") {
		return Matcher{}, fmt.Errorf("value %q must be double-quoted", v)
	}
	m.Value = v
	if m.Op == Regexp || m.Op == NotRegexp {
		// Compiled alone first, so that an error quotes the user's text.
		if _, err := regexp.Compile(v); err != nil {
			return Matcher{}, fmt.Errorf("invalid regular expression %q: %v", v, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
		m.re = regexp.MustCompile("^(?:" + v + ")$")
	}
	return m, nil
}

// ParseAll parses every matcher of list, stopping at the first error,
// which names the matcher's index.
func ParseAll(list []string) ([]Matcher, error) {
	out := make([]Matcher, 0, len(list))
	for i, s := range list {
		m, err := Parse(s)
		if err != nil {
			return nil, fmt.Errorf("matcher #%d: %w", i+1, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// Matches reports whether the label's value (as returned by lookup, ""
// when the alert has no such label) satisfies m.
func (m Matcher) Matches(lookup func(name string) string) bool {
	v := lookup(m.Name)
	switch m.Op {
	case Equal:
		return v == m.Value
	case NotEqual:
		return v != m.Value
	case Regexp:
		return m.re.MatchString(v)
	default:
		return !m.re.MatchString(v)
	}
}

// All reports whether every matcher matches; an empty list matches
// everything.
func All(ms []Matcher, lookup func(name string) string) bool {
	for _, m := range ms {
		if !m.Matches(lookup) {
			return false
		}
	}
	return true
}

// String renders m in Alertmanager's syntax, the value quoted.
func (m Matcher) String() string { return m.Name + string(m.Op) + strconv.Quote(m.Value) }
