package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/secwatch/secwatch/internal/event"
)

// Alert is what the engine emits when a rule fires: a plain value that
// refers to the rule that fired. alerting.NewDocument renders it as the
// alert document, redacted.
type Alert struct {
	ID   string
	Rule *Rule
	// Group holds the group_by fields and their values, in group_by order.
	// Empty for a rule without group_by.
	Group []event.Field
	// Count is the number of events (or distinct values) in the window when
	// the rule fired; 0 for absent rules.
	Count int
	// Time is the group's greatest event time T when it fired (for absent
	// rules: the last matching event's time plus the absent duration).
	Time time.Time
	// FirstSeen is the earliest timestamp counted (absent rules: the time
	// of the last matching event).
	FirstSeen time.Time
	// Samples are up to three matching events of the group, the last of
	// them the one that made it fire: with a threshold of 2 or more, the
	// last three it counted (in-order input); with 0 or 1, the last three
	// that matched, counted or not (docs/decisions.md, "Sample buffers of
	// cooling groups"). They are copies the engine no longer touches.
	Samples []event.Event
	// Source is the @source of the event that made the rule fire.
	Source string
}

// MaxSamples is the number of sample events an alert carries at most.
const MaxSamples = 3

// alertID is the alert_id of one firing: a hash of the rule, the group,
// first_seen, the firing time T and the count, so that a restart, a replay
// or a second replica producing the same firing produces the same id, and
// two firings of one group (a re-alert after cooldown, or several at one
// millisecond with cooldown 0s, each counting one event more) get two ids.
// docs/delivery.md ("alert_id") gives the scheme and its one limit.
func alertID(ruleID string, group []event.Field, first time.Time, t int64, count int) string {
	parts := make([]string, 0, len(group)+4)
	parts = append(parts, ruleID)
	for _, f := range group {
		parts = append(parts, f.Key+"="+f.Value)
	}
	parts = append(parts, event.FormatTime(first), "t="+event.FormatTime(time.Unix(0, t)), "n="+strconv.Itoa(count))
	return HashID(parts...)
}

// HashID is the one function that turns the parts that identify an alert
// document into its alert_id: the first 16 bytes of the SHA-256 of the
// parts joined by NUL bytes, in hex (32 digits). Alerts, flood digests and
// eviction alerts all take their ids from it.
func HashID(parts ...string) string {
	h := sha256.New()
	for i, p := range parts {
		if i > 0 {
			h.Write([]byte{0})
		}
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
