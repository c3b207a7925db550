package alerting

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/secwatch/secwatch/internal/redact"
)

// Defaults of the Alertmanager's zero-valued fields.
const (
	DefaultRepostInterval = time.Minute
	DefaultActiveFor      = 15 * time.Minute
)

// Alertmanager posts each alert to a Prometheus Alertmanager
// (URL + "/api/v2/alerts") as a firing alert, so that its routing,
// grouping, silences and receivers apply. Labels: alertname and rule (the
// rule id), severity, alert_id (one Alertmanager alert per secwatch
// alert), the rule's labels and the group fields, names made valid
// ([a-zA-Z_][a-zA-Z0-9_]*) and values sanitized. Annotations: summary,
// description, runbook_url, count, threshold, window, first_seen.
//
// An alert is active for ActiveFor after its time (default 15m), and at
// least four RepostIntervals after it is delivered. Each post sets endsAt
// to four RepostIntervals ahead, capped at the end of the active period;
// Run re-posts every active alert each RepostInterval (default 1m), so
// Alertmanager keeps it firing while secwatch runs and resolves it on its
// own, at most four intervals later, when secwatch stops
// (docs/notifiers.md). With a Store the active alerts outlive a restart;
// nil keeps them in memory only.
//
// Delivery follows the HTTP rules of Webhook (2xx delivered, 429/5xx
// retried, other 4xx Permanent). Notify and Run may run concurrently. Its
// name is ID, or "alertmanager". Client nil means http.DefaultClient.
type Alertmanager struct {
	ID             string
	Client         *http.Client
	URL            string // base URL, like "http://alertmanager:9093"
	RepostInterval time.Duration
	ActiveFor      time.Duration
	Log            zerolog.Logger // Run's failures; the zero Logger logs nothing
	Store          ActiveStore    // set before Notify and Run; nil: memory only

	mu     sync.Mutex
	active map[string]*amActive // by alert_id
}

// amActive is one alert Run keeps posting.
type amActive struct {
	alert amAlert
	until time.Time
}

// amAlert is Alertmanager's postableAlert.
type amAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Name returns ID, or "alertmanager".
func (a *Alertmanager) Name() string { return nameOr(a.ID, "alertmanager") }

func (a *Alertmanager) interval() time.Duration {
	return orDefault(a.RepostInterval, DefaultRepostInterval)
}

// Notify posts doc and, once Alertmanager accepted it, keeps it for Run.
func (a *Alertmanager) Notify(ctx context.Context, doc *Document) error {
	now := time.Now()
	start, err := time.Parse(time.RFC3339Nano, doc.Time)
	if err != nil {
		start = now
	}
	act := &amActive{
		alert: amAlertOf(doc),
		until: maxTime(start.Add(orDefault(a.ActiveFor, DefaultActiveFor)), now.Add(4*a.interval())),
	}
	act.alert.StartsAt = start.UTC().Format(time.RFC3339Nano)
	if err := a.post(ctx, []*amActive{act}, now); err != nil {
		return err
	}
	a.mu.Lock()
	if a.active == nil {
		a.active = make(map[string]*amActive)
	}
	a.active[doc.AlertID] = act
	a.mu.Unlock()
	a.save(doc.AlertID, act)
	return nil
}

// post sends alerts with endsAt four intervals ahead, capped at each one's
// end.
func (a *Alertmanager) post(ctx context.Context, alerts []*amActive, now time.Time) error {
	batch := make([]amAlert, len(alerts))
	for i, act := range alerts {
		batch[i] = act.alert
		batch[i].EndsAt = minTime(now.Add(4*a.interval()), act.until).UTC().Format(time.RFC3339Nano)
	}
	body, err := marshalNoEscape(batch)
	if err != nil {
		return Permanent(fmt.Errorf("%s: encode alerts: %w", a.Name(), err))
	}
	_, err = postJSON(ctx, a.Client, a.Name(), strings.TrimRight(a.URL, "/")+"/api/v2/alerts", body, nil)
	return err
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

var amLabelName = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// amName makes name a valid Alertmanager label name.
func amName(name string) string {
	n := amLabelName.ReplaceAllString(name, "_")
	if n == "" || (n[0] >= '0' && n[0] <= '9') {
		n = "_" + n
	}
	return n
}

// amAlertOf renders doc's labels and annotations (no times).
func amAlertOf(doc *Document) amAlert {
	labels := map[string]string{}
	set := func(m map[string]string, k, v string) {
		if v = redact.Sanitize(v, 1024); v != "" { // Alertmanager drops empty labels
			m[amName(k)] = v
		}
	}
	for k, v := range doc.Group {
		set(labels, k, redact.Value(k, v))
	}
	for k, v := range doc.Labels {
		set(labels, k, v)
	}
	// Set last: secwatch's own labels win over fields of the same name.
	set(labels, "alertname", doc.Rule)
	set(labels, "rule", doc.Rule)
	set(labels, "severity", doc.Severity)
	set(labels, "alert_id", doc.AlertID)
	ann := map[string]string{}
	set(ann, "summary", doc.Title)
	ann["description"] = sanitizeLines(doc.Description)
	set(ann, "runbook_url", doc.Runbook)
	set(ann, "count", strconv.Itoa(doc.Count))
	set(ann, "threshold", strconv.Itoa(doc.Threshold))
	set(ann, "window", doc.Window)
	set(ann, "first_seen", doc.FirstSeen)
	if ann["description"] == "" {
		delete(ann, "description")
	}
	return amAlert{Labels: labels, Annotations: ann}
}
