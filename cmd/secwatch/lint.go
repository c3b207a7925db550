package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/secwatch/secwatch/internal/alarms"
	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/rules"
	"github.com/secwatch/secwatch/internal/yamldiag"
)

// lintRuleFields is `secwatch check --config`'s lint for rule fields that
// the configured sources' formats never produce (a misspelt
// elb_status_code, say, which would make a rule silently dead). It prints
// every such match and group_by field, sorted, to w and reports whether
// there was any. A config that does not load, or a source whose format
// passes on any key of its input (json, logfmt, regex), leaves nothing to
// check.
func lintRuleFields(w io.Writer, cfgPath string, rs []*rules.Rule) bool {
	if cfgPath == "" {
		return false
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return false // reported by check already
	}
	var formats []alarms.FormatFields
	names := map[string]bool{}
	var known []string
	for _, s := range cfg.Sources {
		name := cmp.Or(s.Format, "json")
		ff, ok := alarms.Format(name)
		if !ok || ff.Open {
			return false
		}
		formats = append(formats, ff)
		names[name] = true
		known = append(known, ff.Fields...)
	}
	if len(formats) == 0 {
		return false
	}
	produced := func(f string) bool {
		return slices.ContainsFunc(formats, func(ff alarms.FormatFields) bool { return ff.Produces(f) })
	}
	var problems []string
	report := func(r *rules.Rule, line, col int, key, field string) {
		problems = append(problems, fmt.Sprintf("%s:%d:%d: rule %q: %s: no source produces field %q (the sources' formats %s never do)%s",
			r.File, line, col, r.ID, key, field, strings.Join(slices.Sorted(maps.Keys(names)), ", "), yamldiag.DidYouMean(field, known, nil)))
	}
	for _, r := range rs {
		matches := []*rules.Match{r.Match}
		for i := range r.Steps {
			matches = append(matches, r.Steps[i].Match)
		}
		seen := map[string]bool{}
		for _, m := range matches {
			alarms.EachTest(m, func(field string, t *rules.Test) {
				if !seen[field] && !produced(field) {
					seen[field] = true
					report(r, t.Line, t.Col, "match."+field, field)
				}
			})
		}
		for _, g := range r.GroupBy {
			if !produced(g) {
				report(r, r.Line, r.Col, "group_by", g)
			}
		}
	}
	slices.Sort(problems)
	for _, p := range problems {
		fmt.Fprintln(w, p)
	}
	return len(problems) > 0
}
