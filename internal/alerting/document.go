package alerting

import (
	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/redact"
	"github.com/secwatch/secwatch/internal/rules"
)

// Document is the alert document, the form written by replay and sent by
// every notifier. Maps render with sorted keys, so the
// JSON encoding of a Document is deterministic.
type Document struct {
	AlertID     string              `json:"alert_id"`
	Rule        string              `json:"rule"`
	Title       string              `json:"title"`
	Severity    string              `json:"severity"`
	Group       map[string]string   `json:"group"`
	Count       int                 `json:"count"`
	Threshold   int                 `json:"threshold"`
	Window      string              `json:"window"`
	Time        string              `json:"time"`
	FirstSeen   string              `json:"first_seen"`
	Labels      map[string]string   `json:"labels,omitempty"`
	Description string              `json:"description,omitempty"`
	Runbook     string              `json:"runbook,omitempty"`
	Samples     []map[string]string `json:"samples,omitempty"`
	Source      string              `json:"source,omitempty"`
	// Truncated is set by a notifier that had to drop samples to stay
	// under a size limit.
	Truncated bool `json:"truncated,omitempty"`
}

// NewDocument renders the alert a rule fired as its alert document. Group
// values and sample fields whose names or values look like secrets are
// redacted; sample values are otherwise kept as logged. It is the one
// constructor of alert documents: flood digests and eviction alerts are
// rendered by it as alerts of a rule made for them, and every alert
// document takes its id from rules.HashID.
func NewDocument(a *rules.Alert) Document {
	r := a.Rule
	d := Document{
		AlertID:     a.ID,
		Rule:        r.ID,
		Title:       r.Title,
		Severity:    r.Severity,
		Group:       make(map[string]string, len(a.Group)),
		Count:       a.Count,
		Threshold:   r.Threshold,
		Window:      r.Window.String(),
		Time:        event.FormatTime(a.Time),
		FirstSeen:   event.FormatTime(a.FirstSeen),
		Labels:      r.Labels,
		Description: r.Description,
		Runbook:     r.Runbook,
		Source:      a.Source,
	}
	if r.Kind == rules.KindAbsent {
		d.Window = r.Absent.String()
	}
	if d.Title == "" {
		d.Title = r.ID
	}
	for _, f := range a.Group {
		d.Group[f.Key] = redact.Value(f.Key, f.Value)
	}
	for i := range a.Samples {
		s := &a.Samples[i]
		m := make(map[string]string, len(s.Fields)+1)
		for _, f := range s.Fields {
			if _, dup := m[f.Key]; !dup {
				m[f.Key] = redact.Value(f.Key, f.Value)
			}
		}
		m["@time"] = event.FormatTime(s.Time)
		d.Samples = append(d.Samples, m)
	}
	return d
}
