package rules

import (
	"strings"
	"time"
)

// Severities in increasing order.
var Severities = []string{"info", "low", "medium", "high", "critical"}

// Kind tells how a rule counts.
type Kind int

const (
	// KindThreshold fires when more than Threshold matching events (or
	// distinct values of Distinct) fall in the sliding window.
	KindThreshold Kind = iota
	// KindAbsent fires when a group seen before has had no matching event
	// for Absent.
	KindAbsent
	// KindSequence fires when the Steps happen in order within Window.
	KindSequence
)

func (k Kind) String() string {
	switch k {
	case KindAbsent:
		return "absent"
	case KindSequence:
		return "sequence"
	}
	return "threshold"
}

// Rule is one validated, compiled rule. Rules are immutable once loaded and
// may be shared between engines.
type Rule struct {
	ID          string
	Title       string
	Severity    string // one of Severities; "medium" when the file omits it
	Description string
	Runbook     string
	Labels      map[string]string

	Kind Kind
	// Match selects the events a threshold or absent rule counts. A nil
	// Match matches every event.
	Match *Match
	// GroupBy names the fields whose values form the group key. Empty
	// means one global group.
	GroupBy   []string
	Window    time.Duration // threshold and sequence rules
	Threshold int           // threshold rules: fire when count > Threshold
	Distinct  string        // optional: count distinct non-empty values of this field
	Cooldown  time.Duration // resolved: the file's value, or Window (Absent for absent rules)
	Absent    time.Duration // absent rules
	Steps     []Step        // sequence rules, at least two

	Alarm *Alarm // optional CloudWatch alarm (docs/alarms.md)

	// Hash is a hex digest of the rule's definition (everything above),
	// used to tell on reload whether a rule changed.
	Hash string

	// Position of the rule's first key in its file.
	File      string
	Line, Col int
}

// Step is one stage of a sequence rule: more than Threshold events matching
// Match (Threshold 0: at least one).
type Step struct {
	Match     *Match
	Threshold int
}

// Alarm asks for a CloudWatch metric filter and alarm derived from the rule.
// Every field is optional.
type Alarm struct {
	// FilterPattern overrides the pattern compiled from Match.
	FilterPattern string
	// Format is the shape of the log group's events, which decides how
	// Match is compiled to a filter pattern: "json" (JSON objects, matched
	// with JSON property patterns; the default when empty) or "text" (plain
	// text lines, whose whole text is the field "message").
	Format string
	// LogGroup is the log group the metric filter is put on.
	LogGroup string
	// Namespace and MetricName of the published metric.
	Namespace  string
	MetricName string
}

// FormatDuration writes a limit the way users write it: "5m", "24h".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
