package rules

import (
	"time"

	"github.com/secwatch/secwatch/internal/event"
)

// SnapshotVersion is the version of the Snapshot format.
const SnapshotVersion = 1

// Snapshot is an engine's complete state: windows, cooldowns, absent
// deadlines, sequence progress and counters. The daemon saves it with the
// source cursors of the last event the engine observed, so that a restart
// resumes exactly where the saved state left off. The daemon writes it in
// the binary encoding of snapshot_binary.go (AppendSnapshot) and reads it
// from that encoding (DecodeSnapshot) or from the JSON checkpoints of
// earlier versions, through the json tags below.
type Snapshot struct {
	Version int            `json:"version"`
	Now     int64          `json:"now"`
	Clock   int64          `json:"clock"`
	Seq     uint64         `json:"seq"`
	Rules   []RuleSnapshot `json:"rules"`
}

// RuleSnapshot is one rule's state. Hash identifies the rule definition the
// state belongs to: state is restored only into a rule with the same id and
// hash.
type RuleSnapshot struct {
	ID    string    `json:"id"`
	Hash  string    `json:"hash"`
	Stats RuleStats `json:"stats"`
	// Now is the rule's time (the greatest time among its matched events;
	// 0 if it matched none). Nil in snapshots written before rules had a
	// time of their own: the engine time stands in for it.
	Now    *int64          `json:"rule_now,omitempty"`
	Groups []GroupSnapshot `json:"groups,omitempty"` // list order, front first
}

// GroupSnapshot is one group's state.
type GroupSnapshot struct {
	Group     []event.Field    `json:"group,omitempty"`
	T         int64            `json:"t"`
	Times     []int64          `json:"times,omitempty"`
	Vals      []string         `json:"vals,omitempty"`
	Fired     bool             `json:"fired,omitempty"`
	CoolUntil int64            `json:"cool_until,omitempty"`
	Last      int64            `json:"last,omitempty"`
	Steps     [][][2]int64     `json:"steps,omitempty"` // per step: [ts, arrival seq]
	Samples   []SampleSnapshot `json:"samples,omitempty"`
}

// SampleSnapshot is a kept sample event.
type SampleSnapshot struct {
	Time   int64         `json:"time"`
	Fields []event.Field `json:"fields"`
}

// Restore loads a snapshot into an engine that has observed nothing yet.
// The state of each rule whose id and hash match a snapshot rule is
// restored; state of rules that changed or no longer exist is discarded.
// It returns the ids of the rules restored and of the snapshot rules
// discarded.
func (e *Engine) Restore(s *Snapshot) (restored, discarded []string) {
	if s == nil || s.Version != SnapshotVersion {
		return nil, nil
	}
	e.FinishCapture()
	if s.Now > e.now {
		e.now = s.Now
	}
	if s.Clock > e.clock {
		e.clock = s.Clock
	}
	if s.Seq > e.seq {
		e.seq = s.Seq
	}
	byID := make(map[string]*ruleState, len(e.rules))
	for _, rs := range e.rules {
		byID[rs.rule.ID] = rs
	}
	for _, r := range s.Rules {
		rs, ok := byID[r.ID]
		if !ok || rs.rule.Hash != r.Hash {
			discarded = append(discarded, r.ID)
			continue
		}
		rs.stats = r.Stats
		rs.stats.Rule = rs.rule.ID
		rs.now = s.Now
		if r.Now != nil {
			rs.now = *r.Now
		}
		rs.groups = newGroupSet(e.maxKeys())
		for _, gs := range r.Groups {
			g := restoreGroup(gs, rs.rule)
			for _, f := range g.fields {
				if isSealed(f.Value) {
					rs.sealed++
					break
				}
			}
			if rs.groups.insert(g) != nil {
				rs.stats.Evicted++
			}
		}
		restored = append(restored, r.ID)
	}
	return restored, discarded
}

func (e *Engine) maxKeys() int {
	if e.MaxKeys > 0 {
		return e.MaxKeys
	}
	return DefaultMaxKeys
}

func restoreGroup(gs GroupSnapshot, r *Rule) *group {
	g := &group{
		fields:    gs.Group,
		seen:      true,
		t:         gs.T,
		times:     gs.Times,
		fired:     gs.Fired,
		coolUntil: gs.CoolUntil,
		last:      gs.Last,
	}
	var key []byte
	for _, f := range gs.Group {
		key = appendUvarint(key, uint64(len(f.Value)))
		key = append(key, f.Value...)
	}
	g.key, g.keyCap = string(key), 0 // not setKey's memory (engine_state.go)
	if r.Distinct != "" {
		g.restoreDistinct(gs.Vals)
		for _, v := range g.dist.vs {
			if v.n > 0 && isSealed(v.v) {
				g.dist.sealed++
			}
		}
	}
	if r.Kind == KindSequence {
		g.steps = make([][]seqEvent, len(r.Steps))
		for i := range g.steps {
			if i < len(gs.Steps) {
				for _, se := range gs.Steps[i] {
					g.steps[i] = append(g.steps[i], seqEvent{ts: se[0], seq: uint64(se[1])})
				}
			}
		}
	}
	for _, smp := range gs.Samples {
		g.addSample(&event.Event{Time: time.Unix(0, smp.Time).UTC(), Fields: smp.Fields})
	}
	return g
}

// Replace swaps the engine's rules for rs, as on a hot reload. Rules whose
// id and hash are unchanged keep their windows, cooldowns and counters;
// changed and new rules start empty. It returns the ids kept and the ids
// (re)started.
func (e *Engine) Replace(rs []*Rule) (kept, started []string) {
	e.FinishCapture() // the image holds the rules as they were
	old := make(map[string]*ruleState, len(e.rules))
	for _, st := range e.rules {
		old[st.rule.ID] = st
	}
	next := make([]*ruleState, 0, len(rs))
	for _, r := range rs {
		if st, ok := old[r.ID]; ok && st.rule.Hash == r.Hash && r.Hash != "" {
			st.rule = r
			next = append(next, st)
			kept = append(kept, r.ID)
			continue
		}
		next = append(next, newRuleState(r))
		started = append(started, r.ID)
	}
	e.rules = next
	return kept, started
}
