package alarms

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteText writes the plan for people: one line per change, "+ create",
// "~ update" or "- delete", then the kind, the name and, for a filter, its
// log group; below it the fields that change ("threshold: 10 -> 20", or
// just the new value for a create) and the notes. Orphans, warnings and a
// summary line follow.
func (p *Plan) WriteText(w io.Writer) error {
	ew := &errWriter{w: w}
	for _, c := range p.Changes {
		writeChange(ew, c, "")
	}
	if len(p.Orphans) > 0 {
		ew.printf("secwatch-owned resources no rule wants (run with --prune to delete them):\n")
		for _, c := range p.Orphans {
			writeChange(ew, c, "  ")
		}
	}
	for _, wn := range p.Warnings {
		ew.printf("note: %s\n", wn)
	}
	cr, up, del := p.Counts()
	if cr+up+del == 0 {
		ew.printf("nothing to do: %d resources as wanted\n", len(p.Unchanged))
	} else {
		ew.printf("plan: %d to create, %d to update, %d to delete, %d unchanged\n", cr, up, del, len(p.Unchanged))
	}
	return ew.err
}

var sigil = map[string]string{Create: "+", Update: "~", Delete: "-"}

func writeChange(w *errWriter, c Change, indent string) {
	where := ""
	if c.Kind == KindFilter {
		where = " on " + c.LogGroup
	}
	reason := ""
	if c.Reason != "" {
		reason = " (" + c.Reason + ")"
	}
	w.printf("%s%s %s %s %s%s%s\n", indent, sigil[c.Action], c.Action, c.Kind, c.Name, where, reason)
	for _, f := range c.Fields {
		switch c.Action {
		case Create:
			w.printf("%s    %s: %s\n", indent, f.Field, show(f.New))
		default:
			w.printf("%s    %s: %s -> %s\n", indent, f.Field, show(f.Old), show(f.New))
		}
	}
	for _, n := range c.Notes {
		w.printf("%s    note: %s\n", indent, n)
	}
}

// show quotes values that are empty or carry spaces at their ends, so a
// diff of whitespace is visible.
func show(s string) string {
	if s == "" || strings.TrimSpace(s) != s {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// WriteJSON writes the plan as one JSON document.
func (p *Plan) WriteJSON(w io.Writer) error {
	cr, up, del := p.Counts()
	doc := struct {
		*Plan
		Summary map[string]int `json:"summary"`
	}{p, map[string]int{"create": cr, "update": up, "delete": del, "unchanged": len(p.Unchanged), "orphans": len(p.Orphans)}}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
