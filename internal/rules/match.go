package rules

import (
	"net/netip"
	"regexp"
	"strings"

	"github.com/secwatch/secwatch/internal/event"
)

// MatchKind tells what a Match node is.
type MatchKind int

const (
	// MatchAll holds when every child holds (true when there are none).
	MatchAll MatchKind = iota
	// MatchAny holds when at least one child holds.
	MatchAny
	// MatchNot holds when its single child does not.
	MatchNot
	// MatchField holds when every Test holds for the value of Field.
	MatchField
)

// Match is a compiled match condition: a tree whose leaves test one field.
// It is exported as a tree (not an opaque predicate) so that the alarms
// compiler can translate it into a CloudWatch filter pattern.
type Match struct {
	Kind     MatchKind
	Children []*Match // MatchAll, MatchAny, MatchNot (exactly one)
	Field    string   // MatchField
	Tests    []Test   // MatchField: all must hold

	Line, Col int // position in the rule file
}

// Op is a field test operator.
type Op string

// The operators of rule format v1.
const (
	OpEq       Op = "eq"
	OpNe       Op = "ne"
	OpIn       Op = "in"
	OpNotIn    Op = "not_in"
	OpPrefix   Op = "prefix"
	OpSuffix   Op = "suffix"
	OpContains Op = "contains"
	OpRegex    Op = "regex"
	OpCIDR     Op = "cidr"
	OpNotCIDR  Op = "not_cidr"
	OpExists   Op = "exists"
	OpGt       Op = "gt"
	OpGte      Op = "gte"
	OpLt       Op = "lt"
	OpLte      Op = "lte"
)

// Test is one operator applied to a field's value.
type Test struct {
	Op Op
	// Values holds the operand(s) as literal text: one for eq, ne, prefix,
	// suffix, contains, regex (the source) and the numeric operators; any
	// number for in and not_in.
	Values []string
	// Nums[i] is Values[i] parsed as a number when NumOK[i]; eq, ne, in and
	// not_in compare numerically when both sides are numbers.
	Nums  []float64
	NumOK []bool
	// Regex is the compiled pattern for OpRegex.
	Regex *regexp.Regexp
	// Prefixes are the networks for OpCIDR and OpNotCIDR.
	Prefixes []netip.Prefix
	// Exists is the operand of OpExists.
	Exists bool

	Line, Col int
}

// Eval reports whether ev satisfies m. A nil Match holds for every event.
func (m *Match) Eval(ev *event.Event) bool {
	if m == nil {
		return true
	}
	switch m.Kind {
	case MatchAll:
		for _, c := range m.Children {
			if !c.Eval(ev) {
				return false
			}
		}
		return true
	case MatchAny:
		for _, c := range m.Children {
			if c.Eval(ev) {
				return true
			}
		}
		return false
	case MatchNot:
		return len(m.Children) == 1 && !m.Children[0].Eval(ev)
	case MatchField:
		v, ok := ev.Get(m.Field)
		for i := range m.Tests {
			if !m.Tests[i].Eval(v, ok) {
				return false
			}
		}
		return true
	}
	return false
}

// Fields appends to dst the names of every field that m reads.
func (m *Match) Fields(dst []string) []string {
	if m == nil {
		return dst
	}
	if m.Kind == MatchField {
		return append(dst, m.Field)
	}
	for _, c := range m.Children {
		dst = c.Fields(dst)
	}
	return dst
}

// Eval applies the test to a field value; present is false when the field
// is absent, in which case only exists: false holds.
func (t *Test) Eval(v string, present bool) bool {
	if t.Op == OpExists {
		return present == t.Exists
	}
	if !present {
		return false
	}
	switch t.Op {
	case OpEq:
		return t.equal(0, v)
	case OpNe:
		return !t.equal(0, v)
	case OpIn:
		return t.equalIndex(v) >= 0
	case OpNotIn:
		return t.equalIndex(v) < 0
	case OpPrefix:
		return strings.HasPrefix(v, t.Values[0])
	case OpSuffix:
		return strings.HasSuffix(v, t.Values[0])
	case OpContains:
		return strings.Contains(v, t.Values[0])
	case OpRegex:
		return t.Regex.MatchString(v)
	case OpCIDR, OpNotCIDR:
		p, isIP := t.prefixOf(v)
		if !isIP {
			return false // only IP addresses satisfy cidr and not_cidr
		}
		return (p >= 0) == (t.Op == OpCIDR)
	case OpGt, OpGte, OpLt, OpLte:
		n, ok := event.Number(v)
		if !ok {
			return false
		}
		switch t.Op {
		case OpGt:
			return n > t.Nums[0]
		case OpGte:
			return n >= t.Nums[0]
		case OpLt:
			return n < t.Nums[0]
		}
		return n <= t.Nums[0]
	}
	return false
}

// equal compares v with operand i: numerically when both are numbers,
// as text otherwise.
func (t *Test) equal(i int, v string) bool {
	if v == t.Values[i] {
		return true
	}
	if i < len(t.NumOK) && t.NumOK[i] {
		if n, ok := event.Number(v); ok {
			return n == t.Nums[i]
		}
	}
	return false
}

// equalIndex returns the index of the first operand equal to v, or -1.
func (t *Test) equalIndex(v string) int {
	for i := range t.Values {
		if t.equal(i, v) {
			return i
		}
	}
	return -1
}

// prefixOf returns the index of the first of Prefixes that contains v, or
// -1; isIP is false when v is not an IP address.
func (t *Test) prefixOf(v string) (i int, isIP bool) {
	addr, err := netip.ParseAddr(v)
	if err != nil {
		return -1, false
	}
	addr = addr.Unmap()
	for i, p := range t.Prefixes {
		if p.Contains(addr) {
			return i, true
		}
	}
	return -1, true
}
