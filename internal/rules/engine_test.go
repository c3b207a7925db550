package rules

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/event"
)

var t0 = time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)

// in is one input event: seconds after t0 and "k=v" fields.
type in struct {
	at     float64
	fields string // space-separated k=v pairs; "k=" sets an empty value
}

// want is one expected alert.
type want struct {
	group string // "v1,v2" group values, "" for a global rule
	at    float64
	count int
	first float64
}

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func mkEvent(i in) *event.Event {
	ev := &event.Event{Time: at(i.at)}
	for _, kv := range strings.Fields(i.fields) {
		k, v, _ := strings.Cut(kv, "=")
		ev.Add(k, v)
	}
	return ev
}

// failures matches events with type=fail.
var failures = &Match{Kind: MatchField, Field: "type", Tests: []Test{{Op: OpEq, Values: []string{"fail"}}}}

func threshold(window, cooldown time.Duration, th int, groupBy ...string) *Rule {
	if cooldown == 0 {
		cooldown = window
	}
	return &Rule{ID: "r", Severity: "high", Kind: KindThreshold, Match: failures, GroupBy: groupBy,
		Window: window, Threshold: th, Cooldown: cooldown}
}

func run(t *testing.T, e *Engine, events []in) []Alert {
	t.Helper()
	var got []Alert
	for _, i := range events {
		got = append(got, e.Observe(mkEvent(i))...)
	}
	return got
}

func describe(group string, t time.Time, count int, first time.Time) string {
	return fmt.Sprintf("group=%q time=%s count=%d first=%s", group,
		t.Format(time.RFC3339Nano), count, first.Format(time.RFC3339Nano))
}

func check(t *testing.T, got []Alert, wants []want) {
	t.Helper()
	var ws []string
	for _, w := range wants {
		ws = append(ws, describe(w.group, at(w.at), w.count, at(w.first)))
	}
	checkLines(t, got, ws)
}

func checkLines(t *testing.T, got []Alert, ws []string) {
	t.Helper()
	var gs []string
	for _, a := range got {
		var vals []string
		for _, f := range a.Group {
			vals = append(vals, f.Value)
		}
		gs = append(gs, describe(strings.Join(vals, ","), a.Time, a.Count, a.FirstSeen))
	}
	for i := 0; i < len(gs) && i < len(ws); i++ {
		if gs[i] != ws[i] {
			t.Errorf("alert %d: got %s, want %s", i, gs[i], ws[i])
			break
		}
	}
	if strings.Join(gs, "\n") != strings.Join(ws, "\n") {
		t.Errorf("alerts:\ngot:\n  %s\nwant:\n  %s", strings.Join(gs, "\n  "), strings.Join(ws, "\n  "))
	}
}

func fails(ip string, times ...float64) []in {
	var out []in
	for _, s := range times {
		out = append(out, in{s, "type=fail ip=" + ip})
	}
	return out
}

func TestThresholdSemantics(t *testing.T) {
	tests := []struct {
		name    string
		rule    *Rule
		maxKeys int
		events  []in
		want    []want
		stats   RuleStats // checked fields: Matched, Late, Evicted, Ungrouped, Alerts
	}{
		{
			name:   "threshold equality does not fire",
			rule:   threshold(10*time.Second, 0, 3, "ip"),
			events: fails("a", 0, 1, 2),
			stats:  RuleStats{Matched: 3},
		},
		{
			name:   "one more than the threshold fires",
			rule:   threshold(10*time.Second, 0, 3, "ip"),
			events: fails("a", 0, 1, 2, 3),
			want:   []want{{"a", 3, 4, 0}},
			stats:  RuleStats{Matched: 4, Alerts: 1},
		},
		{
			name: "window is half-open: an event exactly window old is out",
			rule: threshold(10*time.Second, 0, 2, "ip"),
			// At T=10 the window (0,10] holds 5 and 10 only.
			events: fails("a", 0, 5, 10),
			stats:  RuleStats{Matched: 3},
		},
		{
			name:   "window is half-open: just inside the window counts",
			rule:   threshold(10*time.Second, 0, 2, "ip"),
			events: fails("a", 0.001, 5, 10),
			want:   []want{{"a", 10, 3, 0.001}},
			stats:  RuleStats{Matched: 3, Alerts: 1},
		},
		{
			name:   "groups count separately",
			rule:   threshold(10*time.Second, 0, 1, "ip"),
			events: append(fails("a", 0), fails("b", 2, 3, 4)...),
			want:   []want{{"b", 3, 2, 2}},
			stats:  RuleStats{Matched: 4, Alerts: 1},
		},
		{
			name:   "no group_by is one global group",
			rule:   threshold(10*time.Second, 0, 2),
			events: append(fails("a", 0, 1), fails("b", 2)...),
			want:   []want{{"", 2, 3, 0}},
			stats:  RuleStats{Matched: 3, Alerts: 1},
		},
		{
			name: "non-matching events are not counted",
			rule: threshold(10*time.Second, 0, 1, "ip"),
			events: []in{
				{0, "type=fail ip=a"}, {1, "type=ok ip=a"}, {2, "type=ok ip=a"},
			},
			stats: RuleStats{Matched: 1},
		},
		{
			name: "an event missing a group_by field is ungrouped, not counted",
			rule: threshold(10*time.Second, 0, 1, "ip"),
			events: []in{
				{0, "type=fail"}, {1, "type=fail"}, {2, "type=fail ip=a"},
			},
			stats: RuleStats{Matched: 3, Ungrouped: 2},
		},
		{
			name:   "threshold 0 fires on the first event",
			rule:   threshold(10*time.Second, 0, 0, "ip"),
			events: fails("a", 0, 1, 11),
			// 1 falls in the cooldown of 0 (T < 0+10); 11 does not.
			want:  []want{{"a", 0, 1, 0}, {"a", 11, 1, 11}},
			stats: RuleStats{Matched: 3, Alerts: 2},
		},
		{
			name:   "threshold 0 with cooldown 0 fires on every event",
			rule:   &Rule{ID: "r", Kind: KindThreshold, Match: failures, Window: time.Second, Cooldown: 0},
			events: fails("a", 0, 0, 0.5),
			want:   []want{{"", 0, 1, 0}, {"", 0, 2, 0}, {"", 0.5, 3, 0}},
			stats:  RuleStats{Matched: 3, Alerts: 3},
		},
		{
			name: "sustained attack re-alerts once per cooldown (default cooldown = window)",
			rule: threshold(10*time.Second, 0, 2, "ip"),
			// one failure a second from 0 to 25
			events: fails("a", seconds(0, 25, 1)...),
			// fires at 2 (0,1,2); cooling while T < 12; at 12 the window
			// (2,12] holds 3..12 = 10 events; cooling while T < 22; at 22: 13..22.
			want:  []want{{"a", 2, 3, 0}, {"a", 12, 10, 3}, {"a", 22, 10, 13}},
			stats: RuleStats{Matched: 26, Alerts: 3},
		},
		{
			name: "cooldown longer than the window",
			rule: threshold(10*time.Second, 60*time.Second, 2, "ip"),
			// one failure every 2 s from 0 to 80
			events: fails("a", seconds(0, 80, 2)...),
			// fires at 4 (0,2,4); cooling while T < 64; at 64 the window
			// (54,64] holds 56..64 = 5 events.
			want:  []want{{"a", 4, 3, 0}, {"a", 64, 5, 56}},
			stats: RuleStats{Matched: 41, Alerts: 2},
		},
		{
			name: "counting continues through a cooldown that ends with a quiet window",
			rule: threshold(10*time.Second, 30*time.Second, 2, "ip"),
			// burst, silence past the cooldown, then a new burst.
			events: fails("a", 0, 1, 2, 3, 40, 41, 42),
			want:   []want{{"a", 2, 3, 0}, {"a", 42, 3, 40}},
			stats:  RuleStats{Matched: 7, Alerts: 2},
		},
		{
			name: "late event inside the window is counted",
			rule: threshold(10*time.Second, 0, 2, "ip"),
			// T=9; the late event at 5 is inside (-1, 9].
			events: fails("a", 0, 9, 5),
			want:   []want{{"a", 9, 3, 0}},
			stats:  RuleStats{Matched: 3, Alerts: 1},
		},
		{
			name: "late event outside the window is ignored and tallied",
			rule: threshold(10*time.Second, 0, 2, "ip"),
			// T=20; events at 10 (= T − window) and 3 are outside (10, 20].
			events: fails("a", 15, 20, 10, 3),
			stats:  RuleStats{Matched: 4, Late: 2},
		},
		{
			name: "late event moves first_seen back",
			rule: threshold(10*time.Second, 0, 3, "ip"),
			// T=9; late 1 is inserted before 4.
			events: fails("a", 4, 8, 9, 1),
			want:   []want{{"a", 9, 4, 1}},
			stats:  RuleStats{Matched: 4, Alerts: 1},
		},
		{
			name:    "the least recently used group is evicted beyond max_keys",
			rule:    threshold(10*time.Second, 0, 1, "ip"),
			maxKeys: 2,
			// a, b, then c evicts a (least recently used); a's first
			// failure is forgotten, so a's second does not fire.
			events: append(append(fails("a", 0), fails("b", 1)...), append(fails("c", 2), fails("a", 3, 4)...)...),
			want:   []want{{"a", 4, 2, 3}},
			stats:  RuleStats{Matched: 5, Evicted: 2, Alerts: 1},
		},
		{
			name:    "touching a group keeps it from eviction",
			rule:    threshold(10*time.Second, 0, 1, "ip"),
			maxKeys: 2,
			events:  append(append(fails("a", 0), fails("b", 1)...), append(fails("a", 2), fails("c", 3)...)...),
			// c evicts b, not a: a has two failures in the window.
			want:  []want{{"a", 2, 2, 0}},
			stats: RuleStats{Matched: 4, Evicted: 1, Alerts: 1},
		},
		{
			name: "distinct counts distinct non-empty values",
			rule: func() *Rule { r := threshold(10*time.Second, 0, 2, "ip"); r.Distinct = "key"; return r }(),
			events: []in{
				{0, "type=fail ip=a key=k1"}, {1, "type=fail ip=a key=k1"}, {2, "type=fail ip=a"},
				{3, "type=fail ip=a key="}, {4, "type=fail ip=a key=k2"}, {5, "type=fail ip=a key=k2"},
				{6, "type=fail ip=a key=k3"},
			},
			want:  []want{{"a", 6, 3, 0}},
			stats: RuleStats{Matched: 7, Alerts: 1},
		},
		{
			name: "distinct values leave the window with their last occurrence",
			rule: func() *Rule { r := threshold(10*time.Second, 0, 2, "ip"); r.Distinct = "key"; return r }(),
			events: []in{
				{0, "type=fail ip=a key=k1"}, {1, "type=fail ip=a key=k2"}, {9, "type=fail ip=a key=k1"},
				// At 11 the window (1,11] holds k1@9 and k3@11: 2 distinct.
				{11, "type=fail ip=a key=k3"},
				// At 12 it holds k1@9, k3@11, k4@12: 3.
				{12, "type=fail ip=a key=k4"},
			},
			want:  []want{{"a", 12, 3, 9}},
			stats: RuleStats{Matched: 5, Alerts: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine([]*Rule{tt.rule})
			e.MaxKeys = tt.maxKeys
			got := run(t, e, tt.events)
			check(t, got, tt.want)
			st := e.Stats()[0]
			st.Rule, st.Groups, st.Dropped = "", 0, 0
			if st != tt.stats {
				t.Errorf("stats: got %+v, want %+v", st, tt.stats)
			}
		})
	}
}

func seconds(from, to, step float64) []float64 {
	var out []float64
	for s := from; s <= to; s += step {
		out = append(out, s)
	}
	return out
}

// TestThresholdMatchesBruteForce compares the engine with a direct reading
// of the normative semantics over random in-order and out-of-order input.
func TestThresholdMatchesBruteForce(t *testing.T) {
	for seed := range uint64(200) {
		rng := newRand(seed)
		window := time.Duration(1+rng.n(20)) * time.Second
		cool := time.Duration(rng.n(40)) * time.Second
		th := rng.n(6)
		r := threshold(window, 0, th, "ip")
		r.Cooldown = cool
		distinct := rng.n(3) == 0
		if distinct {
			r.Distinct = "key"
		}
		var events []in
		now, latest := 0.0, 0.0
		for range 150 {
			now += float64(rng.n(2000)) / 1000
			at := now
			switch rng.n(12) {
			case 0, 1: // out of order by up to 15 s
				at -= float64(rng.n(15000)) / 1000
			case 2: // exactly the allowance behind the rule's time, often a new group
				at = latest - 15
			}
			latest = max(latest, at)
			f := fmt.Sprintf("type=fail ip=%c", 'a'+rng.n(6))
			if distinct {
				if k := rng.n(5); k > 0 {
					f += fmt.Sprintf(" key=k%d", k)
				}
			}
			events = append(events, in{at, f})
		}
		e := NewEngine([]*Rule{r})
		e.MaxLateness = 15 * time.Second // the input is never later than that
		got := run(t, e, events)
		checkLines(t, got, bruteForce(r, events))
		if t.Failed() {
			t.Fatalf("seed %d (window %v cooldown %v threshold %d distinct %v)", seed, window, cool, th, distinct)
		}
	}
}

// bruteForce evaluates the threshold semantics of docs/rules.md literally:
// after each event, per group, count the received events in (T − window, T].
func bruteForce(r *Rule, events []in) []string {
	type st struct {
		seen      []event.Event // received and counted events
		t         time.Time
		fired     bool
		coolUntil time.Time
	}
	groups := map[string]*st{}
	var out []string
	for _, i := range events {
		ev := mkEvent(i)
		if !r.Match.Eval(ev) {
			continue
		}
		ip, _ := ev.Get("ip")
		g := groups[ip]
		if g == nil {
			g = &st{t: ev.Time}
			groups[ip] = g
		}
		if ev.Time.After(g.t) {
			g.t = ev.Time
		}
		lo := g.t.Add(-r.Window)
		if !ev.Time.After(lo) {
			continue // late: ignored
		}
		g.seen = append(g.seen, *ev)
		count := 0
		vals := map[string]bool{}
		var first time.Time
		for _, s := range g.seen {
			if !s.Time.After(lo) || s.Time.After(g.t) {
				continue
			}
			if r.Distinct != "" {
				v, _ := s.Get(r.Distinct)
				if v == "" {
					continue
				}
				vals[v] = true
			} else {
				count++
			}
			if first.IsZero() || s.Time.Before(first) {
				first = s.Time
			}
		}
		if r.Distinct != "" {
			count = len(vals)
		}
		if count > r.Threshold && !(g.fired && g.t.Before(g.coolUntil)) {
			g.fired = true
			g.coolUntil = g.t.Add(r.Cooldown)
			out = append(out, describe(ip, g.t, count, first))
		}
	}
	return out
}

// rand is a small deterministic generator (splitmix64), so the test does not
// depend on math/rand's sequence across Go versions.
type rand struct{ s uint64 }

func newRand(seed uint64) *rand { return &rand{seed} }

func (r *rand) n(n int) int {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	z ^= z >> 31
	return int(z % uint64(n))
}

func TestGroupDroppedAfterWindowAndCooldown(t *testing.T) {
	r := threshold(10*time.Second, 30*time.Second, 1, "ip")
	e := NewEngine([]*Rule{r})
	e.MaxLateness = 5 * time.Second
	check(t, run(t, e, fails("a", 0, 1)), []want{{"a", 1, 2, 0}})
	// b's events move the rule's time past a's window but not its
	// cooldown (31) plus the lateness allowance.
	run(t, e, fails("b", 20))
	e.Advance(at(100))                  // the wall clock does not expire groups: event time does
	run(t, e, []in{{40, "type=other"}}) // nor do events the rule does not match
	run(t, e, fails("b", 35.9))
	if got := e.Stats()[0].Groups; got != 2 {
		t.Fatalf("groups: got %d, want 2 (a's cooldown ends at 31, plus 5 s lateness)", got)
	}
	run(t, e, fails("b", 36))
	e.Advance(at(100))
	st := e.Stats()[0]
	if st.Groups != 1 || st.Dropped != 1 {
		t.Fatalf("after window and cooldown: got groups %d dropped %d, want 1 (b) and 1 (a)", st.Groups, st.Dropped)
	}
	// An event for a that is older than the rule's time minus the
	// allowance is late: a's state is gone and a fresh group would
	// misjudge it.
	if got := e.Observe(mkEvent(in{30, "type=fail ip=a"})); len(got) != 0 {
		t.Fatalf("got %d alerts, want 0", len(got))
	}
	if st := e.Stats()[0]; st.Late != 1 || st.Groups != 1 {
		t.Fatalf("very late event: got late %d groups %d, want 1 and 1", st.Late, st.Groups)
	}
}

// Each rule judges lateness by its own time: a rule reading a source whose
// events lag another source's by hours (a backlog being read while the
// other log is at the present) counts them as replay would, where one
// clock for the whole engine would call them late.
func TestRuleTimeIsPerRule(t *testing.T) {
	fast := &Rule{ID: "fast", Severity: "high", Kind: KindThreshold, GroupBy: []string{"ip"},
		Match: &Match{Kind: MatchField, Field: "type", Tests: []Test{{Op: OpEq, Values: []string{"other"}}}}, Window: 10 * time.Second, Threshold: 0, Cooldown: time.Second}
	slow := threshold(10*time.Second, 0, 2, "ip")
	e := NewEngine([]*Rule{fast, slow})
	e.MaxLateness = 5 * time.Second
	var got []Alert
	for i := range 3 {
		// The two sources interleave; the slow one is an hour behind.
		got = append(got, run(t, e, []in{{3600 + float64(i), "type=other ip=x"}})...)
		got = append(got, run(t, e, fails("a", float64(i)))...)
	}
	var slowAlerts []Alert
	for _, a := range got {
		if a.Rule.ID == slow.ID {
			slowAlerts = append(slowAlerts, a)
		}
	}
	check(t, slowAlerts, []want{{"a", 2, 3, 0}})
	if st := e.Stats()[1]; st.Late != 0 {
		t.Errorf("slow rule: %d events late, want 0", st.Late)
	}
}

func TestAlertIDStable(t *testing.T) {
	r := threshold(10*time.Second, 0, 1, "ip")
	a1 := run(t, NewEngine([]*Rule{r}), fails("a", 0, 1))
	a2 := run(t, NewEngine([]*Rule{r}), fails("a", 0, 1))
	b := run(t, NewEngine([]*Rule{r}), fails("a", 0.5, 1))
	if len(a1) != 1 || len(a2) != 1 || len(b) != 1 {
		t.Fatalf("got %d, %d, %d alerts, want 1 each", len(a1), len(a2), len(b))
	}
	if a1[0].ID != a2[0].ID {
		t.Errorf("same input: ids %s and %s differ", a1[0].ID, a2[0].ID)
	}
	if a1[0].ID == b[0].ID {
		t.Errorf("different window start: ids are both %s", b[0].ID)
	}
	if len(a1[0].ID) != 32 {
		t.Errorf("id %q: want 32 hex digits", a1[0].ID)
	}
}

func TestSamples(t *testing.T) {
	r := threshold(10*time.Second, 0, 4, "ip")
	e := NewEngine([]*Rule{r})
	var evs []in
	for i := range 5 {
		evs = append(evs, in{float64(i), fmt.Sprintf("type=fail ip=a n=%d authorization=Bearer-xyz", i)})
	}
	got := run(t, e, evs)
	if len(got) != 1 {
		t.Fatalf("got %d alerts, want 1", len(got))
	}
	var ns []string
	for _, s := range got[0].Samples {
		n, _ := s.Get("n")
		ns = append(ns, n)
	}
	if g := strings.Join(ns, ","); g != "2,3,4" {
		t.Errorf("samples: got n=%s, want the last three (2,3,4)", g)
	}
	// That the document redacts the samples' authorization is checked
	// where the document is made (alerting's TestNewDocumentRedactsSamples).
}

func TestAbsent(t *testing.T) {
	r := &Rule{ID: "quiet", Kind: KindAbsent, Match: failures, GroupBy: []string{"ip"}, Absent: 10 * time.Second}
	r.Cooldown = r.Absent
	tests := []struct {
		name    string
		events  []in
		advance float64 // 0: none
		want    []want
	}{
		{"never seen never fires", []in{{0, "type=ok ip=a"}, {100, "type=ok ip=a"}}, 0, nil},
		{"fires at last sighting plus the duration", append(fails("a", 0, 5), in{20, "type=ok ip=z"}), 0,
			[]want{{"a", 15, 0, 5}}},
		{"an event exactly at the deadline keeps it quiet", fails("a", 0, 10), 0, nil},
		{"each group separately", append(fails("a", 0), append(fails("b", 8), in{18.5, "type=ok"})...), 0,
			[]want{{"a", 10, 0, 0}, {"b", 18, 0, 8}}},
		{"advance fires in live mode", fails("a", 0), 10.001, []want{{"a", 10, 0, 0}}},
		{"advance to the deadline does not fire yet", fails("a", 0), 10, nil},
		{"another event at the deadline does not fire it", append(fails("a", 0), in{10, "type=ok"}), 0, nil},
		{"nor before the group's own event of that instant", append(fails("a", 0), in{10, "type=ok"}, in{10, "type=fail ip=a"}, in{19, "type=ok"}), 0, nil},
		{"re-armed after firing", append(fails("a", 0), append(fails("a", 30), in{45, "type=ok"})...), 0,
			[]want{{"a", 10, 0, 0}, {"a", 40, 0, 30}}},
		{"late sighting does not move the deadline back", append(fails("a", 5, 1), in{14, "type=ok"}), 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine([]*Rule{r})
			got := run(t, e, tt.events)
			if tt.advance > 0 {
				got = append(got, e.Advance(at(tt.advance))...)
			}
			check(t, got, tt.want)
		})
	}
}

func TestSequence(t *testing.T) {
	success := &Match{Kind: MatchField, Field: "type", Tests: []Test{{Op: OpEq, Values: []string{"ok"}}}}
	r := &Rule{ID: "brute-force-worked", Kind: KindSequence, GroupBy: []string{"ip"}, Window: 60 * time.Second,
		Cooldown: 60 * time.Second, Steps: []Step{{Match: failures, Threshold: 2}, {Match: success}}}
	ok := func(ip string, s float64) in { return in{s, "type=ok ip=" + ip} }
	tests := []struct {
		name   string
		events []in
		want   []want
	}{
		{"three failures then a success fires", append(fails("a", 0, 1, 2), ok("a", 3)), []want{{"a", 3, 4, 0}}},
		{"two failures then a success does not", append(fails("a", 0, 1), ok("a", 3)), nil},
		{"success before the failures does not", append([]in{ok("a", 0)}, fails("a", 1, 2, 3)...), nil},
		{"success after the failures, later in the window", append([]in{ok("a", 0)}, append(fails("a", 1, 2, 3), ok("a", 50))...),
			[]want{{"a", 50, 4, 1}}},
		{"steps must fit in the window", append(fails("a", 0, 1, 2), ok("a", 61)), nil},
		{"another group's success does not count", append(fails("a", 0, 1, 2), ok("b", 3)), nil},
		{"consumed after firing; cooldown applies", append(append(fails("a", 0, 1, 2), ok("a", 3), ok("a", 4)),
			append(fails("a", 70, 71, 72), ok("a", 73))...), []want{{"a", 3, 4, 0}, {"a", 73, 4, 70}}},
		{"ties on time are ordered by arrival", append(fails("a", 5, 5, 5), ok("a", 5)), []want{{"a", 5, 4, 5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, run(t, NewEngine([]*Rule{r}), tt.events), tt.want)
		})
	}
}

func TestTrace(t *testing.T) {
	r := threshold(10*time.Second, 0, 1, "ip")
	e := NewEngine([]*Rule{r})
	var outcomes []string
	e.Trace = func(tr Trace) { outcomes = append(outcomes, tr.Outcome) }
	run(t, e, append(fails("a", 0, 1, 2), in{3, "type=fail"}, in{-20, "type=fail ip=a"}, in{-598.5, "type=fail ip=b"}))
	want := []string{
		"count 1, fires above 1",
		"fired: count 2 > 1",
		"cooling down until 2026-01-28T19:00:11Z",
		`ungrouped: no field "ip"`,
		"late: before the group's window (T − window)",
		"late: would start a group but is more than max_lateness (10m0s) behind the rule's time 2026-01-28T19:00:02Z",
	}
	if strings.Join(outcomes, "\n") != strings.Join(want, "\n") {
		t.Errorf("outcomes:\ngot  %q\nwant %q", outcomes, want)
	}
}

func TestOutOfRangeTimeIgnored(t *testing.T) {
	e := NewEngine([]*Rule{threshold(10*time.Second, 0, 0)})
	ev := &event.Event{Time: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), Fields: []event.Field{{Key: "type", Value: "fail"}}}
	if got := e.Observe(ev); len(got) != 0 {
		t.Errorf("got %d alerts for a year-9999 event, want 0", len(got))
	}
	if !e.Now().IsZero() {
		t.Errorf("engine time moved to %v", e.Now())
	}
}

// TestSnapshotRestoreContinues splits an input at every point, snapshots the
// engine there (through JSON, as the daemon stores it), restores it into a
// new engine and checks the alerts equal those of one uninterrupted run.
func TestSnapshotRestoreContinues(t *testing.T) {
	success := &Match{Kind: MatchField, Field: "type", Tests: []Test{{Op: OpEq, Values: []string{"ok"}}}}
	distinct := threshold(10*time.Second, 0, 2, "ip")
	distinct.ID, distinct.Distinct, distinct.Hash = "distinct", "key", "h2"
	count := threshold(10*time.Second, 30*time.Second, 2, "ip")
	count.Hash = "h1"
	absent := &Rule{ID: "quiet", Hash: "h3", Kind: KindAbsent, Match: success, GroupBy: []string{"ip"}, Absent: 15 * time.Second}
	seq := &Rule{ID: "seq", Hash: "h4", Kind: KindSequence, GroupBy: []string{"ip"}, Window: 60 * time.Second,
		Cooldown: 60 * time.Second, Steps: []Step{{Match: failures, Threshold: 2}, {Match: success}}}
	rs := []*Rule{count, distinct, absent, seq}
	var events []in
	rng := newRand(7)
	for i := range 120 {
		typ := "fail"
		if rng.n(4) == 0 {
			typ = "ok"
		}
		events = append(events, in{float64(i) * 0.7, fmt.Sprintf("type=%s ip=%c key=k%d", typ, 'a'+rng.n(3), rng.n(4))})
	}
	whole := run(t, NewEngine(rs), events)
	if len(whole) < 10 {
		t.Fatalf("only %d alerts in the whole run; the test needs more to mean something", len(whole))
	}
	for cut := range len(events) + 1 {
		e1 := NewEngine(rs)
		got := run(t, e1, events[:cut])
		b, err := json.Marshal(e1.Snapshot())
		if err != nil {
			t.Fatal(err)
		}
		var snap Snapshot
		if err := json.Unmarshal(b, &snap); err != nil {
			t.Fatal(err)
		}
		e2 := NewEngine(rs)
		restored, discarded := e2.Restore(&snap)
		if len(restored) != len(rs) || len(discarded) != 0 {
			t.Fatalf("cut %d: restored %v discarded %v", cut, restored, discarded)
		}
		got = append(got, run(t, e2, events[cut:])...)
		if a, b := alertLines(got), alertLines(whole); a != b {
			t.Fatalf("cut %d: alerts differ from one uninterrupted run:\ngot:\n%s\nwant:\n%s", cut, a, b)
		}
	}
}

func alertLines(as []Alert) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "%s %s %v %s %d %d\n", a.ID, a.Rule.ID, a.Group, a.Time.Format(time.RFC3339Nano), a.Count, len(a.Samples))
	}
	return b.String()
}

func TestRestoreDiscardsChangedRules(t *testing.T) {
	r1 := threshold(10*time.Second, 0, 1, "ip")
	r1.Hash = "old"
	e1 := NewEngine([]*Rule{r1})
	run(t, e1, fails("a", 0))
	r2 := *r1
	r2.Hash, r2.Threshold = "new", 5
	e2 := NewEngine([]*Rule{&r2})
	restored, discarded := e2.Restore(e1.Snapshot())
	if len(restored) != 0 || len(discarded) != 1 {
		t.Fatalf("restored %v discarded %v, want the changed rule discarded", restored, discarded)
	}
	if got := e2.Stats()[0].Groups; got != 0 {
		t.Errorf("groups after discarding: got %d, want 0", got)
	}
}

func TestReplaceKeepsUnchangedWindows(t *testing.T) {
	keep := threshold(10*time.Second, 0, 1, "ip")
	keep.ID, keep.Hash = "keep", "k"
	change := threshold(10*time.Second, 0, 1, "ip")
	change.ID, change.Hash = "change", "c1"
	e := NewEngine([]*Rule{keep, change})
	run(t, e, fails("a", 0))
	changed := *change
	changed.Hash = "c2"
	kept, started := e.Replace([]*Rule{keep, &changed})
	if strings.Join(kept, ",") != "keep" || strings.Join(started, ",") != "change" {
		t.Fatalf("kept %v started %v", kept, started)
	}
	// keep remembers a's first failure and fires on the second; change
	// starts empty and does not.
	got := run(t, e, fails("a", 1))
	if len(got) != 1 || got[0].Rule.ID != "keep" {
		t.Fatalf("got %s, want one alert from keep", alertLines(got))
	}
}
