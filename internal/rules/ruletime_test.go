package rules

import (
	"testing"
	"time"
)

// driftRules and driftEvents: two rules reading two sources whose times
// are an hour apart, interleaved as a live daemon reads them.
func driftRules() []*Rule {
	fast := &Rule{ID: "fast", Hash: "hf", Severity: "high", Kind: KindThreshold, GroupBy: []string{"ip"},
		Match:  &Match{Kind: MatchField, Field: "type", Tests: []Test{{Op: OpEq, Values: []string{"other"}}}},
		Window: 10 * time.Second, Threshold: 3, Cooldown: time.Minute}
	slow := threshold(10*time.Second, 0, 2, "ip")
	slow.Hash = "hs"
	return []*Rule{fast, slow}
}

func driftEvents() []in {
	var evs []in
	for i := range 40 {
		evs = append(evs, in{3600 + float64(i), "type=other ip=x"})
		evs = append(evs, in{float64(i), "type=fail ip=" + string(rune('a'+i%3))})
	}
	return evs
}

// A restart keeps each rule's time: an engine restored at any cut goes on
// exactly as the uninterrupted one, late tallies included.
func TestRuleTimeSurvivesSnapshot(t *testing.T) {
	rs := driftRules()
	events := driftEvents()
	e := NewEngine(rs)
	e.MaxLateness = 5 * time.Second
	whole := run(t, e, events)
	if len(whole) == 0 || e.Stats()[1].Late != 0 {
		t.Fatalf("uninterrupted run: %d alerts, slow rule late %d; want alerts and none late", len(whole), e.Stats()[1].Late)
	}
	wantStats := e.Stats()
	for cut := range len(events) + 1 {
		e1 := NewEngine(rs)
		e1.MaxLateness = 5 * time.Second
		got := run(t, e1, events[:cut])
		s, err := DecodeSnapshot(e1.AppendSnapshot(nil))
		if err != nil {
			t.Fatal(err)
		}
		e2 := NewEngine(rs)
		e2.MaxLateness = 5 * time.Second
		e2.Restore(s)
		got = append(got, run(t, e2, events[cut:])...)
		if a, b := alertLines(got), alertLines(whole); a != b {
			t.Fatalf("cut %d: alerts differ from one uninterrupted run:\ngot:\n%s\nwant:\n%s", cut, a, b)
		}
		if st := e2.Stats(); st[1].Late != wantStats[1].Late || st[0].Late != wantStats[0].Late {
			t.Fatalf("cut %d: late %d/%d, want %d/%d", cut, st[0].Late, st[1].Late, wantStats[0].Late, wantStats[1].Late)
		}
	}
}

// A snapshot of format 1 (before rules had a time of their own) restores
// every rule's time as the engine time, as those engines judged it.
func TestRuleTimeFromFormat1(t *testing.T) {
	rs := driftRules()
	e := NewEngine(rs)
	run(t, e, driftEvents()[:10])
	snap := e.Snapshot()
	old := encodeSnapshot(nil, snap, 1)
	if old[len(binaryMagic)] != 1 {
		t.Fatal("not a format-1 snapshot")
	}
	s, err := DecodeSnapshot(old)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Rules {
		if r.Now != nil {
			t.Errorf("rule %s: format 1 has no rule time, decoded %d", r.ID, *r.Now)
		}
	}
	e2 := NewEngine(rs)
	e2.Restore(s)
	for _, st := range e2.rules {
		if st.now != snap.Now {
			t.Errorf("rule %s: time %d after restoring format 1, want the engine time %d", st.rule.ID, st.now, snap.Now)
		}
	}
	// The current format keeps each rule's own time.
	s2, err := DecodeSnapshot(EncodeSnapshot(nil, snap))
	if err != nil {
		t.Fatal(err)
	}
	if *s2.Rules[1].Now >= *s2.Rules[0].Now || *s2.Rules[0].Now != snap.Now {
		t.Errorf("rule times %d and %d; want the slow rule's below the fast one's (%d)", *s2.Rules[1].Now, *s2.Rules[0].Now, snap.Now)
	}
}
