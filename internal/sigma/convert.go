package sigma

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// File is one Sigma file to convert.
type File struct {
	Name string
	Data []byte
}

// Options configure Convert. The zero value picks the pipeline per rule:
// alb for rules whose logsource category is webserver, json otherwise.
type Options struct {
	// Pipeline names a pipeline of Pipelines for every rule; "" means auto.
	Pipeline string
}

// Result is what Convert produces.
type Result struct {
	// YAML is a native rule file holding the rules converted without
	// problems.
	YAML []byte
	// Rules is the number of native rules in YAML.
	Rules int
	// Warnings are the rules skipped because they need a field the
	// pipeline lacks.
	Warnings []Problem
	// Errors are the problems of rules that cannot be converted. YAML
	// holds the other rules: use it only when the caller has decided to
	// leave those out.
	Errors []Problem
}

// Convert converts Sigma files together (correlations may reference rules
// in any of them). Problems are sorted by file, line and column.
func Convert(files []File, opt Options) (res Result) {
	defer func() {
		if r := recover(); r != nil { // a bug must not take a reload down
			res = Result{Errors: []Problem{{Msg: fmt.Sprintf("sigma: internal error: %v", r)}}}
		}
	}()
	p := &parser{}
	c := &conversion{p: p, dets: map[*document]*detResult{}, corrs: map[*document]*correlation{}}
	if opt.Pipeline != "" {
		if c.pipe = Pipelines[opt.Pipeline]; c.pipe == nil {
			p.problems = append(p.problems, Problem{Key: "pipeline", Msg: fmt.Sprintf("must be one of %s, got %q", strings.Join(PipelineNames, ", "), opt.Pipeline)})
			return Result{Errors: p.problems}
		}
	}
	for _, f := range files {
		c.docs = append(c.docs, p.parseFile(f.Name, f.Data)...)
	}
	c.index()
	out := c.emit()
	res = Result{Rules: len(out), Warnings: sorted(p.warnings), Errors: sorted(p.problems)}
	var buf bytes.Buffer
	buf.WriteString("# Converted from Sigma by secwatch sigma convert (docs/sigma.md).\n")
	if len(out) == 0 {
		buf.WriteString("rules: []\n")
	} else {
		enc := yaml.NewEncoder(&buf)
		enc.SetIndent(2)
		if err := enc.Encode(map[string]any{"rules": out}); err != nil {
			res.Errors = append(res.Errors, Problem{Msg: "encode: " + err.Error()})
		}
		enc.Close()
	}
	res.YAML = buf.Bytes()
	return res
}

// Native converts one Sigma file for the rules loader: it reports whether
// data is a Sigma file and, if so, the native rule file or every problem.
// A rule the loader would skip is a problem here: a rule file the daemon
// runs must not lose rules silently.
func Native(file string, data []byte) (native []byte, problems []Problem, isSigma bool) {
	if !IsSigma(data) {
		return nil, nil, false
	}
	res := Convert([]File{{Name: file, Data: data}}, Options{})
	problems = sorted(append(res.Errors, res.Warnings...))
	return res.YAML, problems, true
}

func sorted(ps []Problem) []Problem {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
	return ps
}

// conversion is the state of one Convert call.
type conversion struct {
	p     *parser
	pipe  *Pipeline // nil: per rule
	docs  []*document
	refs  map[string]*document // by id and by name
	used  map[*document]bool   // referenced by a correlation
	dets  map[*document]*detResult
	corrs map[*document]*correlation
	ids   map[string]*document // native ids emitted
}

type detResult struct {
	c  cond
	ok bool
}

// index records ids and names, and which rules correlations reference.
func (c *conversion) index() {
	c.refs, c.used = map[string]*document{}, map[*document]bool{}
	for _, d := range c.docs {
		for _, key := range []string{d.id, d.name} {
			if key == "" {
				continue
			}
			if first, dup := c.refs[key]; dup && first != d {
				c.p.errorf(d, d.node, "", "%q is defined twice, first at %s:%d", key, first.file, first.node.Line)
				continue
			}
			c.refs[key] = d
		}
	}
	for _, d := range c.docs {
		if d.correlation != nil && c.reaches(d, d, map[*document]bool{}) {
			c.p.errorf(d, d.correlation, "correlation.rules", "the chain of correlations refers back to this rule")
			c.corrs[d] = &correlation{}
		}
	}
	for _, d := range c.docs {
		// Marked even when the correlation has problems: its rules are
		// parts, not rules to run on their own.
		for _, name := range c.referenced(d) {
			if r := c.refs[name]; r != nil {
				c.used[r] = true
			}
		}
		if d.correlation != nil {
			c.correlation(d)
		}
	}
}

// reaches reports whether from's chain of correlations reaches target.
func (c *conversion) reaches(from, target *document, seen map[*document]bool) bool {
	for _, n := range c.referenced(from) {
		r := c.refs[n]
		if r == nil || r.correlation == nil || seen[r] {
			continue
		}
		seen[r] = true
		if r == target || c.reaches(r, target, seen) {
			return true
		}
	}
	return false
}

// referenced lists the rule names of d's correlation, without reporting
// problems (correlation does that).
func (c *conversion) referenced(d *document) []string {
	if d.correlation == nil || d.correlation.Kind != yaml.MappingNode {
		return nil
	}
	var out []string
	for _, kv := range pairs(d.correlation) {
		if kv.k.Value == "rules" {
			for _, n := range append([]*yaml.Node{kv.v}, kv.v.Content...) {
				if n.Kind == yaml.ScalarNode {
					out = append(out, n.Value)
				}
			}
		}
	}
	return out
}

// emit converts every rule that is not only a part of a correlation.
func (c *conversion) emit() []nativeRule {
	c.ids = map[string]*document{}
	var out []nativeRule
	for _, d := range c.docs {
		if c.used[d] && !c.generated(d) {
			continue
		}
		var r nativeRule
		var ok bool
		if d.detection != nil {
			r, ok = c.single(d)
		} else {
			r, ok = c.correlate(d)
		}
		if !ok {
			continue
		}
		if first, dup := c.ids[r.ID]; dup {
			c.p.errorf(d, d.node, "id", "native id %q is also the id of the rule at %s:%d", r.ID, first.file, first.node.Line)
			continue
		}
		c.ids[r.ID] = d
		out = append(out, r)
	}
	return out
}

// generated reports whether a correlation that references d asks for its
// rules to be emitted as well.
func (c *conversion) generated(d *document) bool {
	for _, x := range c.docs {
		if co := c.corrs[x]; co != nil && co.generate && slices.Contains(co.rules, d) {
			return true
		}
	}
	return false
}

// pipeline is the pipeline for a detection rule.
func (c *conversion) pipeline(d *document) *Pipeline {
	if c.pipe != nil {
		return c.pipe
	}
	return autoPipeline(d)
}

// detection converts a detection rule's condition once.
func (c *conversion) detection(d *document) (cond, bool) {
	if r, ok := c.dets[d]; ok {
		return r.c, r.ok
	}
	pipe := c.pipeline(d)
	conv := &converter{p: c.p, d: d, pipe: pipe}
	var x cond
	ok := false
	if cat := d.logsource["category"]; pipe.Category != "" && cat != pipe.Category {
		c.p.warnf(d, d.node, "logsource", "skipped: the %s pipeline reads %s logs, this rule's logsource category is %q", pipe.Name, pipe.Category, cat)
	} else {
		x, ok = conv.detection()
		if conv.skip != nil {
			c.p.warnings = append(c.p.warnings, *conv.skip)
		}
	}
	c.dets[d] = &detResult{x, ok}
	return x, ok
}

// single converts a detection rule on its own: it fires on every
// matching event.
func (c *conversion) single(d *document) (nativeRule, bool) {
	x, ok := c.detection(d)
	if !ok {
		return nativeRule{}, false
	}
	r, ok := c.header(d)
	zero := 0
	r.Match, r.Window, r.Threshold, r.Cooldown = x.yaml(), "1s", &zero, "0s"
	return r, ok
}

// levels maps Sigma levels to native severities.
var levels = map[string]string{
	"informational": "info", "low": "low", "medium": "medium", "high": "high", "critical": "critical",
}

// header fills the keys every converted rule has: id, title, severity,
// description, references (as runbook) and tags (as labels).
func (c *conversion) header(d *document) (nativeRule, bool) {
	r := nativeRule{ID: d.nativeID(), Title: d.title, Description: strings.TrimSpace(d.description)}
	ok := true
	if r.ID == "" {
		c.p.errorf(d, d.node, "id", "required: the native rule is named by the Sigma id (or name)")
		ok = false
	}
	if d.level != "" {
		if r.Severity = levels[d.level]; r.Severity == "" {
			c.p.errorf(d, d.levelNode, "level", "must be one of informational, low, medium, high, critical, got %q", d.level)
			ok = false
		}
	}
	r.Runbook = strings.Join(d.references, " ")
	for _, t := range d.tags {
		if r.Labels == nil {
			r.Labels = map[string]string{}
		}
		ns, v, found := strings.Cut(t, ".")
		if !found {
			ns, v = "tag", t
		}
		if old := r.Labels[ns]; old != "" {
			v = old + "," + v
		}
		r.Labels[ns] = v
	}
	return r, ok
}
