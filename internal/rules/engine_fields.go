package rules

import "github.com/secwatch/secwatch/internal/event"

// FieldsRead returns the names of every event field that rs read: match
// conditions (sequence steps included), group_by and distinct fields, and
// @source (an alert's source). A parser that extracts only these fields
// gives the engine the same decisions as one that extracts them all; only
// alert samples need the rest (Engine.Expand). The result is never nil.
func FieldsRead(rs []*Rule) []string {
	out := []string{"@source"}
	seen := map[string]bool{"@source": true}
	add := func(names ...string) {
		for _, n := range names {
			if n != "" && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	for _, r := range rs {
		add(r.Match.Fields(nil)...)
		add(r.GroupBy...)
		add(r.Distinct)
		for i := range r.Steps {
			add(r.Steps[i].Match.Fields(nil)...)
		}
	}
	return out
}

// expand completes ev (Engine.Expand) once per observed event, before the
// engine keeps a copy of it as a sample.
func (e *Engine) expand(ev *event.Event) {
	if e.Expand == nil || e.expanded == e.seq {
		return
	}
	e.expanded = e.seq
	e.Expand(ev)
}
