package rules

import (
	"fmt"
	mrand "math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/event"
)

// indexRules exercise the rule index: literal eq and in (indexed), a
// numeric operand (not indexed: "200" equals "200.0"), any of literals on
// one field (indexed as a union), any across fields, a negation, an
// absent rule, a sequence and a rule without a match (never indexed).
const indexRules = `rules:
  - id: eq
    severity: high
    match: {type: fail}
    group_by: [ip]
    window: 1m
    threshold: 2
    cooldown: 1m
  - id: in-distinct
    severity: high
    match: {type: [fail, deny], path: {exists: true}}
    group_by: [ip]
    window: 2m
    threshold: 1
    distinct: path
    cooldown: 1m
  - id: in-exact
    severity: low
    match: {type: [deny, probe]}
    group_by: [ip]
    window: 1m
    threshold: 2
    cooldown: 20s
  - id: numeric
    severity: low
    match: {status: 200}
    window: 1m
    threshold: 3
    cooldown: 1m
  - id: any-same-field
    severity: low
    match:
      any:
        - type: deny
        - type: probe
    group_by: [ip]
    window: 1m
    threshold: 1
    cooldown: 30s
  - id: any-fields
    severity: low
    match:
      any:
        - type: probe
        - path: /admin
    window: 1m
    threshold: 2
    cooldown: 30s
  - id: not
    severity: low
    match:
      not: {type: fail}
    window: 1m
    threshold: 5
    cooldown: 1m
  - id: gone
    severity: low
    match: {type: beat}
    group_by: [host]
    absent: 30s
  - id: seq
    severity: high
    group_by: [ip]
    window: 2m
    cooldown: 1m
    sequence:
      - match: {type: fail}
        threshold: 1
      - match: {type: ok}
  - id: all
    severity: low
    match: {}
    window: 10s
    threshold: 20
    cooldown: 10s
`

func randomEvents(seed uint64, n int) []*event.Event {
	r := mrand.New(mrand.NewPCG(seed, 1))
	types := []string{"fail", "deny", "probe", "ok", "beat", "other", "fail ", "FAIL"}
	paths := []string{"/a", "/b", "/admin", "/c", ""}
	statuses := []string{"200", "200.0", "404", "2e2", "x"}
	var out []*event.Event
	for i := 0; i < n; i++ {
		ev := &event.Event{Time: t0.Add(time.Duration(i)*700*time.Millisecond - time.Duration(r.IntN(3))*time.Second)}
		if r.IntN(10) > 0 {
			ev.Add("type", types[r.IntN(len(types))])
		}
		ev.Add("ip", fmt.Sprintf("10.0.0.%d", r.IntN(6)))
		ev.Add("host", fmt.Sprintf("h%d", r.IntN(3)))
		if p := paths[r.IntN(len(paths))]; p != "" {
			ev.Add("path", p)
		}
		ev.Add("status", statuses[r.IntN(len(statuses))])
		out = append(out, ev)
	}
	return out
}

func docLines(as []Alert) []string {
	var out []string
	for i := range as {
		a := &as[i]
		out = append(out, fmt.Sprintf("%s %s %v %d %s %s %v", a.ID, a.Rule.ID, a.Group, a.Count, a.Time, a.FirstSeen, a.Samples))
	}
	return out
}

// TestRuleIndexExact: an engine that skips rules through its index raises
// exactly the alerts, samples included, of one that evaluates every rule.
func TestRuleIndexExact(t *testing.T) {
	rs, err := Parse("index.yaml", []byte(indexRules))
	if err != nil {
		t.Fatal(err)
	}
	x := rs[0]
	if f, v, ok := prefilter(x.Match); !ok || f != "type" || !reflect.DeepEqual(v, []string{"fail"}) {
		t.Fatalf("prefilter of %s: %q %q %v", x.ID, f, v, ok)
	}
	for _, r := range rs {
		_, _, ok := prefilter(r.Match)
		want := map[string]bool{"eq": true, "in-distinct": true, "in-exact": true, "any-same-field": true, "gone": true}[r.ID]
		if ok != want {
			t.Errorf("rule %s: indexed %v, want %v", r.ID, ok, want)
		}
	}
	// Rules whose match is the indexed test alone are not evaluated again.
	x0 := NewEngine(rs).index()
	for i, r := range rs {
		only := r.ID == "eq" || r.ID == "in-exact" || r.ID == "gone"
		if got := onlyPrefilter(r.Match); got != only {
			t.Errorf("rule %s: match is the index's test alone %v, want %v", r.ID, got, only)
		}
		want := only && r.Kind == KindThreshold // "gone" is an absent rule
		if x0.exact[i] != want {
			t.Errorf("rule %s: match taken as the index's test %v, want %v", r.ID, x0.exact[i], want)
		}
	}
	for seed := uint64(1); seed <= 20; seed++ {
		fast, slow := NewEngine(rs), NewEngine(rs)
		slow.noIndex = true
		var got, want []string
		for _, ev := range randomEvents(seed, 600) {
			got = append(got, docLines(fast.Observe(ev))...)
			want = append(want, docLines(slow.Observe(ev))...)
		}
		if len(want) == 0 {
			t.Fatal("no alerts: the test proves nothing")
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: with the index\n%s\nwithout\n%s", seed, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if !reflect.DeepEqual(fast.Stats(), slow.Stats()) {
			t.Fatalf("seed %d: stats differ:\n%+v\n%+v", seed, fast.Stats(), slow.Stats())
		}
	}
}

// TestRuleIndexRebuiltOnReplace: after Replace the index follows the new
// rules.
func TestRuleIndexRebuiltOnReplace(t *testing.T) {
	a, _ := Parse("a.yaml", []byte("rules:\n  - id: r\n    severity: low\n    match: {type: a}\n    window: 1m\n    threshold: 0\n    cooldown: 1s\n"))
	b, _ := Parse("b.yaml", []byte("rules:\n  - id: r\n    severity: low\n    match: {type: b}\n    window: 1m\n    threshold: 0\n    cooldown: 1s\n"))
	e := NewEngine(a)
	if n := len(e.Observe(&event.Event{Time: t0, Fields: []event.Field{{Key: "type", Value: "a"}}})); n != 1 {
		t.Fatalf("rule a: %d alerts", n)
	}
	e.Replace(b)
	if n := len(e.Observe(&event.Event{Time: t0.Add(time.Minute), Fields: []event.Field{{Key: "type", Value: "b"}}})); n != 1 {
		t.Fatalf("after Replace, rule b: %d alerts", n)
	}
}

// TestDistinctSetMatchesMap drives the distinct set with random adds and
// removes against a map.
func TestDistinctSetMatchesMap(t *testing.T) {
	r := mrand.New(mrand.NewPCG(7, 7))
	var d distinctSet
	model := map[string]int{}
	var held []int32 // slots of live entries
	var heldV []string
	for i := 0; i < 20000; i++ {
		if len(held) > 0 && r.IntN(2) == 0 {
			k := r.IntN(len(held))
			if got := d.vs[held[k]].v; got != heldV[k] {
				t.Fatalf("step %d: slot %d holds %q, want %q", i, held[k], got, heldV[k])
			}
			d.remove(held[k])
			if model[heldV[k]]--; model[heldV[k]] == 0 {
				delete(model, heldV[k])
			}
			held[k], heldV[k] = held[len(held)-1], heldV[len(heldV)-1]
			held, heldV = held[:len(held)-1], heldV[:len(heldV)-1]
		} else {
			v := fmt.Sprintf("v%d", r.IntN(1+i%40))
			held = append(held, d.add(v))
			heldV = append(heldV, v)
			model[v]++
		}
		if d.len() != len(model) {
			t.Fatalf("step %d: %d values, want %d", i, d.len(), len(model))
		}
	}
}

// TestObserveAllocs: once warm, observing an event allocates nothing,
// whether it matches or not (the target; see BenchmarkObserve).
func TestObserveAllocs(t *testing.T) {
	rs, err := Parse("bench.yaml", []byte(benchRule))
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(rs)
	miss := benchEvent("request", "203.0.113.7")
	hit := benchEvent("authentication_failure", "203.0.113.7")
	i := 0
	step := func(ev *event.Event) {
		i++
		ev.Time = t0.Add(time.Duration(i) * time.Second)
		e.Observe(ev)
	}
	for j := 0; j < 20; j++ { // warm: the group exists, fired, keeps samples
		step(&hit)
	}
	if n := testing.AllocsPerRun(500, func() { step(&miss) }); n != 0 {
		t.Errorf("non-matching event: %v allocations", n)
	}
	if n := testing.AllocsPerRun(500, func() { step(&hit) }); n != 0 {
		t.Errorf("matching event (cooling down, samples kept): %v allocations", n)
	}
}

// BenchmarkObserveTenRules runs the ten bench rules (bench/rules10.yaml)
// on events rotating over 50,000 clients, each back every 10 minutes:
// requests (no rule matches) and
// authentication failures (four rules count them, two of them distinct).
func BenchmarkObserveTenRules(b *testing.B) {
	rs, err := Load("../../bench/rules10.yaml")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name, typ string
	}{{"nomatch", "request"}, {"match", "authentication_failure"}} {
		b.Run(c.name, func(b *testing.B) {
			e := NewEngine(rs)
			evs := make([]event.Event, 50000)
			for i := range evs {
				evs[i] = benchEvent(c.typ, fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&0xff, i&0xff))
			}
			// Each client comes back every 10 minutes (12 ms × 50,000):
			// its groups stay (window + max_lateness is longer) and the
			// windows fill. Warm for 2 hours of event time first, so that
			// the measured loop shows the steady state of a busy service.
			i := 0
			next := func() {
				ev := &evs[i%len(evs)]
				ev.Time = t0.Add(time.Duration(i) * 12 * time.Millisecond)
				e.Observe(ev)
				i++
			}
			for range 12 * len(evs) {
				next()
			}
			b.ReportAllocs()
			for b.Loop() {
				next()
			}
		})
	}
}
