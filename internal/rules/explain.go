package rules

import (
	"fmt"
	"strings"

	"github.com/secwatch/secwatch/internal/event"
)

// Miss says why a rule's selection did not hold for an event: the first
// failing field test, in the order the rule file lists them, with the value
// the event had. It is built by ExplainMiss, never on the engine's path.
type Miss struct {
	Rule *Rule
	// Held counts the field tests of the rule's selection that held for
	// the event: the higher, the closer the event came to being selected.
	Held int
	// Field, Op and Operand are the failing test; Present tells whether the
	// event had Field, and Value is what it held.
	Field   string
	Op      Op
	Operand string
	Present bool
	Value   string
	// Negated is true when the test held under a not: that is the failure.
	Negated bool
	// Invalid is true when Value is not what Op compares: an IP address
	// for cidr and not_cidr, a number for gt, gte, lt and lte.
	Invalid bool
	// Any is the number of alternatives of an any that all failed (0 when
	// the failure is not inside an any); the test shown is the first's.
	Any int

	Line, Col int // position of the failing test in the rule file
}

// ExplainMiss reports whether r's selection holds for ev (for a sequence
// rule: any step's), and when it does not, the first failing test. It
// evaluates with the same predicates as the engine.
func ExplainMiss(r *Rule, ev *event.Event) (Miss, bool) {
	ms := []*Match{r.Match}
	if r.Kind == KindSequence {
		ms = ms[:0]
		for _, s := range r.Steps {
			ms = append(ms, s.Match)
		}
	}
	var best Miss
	for i, m := range ms {
		if m.Eval(ev) {
			return Miss{}, true
		}
		miss := Miss{Rule: r, Held: m.held(ev)}
		m.explain(ev, false, &miss)
		if i == 0 || miss.Held > best.Held {
			best = miss
		}
	}
	return best, false
}

// held counts the field tests under m that hold for ev.
func (m *Match) held(ev *event.Event) int {
	if m == nil {
		return 0
	}
	n := 0
	if m.Kind == MatchField {
		v, ok := ev.Get(m.Field)
		for i := range m.Tests {
			if m.Tests[i].Eval(v, ok) {
				n++
			}
		}
	}
	for _, c := range m.Children {
		n += c.held(ev)
	}
	return n
}

// explain fills miss with the first test that makes m evaluate to !want
// (want is false under a not), and reports whether it found one.
func (m *Match) explain(ev *event.Event, negated bool, miss *Miss) bool {
	if m == nil || m.Eval(ev) == !negated {
		return false
	}
	switch m.Kind {
	case MatchAll, MatchAny:
		// Failing an all (or holding an any under a not) is one child's
		// doing; failing an any is all of them, shown by the first.
		if (m.Kind == MatchAny) != negated {
			if !negated {
				miss.Any = len(m.Children)
			}
			return len(m.Children) > 0 && m.Children[0].explain(ev, negated, miss)
		}
		for _, c := range m.Children {
			if c.explain(ev, negated, miss) {
				return true
			}
		}
	case MatchNot:
		return len(m.Children) == 1 && m.Children[0].explain(ev, !negated, miss)
	case MatchField:
		v, ok := ev.Get(m.Field)
		for i := range m.Tests {
			t := &m.Tests[i]
			if t.Eval(v, ok) == negated {
				*miss = Miss{Rule: miss.Rule, Held: miss.Held, Any: miss.Any,
					Field: m.Field, Op: t.Op, Operand: t.operand(v), Present: ok, Value: v,
					Negated: negated, Invalid: ok && !t.comparable(v), Line: t.Line, Col: t.Col}
				return true
			}
		}
	}
	return false
}

// comparable reports whether v is of the type t's operator compares.
func (t *Test) comparable(v string) bool {
	switch t.Op {
	case OpCIDR, OpNotCIDR:
		_, isIP := t.prefixOf(v)
		return isIP
	case OpGt, OpGte, OpLt, OpLte:
		_, ok := event.Number(v)
		return ok
	}
	return true
}

// operand is the part of t's operand that decided the outcome for v: the
// network or list value v matched, else the whole operand.
func (t *Test) operand(v string) string {
	switch t.Op {
	case OpExists:
		return fmt.Sprint(t.Exists)
	case OpCIDR, OpNotCIDR:
		if i, _ := t.prefixOf(v); i >= 0 {
			return t.Prefixes[i].String()
		}
		ps := make([]string, len(t.Prefixes))
		for i, p := range t.Prefixes {
			ps[i] = p.String()
		}
		return strings.Join(ps, ", ")
	case OpIn, OpNotIn:
		if i := t.equalIndex(v); i >= 0 {
			return t.Values[i]
		}
		return "[" + strings.Join(t.Values, ", ") + "]"
	}
	if len(t.Values) > 0 {
		return t.Values[0]
	}
	return ""
}

// String renders the failure the way a user reads it, for example
// `client_ip 10.1.2.3 is in not_cidr 10.0.0.0/8` or `field "outcom"
// absent`. Value is shown as is: a caller that prints values from logs
// sanitizes Value first.
func (m Miss) String() string {
	var s string
	switch {
	case m.Op == OpExists && m.Present:
		s = fmt.Sprintf("field %q present (exists: %s)", m.Field, m.Operand)
	case m.Op == OpExists:
		s = fmt.Sprintf("field %q absent (exists: %s)", m.Field, m.Operand)
	case !m.Present:
		s = fmt.Sprintf("field %q absent", m.Field)
	case m.Negated:
		s = fmt.Sprintf("%s %s holds %s %s, under not", m.Field, m.Value, m.Op, m.Operand)
	default:
		s = m.Field + " " + m.Value + " " + failText(m.Op, m.Invalid, m.Operand)
	}
	if m.Any > 1 {
		s = fmt.Sprintf("none of %d alternatives holds; first: %s", m.Any, s)
	}
	return s
}

// failText says how a present value failed op.
func failText(op Op, invalid bool, operand string) string {
	switch {
	case invalid && (op == OpCIDR || op == OpNotCIDR):
		return "is not an IP address (" + string(op) + " " + operand + ")"
	case invalid:
		return "is not a number (" + string(op) + " " + operand + ")"
	case op == OpNotIn:
		return "is in not_in " + operand
	case op == OpNotCIDR:
		return "is in not_cidr " + operand
	case op == OpNe:
		return "is equal (ne " + operand + ")"
	}
	return "is not " + string(op) + " " + operand
}
