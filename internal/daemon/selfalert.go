package daemon

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/rules"
)

// Rule ids of the self-alerts: alerts about secwatch itself, made by the
// engine loop and put in the outbox like any other alert, so that they are
// durable, deduplicated and routed by the notifiers' matchers
// (docs/delivery.md, "Self-alerts").
const (
	SourceDownRule = "secwatch-source-down"
	DeadLetterRule = "secwatch-dead-letter"
	StateDownRule  = "secwatch-state-unwritable"
)

// selfAlerts is the engine loop's state for the self-alerts. The zero
// value is ready; it is owned by the engine goroutine.
type selfAlerts struct {
	// final is set before the last flush of a --once run, when every
	// source has returned: only then is "no completed read" an outage.
	final bool
	// alerted holds, per rule and subject, the hour of the last alert.
	alerted map[string]time.Time
	// down holds the sources alerted as down, and since when.
	down map[string]time.Time
}

// selfAlerts puts a self-alert for every source down, pending dead
// letters and a state directory that cannot be written, at most one per
// rule, subject and clock hour (like eviction alerts: the id hashes them,
// so a restart or the next --once run within the hour sends nothing
// again), and logs the return of a source alerted as down.
func (l *engineLoop) selfAlerts(now time.Time) {
	s := &l.self
	if s.alerted == nil {
		s.alerted, s.down = map[string]time.Time{}, map[string]time.Time{}
	}
	hour := now.UTC().Truncate(time.Hour)
	fire := func(rule, subject string, doc func() alerting.Document) {
		key := rule + "\x00" + subject
		if s.alerted[key].Equal(hour) {
			return
		}
		s.alerted[key] = hour
		l.put(doc())
	}
	for _, src := range l.d.Config.Sources {
		sm := l.metrics.source(src.Name)
		down := !sm.isUp(now)
		if l.d.Once {
			down = s.final && downAfter(src) > 0 && sm.stats.LastRead.Load() < sm.since.Load()
		}
		if !down {
			if since, was := s.down[src.Name]; was {
				delete(s.down, src.Name)
				l.log.Info().Str("source", src.Name).Dur("down_for", now.Sub(since).Round(time.Second)).Msg("source up again")
			}
			continue
		}
		since, was := s.down[src.Name]
		if !was {
			since = time.Unix(0, max(sm.stats.LastRead.Load(), sm.since.Load()))
			s.down[src.Name] = since
		}
		fire(SourceDownRule, src.Name, func() alerting.Document {
			return sourceDownDoc(src.Name, sm.describe(src.Name), downAfter(src), since, hour, now)
		})
	}
	if n := l.outbox.DeadLetters(); n > 0 {
		fire(DeadLetterRule, "", func() alerting.Document { return deadLetterDoc(n, hour, now) })
	}
	if p := l.metrics.state.problem(); p != nil {
		fire(StateDownRule, "", func() alerting.Document { return stateDownDoc(l.d.Config.StateDir, p, hour, now) })
	}
}

// selfDoc renders a self-alert through alerting.NewDocument as the alert
// of a rule made for it: id from rule, subject and hour.
func selfDoc(rule, title, desc string, group []event.Field, count int, since, hour, now time.Time) alerting.Document {
	parts := []string{rule}
	for _, f := range group {
		parts = append(parts, f.Value)
	}
	parts = append(parts, event.FormatTime(hour))
	return alerting.NewDocument(&rules.Alert{
		ID: rules.HashID(parts...),
		Rule: &rules.Rule{
			ID: rule, Title: title, Severity: "high", Description: desc, Window: time.Hour,
			Labels: map[string]string{"secwatch": "self"},
		},
		Group: group, Count: count, Time: now, FirstSeen: since, Source: "secwatch",
	})
}

// sourceDownDoc is the alert for a source without a completed read since
// since; what is its last read error, if any.
func sourceDownDoc(source, what string, bound time.Duration, since, hour, now time.Time) alerting.Document {
	return selfDoc(SourceDownRule, "Source "+source+" is not being read; secwatch is blind to it",
		fmt.Sprintf("Source %s has not completed a read since %s (its down_after bound is %s; a --once run "+
			"counts a run without a completed read): %s. Nothing it should read is being watched. Check the "+
			"log line \"source cannot read\" for the IAM action, the log group or the path to fix; the events "+
			"are read from the source's cursor once it is readable again. At most one such alert per source and hour.",
			source, event.FormatTime(since), rules.FormatDuration(bound), what),
		[]event.Field{{Key: "source", Value: source}}, 1, since, hour, now)
}

// deadLetterDoc is the alert for n alerts in the dead-letter directory.
func deadLetterDoc(n int, hour, now time.Time) alerting.Document {
	return selfDoc(DeadLetterRule, fmt.Sprintf("%d alerts could not be delivered (dead letters)", n),
		fmt.Sprintf("%d alerts are in the dead-letter directory: a notifier refused them permanently or they "+
			"outlived alerts.max_age. They will not be sent again by themselves. List them with `secwatch outbox "+
			"list --dead`, fix the notifier, then `secwatch outbox redrive` or `drop` them. At most one such alert "+
			"per hour while any is left.", n),
		nil, n, hour, hour, now)
}

// stateDownDoc is the alert for a state directory that cannot be written.
func stateDownDoc(dir string, p *stateProblem, hour, now time.Time) alerting.Document {
	return selfDoc(StateDownRule, "State cannot be written (disk full or read-only?)",
		fmt.Sprintf("Checkpoints of %s have failed since %s: %s. Alerts are still delivered from memory, but "+
			"a restart now resumes from the last checkpoint written. Free space or fix the volume; the next "+
			"checkpoint catches up. At most one such alert per hour.", dir, event.FormatTime(p.since), p.err),
		[]event.Field{{Key: "state_dir", Value: dir}}, int(p.failures), p.since, hour, now)
}

// stateHealth says whether the state can be written: set by the
// checkpoint writer, read by /healthz, /metrics and the engine loop.
type stateHealth struct {
	failing atomic.Pointer[stateProblem]
}

// stateProblem is a run of failed checkpoints.
type stateProblem struct {
	since    time.Time
	err      string
	failures int64
}

// failed records a failed checkpoint at now.
func (h *stateHealth) failed(err error, now time.Time) {
	p := &stateProblem{since: now, err: err.Error(), failures: 1}
	if old := h.failing.Load(); old != nil {
		p.since, p.failures = old.since, old.failures+1
	}
	h.failing.Store(p)
}

// saved records a checkpoint written: the state is writable again.
func (h *stateHealth) saved() { h.failing.Store(nil) }

// problem returns the current run of failures, or nil.
func (h *stateHealth) problem() *stateProblem { return h.failing.Load() }

// reason is /healthz's reason while checkpoints fail, or "".
func (h *stateHealth) reason() string {
	p := h.problem()
	if p == nil {
		return ""
	}
	return fmt.Sprintf("state not writable: %d checkpoints failed since %s (%s)", p.failures, event.FormatTime(p.since), p.err)
}

// write writes secwatch_state_up.
func (h *stateHealth) write(w *scrape) {
	up := int64(1)
	if h.problem() != nil {
		up = 0
	}
	writeMetric(w, "secwatch_state_up", "gauge", "0 while checkpoints of the state fail (disk full, read-only volume), else 1", up)
}

// SelfAlertExamples returns one alert of each self-alert rule (and of
// EvictionRule), as the daemon would send them at now, for checking which
// notifiers' matchers take them.
func SelfAlertExamples(now time.Time) []alerting.Document {
	hour := now.UTC().Truncate(time.Hour)
	return []alerting.Document{
		sourceDownDoc("example", "example", minDownAfter, now, hour, now),
		deadLetterDoc(1, hour, now),
		stateDownDoc("state", &stateProblem{since: now, err: "example", failures: 1}, hour, now),
		evictionDoc(rules.RuleStats{Rule: "example", Evicted: 1}, 1, rules.DefaultMaxKeys, hour, now),
	}
}
