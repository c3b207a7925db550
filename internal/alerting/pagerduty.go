package alerting

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/secwatch/secwatch/internal/redact"
)

// DefaultPagerDutyURL is the Events API v2 enqueue endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// pagerDutyMaxSummary is the Events API v2 limit on payload.summary.
const pagerDutyMaxSummary = 1024

// PagerDuty triggers a PagerDuty incident per alert through the Events API
// v2 (URL, DefaultPagerDutyURL when empty) with the integration's
// RoutingKey (a secret). dedup_key is the alert_id, so a redelivery after
// a crash or retry updates the same incident instead of paging twice.
// Severities map to PagerDuty's: critical→critical, high→error,
// medium→warning, low and info→info. The summary ("[HIGH] title
// k=v…", sanitized) is cut to 1024 bytes on a UTF-8 boundary; the group,
// labels, count and window go in custom_details, the runbook in links.
//
// PagerDuty answers 202; 429 (its rate limit, with Retry-After when given)
// and 5xx are retried, 400 (invalid event) and other statuses are
// Permanent. Its name is ID, or "pagerduty". Client nil means
// http.DefaultClient.
type PagerDuty struct {
	ID         string
	Client     *http.Client
	URL        string
	RoutingKey string
}

// Name returns ID, or "pagerduty".
func (p *PagerDuty) Name() string { return nameOr(p.ID, "pagerduty") }

type pdEvent struct {
	RoutingKey  string    `json:"routing_key"`
	EventAction string    `json:"event_action"`
	DedupKey    string    `json:"dedup_key"`
	Payload     pdPayload `json:"payload"`
	Links       []pdLink  `json:"links,omitempty"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// PagerDutySeverity maps a secwatch severity to PagerDuty's.
func PagerDutySeverity(s string) string {
	switch s {
	case "critical":
		return "critical"
	case "high":
		return "error"
	case "medium":
		return "warning"
	default:
		return "info"
	}
}

// Notify triggers the incident for doc.
func (p *PagerDuty) Notify(ctx context.Context, doc *Document) error {
	ev := pdEvent{
		RoutingKey:  p.RoutingKey,
		EventAction: "trigger",
		DedupKey:    doc.AlertID,
		Payload: pdPayload{
			Summary:   cutText(summary(doc), pagerDutyMaxSummary),
			Source:    nameOr(redact.Sanitize(doc.Source, maxShown), "secwatch"),
			Severity:  PagerDutySeverity(doc.Severity),
			Timestamp: doc.Time,
			Component: "secwatch",
			Class:     doc.Rule,
			CustomDetails: map[string]any{
				"rule": doc.Rule, "group": sanitizedValues(doc.Group), "labels": doc.Labels,
				"count": doc.Count, "threshold": doc.Threshold, "window": doc.Window,
				"first_seen": doc.FirstSeen, "alert_id": doc.AlertID,
				"description": doc.Description,
			},
		},
	}
	if strings.HasPrefix(doc.Runbook, "https://") || strings.HasPrefix(doc.Runbook, "http://") {
		ev.Links = []pdLink{{Href: strings.TrimSpace(doc.Runbook), Text: "Runbook"}}
	}
	body, err := marshalNoEscape(ev)
	if err != nil {
		return Permanent(fmt.Errorf("%s: encode alert %s: %w", p.Name(), doc.AlertID, err))
	}
	_, err = postJSON(ctx, p.Client, p.Name(), nameOr(p.URL, DefaultPagerDutyURL), body, nil)
	return err
}

// sanitizedValues returns m with every value redacted when its name is
// secret, sanitized and cut, since group values come from logs.
func sanitizedValues(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[redact.Sanitize(k, maxShown)] = redact.Sanitize(redact.Value(k, v), maxShown)
	}
	return out
}
