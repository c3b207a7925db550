package alerting

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/secwatch/secwatch/internal/redact"
)

// Slack posts each alert to a Slack incoming webhook (URL, a secret) as a
// readable message: title and severity, rule, group, count, threshold and
// window, time, labels, the description and a runbook link. Text from
// logs is sanitized (control characters removed) and cut, and every value
// is escaped for Slack's mrkdwn (&, <, >), so a log line cannot mention
// @channel, forge a link or break the layout.
//
// Slack answers 200 "ok"; 429 (with Retry-After) and 5xx are retried, any
// other status (invalid_payload, no_service, channel_is_archived…) is
// Permanent. Its name is ID, or "slack". Client nil means
// http.DefaultClient.
type Slack struct {
	ID     string
	Client *http.Client
	URL    string
}

// Name returns ID, or "slack".
func (s *Slack) Name() string { return nameOr(s.ID, "slack") }

// Notify posts doc.
func (s *Slack) Notify(ctx context.Context, doc *Document) error {
	body, err := marshalNoEscape(struct {
		Text   string `json:"text"`
		Mrkdwn bool   `json:"mrkdwn"`
	}{SlackText(doc), true})
	if err != nil {
		return Permanent(fmt.Errorf("%s: encode alert %s: %w", s.Name(), doc.AlertID, err))
	}
	_, err = postJSON(ctx, s.Client, s.Name(), s.URL, body, nil)
	return err
}

// slackEscaper escapes the three characters Slack's mrkdwn gives meaning
// to in message text.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackText sanitizes s, cuts it to max bytes (0: no limit) and escapes it.
func slackText(s string, max int) string {
	return slackEscaper.Replace(redact.Sanitize(s, max))
}

// slackDescription is how much of the description a message shows.
const slackDescription = 1000

// SlackText renders doc as a Slack mrkdwn message.
func SlackText(doc *Document) string {
	var b strings.Builder
	sev := strings.ToUpper(slackText(doc.Severity, 16))
	fmt.Fprintf(&b, "*[%s] %s*\n", sev, slackText(doc.Title, maxShown))
	line := func(label, value string) {
		if value != "" {
			fmt.Fprintf(&b, "*%s:* %s\n", label, value)
		}
	}
	line("Rule", slackText(doc.Rule, maxShown))
	var group []string
	for _, k := range SortedKeys(doc.Group) {
		group = append(group, slackText(k, maxShown)+"="+slackText(redact.Value(k, doc.Group[k]), maxShown))
	}
	line("Group", strings.Join(group, " "))
	line("Count", fmt.Sprintf("%d (threshold %d, window %s)", doc.Count, doc.Threshold, slackText(doc.Window, 32)))
	line("Time", slackText(doc.Time, 40))
	var labels []string
	for _, k := range SortedKeys(doc.Labels) {
		labels = append(labels, slackText(k, maxShown)+"="+slackText(doc.Labels[k], maxShown))
	}
	line("Labels", strings.Join(labels, " "))
	line("Alert ID", slackText(doc.AlertID, 128))
	if doc.Description != "" {
		b.WriteString(slackText(doc.Description, slackDescription) + "\n")
	}
	if doc.Runbook != "" {
		line("Runbook", slackLink(doc.Runbook))
	}
	return strings.TrimRight(b.String(), "\n")
}

// slackLink renders a runbook as a link when it is one http(s) URL, else as
// escaped text.
func slackLink(s string) string {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(s, " \t\n<>|") {
		return slackText(s, maxShown)
	}
	return "<" + slackEscaper.Replace(s) + "|runbook>"
}
