package rules

import (
	"fmt"
	"sort"
	"time"

	"github.com/secwatch/secwatch/internal/event"
)

// observeAbsent records the last time each group of an absent rule was seen.
// Groups are kept ordered by that time so that checkAbsent only looks at the
// front.
func (e *Engine) observeAbsent(rs *ruleState, ev *event.Event, ts int64, out []Alert) []Alert {
	r := rs.rule
	if !r.Match.Eval(ev) {
		return out
	}
	rs.stats.Matched++
	g := e.groupFor(rs, ev, ts)
	if g == nil {
		return out
	}
	if !g.seen || ts >= g.last {
		g.seen = true
		g.last = ts
		g.t = ts
		g.resetSamples()
		e.keepSample(g, ev)
	}
	rs.groups.placeByLast(g)
	due := time.Unix(0, g.last+rs.absent).UTC()
	if e.Trace != nil { // formatting allocates: only when tracing
		e.trace(rs, ev, g, 1, false, "seen; fires if nothing matches until "+event.FormatTime(due))
	}
	return out
}

// checkAbsent fires for every group whose deadline (last sighting plus the
// absent duration) is strictly before now: an event at the deadline is in
// time, and until time has passed it another event of that instant may
// still come, in whatever order sources deliver it. The alert time is the
// deadline, so live and replay agree.
func (e *Engine) checkAbsent(rs *ruleState, now int64, out []Alert) []Alert {
	if rs.groups == nil {
		return out
	}
	r := rs.rule
	for g := rs.groups.front; g != nil && g.last+rs.absent < now; g = rs.groups.front {
		rs.groups.remove(g) // a capture copied every absent rule's group when it began
		last := time.Unix(0, g.last).UTC()
		samples := g.sampleEvents()
		src := ""
		if len(samples) > 0 {
			src = sourceOf(&samples[0])
		}
		out = append(out, Alert{
			ID:        alertID(r.ID, g.fields, last, g.last+rs.absent, 0),
			Rule:      r,
			Group:     g.fields,
			Time:      time.Unix(0, g.last+rs.absent).UTC(),
			FirstSeen: last,
			Samples:   samples,
			Source:    src,
		})
		e.release(g)
		rs.stats.Alerts++
	}
	return out
}

// seqEvent is one recorded step event; events are ordered by time, then by
// arrival.
type seqEvent struct {
	ts  int64
	seq uint64
}

func (a seqEvent) after(b seqEvent) bool {
	return a.ts > b.ts || a.ts == b.ts && a.seq > b.seq
}

// observeSequence implements sequence rules: the steps must complete in
// order, each with more than its threshold events after the previous step's
// completion, all within (T − window, T].
func (e *Engine) observeSequence(rs *ruleState, ev *event.Event, ts int64, out []Alert) []Alert {
	r := rs.rule
	var matched uint64 // bit i: step i matches (sequences have few steps)
	for i := range r.Steps {
		if i < 64 && r.Steps[i].Match.Eval(ev) {
			matched |= 1 << i
		}
	}
	if matched == 0 {
		return out
	}
	rs.stats.Matched++
	g := e.groupFor(rs, ev, ts)
	if g == nil {
		return out
	}
	if g.steps == nil {
		g.steps = make([][]seqEvent, len(r.Steps))
	}
	if !g.seen || ts > g.t {
		g.seen = true
		g.t = ts
	}
	lo := g.t - rs.window
	if ts <= lo {
		rs.stats.Late++
		e.trace(rs, ev, g, 0, false, "late: before the group's window (T − window)")
		return out
	}
	se := seqEvent{ts: ts, seq: e.seq}
	for i := range g.steps {
		if matched&(1<<i) != 0 {
			g.steps[i] = insertSeq(g.steps[i], se)
		}
		g.steps[i] = expireSeq(g.steps[i], lo)
	}
	done, used, first, end := chain(r.Steps, g.steps)
	if done >= 1 {
		e.keepSample(g, ev)
	}
	if done < len(r.Steps) {
		if e.Trace != nil { // formatting allocates: only when tracing
			e.trace(rs, ev, g, used, false, fmt.Sprintf("%d of %d steps complete", done, len(r.Steps)))
		}
		return out
	}
	if g.fired && g.t < g.coolUntil {
		if e.Trace != nil { // formatting allocates: only when tracing
			e.trace(rs, ev, g, used, false, "sequence complete; cooling down until "+event.FormatTime(time.Unix(0, g.coolUntil)))
		}
		return out
	}
	g.fired = true
	g.coolUntil = g.t + rs.cool
	firstT := time.Unix(0, first).UTC()
	a := Alert{
		ID:        alertID(r.ID, g.fields, firstT, g.t, used),
		Rule:      r,
		Group:     g.fields,
		Count:     used,
		Time:      time.Unix(0, g.t).UTC(),
		FirstSeen: firstT,
		Samples:   g.takeSamples(),
		Source:    sourceOf(ev),
	}
	// The alert took the samples: the next one starts from a pooled ring.
	e.release(g)
	for i := range g.steps { // consume what the alert used and everything before it
		s := g.steps[i]
		k := sort.Search(len(s), func(j int) bool { return s[j].after(end) })
		g.steps[i] = append(s[:0], s[k:]...)
	}
	rs.stats.Alerts++
	e.trace(rs, ev, g, used, true, "fired: sequence complete")
	return append(out, a)
}

// chain finds the earliest completion of the steps in order. It returns how
// many steps complete, the events used, the time of the first step-1 event
// used, and the event that completed the last complete step.
func chain(steps []Step, recorded [][]seqEvent) (done, used int, first int64, end seqEvent) {
	cursor := seqEvent{ts: -1 << 63}
	for i, st := range steps {
		s := recorded[i]
		j := sort.Search(len(s), func(k int) bool { return s[k].after(cursor) })
		need := st.Threshold + 1
		if len(s)-j < need {
			return done, used, first, cursor
		}
		if i == 0 {
			first = s[j].ts
		}
		cursor = s[j+need-1]
		used += need
		done++
	}
	return done, used, first, cursor
}

func insertSeq(s []seqEvent, x seqEvent) []seqEvent {
	if len(s) == 0 || x.after(s[len(s)-1]) {
		return append(s, x)
	}
	i := sort.Search(len(s), func(k int) bool { return s[k].after(x) })
	s = append(s, seqEvent{})
	copy(s[i+1:], s[i:])
	s[i] = x
	return s
}

func expireSeq(s []seqEvent, lo int64) []seqEvent {
	k := 0
	for k < len(s) && s[k].ts <= lo {
		k++
	}
	if k == 0 {
		return s
	}
	return append(s[:0], s[k:]...)
}
