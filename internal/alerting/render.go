// Package alerting turns engine alerts into notifications: the alert
// document's renderings (JSON and text), and, with the daemon, the
// dispatcher, outbox and notifiers. It imports rules (for Alert) and never
// imports ingest, alarms or cmd.
package alerting

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/redact"
	"github.com/secwatch/secwatch/internal/rules"
)

// maxShown is how much of one attacker-controlled value a text rendering
// shows.
const maxShown = 200

// WriteJSON writes the alert document as one line of JSON.
func WriteJSON(w io.Writer, a *rules.Alert) error {
	b, err := json.Marshal(NewDocument(a))
	if err != nil {
		return fmt.Errorf("encode alert %s: %w", a.ID, err)
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// Text renders the alert as one human-readable line. Group values come from
// logs, so they are sanitized (no control characters, escapes or
// bidirectional overrides) and cut.
func Text(a *rules.Alert) string {
	r := a.Rule
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-8s %s", a.Time.UTC().Format("2006-01-02T15:04:05Z07:00"), strings.ToUpper(r.Severity), r.ID)
	if k := GroupText(a); k != "" {
		b.WriteString(" " + k)
	}
	switch r.Kind {
	case rules.KindAbsent:
		fmt.Fprintf(&b, " silent for %s since %s", r.Absent, a.FirstSeen.UTC().Format("15:04:05"))
	case rules.KindSequence:
		fmt.Fprintf(&b, " sequence of %d events within %s since %s", a.Count, r.Window, a.FirstSeen.UTC().Format("15:04:05"))
	default:
		what := "events"
		if r.Distinct != "" {
			what = "distinct " + r.Distinct
		}
		fmt.Fprintf(&b, " %d %s (> %d) in %s since %s", a.Count, what, r.Threshold, r.Window, a.FirstSeen.UTC().Format("15:04:05"))
	}
	fmt.Fprintf(&b, " id=%s", a.ID[:min(12, len(a.ID))])
	return b.String()
}

// GroupText renders the group as "k=v k2=v2", sanitized, in group_by order.
func GroupText(a *rules.Alert) string { return FieldsText(a.Group) }

// FieldsText renders fields as "k=v k2=v2": values are redacted when their
// names are secret, sanitized and cut, since they come from logs.
func FieldsText(fields []event.Field) string {
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		parts = append(parts, f.Key+"="+redact.Sanitize(redact.Value(f.Key, f.Value), maxShown))
	}
	return strings.Join(parts, " ")
}

// SortedKeys returns m's keys in order (for deterministic renderings).
func SortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
