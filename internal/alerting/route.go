package alerting

import (
	"context"

	"github.com/secwatch/secwatch/internal/match"
)

// Routed delivers to Notifier only the alerts every matcher in Match
// accepts; the others count as delivered for this notifier (nil), so they
// are neither retried nor dead-lettered. An empty Match accepts every
// alert. Its name is the wrapped notifier's.
//
// A matcher names severity, rule or alert_id, or else a rule label or a
// group field (a label wins over a group field of the same name); an
// alert without the name has "" there, as in Alertmanager.
type Routed struct {
	Notifier Notifier
	Match    []match.Matcher
}

// Name returns the wrapped notifier's name.
func (r *Routed) Name() string { return r.Notifier.Name() }

// Notify passes doc on when it matches.
func (r *Routed) Notify(ctx context.Context, doc *Document) error {
	if !Matches(r.Match, doc) {
		return nil
	}
	return r.Notifier.Notify(ctx, doc)
}

// Matches reports whether every matcher accepts doc (see Routed).
func Matches(ms []match.Matcher, doc *Document) bool {
	return match.All(ms, func(name string) string { return docLabel(doc, name) })
}

// docLabel is the value a matcher sees for name.
func docLabel(doc *Document, name string) string {
	switch name {
	case "severity":
		return doc.Severity
	case "rule":
		return doc.Rule
	case "alert_id":
		return doc.AlertID
	}
	if v, ok := doc.Labels[name]; ok {
		return v
	}
	return doc.Group[name]
}
