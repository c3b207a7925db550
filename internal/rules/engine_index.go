package rules

import "github.com/secwatch/secwatch/internal/event"

// ruleIndex lets Observe skip the rules an event cannot match without
// evaluating them. Most rules require one field (typically event_type) to
// equal one of a few literal texts; the index maps each such field and
// value to the rules that require it, so that an event costs one lookup per
// indexed field instead of one match evaluation per rule. Rules without
// such a requirement are always evaluated; a sequence rule is indexed when
// every step requires the same field. Skipping is exact: an indexed rule is
// skipped only when its match (every step's) cannot hold.
type ruleIndex struct {
	base   **ruleState // &rules[0] when built: the index is rebuilt when the rule slice changes (Replace makes a new one)
	fields []indexedField
	gated  []bool // gated[i]: rule i is indexed (skipped unless a lookup selects it)
	exact  []bool // exact[i]: rule i is a threshold rule whose match is the indexed test alone: selecting it is matching it
	cand   []bool // cand[i]: selected for the current event
	set    []int  // indexes set in cand, to clear them
	always []int  // rules not indexed, ascending: evaluated for every event
	absent []int  // absent rules, ascending (their deadlines are checked per event)
	order  []int  // the rules to evaluate for the current event, ascending
}

type indexedField struct {
	field  string
	byText map[string][]int // value → indexes of the rules that accept it
}

// prefilter returns a field and the literal texts m requires it to equal
// (one of), when m has such a requirement.
func prefilter(m *Match) (field string, values []string, ok bool) {
	if m == nil {
		return "", nil, false
	}
	switch m.Kind {
	case MatchField:
		for i := range m.Tests {
			t := &m.Tests[i]
			if t.Op != OpEq && t.Op != OpIn {
				continue
			}
			numeric := false
			for j := range t.Values {
				if j < len(t.NumOK) && t.NumOK[j] {
					numeric = true // "200" also equals "200.0": not a literal test
				}
			}
			if !numeric && len(t.Values) > 0 {
				return m.Field, t.Values, true
			}
		}
	case MatchAll:
		for _, c := range m.Children {
			if f, v, ok := prefilter(c); ok {
				return f, v, true
			}
		}
	case MatchAny:
		return samePrefilter(len(m.Children), func(i int) *Match { return m.Children[i] })
	}
	return "", nil, false
}

// onlyPrefilter reports whether m is its prefilter and nothing more: one
// field with one test, which prefilter takes. Such a match holds exactly
// when the field is present and equal to one of the texts, which is what
// the index looks up. (An eq test compares its first operand only: it has
// one.)
func onlyPrefilter(m *Match) bool {
	for m != nil && m.Kind == MatchAll && len(m.Children) == 1 {
		m = m.Children[0]
	}
	if m == nil || m.Kind != MatchField || len(m.Tests) != 1 || m.Tests[0].Op == OpEq && len(m.Tests[0].Values) != 1 {
		return false
	}
	_, _, ok := prefilter(m)
	return ok
}

// rulePrefilter is prefilter for a rule: for a sequence, the union of its
// steps' texts when every step has a requirement on one same field.
func rulePrefilter(r *Rule) (field string, values []string, ok bool) {
	if r.Kind == KindSequence {
		return samePrefilter(len(r.Steps), func(i int) *Match { return r.Steps[i].Match })
	}
	return prefilter(r.Match)
}

// samePrefilter returns the union of the texts the n matches m(i) require
// when each has a requirement on one same field: one of them holds only
// when the field equals one of those texts.
func samePrefilter(n int, m func(int) *Match) (field string, values []string, ok bool) {
	if n == 0 {
		return "", nil, false
	}
	for i := range n {
		f, v, ok := prefilter(m(i))
		if !ok || i > 0 && f != field {
			return "", nil, false
		}
		field = f
		values = append(values[:len(values):len(values)], v...)
	}
	return field, values, true
}

// index returns the engine's rule index, building it when the rules changed.
func (e *Engine) index() *ruleIndex {
	if len(e.rules) == 0 || e.noIndex {
		return nil
	}
	if x := e.idx; x != nil && x.base == &e.rules[0] && len(x.gated) == len(e.rules) {
		return x
	}
	x := &ruleIndex{base: &e.rules[0], gated: make([]bool, len(e.rules)), exact: make([]bool, len(e.rules)), cand: make([]bool, len(e.rules))}
	for i, rs := range e.rules {
		if rs.rule.Kind == KindAbsent {
			x.absent = append(x.absent, i)
		}
		f, vals, ok := rulePrefilter(rs.rule)
		if !ok {
			x.always = append(x.always, i)
			continue
		}
		var fi *indexedField
		for k := range x.fields {
			if x.fields[k].field == f {
				fi = &x.fields[k]
			}
		}
		if fi == nil {
			x.fields = append(x.fields, indexedField{field: f, byText: make(map[string][]int)})
			fi = &x.fields[len(x.fields)-1]
		}
		for _, v := range vals {
			if l := fi.byText[v]; len(l) == 0 || l[len(l)-1] != i {
				fi.byText[v] = append(l, i)
			}
		}
		x.gated[i] = true
		x.exact[i] = rs.rule.Kind == KindThreshold && onlyPrefilter(rs.rule.Match)
	}
	e.idx = x
	return x
}

// selectRules marks the indexed rules ev may match.
func (x *ruleIndex) selectRules(ev *event.Event) {
	for k := range x.fields {
		fi := &x.fields[k]
		v, ok := ev.Get(fi.field)
		if !ok {
			continue
		}
		for _, i := range fi.byText[v] {
			if !x.cand[i] {
				x.cand[i] = true
				x.set = append(x.set, i)
			}
		}
	}
}

// visit returns the rules to evaluate for the selected event, in rule
// order: the selected indexed rules merged with the rules never indexed.
// Its cost follows those rules, not every rule loaded.
func (x *ruleIndex) visit() []int {
	set := x.set
	for i := 1; i < len(set); i++ { // insertion sort: short and nearly sorted
		for j := i; j > 0 && set[j] < set[j-1]; j-- {
			set[j], set[j-1] = set[j-1], set[j]
		}
	}
	order := x.order[:0]
	a, b := 0, 0
	for a < len(set) || b < len(x.always) {
		if b == len(x.always) || a < len(set) && set[a] < x.always[b] {
			order = append(order, set[a])
			a++
		} else {
			order = append(order, x.always[b])
			b++
		}
	}
	x.order = order
	return order
}

func (x *ruleIndex) clear() {
	for _, i := range x.set {
		x.cand[i] = false
	}
	x.set = x.set[:0]
}
