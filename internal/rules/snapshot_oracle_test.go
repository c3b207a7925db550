package rules

import (
	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/redact"
)

// The engine's state as a Snapshot value, built directly from the engine.
// The daemon no longer needs it (it encodes the state in place with
// AppendSnapshot); the tests keep it as the independent account of the state
// that DecodeSnapshot(AppendSnapshot()) must equal, and to write the JSON
// snapshots of earlier versions.

// Snapshot captures the engine's state. The result shares nothing with the
// engine.
func (e *Engine) Snapshot() *Snapshot {
	s := &Snapshot{Version: SnapshotVersion, Now: e.now, Clock: e.clock, Seq: e.seq}
	for _, rs := range e.rules {
		now := rs.now
		r := RuleSnapshot{ID: rs.rule.ID, Hash: rs.rule.Hash, Stats: rs.stats, Now: &now}
		r.Stats.Groups = 0
		if rs.groups != nil {
			for g := rs.groups.front; g != nil; g = g.next {
				r.Groups = append(r.Groups, g.snapshot(rs.rule))
			}
		}
		s.Rules = append(s.Rules, r)
	}
	return s
}

// snapshot is g as a snapshot stores it: group and distinct values sealed,
// samples redacted.
func (g *group) snapshot(r *Rule) GroupSnapshot {
	gs := GroupSnapshot{
		Group:     append([]event.Field(nil), sealFields(nil, r.Hash, g.fields)...),
		T:         g.t,
		Times:     append([]int64(nil), g.times[g.head:]...),
		Fired:     g.fired,
		CoolUntil: g.coolUntil,
		Last:      g.last,
	}
	gs.Vals = g.distinctVals()
	for i, v := range gs.Vals {
		gs.Vals[i] = sealValue(nil, r.Hash, r.Distinct, v, false)
	}
	for _, st := range g.steps {
		var evs [][2]int64
		for _, se := range st {
			evs = append(evs, [2]int64{se.ts, int64(se.seq)})
		}
		gs.Steps = append(gs.Steps, evs)
	}
	for _, smp := range g.sampleEvents() {
		fs := append([]event.Field(nil), smp.Fields...)
		for i := range fs {
			fs[i].Value = redact.Value(fs[i].Key, fs[i].Value)
		}
		gs.Samples = append(gs.Samples, SampleSnapshot{Time: smp.Time.UnixNano(), Fields: fs})
	}
	return gs
}

// distinctVals returns the value of every entry in the window, in times
// order (for a snapshot).
func (g *group) distinctVals() []string {
	if g.dist == nil {
		return nil
	}
	out := make([]string, 0, len(g.dist.ids)-g.head)
	for _, i := range g.dist.ids[g.head:] {
		out = append(out, g.dist.vs[i].v)
	}
	return out
}
