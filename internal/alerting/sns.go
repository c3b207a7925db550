package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"

	"github.com/secwatch/secwatch/internal/redact"
)

// snsAPI is the part of the SNS client SNS uses.
type snsAPI interface {
	Publish(ctx context.Context, in *sns.PublishInput, optFns ...func(*sns.Options)) (*sns.PublishOutput, error)
}

var _ snsAPI = (*sns.Client)(nil)

// Limits of an SNS Publish request.
const (
	snsMaxSubject = 100 // printable ASCII characters, no line breaks
	snsMaxGroupID = 128 // MessageGroupId
	// snsMaxFieldCut is how much of each text field the last resort of
	// fit keeps.
	snsMaxFieldCut = 1024
)

// snsMaxBytes is the limit on the message plus its attributes (256 KiB);
// a variable for tests.
var snsMaxBytes = 256 * 1024

// SNS publishes each alert document to an SNS topic, as JSON for every
// protocol but email (EmailText), with a short printable subject, the
// severity, rule and alert_id as message attributes, and on a FIFO topic
// (FIFO, or a TopicARN ending in ".fifo") the alert_id as deduplication id.
// A message over 256 KiB is made to fit, samples first. The message format
// and the size rules are in docs/aws.md.
//
// Errors: throttling, server errors (5xx), timeouts and network errors are
// returned as they are, for the dispatcher to retry; a request SNS rejects
// (invalid parameter, missing topic, authorization, KMS key problems, other
// 4xx) is wrapped with Permanent. Its name is "sns".
//
// The rule's labels become message attributes too, in name order, as many
// as fit SNS's limit of 10 attributes; a label whose name SNS does not
// accept, or that repeats severity, rule or alert_id, is left out. With
// Format "chatbot" the message is AWS Chatbot's custom notification
// (ChatbotMessage) instead, so that Chatbot renders it in Slack or Teams.
type SNS struct {
	Client   snsAPI // built once by cmd; the SDK retries within an attempt
	TopicARN string
	FIFO     bool   // also true when TopicARN ends in ".fifo"
	Format   string // "" (the alert document) or "chatbot"
}

// Name returns "sns".
func (s *SNS) Name() string { return "sns" }

// Notify publishes doc. It does not modify doc.
func (s *SNS) Notify(ctx context.Context, doc *Document) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	in, err := s.input(doc)
	if err != nil {
		return Permanent(fmt.Errorf("sns publish %s to %s: %w", doc.AlertID, s.TopicARN, err))
	}
	if _, err := s.Client.Publish(ctx, in); err != nil {
		err = fmt.Errorf("sns publish %s to %s: %w", doc.AlertID, s.TopicARN, err)
		if permanentSNS(err) {
			return Permanent(err)
		}
		return err
	}
	return nil
}

func (s *SNS) fifo() bool { return s.FIFO || strings.HasSuffix(s.TopicARN, ".fifo") }

// input builds the Publish request for doc.
func (s *SNS) input(doc *Document) (*sns.PublishInput, error) {
	attrs := map[string]types.MessageAttributeValue{}
	attrBytes := 0
	for _, a := range [...]struct{ name, value string }{
		{"severity", doc.Severity}, {"rule", doc.Rule}, {"alert_id", doc.AlertID},
	} {
		if a.value == "" { // SNS rejects an empty attribute value
			continue
		}
		attrs[a.name] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(a.value)}
		attrBytes += len(a.name) + len("String") + len(a.value)
	}
	attrBytes += labelAttributes(attrs, doc.Labels)
	subject := Subject(doc)
	in := &sns.PublishInput{
		TopicArn:          aws.String(s.TopicARN),
		Subject:           aws.String(subject),
		MessageAttributes: attrs,
	}
	if s.Format == "chatbot" {
		msg, err := ChatbotMessage(doc)
		if err != nil {
			return nil, err
		}
		in.Message = aws.String(msg)
	} else {
		msg, err := fit(doc, snsMaxBytes-attrBytes-len(subject))
		if err != nil {
			return nil, err
		}
		in.Message, in.MessageStructure = aws.String(msg), aws.String("json")
	}
	if s.fifo() {
		group := doc.Rule
		if len(group) > snsMaxGroupID {
			group = group[:snsMaxGroupID]
		}
		in.MessageGroupId = aws.String(group)
		in.MessageDeduplicationId = aws.String(doc.AlertID)
	}
	return in, nil
}

// fit returns the json-structured SNS message for doc, made to fit in
// limit bytes as the SNS type comment describes.
func fit(doc *Document, limit int) (string, error) {
	d := *doc // shares maps and slices, which are replaced, never modified
	msg, err := snsMessage(&d)
	if err != nil || len(msg) <= limit {
		return msg, err
	}
	d.Truncated = true
	for len(d.Samples) > 0 {
		d.Samples = d.Samples[:len(d.Samples)-1]
		if msg, err = snsMessage(&d); err != nil || len(msg) <= limit {
			return msg, err
		}
	}
	d.Samples = nil
	if d.Description != "" {
		// The longest cut of the description that fits (the message grows
		// with it, though not in proportion: escaping, two renderings).
		full := d.Description
		lo, hi := 0, len(full) // a cut to lo fits unless lo is 0 and nothing fits
		best := ""
		for lo <= hi {
			mid := (lo + hi) / 2
			d.Description = cutText(full, mid)
			m, err := snsMessage(&d)
			if err != nil {
				return "", err
			}
			if len(m) <= limit {
				best, lo = m, mid+1
			} else {
				hi = mid - 1
			}
		}
		if best != "" {
			return best, nil
		}
		d.Description = ""
	}
	// Last resort: cut every text field.
	d.Title = cutText(d.Title, snsMaxFieldCut)
	d.Runbook = cutText(d.Runbook, snsMaxFieldCut)
	d.Source = cutText(d.Source, snsMaxFieldCut)
	d.Group = cutValues(d.Group)
	d.Labels = cutValues(d.Labels)
	if msg, err = snsMessage(&d); err != nil || len(msg) <= limit {
		return msg, err
	}
	return "", fmt.Errorf("message of %d bytes over the SNS limit of %d even with every field cut", len(msg), limit)
}

// cutText cuts s to at most n bytes without splitting a UTF-8 character,
// marking a cut with "…".
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ell = "…"
	if n < len(ell) {
		return ""
	}
	cut := n - len(ell)
	for cut > 0 && cut < len(s) && s[cut]&0xc0 == 0x80 {
		cut--
	}
	return s[:cut] + ell
}

func cutValues(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[cutText(k, snsMaxFieldCut)] = cutText(v, snsMaxFieldCut)
	}
	return out
}

// snsMessage is the json-structured message: the alert document (JSON) as
// "default", the text rendering as "email".
func snsMessage(d *Document) (string, error) {
	docJSON, err := marshalNoEscape(d)
	if err != nil {
		return "", fmt.Errorf("encode alert: %w", err)
	}
	b, err := marshalNoEscape(struct {
		Default string `json:"default"`
		Email   string `json:"email"`
	}{string(docJSON), EmailText(d)})
	if err != nil {
		return "", fmt.Errorf("encode message: %w", err)
	}
	return string(b), nil
}

// marshalNoEscape is json.Marshal without the HTML escaping of <, > and &,
// which would grow the message for nothing.
func marshalNoEscape(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// asciiPunct maps typographic punctuation to ASCII before the subject is
// made ASCII (which replaces anything else with '?').
var asciiPunct = strings.NewReplacer(
	"—", "-", "–", "-", "‒", "-", "―", "-", "‐", "-", "‑", "-", "−", "-",
	"‘", "'", "’", "'", "‚", "'", "“", `"`, "”", `"`, "„", `"`,
	"…", "...", "«", `"`, "»", `"`, "\u00a0", " ",
)

// Subject renders the SNS subject of doc: "[HIGH] title - k=v k2=v2", with
// group keys sorted, group values redacted and sanitized, reduced to
// printable ASCII and cut to 100 characters.
func Subject(doc *Document) string {
	return redact.ASCII(asciiPunct.Replace(summary(doc)), snsMaxSubject)
}

// summary is the one-line "[HIGH] title - k=v k2=v2" of doc, sanitized but
// not cut as a whole.
func summary(doc *Document) string {
	sev := strings.ToUpper(doc.Severity)
	if sev == "" {
		sev = "ALERT"
	}
	var b strings.Builder
	b.WriteString("[" + redact.Sanitize(sev, 16) + "] " + redact.Sanitize(doc.Title, maxShown))
	sep := " - "
	for _, k := range SortedKeys(doc.Group) {
		b.WriteString(sep + redact.Sanitize(k, maxShown) + "=" + redact.Sanitize(redact.Value(k, doc.Group[k]), maxShown))
		sep = " "
	}
	return redact.Sanitize(b.String(), 0)
}

// EmailText renders doc for a person reading email: several lines, every
// value from a log sanitized and cut, secret-looking sample fields
// redacted. Description and runbook keep their line breaks.
//
//	Repeated authentication failures from one client
//
//	Severity:   HIGH
//	Rule:       mcp-auth-failure-burst
//	Group:      client_ip=203.0.113.7
//	Count:      11 (threshold 10, window 5m0s)
//	...
func EmailText(doc *Document) string {
	var b strings.Builder
	line := func(label, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%-12s%s\n", label+":", value)
		}
	}
	b.WriteString(redact.Sanitize(doc.Title, maxShown) + "\n\n")
	line("Severity", strings.ToUpper(redact.Sanitize(doc.Severity, 16)))
	line("Rule", redact.Sanitize(doc.Rule, maxShown))
	var group []string
	for _, k := range SortedKeys(doc.Group) {
		group = append(group, redact.Sanitize(k, maxShown)+"="+redact.Sanitize(redact.Value(k, doc.Group[k]), maxShown))
	}
	line("Group", strings.Join(group, " "))
	line("Count", fmt.Sprintf("%d (threshold %d, window %s)", doc.Count, doc.Threshold, redact.Sanitize(doc.Window, 32)))
	line("Time", redact.Sanitize(doc.Time, 40))
	line("First seen", redact.Sanitize(doc.FirstSeen, 40))
	line("Source", redact.Sanitize(doc.Source, maxShown))
	var labels []string
	for _, k := range SortedKeys(doc.Labels) {
		labels = append(labels, redact.Sanitize(k, maxShown)+"="+redact.Sanitize(doc.Labels[k], maxShown))
	}
	line("Labels", strings.Join(labels, " "))
	line("Alert ID", redact.Sanitize(doc.AlertID, 128))
	if doc.Description != "" {
		b.WriteString("\nDescription:\n" + sanitizeLines(doc.Description) + "\n")
	}
	if doc.Runbook != "" {
		b.WriteString("\nRunbook:\n" + sanitizeLines(doc.Runbook) + "\n")
	}
	if len(doc.Samples) > 0 {
		fmt.Fprintf(&b, "\nSamples (%d, secrets redacted):\n", len(doc.Samples))
		for i, s := range doc.Samples {
			fmt.Fprintf(&b, "%d.", i+1)
			for _, k := range SortedKeys(s) {
				b.WriteString(" " + redact.Sanitize(k, maxShown) + "=" + redact.Sanitize(redact.Value(k, s[k]), maxShown))
			}
			b.WriteString("\n")
		}
	}
	if doc.Truncated {
		b.WriteString("\n(Truncated: samples or text were dropped to fit the notification size limit.)\n")
	}
	return b.String()
}

// sanitizeLines sanitizes each line of multi-line text from the rules,
// keeping the line breaks.
func sanitizeLines(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = redact.Sanitize(l, 0)
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}

// permanentSNS reports whether a Publish error will recur however often
// the request is retried: only when the message itself is refused (a bad
// parameter, too large). Errors an operator fixes without touching the
// alert — denied by IAM, a missing topic, a disabled KMS key, bad
// credentials — are retried until alerts.max_age, so that fixing the
// deployment delivers every alert raised meanwhile instead of leaving them
// in dead letters (docs/delivery.md).
func permanentSNS(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ip *smithy.InvalidParamsError // the SDK refused to send the request
	if errors.As(err, &ip) {
		return true
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "InvalidParameter", "InvalidParameterValue", "ParameterValueInvalid", "InvalidParameterCombination",
			"MissingParameter", "ValidationError", "ValidationException", "MalformedQueryString",
			"InvalidQueryParameter":
			return true
		}
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) {
		return status.HTTPStatusCode() == 413 // request entity too large
	}
	return false // throttling, 5xx, access and configuration errors, network errors
}
