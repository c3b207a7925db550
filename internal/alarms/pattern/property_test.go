package pattern_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/secwatch/secwatch/internal/alarms/pattern"
	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
)

// The property: for every rule the compiler translates, and every event of
// the model (docs/alarms.md), the rule's match on the event parsed by the
// real json parser agrees with the compiled pattern run by the evaluator on
// the raw line. Events are drawn from values built around every operand of
// every rule, so that both sides of each condition are hit.

const propertyEvents = 10000

func TestCompiledPatternsAgreeWithRules(t *testing.T) {
	shipped, err := rulefile.Load("../../../rules")
	if err != nil {
		t.Fatalf("loading shipped rules: %v", err)
	}
	rng := rand.New(rand.NewPCG(5, 2026))
	generated := generateRules(t, rng, 90)
	all := append(slices.Clone(shipped), generated...)

	type compiled struct {
		r       *rules.Rule
		p       *pattern.Pattern
		shipped bool
	}
	var cs []compiled
	untranslatable := map[string]int{}
	nShipped := 0
	for i, r := range all {
		if r.Alarm != nil && r.Alarm.FilterPattern != "" {
			// A hand-written pattern for the log group of another format
			// (rules/mcp.yaml's envelope patterns): checked copy by copy in
			// rules/alarms_test.go and line by line by plan --verify.
			continue
		}
		src, err := pattern.Compile(r)
		if err != nil {
			var ce *pattern.Error
			if !errors.As(err, &ce) || ce.Rule != r.ID || !strings.Contains(err.Error(), fmt.Sprintf("rule %q", r.ID)) {
				t.Errorf("Compile(%s): error %v does not name the rule", r.ID, err)
			}
			untranslatable[reason(err)]++
			if i < len(shipped) {
				t.Logf("shipped, refused: %v", err)
			}
			continue
		}
		p, err := pattern.Parse(src)
		if err != nil {
			t.Fatalf("rule %s compiled to %q, which does not parse: %v", r.ID, src, err)
		}
		if i < len(shipped) {
			nShipped++
		}
		cs = append(cs, compiled{r, p, i < len(shipped)})
	}

	u := universe(all)
	parser, err := format.NewParser("json", format.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hits := make([][2]int, len(cs)) // per rule: events where the match holds / does not
	disagreements := 0
	var ev event.Event
	for n := 0; n < propertyEvents; n++ {
		line := u.event(rng)
		ev.Reset()
		if err := parser.Parse([]byte(line), &ev); err != nil {
			t.Fatalf("ingest json parser rejects generated line %s: %v", line, err)
		}
		msg := pattern.NewMessage([]byte(line))
		for i, c := range cs {
			rm := c.r.Match.Eval(&ev)
			var pm bool
			if n%16 == 0 {
				pm = c.p.Match([]byte(line)) // decoding again for each rule
			} else {
				pm = c.p.MatchMessage(msg)
			}
			if rm {
				hits[i][0]++
			} else {
				hits[i][1]++
			}
			if rm != pm {
				if disagreements++; disagreements <= 10 {
					t.Errorf("rule %s (%s:%d) with pattern %s\n  line %s\n  rule matches: %v, pattern matches: %v",
						c.r.ID, c.r.File, c.r.Line, c.p, line, rm, pm)
				}
			}
		}
	}
	both := 0
	for i, c := range cs {
		if hits[i][0] > 0 && hits[i][1] > 0 {
			both++
		} else if c.shipped {
			t.Errorf("shipped rule %s: the events never hit both sides (%d match, %d do not)", c.r.ID, hits[i][0], hits[i][1])
		}
	}
	if len(cs) < 60 {
		t.Errorf("only %d translatable rules; the generator should produce far more", len(cs))
	}
	if both < len(cs)*8/10 {
		t.Errorf("only %d of %d translatable rules saw events on both sides", both, len(cs))
	}
	reasons := make([]string, 0, len(untranslatable))
	for k, v := range untranslatable {
		reasons = append(reasons, fmt.Sprintf("%d× %s", v, k))
	}
	sort.Strings(reasons)
	t.Logf("%d events; %d rules (%d shipped, %d generated): %d translatable (%d shipped), %d with events on both sides; %d comparisons, %d disagreements",
		propertyEvents, len(all), len(shipped), len(generated), len(cs), nShipped, both, propertyEvents*len(cs), disagreements)
	t.Logf("untranslatable (an error naming the rule and condition):\n  %s", strings.Join(reasons, "\n  "))
}

// reason shortens a compile error to its kind, for the summary.
func reason(err error) string {
	var ce *pattern.Error
	if errors.As(err, &ce) {
		msg := ce.Msg
		if i := strings.IndexAny(msg, ":(\""); i > 0 {
			msg = msg[:i]
		}
		return strings.TrimSpace(msg)
	}
	return err.Error()
}

// --- rule generator -------------------------------------------------------

type fieldSpec struct {
	name  string
	kind  string // "str", "num", "bool"
	words []string
}

var genFields = []fieldSpec{
	{"user", "str", []string{"alice", "bob", "carol", "al"}},
	{"path", "str", []string{"/mcp", "/mcp/tools", "/health", "tools", "mcp"}},
	{"details.method", "str", []string{"GET", "POST", "OPTIONS"}},
	{"details.reason", "str", []string{"bad header", "null byte", "too many", "bad"}},
	{"status", "num", []string{"200", "401", "403", "500", "4.01e2"}},
	{"details.count", "num", []string{"0", "3", "10", "2.5", "-1"}},
	{"ok", "bool", []string{"true", "false"}},
}

// Regexes with the strings that hit them, added to the value pools.
var genRegexes = map[string][]string{
	`^/mcp`:         {"/mcp/x", "x/mcp"},
	`tools$`:        {"/mcp/tools", "toolsx"},
	`^[a-c]`:        {"alice", "dave"},
	`o{2}`:          {"boob", "bob"},
	`b.b`:           {"bob", "bb"},
	`^\d+ bytes$`:   {"12 bytes", "x bytes"},
	`^(alice|bob)$`: {"alice"}, // parentheses: not expressible
	`a\sb`:          {"a b"},   // \s: not expressible
}

func generateRules(t *testing.T, rng *rand.Rand, n int) []*rules.Rule {
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - id: gen-%d\n    window: 5m\n    threshold: 1\n    match:\n", i)
		genMap(&b, rng, 6, 2)
	}
	rs, err := rulefile.Parse("generated.yaml", []byte(b.String()))
	if err != nil {
		t.Fatalf("generated rules do not load: %v\n%s", err, b.String())
	}
	return rs
}

// genMap writes a match map at the given indent.
func genMap(b *strings.Builder, rng *rand.Rand, indent, depth int) {
	pad := strings.Repeat(" ", indent)
	perm := rng.Perm(len(genFields))
	entries := 1 + rng.IntN(3)
	used := 0
	keys := map[string]bool{}
	for _, fi := range perm {
		if used == entries {
			break
		}
		used++
		kw := pick(rng, []string{"not", "any", "any", "all"})
		if depth > 0 && rng.IntN(4) == 0 && !keys[kw] {
			keys[kw] = true
			switch kw {
			case "not":
				fmt.Fprintf(b, "%snot:\n", pad)
				genMap(b, rng, indent+2, depth-1)
			default:
				fmt.Fprintf(b, "%s%s:\n", pad, kw)
				for k := 0; k < 2+rng.IntN(2); k++ {
					fmt.Fprintf(b, "%s  -\n", pad)
					genMap(b, rng, indent+4, depth-1)
				}
			}
			continue
		}
		f := genFields[fi]
		fmt.Fprintf(b, "%s%s: %s\n", pad, f.name, genCond(rng, f))
	}
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

func yq(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func genCond(rng *rand.Rand, f fieldSpec) string {
	lit := func() string {
		w := pick(rng, f.words)
		if f.kind == "str" {
			return yq(w)
		}
		return w
	}
	list := func() string {
		k := 1 + rng.IntN(3)
		parts := make([]string, k)
		for i := range parts {
			parts[i] = lit()
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	var ops []string
	switch f.kind {
	case "str":
		ops = []string{"eq", "ne", "in", "not_in", "prefix", "suffix", "contains", "regex", "exists", "bare", "list"}
	case "num":
		ops = []string{"eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "exists", "bare", "list"}
	default:
		ops = []string{"eq", "ne", "exists", "bare"}
	}
	one := func() string {
		switch op := pick(rng, ops); op {
		case "bare":
			return lit()
		case "list":
			return list()
		case "in", "not_in":
			return "{" + op + ": " + list() + "}"
		case "exists":
			return fmt.Sprintf("{exists: %v}", rng.IntN(2) == 0)
		case "regex":
			keys := make([]string, 0, len(genRegexes))
			for k := range genRegexes {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return "{regex: " + yq(pick(rng, keys)) + "}"
		default:
			return "{" + op + ": " + lit() + "}"
		}
	}
	c := one()
	// Sometimes two operators on one field.
	if strings.HasPrefix(c, "{") && rng.IntN(4) == 0 {
		d := one()
		if strings.HasPrefix(d, "{") && strings.SplitN(d, ":", 2)[0] != strings.SplitN(c, ":", 2)[0] {
			c = c[:len(c)-1] + ", " + d[1:]
		}
	}
	return c
}

// --- event generator ------------------------------------------------------

// fieldUniverse holds, for every field any rule reads, its type and the
// values events draw from.
type fieldUniverse struct {
	names []string
	kind  map[string]string
	pool  map[string][]string // JSON literals (strings already quoted)
	ops   map[string][]string // the pool's literals that are operands themselves
}

func universe(rs []*rules.Rule) *fieldUniverse {
	u := &fieldUniverse{kind: map[string]string{}, pool: map[string][]string{}, ops: map[string][]string{}}
	operands := map[string][]string{}
	var walk func(m *rules.Match)
	walk = func(m *rules.Match) {
		if m == nil {
			return
		}
		for _, c := range m.Children {
			walk(c)
		}
		if m.Kind != rules.MatchField || strings.HasPrefix(m.Field, "@") {
			return
		}
		f := m.Field
		if _, ok := u.kind[f]; !ok {
			u.kind[f] = "str"
			u.names = append(u.names, f)
		}
		for _, t := range m.Tests {
			switch t.Op {
			case rules.OpGt, rules.OpGte, rules.OpLt, rules.OpLte:
				u.kind[f] = "num"
			case rules.OpEq, rules.OpNe, rules.OpIn, rules.OpNotIn:
				for i, v := range t.Values {
					if t.NumOK[i] {
						u.kind[f] = "num"
					} else if (v == "true" || v == "false") && u.kind[f] == "str" {
						u.kind[f] = "bool"
					}
				}
			case rules.OpRegex:
				operands[f] = append(operands[f], genRegexes[t.Regex.String()]...)
			}
			operands[f] = append(operands[f], t.Values...)
		}
	}
	for _, r := range rs {
		walk(r.Match)
	}
	sort.Strings(u.names)
	// A field whose name is a prefix of another's ("a" and "a.b") cannot be
	// both a value and an object: keep the nested one.
	var names []string
	for _, n := range u.names {
		nested := false
		for _, m := range u.names {
			if strings.HasPrefix(m, n+".") {
				nested = true
			}
		}
		if !nested {
			names = append(names, n)
		}
	}
	u.names = names
	for _, f := range u.names {
		seen := map[string]bool{}
		add := func(lit string) {
			if !seen[lit] {
				seen[lit] = true
				u.pool[f] = append(u.pool[f], lit)
			}
		}
		switch u.kind[f] {
		case "num":
			for _, v := range operands[f] {
				n, ok := event.Number(v)
				if !ok {
					continue
				}
				u.ops[f] = append(u.ops[f], strconv.FormatFloat(n, 'g', -1, 64))
				for _, d := range []float64{-1, -0.5, 0, 0.5, 1} {
					add(strconv.FormatFloat(n+d, 'g', -1, 64))
				}
				add(strconv.FormatFloat(n, 'e', -1, 64))
				add(strconv.FormatFloat(n, 'f', 1, 64))
				add(strconv.FormatFloat(-n, 'g', -1, 64))
			}
			add("0")
			add("-0")
			add("1E2")
		case "bool":
			for _, v := range []string{"true", "false", `"true"`, `"false"`, `"yes"`, `""`} {
				add(v)
			}
		default:
			for _, v := range operands[f] {
				u.ops[f] = append(u.ops[f], strconv.Quote(v))
				for _, s := range []string{v, v + "x", "x" + v, "x" + v + "x", v + v} {
					add(strconv.Quote(s))
				}
				if len(v) > 1 {
					add(strconv.Quote(v[:len(v)-1]))
					add(strconv.Quote(v[1:]))
				}
			}
			for _, s := range []string{"", "other", "true", " ", "ünïcode", `quote"d`, `back\slash`, "tab\there", "*"} {
				add(strconv.Quote(s))
			}
		}
	}
	return u
}

// jsonObj is an ordered JSON object under construction.
type jsonObj struct {
	keys []string
	vals map[string]any // string (a JSON literal) or *jsonObj
}

func newObj() *jsonObj { return &jsonObj{vals: map[string]any{}} }

func (o *jsonObj) set(path []string, lit string) {
	k := path[0]
	if len(path) == 1 {
		if _, ok := o.vals[k]; !ok {
			o.keys = append(o.keys, k)
			o.vals[k] = lit
		}
		return
	}
	child, ok := o.vals[k].(*jsonObj)
	if !ok {
		if _, taken := o.vals[k]; taken {
			return // already a scalar or null: the nested field is absent
		}
		child = newObj()
		o.keys = append(o.keys, k)
		o.vals[k] = child
	}
	child.set(path[1:], lit)
}

func (o *jsonObj) write(b *strings.Builder) {
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(k))
		b.WriteString(": ")
		switch v := o.vals[k].(type) {
		case string:
			b.WriteString(v)
		case *jsonObj:
			v.write(b)
		}
	}
	b.WriteByte('}')
}

// event renders one random event as a JSON line. Each field is absent,
// null, or drawn from its pool; a nested field's parent is sometimes null
// or a string instead of an object.
func (u *fieldUniverse) event(rng *rand.Rand) string {
	o := newObj()
	o.set([]string{"timestamp"}, `"2026-01-28T19:15:02Z"`)
	for _, f := range rng.Perm(len(u.names)) {
		name := u.names[f]
		path := strings.Split(name, ".")
		switch r := rng.IntN(20); {
		case r < 3: // absent
		case r == 3:
			o.set(path, "null")
		case r == 4 && len(path) > 1:
			o.set(path[:1], pick(rng, []string{"null", `"flat"`, "7"}))
		case r < 13 && len(u.ops[name]) > 0:
			o.set(path, pick(rng, u.ops[name]))
		default:
			o.set(path, pick(rng, u.pool[name]))
		}
	}
	var b strings.Builder
	o.write(&b)
	return b.String()
}
