package sigma

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// correlation is a parsed correlation section.
type correlation struct {
	d        *document
	typ      string
	typNode  *yaml.Node
	rules    []*document
	rulesN   *yaml.Node
	groupBy  []string
	groupN   *yaml.Node
	timespan time.Duration
	tsNode   *yaml.Node
	bounds   map[string]int // gt, gte, lt, lte, eq, neq
	field    string         // value_count
	condN    *yaml.Node
	aliases  map[string]map[string]string // alias → rule name → field
	generate bool
	ok       bool
}

var corrTypes = []string{"event_count", "value_count", "temporal", "temporal_ordered"}

// correlation parses d's correlation section once; nil after a problem.
func (c *conversion) correlation(d *document) *correlation {
	if co, done := c.corrs[d]; done {
		if co == nil || !co.ok {
			return nil
		}
		return co
	}
	c.corrs[d] = nil // a cycle of references ends here
	co := &correlation{d: d, ok: true}
	n := d.correlation
	bad := func(at *yaml.Node, key, format string, args ...any) {
		c.p.errorf(d, at, key, format, args...)
		co.ok = false
	}
	if n.Kind != yaml.MappingNode {
		bad(n, "correlation", "must be a map, got %s", describe(n))
		return nil
	}
	for _, kv := range pairs(n) {
		key := "correlation." + kv.k.Value
		switch kv.k.Value {
		case "type":
			co.typ, co.typNode = c.p.scalar(d, kv.v, key), kv.v
			if !slices.Contains(corrTypes, co.typ) {
				bad(kv.v, key, "must be one of event_count, value_count, temporal, temporal_ordered, got %q", co.typ)
			}
		case "rules":
			co.rulesN = kv.v
			for i, name := range c.p.scalars(d, kv.v, key) {
				r := c.refs[name]
				at := kv.v
				if kv.v.Kind == yaml.SequenceNode && i < len(kv.v.Content) {
					at = kv.v.Content[i]
				}
				if r == nil {
					bad(at, key, "no rule has the id or name %q", name)
					continue
				}
				co.rules = append(co.rules, r)
			}
		case "group-by":
			co.groupBy, co.groupN = c.p.scalars(d, kv.v, key), kv.v
		case "timespan":
			co.tsNode = kv.v
			ts, err := parseTimespan(c.p.scalar(d, kv.v, key))
			if err != nil {
				bad(kv.v, key, "%v", err)
			}
			co.timespan = ts
		case "condition":
			co.condN = kv.v
			c.parseBounds(co, kv.v)
		case "aliases":
			co.aliases = c.parseAliases(co, kv.v)
		case "generate":
			co.generate = kv.v.Value == "true"
		default:
			bad(kv.k, key, "unknown correlation key")
		}
	}
	if co.typ == "" {
		bad(n, "correlation.type", "required")
	}
	if len(co.rules) == 0 && co.rulesN == nil {
		bad(n, "correlation.rules", "required")
	}
	if co.tsNode == nil {
		bad(n, "correlation.timespan", "required")
	}
	if (co.typ == "event_count" || co.typ == "value_count") && co.condN == nil {
		bad(n, "correlation.condition", "required for %s", co.typ)
	}
	if co.typ == "value_count" && co.field == "" && co.condN != nil {
		bad(co.condN, "correlation.condition.field", "required for value_count")
	}
	c.corrs[d] = co
	if !co.ok {
		return nil
	}
	return co
}

// parseTimespan reads Sigma's "number + unit" (s, m, h, d).
func parseTimespan(s string) (time.Duration, error) {
	units := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}
	if len(s) < 2 || units[s[len(s)-1]] == 0 {
		return 0, fmt.Errorf("must be a number and a unit (s, m, h, d), got %q", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("must be a number and a unit (s, m, h, d), got %q", s)
	}
	d := time.Duration(n) * units[s[len(s)-1]]
	if d > 24*time.Hour {
		return 0, fmt.Errorf("native windows are at most 24h, got %q", s)
	}
	return d, nil
}

func (c *conversion) parseBounds(co *correlation, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		c.p.errorf(co.d, n, "correlation.condition", "must be a map like {gte: 10}, got %s", describe(n))
		co.ok = false
		return
	}
	co.bounds = map[string]int{}
	for _, kv := range pairs(n) {
		key := "correlation.condition." + kv.k.Value
		switch kv.k.Value {
		case "field":
			if kv.v.Kind == yaml.SequenceNode {
				c.p.errorf(co.d, kv.v, key, "counting combinations of several fields is not supported: name one field")
				co.ok = false
				continue
			}
			co.field = c.p.scalar(co.d, kv.v, key)
		case "gt", "gte", "lt", "lte", "eq", "neq":
			v, err := strconv.Atoi(kv.v.Value)
			if err != nil || v < 0 || kv.v.Kind != yaml.ScalarNode {
				c.p.errorf(co.d, kv.v, key, "must be a whole number ≥ 0, got %s", describe(kv.v))
				co.ok = false
				continue
			}
			co.bounds[kv.k.Value] = v
		default:
			c.p.errorf(co.d, kv.k, key, "unknown condition (gt, gte, lt, lte, eq, neq, field)")
			co.ok = false
		}
	}
}

func (c *conversion) parseAliases(co *correlation, n *yaml.Node) map[string]map[string]string {
	out := map[string]map[string]string{}
	if n.Kind != yaml.MappingNode {
		c.p.errorf(co.d, n, "correlation.aliases", "must be a map, got %s", describe(n))
		co.ok = false
		return out
	}
	for _, kv := range pairs(n) {
		m := map[string]string{}
		if kv.v.Kind != yaml.MappingNode {
			c.p.errorf(co.d, kv.v, "correlation.aliases."+kv.k.Value, "must map rule names to fields, got %s", describe(kv.v))
			co.ok = false
			continue
		}
		for _, e := range pairs(kv.v) {
			m[e.k.Value] = c.p.scalar(co.d, e.v, "correlation.aliases."+kv.k.Value)
		}
		out[kv.k.Value] = m
	}
	return out
}

// threshold maps the condition onto the native "count > threshold". Only
// lower bounds can be: the engine judges a window as each event arrives,
// and a count below an upper bound holds of every window before the
// burst, so lt, lte, eq and neq are errors.
func (c *conversion) threshold(co *correlation) (int, bool) {
	for _, k := range []string{"lt", "lte", "eq", "neq"} {
		if _, ok := co.bounds[k]; ok {
			c.p.errorf(co.d, co.condN, "correlation.condition."+k, "%s cannot be expressed exactly: secwatch fires when a sliding window's count rises above a threshold, and an upper bound holds of every window before a burst; use gt or gte", k)
			return 0, false
		}
	}
	gt, hasGT := co.bounds["gt"]
	gte, hasGTE := co.bounds["gte"]
	switch {
	case hasGTE && gte == 0:
		c.p.errorf(co.d, co.condN, "correlation.condition.gte", "gte: 0 holds of an empty window; write gte: 1 for \"at least one\"")
		return 0, false
	case hasGT && hasGTE:
		return max(gt, gte-1), true
	case hasGT:
		return gt, true
	case hasGTE:
		return gte - 1, true
	}
	c.p.errorf(co.d, co.condN, "correlation.condition", "needs gt or gte")
	return 0, false
}

// correlate converts a correlation rule into one native rule.
func (c *conversion) correlate(d *document) (nativeRule, bool) {
	co := c.correlation(d)
	if co == nil {
		return nativeRule{}, false
	}
	r, ok := c.header(d)
	if !ok {
		return r, false
	}
	group, ok := c.groupBy(co)
	if !ok {
		return r, false
	}
	r.GroupBy, r.Window = group, duration(co.timespan)
	switch co.typ {
	case "event_count", "value_count":
		x, ok := c.anyOf(co)
		t, tok := c.threshold(co)
		if !ok || !tok {
			return r, false
		}
		r.Match, r.Threshold = x.yaml(), &t
		if co.typ == "value_count" {
			f, ok := c.mapField(co, co.field, co.condN)
			if !ok {
				return r, false
			}
			if slices.Contains(group, f) {
				c.p.errorf(d, co.condN, "correlation.condition.field", "%q is also a group-by field: it has one value per group", co.field)
				return r, false
			}
			r.Distinct = f
		}
		return r, true
	case "temporal":
		return c.temporal(co, r)
	}
	steps, ok := c.steps(co, co)
	if !ok {
		return r, false
	}
	if c.typesNeeded(co) != len(co.rules) {
		c.p.errorf(d, co.condN, "correlation.condition", "temporal_ordered needs every rule in order; a condition other than gte: %d is not supported", len(co.rules))
		return r, false
	}
	if len(steps) < 2 || len(steps) > 16 {
		c.p.errorf(d, co.rulesN, "correlation.rules", "a native sequence has 2 to 16 steps, this one has %d", len(steps))
		return r, false
	}
	r.Sequence = steps
	return r, true
}

// temporal converts an unordered temporal correlation. The native engine
// has ordered sequences only, so the exact forms are the ones that need
// one of the rules: a single rule, or a condition of gte: 1.
func (c *conversion) temporal(co *correlation, r nativeRule) (nativeRule, bool) {
	need := c.typesNeeded(co)
	if need < 1 {
		c.p.errorf(co.d, co.condN, "correlation.condition", "holds with no event at all; write gte: 1 for \"at least one\"")
		return r, false
	}
	if need > 1 {
		c.p.errorf(co.d, co.typNode, "correlation.type", "temporal (any order) of %d rules cannot be expressed exactly: native sequence rules are ordered; write temporal_ordered if the order is known", need)
		return r, false
	}
	x, ok := c.anyOf(co)
	if !ok {
		return r, false
	}
	zero := 0
	r.Match, r.Threshold = x.yaml(), &zero
	return r, true
}

// typesNeeded is how many of a temporal correlation's rules its condition
// needs (the specification counts "different event types"): all of them
// without a condition, -1 for a condition that is not one lower bound.
func (c *conversion) typesNeeded(co *correlation) int {
	distinct := map[*document]bool{}
	for _, r := range co.rules {
		distinct[r] = true
	}
	if len(co.bounds) == 0 {
		return len(distinct)
	}
	if len(co.bounds) == 1 {
		for k, v := range co.bounds {
			switch k {
			case "gte", "eq":
				return v
			case "gt":
				return v + 1
			}
		}
	}
	return -1
}

// anyOf is the condition "matches one of the referenced detection rules".
func (c *conversion) anyOf(co *correlation) (cond, bool) {
	var xs []cond
	for i, ref := range co.rules {
		if ref.detection == nil {
			c.p.errorf(co.d, co.ruleNode(i), "correlation.rules", "%s over the correlation %q cannot be expressed: native rules count events, not other rules' alerts (only temporal_ordered chains)", co.typ, ref.title)
			return cond{}, false
		}
		x, ok := c.detection(ref)
		if !ok {
			c.skipped(co, ref)
			return cond{}, false
		}
		xs = append(xs, x)
	}
	return join("any", xs), true
}

func (co *correlation) ruleNode(i int) *yaml.Node {
	if co.rulesN != nil && co.rulesN.Kind == yaml.SequenceNode && i < len(co.rulesN.Content) {
		return co.rulesN.Content[i]
	}
	return co.rulesN
}

// skipped reports that a correlation is left out with a rule it needs: a
// warning when that rule was skipped, an error when it is wrong.
func (c *conversion) skipped(co *correlation, ref *document) {
	for _, w := range c.p.warnings {
		if w.File == ref.file && w.Item == ref.label {
			c.p.warnf(co.d, co.rulesN, "correlation.rules", "skipped: it needs %s, which was skipped", ref.label)
			return
		}
	}
	c.p.errorf(co.d, co.rulesN, "correlation.rules", "it needs %s, which has problems", ref.label)
}

// steps converts a temporal_ordered correlation's rules to sequence steps.
// A referenced event_count becomes a step with a threshold and a referenced
// temporal_ordered is spliced in, when their timespan is at least the
// outer one and they group alike: then every event of the chain lies in
// the outer window, and the inner window holds them too.
func (c *conversion) steps(outer, co *correlation) ([]nativeStep, bool) {
	var out []nativeStep
	for i, ref := range co.rules {
		if ref.detection != nil {
			x, ok := c.detection(ref)
			if !ok {
				c.skipped(co, ref)
				return nil, false
			}
			out = append(out, nativeStep{Match: x.yaml()})
			continue
		}
		inner := c.correlation(ref)
		if inner == nil {
			c.skipped(co, ref)
			return nil, false
		}
		at := co.ruleNode(i)
		if inner.timespan < outer.timespan {
			c.p.errorf(co.d, at, "correlation.rules", "the chained correlation %q has a timespan (%s) shorter than this one (%s): a sequence step cannot have its own window", ref.title, duration(inner.timespan), duration(outer.timespan))
			return nil, false
		}
		g1, ok1 := c.groupBy(outer)
		g2, ok2 := c.groupBy(inner)
		if !ok1 || !ok2 || !slices.Equal(g1, g2) {
			if ok1 && ok2 {
				c.p.errorf(co.d, at, "correlation.rules", "the chained correlation %q groups by %v, this one by %v: a sequence has one grouping", ref.title, g2, g1)
			}
			return nil, false
		}
		switch inner.typ {
		case "event_count":
			x, ok := c.anyOf(inner)
			t, tok := c.threshold(inner)
			if !ok || !tok {
				return nil, false
			}
			out = append(out, nativeStep{Match: x.yaml(), Threshold: t})
		case "temporal_ordered":
			s, ok := c.steps(outer, inner)
			if !ok {
				return nil, false
			}
			out = append(out, s...)
		default:
			c.p.errorf(co.d, at, "correlation.rules", "a chained %s cannot be a sequence step (event_count and temporal_ordered can)", inner.typ)
			return nil, false
		}
	}
	return out, true
}

// groupBy maps the correlation's group-by fields (or aliases) through the
// pipelines of the detection rules it reaches; every rule must give the
// same native field.
func (c *conversion) groupBy(co *correlation) ([]string, bool) {
	var out []string
	for _, g := range co.groupBy {
		f, ok := c.mapField(co, g, co.groupN)
		if !ok {
			return nil, false
		}
		out = append(out, f)
	}
	return out, true
}

// mapField maps a Sigma field used by a correlation to one native field.
func (c *conversion) mapField(co *correlation, name string, at *yaml.Node) (string, bool) {
	native := ""
	for _, ref := range c.leaves(co) {
		src := name
		if a, ok := co.aliases[name]; ok {
			if src = a[ref.name]; src == "" {
				src = a[ref.id]
			}
			if src == "" {
				c.p.errorf(co.d, at, "correlation.aliases."+name, "no field for rule %q", firstOf(ref.name, ref.id))
				return "", false
			}
		}
		t, ok := c.pipeline(ref).lookup(src)
		if !ok || t.part != nil {
			c.p.warnf(co.d, at, "correlation", "skipped: field %q has no native field of its own in the %s pipeline", src, c.pipeline(ref).Name)
			return "", false
		}
		if native != "" && native != t.field {
			c.p.errorf(co.d, at, "correlation", "%q is %q for one rule and %q for another: a native group_by names one field for every event", name, native, t.field)
			return "", false
		}
		native = t.field
	}
	return native, native != ""
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// leaves are the detection rules a correlation reaches through chains.
func (c *conversion) leaves(co *correlation) []*document {
	var out []*document
	for _, r := range co.rules {
		if r.detection != nil {
			out = append(out, r)
		} else if inner := c.correlation(r); inner != nil && inner != co {
			out = append(out, c.leaves(inner)...)
		}
	}
	return out
}

// duration renders a timespan as a native duration ("1h0m0s" → "1h").
func duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
