package daemon

import (
	"fmt"
	"strconv"
	"time"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/rules"
)

// A guard against hostile log content that the engine cannot apply
// itself, because it needs the wall clock (the engine never reads it):
//
//   - Key evictions raise their own alert. A rule keeps at most max_keys
//     groups; an attacker who sprays client addresses makes it evict the
//     least recently used ones, and with them the partial count of a slow
//     attack. The eviction counter shows in /metrics, but nobody is paged
//     by a counter, so the engine loop also emits a synthetic alert, rule
//     EvictionRule, at most once per rule and clock hour.
//
// Events stamped too far ahead of the clock (engine.max_future) are
// rejected by the sources as they decode lines (ingest.Decoding).

// EvictionRule is the rule id of the alert raised when a rule evicts groups.
const EvictionRule = "secwatch-key-evictions"

// hardening is the engine loop's state for the eviction guard. The zero
// value is ready; it is owned by the engine goroutine.
type hardening struct {
	started   bool
	evictBase map[string]int64     // per rule: Evicted when last alerted (or at start)
	evictHour map[string]time.Time // per rule: the hour of the last eviction alert
}

// start records the eviction counters the engine starts with (restored
// from a checkpoint), so that evictions before this run are not alerted
// again. It runs before the first event is observed.
func (h *hardening) start(e *rules.Engine) {
	if h.started {
		return
	}
	h.started = true
	h.evictBase = map[string]int64{}
	h.evictHour = map[string]time.Time{}
	for _, st := range e.Stats() {
		h.evictBase[st.Rule] = st.Evicted
	}
}

// evictionAlerts puts an EvictionRule alert for every rule that evicted
// groups since its last one, at most one per rule and clock hour. The
// alert id is a hash of the rule and the hour, so a restart within the
// hour does not send it again (the outbox drops the repeat).
func (l *engineLoop) evictionAlerts(now time.Time) {
	h := &l.hard
	h.start(l.engine)
	hour := now.UTC().Truncate(time.Hour)
	for _, st := range l.engine.Stats() {
		n := st.Evicted - h.evictBase[st.Rule]
		if n <= 0 || h.evictHour[st.Rule].Equal(hour) {
			continue
		}
		h.evictBase[st.Rule] = st.Evicted
		h.evictHour[st.Rule] = hour
		l.put(evictionDoc(st, n, l.maxKeys(), hour, now))
	}
}

func (l *engineLoop) maxKeys() int {
	if l.engine.MaxKeys > 0 {
		return l.engine.MaxKeys
	}
	return rules.DefaultMaxKeys
}

// evictionDoc is the alert document for n evictions by one rule, rendered
// through alerting.NewDocument as the alert of a rule made for it.
func evictionDoc(st rules.RuleStats, n int64, maxKeys int, hour, now time.Time) alerting.Document {
	return alerting.NewDocument(&rules.Alert{
		ID: rules.HashID(EvictionRule, st.Rule, event.FormatTime(hour)),
		Rule: &rules.Rule{
			ID:       EvictionRule,
			Title:    "Rule " + st.Rule + " is evicting groups (key spray, or max_keys too low)",
			Severity: "high",
			Labels:   map[string]string{"secwatch": "self", "max_keys": strconv.Itoa(maxKeys)},
			Description: fmt.Sprintf("Rule %s held its cap of %d groups (engine.max_keys) and evicted the least recently used "+
				"groups %d times since its previous eviction alert; %d evictions in total. Evicted groups lose their "+
				"partial counts, so an attacker who sprays many distinct keys (client addresses) can hide a slower "+
				"attack from this rule. Check secwatch_rule_evicted_total and the sources for a spray; raise "+
				"engine.max_keys if the traffic is legitimate. At most one such alert per rule and hour.",
				st.Rule, maxKeys, n, st.Evicted),
			Window: time.Hour,
		},
		Group: []event.Field{{Key: "rule", Value: st.Rule}},
		Count: int(n),
		Time:  now,
		// The hour the alert stands for; evictions counted may go back
		// further, to the previous eviction alert of the rule.
		FirstSeen: hour,
		Source:    "secwatch",
	})
}
