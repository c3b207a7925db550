package rules

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/secwatch/secwatch/internal/event"
)

// DefaultMaxKeys is the number of groups a rule keeps when MaxKeys is 0.
const DefaultMaxKeys = 100_000

// DefaultMaxLateness is the lateness allowance when MaxLateness is 0.
const DefaultMaxLateness = 10 * time.Minute

// Engine evaluates rules over a stream of events. It is pure: it never reads
// the clock, logs or does I/O; time advances only through event timestamps
// and Advance. An Engine is owned by one goroutine; it has no locks.
type Engine struct {
	// MaxKeys caps the groups kept per rule; the least recently used group
	// is evicted (and counted) beyond it. If MaxKeys is 0, DefaultMaxKeys is
	// used. Set it before the first Observe.
	MaxKeys int
	// MaxLateness is how far behind a rule's time (the greatest time
	// among the events it matched and grouped) an event may arrive and
	// still be judged exactly. A group's state is kept until MaxLateness
	// after its window and cooldown have both expired at the rule's time,
	// and an event that would start a group but is older than the rule's
	// time minus MaxLateness is tallied late (docs/rules.md, "Semantics",
	// 1–3 and 7). Each rule keeps its own time, so that a
	// source whose events lag another's (a backlog, a slower log) is judged
	// by the rules that read it as replay would judge it. Input never more
	// than MaxLateness out of order, as each rule sees it, is evaluated
	// exactly as docs/rules.md ("Semantics") says. If MaxLateness is 0,
	// DefaultMaxLateness is used. Set it before the first Observe.
	MaxLateness time.Duration
	// Trace, when set, is called for every rule an event matches, saying
	// what the engine did with it (for secwatch explain).
	Trace func(Trace)
	// Expand, when set, is called with an event before the engine keeps a
	// copy of it as an alert sample, at most once per observed event. A
	// pipeline whose parser extracted only the fields rules read
	// (FieldsRead) completes the event there, so that samples carry every
	// field; rule decisions never depend on it.
	Expand func(ev *event.Event)

	rules    []*ruleState
	expanded uint64 // seq of the last event passed to Expand
	idx      *ruleIndex
	noIndex  bool          // tests: evaluate every rule
	rings    []*sampleRing // sample buffers of dropped groups, for reuse
	now      int64         // engine time: the greatest event time seen (ns)
	clock    int64         // absent rules' time: now, or later if Advance said so
	seq      uint64
	keys     []groupKey // one per distinct group_by list among the rules (ruleState.keySlot)

	cap      *capture // the copy-on-write capture in progress (capture.go), or nil
	capBuf   capture  // its memory, reused
	capEpoch uint32   // the latest capture's; a group made since is marked with it
}

// groupKey is the group key of the current event for one group_by list,
// built once per event and shared by every rule grouping by that list: the
// length-prefixed values and their hash (groupSet).
type groupKey struct {
	groupBy []string
	seq     uint64 // the event it was built for (Engine.seq); 0: none
	key     []byte // reused
	hash    uint64
	missing string // the first group_by field the event lacks, if any
	ok      bool   // every field present
}

// Trace describes what one rule did with one matching event.
type Trace struct {
	Rule    *Rule
	Event   *event.Event
	Group   []event.Field // nil when the event was ungrouped
	Count   int           // events (or distinct values) in the window after this event
	Fired   bool
	Outcome string // human-readable: "fired", "count 3, fires above 10", …
}

// RuleStats are one rule's counters since the engine started.
type RuleStats struct {
	Rule      string
	Matched   int64 // events that matched the rule
	Ungrouped int64 // matched but missing a group_by field
	Late      int64 // matched but outside the group's current window
	Evicted   int64 // groups evicted by the MaxKeys cap
	Dropped   int64 // groups dropped after their window and cooldown expired
	Alerts    int64
	Groups    int // groups held now
}

type ruleState struct {
	rule    *Rule
	groups  *groupSet
	stats   RuleStats
	window  int64          // ns
	cool    int64          // ns
	absent  int64          // ns
	now     int64          // the rule's time: the greatest time among its matched, grouped events (ns)
	free    []*group       // dropped groups that never fired, for reuse (recycle)
	dists   []*distinctSet // their emptied distinct sets
	sealed  int            // restored groups still keyed by sealed values (snapshot_seal.go)
	keySlot int            // 1 + index of the rule's group_by list in Engine.keys; 0: not yet looked up
	capIdx  int32          // the rule's index at the latest BeginCapture
}

// group is one rule's state for one group key.
type group struct {
	// The fields an observed event reads and writes come first, in the
	// order the engine touches them (lookup, LRU order, window), so that a
	// match reaches as few cache lines as it can: with 50,000 groups a rule
	// most groups are not in any cache.
	key        string // length-prefixed group_by values; fields' values are substrings of it
	sameHash   *group // the next group of the set whose key has the same hash
	prev, next *group
	t          int64 // T: greatest timestamp among the group's events (ns)
	coolUntil  int64
	seen       bool   // t is set
	fired      bool   // (the flags and keyCap share a word: 50,000 groups a rule are common)
	keyCap     uint32 // bytes of the memory behind key, reused when the group is (newGroup)
	capEpoch   uint32 // the capture that copied the group, or during which it was made (capture.go)
	useSeq     uint64 // its place in its rule's list: numbered as it joins at the back (groupSet.pushBack)

	times []int64      // counted timestamps in the window, ascending, from head
	time2 [2]int64     // backs times while it holds two (most groups): no array elsewhere to reach
	head  int          // first live entry of times
	dist  *distinctSet // distinct rules: the value of each times entry

	samples *sampleRing  // up to MaxSamples, made when the group first keeps one
	steps   [][]seqEvent // sequence rules: each step's events, ascending
	hash    uint64       // keyHash(key)
	last    int64        // absent rules: greatest matching event time
	fields  []event.Field
	field1  [1]event.Field // backs fields for a single group_by field
}

// NewEngine returns an engine for rs. The rules are not copied and must not
// change while the engine uses them.
func NewEngine(rs []*Rule) *Engine {
	e := &Engine{}
	for _, r := range rs {
		e.rules = append(e.rules, newRuleState(r))
	}
	return e
}

func newRuleState(r *Rule) *ruleState {
	return &ruleState{
		rule:   r,
		stats:  RuleStats{Rule: r.ID},
		window: int64(r.Window),
		cool:   int64(r.Cooldown),
		absent: int64(r.Absent),
	}
}

// Rules returns the rules the engine evaluates.
func (e *Engine) Rules() []*Rule {
	out := make([]*Rule, len(e.rules))
	for i, rs := range e.rules {
		out[i] = rs.rule
	}
	return out
}

// Now returns the engine time: the greatest event time seen (zero before
// the first event). Advance does not move it: lateness and the dropping of
// expired groups follow event time only, so that a live daemon reading old
// logs judges them as replay does.
func (e *Engine) Now() time.Time {
	if e.now == 0 {
		return time.Time{}
	}
	return time.Unix(0, e.now).UTC()
}

// Stats returns every rule's counters, in rule order.
func (e *Engine) Stats() []RuleStats {
	out := make([]RuleStats, len(e.rules))
	for i, rs := range e.rules {
		out[i] = rs.stats
		if rs.groups != nil {
			out[i].Groups = rs.groups.len()
		}
	}
	return out
}

// Observe feeds one event to every rule and returns the alerts it causes, in
// rule order. ev is not retained: alerts carry copies of sample events.
// Events with a zero or out-of-range time are ignored.
func (e *Engine) Observe(ev *event.Event) []Alert {
	if !event.InRange(ev.Time) {
		return nil
	}
	ts := ev.Time.UnixNano()
	var out []Alert
	x := e.index()
	if x == nil {
		return e.observeAll(ev, ts)
	}
	if ts > e.clock {
		// Time moved on: groups whose deadline passed strictly before this
		// event were silent for the whole duration, whatever it matches.
		for _, i := range x.absent {
			out = e.checkAbsent(e.rules[i], ts, out)
		}
		e.clock = ts
	}
	if ts > e.now {
		e.now = ts
	}
	e.seq++
	x.selectRules(ev)
	for _, i := range x.visit() {
		if x.exact[i] { // the index tested the rule's whole match: it holds
			out = e.observeMatched(e.rules[i], ev, ts, out)
		} else {
			out = e.observeRule(e.rules[i], ev, ts, out)
		}
	}
	x.clear()
	for _, i := range x.absent {
		out = e.checkAbsent(e.rules[i], e.clock, out)
	}
	return out
}

// observeAll is Observe without the rule index: every rule evaluated.
func (e *Engine) observeAll(ev *event.Event, ts int64) []Alert {
	var out []Alert
	if ts > e.clock {
		for _, rs := range e.rules {
			if rs.rule.Kind == KindAbsent {
				out = e.checkAbsent(rs, ts, out)
			}
		}
		e.clock = ts
	}
	if ts > e.now {
		e.now = ts
	}
	e.seq++
	for _, rs := range e.rules {
		out = e.observeRule(rs, ev, ts, out)
	}
	for _, rs := range e.rules {
		if rs.rule.Kind == KindAbsent {
			out = e.checkAbsent(rs, e.clock, out)
		}
	}
	return out
}

func (e *Engine) observeRule(rs *ruleState, ev *event.Event, ts int64, out []Alert) []Alert {
	switch rs.rule.Kind {
	case KindThreshold:
		return e.observeThreshold(rs, ev, ts, out)
	case KindAbsent:
		return e.observeAbsent(rs, ev, ts, out)
	case KindSequence:
		return e.observeSequence(rs, ev, ts, out)
	}
	return out
}

// Advance moves the absent rules' clock forward to now (it never moves
// back) and returns the alerts of absent rules that became due; it also
// drops expired groups. Live mode calls it with the wall clock; replay never
// does.
func (e *Engine) Advance(now time.Time) []Alert {
	if !event.InRange(now) {
		return nil
	}
	if n := now.UnixNano(); n > e.clock {
		e.clock = n
	}
	var out []Alert
	for _, rs := range e.rules {
		switch rs.rule.Kind {
		case KindAbsent:
			out = e.checkAbsent(rs, e.clock, out)
		default:
			e.sweep(rs, -1)
		}
	}
	return out
}

// groupFor finds or creates ev's group. It returns nil when ev lacks a
// group_by field (counted as ungrouped) or would start a group but is late.
// Only a grouped event moves the rule's time (ts); expired groups are swept
// before the lookup, so that the group found is never one just dropped.
func (e *Engine) groupFor(rs *ruleState, ev *event.Event, ts int64) *group {
	r := rs.rule
	k := e.groupKey(rs, ev)
	if !k.ok {
		rs.stats.Ungrouped++
		if e.Trace != nil { // formatting allocates: only when tracing
			e.trace(rs, ev, nil, 0, false, fmt.Sprintf("ungrouped: no field %q", k.missing))
		}
		return nil
	}
	key := k.key
	rs.seen(ts)
	if r.Kind != KindAbsent {
		e.sweep(rs, 2)
	}
	if rs.groups == nil {
		rs.groups = newGroupSet(e.maxKeys())
	}
	g := rs.groups.lookupHashed(key, k.hash)
	if g == nil && rs.sealed > 0 {
		g = e.unsealGroup(rs, key)
	}
	if g != nil {
		if e.cap != nil {
			e.cow(rs, g) // the caller changes it
		}
		if r.Kind != KindAbsent {
			rs.groups.touch(g)
		}
		return g
	}
	if limit := rs.now - e.lateness(); ts < limit {
		// A group for this key may have been dropped; judging the event
		// against a fresh group could count what the old one would not.
		// One dropped at limit or before holds nothing an event at limit
		// or after would count, and no cooldown (see sweep).
		rs.stats.Late++
		if e.Trace != nil { // formatting allocates: only when tracing
			e.trace(rs, ev, nil, 0, false, fmt.Sprintf("late: would start a group but is more than max_lateness (%s) behind the rule's time %s",
				time.Duration(e.lateness()), event.FormatTime(time.Unix(0, rs.now))))
		}
		return nil
	}
	// One allocation holds the key and every group_by value: the values
	// are substrings of the key.
	g = rs.newGroup(key)
	g.capEpoch = e.capEpoch // not in a capture in progress: made after it began
	if n := len(r.GroupBy); n > 0 {
		if n == 1 {
			g.fields = g.field1[:]
		} else if cap(g.fields) >= n {
			g.fields = g.fields[:n]
		} else {
			g.fields = make([]event.Field, n)
		}
		off := 0
		for i, f := range r.GroupBy {
			l, w := readUvarint(g.key[off:])
			off += w
			g.fields[i] = event.Field{Key: f, Value: g.key[off : off+int(l)]}
			off += int(l)
		}
	}
	if e.cap != nil && rs.groups.n >= rs.groups.max && rs.groups.front != nil {
		e.cow(rs, rs.groups.front) // about to be evicted
	}
	if old := rs.groups.insertHashed(g, k.hash); old != nil {
		rs.stats.Evicted++
		e.release(old)
		e.recycle(rs, old)
	}
	return g
}

// groupKey returns ev's group key for rs's group_by list, building it on
// the first call for this event: rules grouping by the same fields share it.
func (e *Engine) groupKey(rs *ruleState, ev *event.Event) *groupKey {
	if rs.keySlot == 0 {
		rs.keySlot = e.keySlotFor(rs.rule.GroupBy)
	}
	k := &e.keys[rs.keySlot-1]
	if k.seq == e.seq {
		return k
	}
	k.seq = e.seq
	key := k.key[:0]
	k.ok, k.missing = true, ""
	for _, f := range k.groupBy {
		v, ok := ev.Get(f)
		if !ok {
			k.ok, k.missing = false, f
			break
		}
		// Length-prefixed, so that no value can forge another key.
		v = groupValue(v)
		key = appendUvarint(key, uint64(len(v)))
		key = append(key, v...)
	}
	k.key = key
	if k.ok {
		k.hash = keyHash(key)
	}
	return k
}

// keySlotFor returns 1 + the index in e.keys of the group_by list by,
// adding it when no rule seen so far groups by the same fields.
func (e *Engine) keySlotFor(by []string) int {
	for i := range e.keys {
		if slices.Equal(e.keys[i].groupBy, by) {
			return i + 1
		}
	}
	e.keys = append(e.keys, groupKey{groupBy: by})
	return len(e.keys)
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func readUvarint(s string) (v uint64, n int) {
	for shift := 0; n < len(s); shift += 7 {
		c := s[n]
		n++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
	}
	return v, n
}

// seen moves the rule's time to ts if ts is later.
func (rs *ruleState) seen(ts int64) {
	if ts > rs.now {
		rs.now = ts
	}
}

func (e *Engine) lateness() int64 {
	if e.MaxLateness > 0 {
		return int64(e.MaxLateness)
	}
	return int64(DefaultMaxLateness)
}

// sweep drops up to max groups (max < 0: all) at the front of the rule's
// list whose window and cooldown expired MaxLateness or more before
// the rule's time. Groups are ordered by last use, so the front ones are the
// likeliest to be expired; the sweep stops at the first live group.
func (e *Engine) sweep(rs *ruleState, max int) {
	if rs.groups == nil || rs.rule.Kind == KindAbsent {
		return
	}
	limit := rs.now - e.lateness()
	for n := 0; max < 0 || n < max; n++ {
		g := rs.groups.front
		if g == nil || g.t+rs.window > limit || g.coolUntil > limit {
			return
		}
		if e.cap != nil {
			e.cow(rs, g)
		}
		rs.groups.remove(g)
		rs.stats.Dropped++
		e.release(g)
		e.recycle(rs, g)
	}
}

func (e *Engine) trace(rs *ruleState, ev *event.Event, g *group, count int, fired bool, outcome string) {
	if e.Trace == nil {
		return
	}
	t := Trace{Rule: rs.rule, Event: ev, Count: count, Fired: fired, Outcome: outcome}
	if g != nil {
		t.Group = g.fields
		if t.Group == nil {
			t.Group = []event.Field{}
		}
	}
	e.Trace(t)
}

// observeThreshold implements the normative semantics of threshold and
// distinct rules (docs/rules.md, "Semantics").
func (e *Engine) observeThreshold(rs *ruleState, ev *event.Event, ts int64, out []Alert) []Alert {
	if !rs.rule.Match.Eval(ev) {
		return out
	}
	return e.observeMatched(rs, ev, ts, out)
}

// observeMatched is observeThreshold for an event known to match.
func (e *Engine) observeMatched(rs *ruleState, ev *event.Event, ts int64, out []Alert) []Alert {
	r := rs.rule
	rs.stats.Matched++
	g := e.groupFor(rs, ev, ts)
	if g == nil {
		return out
	}
	var val string
	if r.Distinct != "" {
		val, _ = ev.Get(r.Distinct)
		val = groupValue(val)
	}
	if !g.seen || ts > g.t {
		g.seen = true
		g.t = ts
	}
	lo := g.t - rs.window // the window is (lo, T]
	if ts <= lo {
		rs.stats.Late++
		e.trace(rs, ev, g, g.count(r.Distinct != ""), false, "late: before the group's window (T − window)")
		return out
	}
	// While cooling down nothing can fire before coolUntil, so entries that
	// will have left the window by then need not be kept.
	keepFrom := lo
	if g.fired && g.coolUntil > g.t && g.coolUntil-rs.window > keepFrom {
		keepFrom = g.coolUntil - rs.window
	}
	distinct := r.Distinct != ""
	if distinct && g.dist == nil && val != "" {
		g.dist = rs.newDistinct()
	}
	if ts > keepFrom {
		if distinct && g.dist != nil && g.dist.sealed > 0 {
			g.unsealDistinct(r, val)
		}
		g.insert(ts, val, distinct)
	}
	g.expire(keepFrom)
	count := g.count(distinct)
	// Samples are kept from threshold − 1 on, so that an alert carries the
	// last events it counted. While cooling down, an event at or before
	// keepFrom is not counted, and with a threshold of 2 or more it cannot
	// be among the next alert's samples either: that alert counts at least
	// three events after keepFrom, and on in-order input each of its last
	// three found threshold − 1 counted and was kept over anything older.
	// So it is not copied (late input: the samples stay counted events).
	// With a threshold of 0 or 1 every matching event is kept, as before
	// (docs/decisions.md).
	if count >= r.Threshold-1 && (ts > keepFrom || r.Threshold < 2) {
		e.keepSample(g, ev)
	}
	if g.fired && g.t < g.coolUntil {
		if e.Trace != nil { // formatting allocates: only when tracing
			e.trace(rs, ev, g, count, false, "cooling down until "+event.FormatTime(time.Unix(0, g.coolUntil)))
		}
		return out
	}
	if count <= r.Threshold {
		if e.Trace != nil { // formatting allocates: only when tracing
			e.trace(rs, ev, g, count, false, fmt.Sprintf("count %d, fires above %d", count, r.Threshold))
		}
		return out
	}
	g.fired = true
	g.coolUntil = g.t + rs.cool
	first := time.Unix(0, g.times[g.head]).UTC()
	a := Alert{
		ID:        alertID(r.ID, g.fields, first, g.t, count),
		Rule:      r,
		Group:     g.fields,
		Count:     count,
		Time:      time.Unix(0, g.t).UTC(),
		FirstSeen: first,
		Samples:   g.takeSamples(),
		Source:    sourceOf(ev),
	}
	e.release(g) // cooling down: the next sample starts a new ring
	rs.stats.Alerts++
	if e.Trace != nil { // formatting allocates: only when tracing
		e.trace(rs, ev, g, count, true, fmt.Sprintf("fired: count %d > %d", count, r.Threshold))
	}
	return append(out, a)
}

func sourceOf(ev *event.Event) string {
	s, _ := ev.Get("@source")
	return s
}

// insert records a counted event, keeping times ascending (late events are
// inserted in place).
func (g *group) insert(ts int64, val string, distinct bool) {
	var id int32
	if distinct {
		if val == "" { // only non-empty values count
			return
		}
		if g.dist == nil {
			g.dist = &distinctSet{}
		}
		id = g.dist.add(val)
	}
	if g.times == nil {
		g.times = g.time2[:0]
	}
	// Compact (move the live entries to the front) when at least half the
	// slice is dead and either it is long or appending would grow it: a
	// window that keeps sliding then reuses its array instead of growing.
	if g.head > 0 && g.head*2 >= len(g.times) && (g.head > 32 || len(g.times) == cap(g.times)) {
		n := copy(g.times, g.times[g.head:])
		g.times = g.times[:n]
		if distinct {
			copy(g.dist.ids, g.dist.ids[g.head:])
			g.dist.ids = g.dist.ids[:n]
		}
		g.head = 0
	}
	n := len(g.times)
	if n == g.head || g.times[n-1] <= ts {
		g.times = append(g.times, ts)
		if distinct {
			g.dist.ids = append(g.dist.ids, id)
		}
		return
	}
	i := g.head + sort.Search(n-g.head, func(i int) bool { return g.times[g.head+i] > ts })
	g.times = append(g.times, 0)
	copy(g.times[i+1:], g.times[i:])
	g.times[i] = ts
	if distinct {
		ids := append(g.dist.ids, 0)
		copy(ids[i+1:], ids[i:])
		ids[i] = id
		g.dist.ids = ids
	}
}

// expire removes entries with timestamps <= lo.
func (g *group) expire(lo int64) {
	for g.head < len(g.times) && g.times[g.head] <= lo {
		if g.dist != nil {
			g.dist.remove(g.dist.ids[g.head])
		}
		g.head++
	}
	if g.head == len(g.times) {
		g.times, g.head = g.times[:0], 0
		if g.dist != nil {
			g.dist.ids = g.dist.ids[:0]
		}
	}
}

func (g *group) count(distinct bool) int {
	if distinct {
		if g.dist == nil {
			return 0
		}
		return g.dist.len()
	}
	return len(g.times) - g.head
}
