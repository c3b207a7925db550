package alarms

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/secwatch/secwatch/internal/alarms/pattern"
	"github.com/secwatch/secwatch/internal/rules"
)

// FormatFields says which fields a source format produces and what a metric
// filter on a log group of that format's events can see of them. It
// describes the parsers of internal/ingest without importing them; see
// docs/alarms.md ("The log group's format").
type FormatFields struct {
	// Fields the format produces, besides the @ fields every source adds.
	Fields []string
	// Open: the format also passes on keys of its input (JSON objects,
	// logfmt pairs, regex groups), so any field name may occur.
	Open bool
	// OpenPrefixes are prefixes under which any field may occur
	// ("details." of the mcp structured form).
	OpenPrefixes []string
	// Filter is how a rule's match compiles for a log group of this
	// format: pattern.FormatJSON when the event's fields are the JSON
	// properties of the line, "" when they are parsed out of text a
	// filter pattern sees only as a whole.
	Filter string
	// Keys are the JSON properties a filter sees when Filter is "" but the
	// events are JSON objects all the same (the mcp envelope).
	Keys []string
	// Hint is the form of alarm.filter_pattern that works.
	Hint string
}

// Produces reports whether the format can produce field.
func (f FormatFields) Produces(field string) bool {
	if f.Open || strings.HasPrefix(field, "@") || slices.Contains(f.Fields, field) {
		return true
	}
	return slices.ContainsFunc(f.OpenPrefixes, func(p string) bool { return strings.HasPrefix(field, p) })
}

// mcpEnvelopeKeys are the properties of the MCP server's CloudWatch
// envelope, the only JSON its log group holds.
var mcpEnvelopeKeys = []string{"correlation_id", "level", "logger", "message", "timestamp"}

var formatFields = map[string]FormatFields{
	"json":   {Open: true, Filter: pattern.FormatJSON},
	"logfmt": {Open: true, Hint: "a text pattern of terms or one %regex% on the line"},
	"regex":  {Open: true, Hint: "a text pattern of terms or one %regex% on the line"},
	"alb": {
		Fields: []string{"type", "time", "elb", "client_ip", "client_port", "target_ip", "target_port",
			"request_processing_time", "target_processing_time", "response_processing_time",
			"elb_status_code", "target_status_code", "received_bytes", "sent_bytes",
			"request_method", "request_url", "request_protocol", "request_scheme", "request_path",
			"user_agent", "ssl_cipher", "ssl_protocol", "target_group_arn", "trace_id", "domain_name",
			"chosen_cert_arn", "matched_rule_priority", "request_creation_time", "actions_executed",
			"redirect_url", "error_reason", "target_port_list", "target_status_code_list",
			"classification", "classification_reason", "conn_trace_id"},
		Hint: "a space-delimited pattern such as [type, time, elb, client, target, p1, p2, p3, elb_status_code = 5*, ...]",
	},
	"mcp": {
		Fields: []string{"shape", "inner_shape", "logger", "level", "correlation_id", "message",
			"event_type", "severity", "detail", "failure_type", "key_hash", "origin", "reason",
			"tool_name", "field", "count", "max", "session_id", "logged_event_type", "logged_severity",
			"error", "client_ip", "client_port", "method", "path", "http_version", "status",
			"status_text", "timestamp", "call_signature", "call_count", "max_calls"},
		OpenPrefixes: []string{"details."},
		Keys:         mcpEnvelopeKeys,
		Hint:         `a pattern on the envelope's message, such as { $.message = %^[0-9-]+ [0-9:,]+ - SECURITY - [A-Z]+ - SECURITY EVENT \[[A-Z]+\]: authentication_failure - % } for the security console line, one per event`,
	},
}

// Format returns what format name produces; ok is false for a name no
// parser has.
func Format(name string) (f FormatFields, ok bool) {
	f, ok = formatFields[name]
	return f, ok
}

var eventTypeValue = regexp.MustCompile(`^[a-z_]+$`)

// compileFor returns r's filter pattern for a log group whose events a
// source reads with format ("" when no source does: r.Alarm.Format
// decides). A pattern that could never match the group's events is an
// error naming the rule, the field and the form that would work.
func compileFor(r *rules.Rule, group, format string) (string, error) {
	ff, known := formatFields[format]
	if !known {
		return pattern.Compile(r)
	}
	at := func(line, col int) string { return fmt.Sprintf("%s:%d:%d: rule %q: alarm: ", r.File, line, col, r.ID) }
	if src := r.Alarm.FilterPattern; src != "" {
		p, err := pattern.Parse(src)
		if err != nil {
			return "", fmt.Errorf("%sfilter_pattern %q: %w", at(r.Line, r.Col), src, err)
		}
		if !p.IsJSON() || ff.Filter == pattern.FormatJSON {
			return src, nil
		}
		var errs []error
		for _, k := range p.Properties() {
			if !slices.Contains(ff.Keys, k) {
				errs = append(errs, fmt.Errorf("%sfilter_pattern: $.%s: %s", at(r.Line, r.Col), k, neverThere(group, format, ff)))
			}
		}
		return src, errors.Join(errs...)
	}
	if ff.Filter != "" {
		return pattern.CompileFormat(r, ff.Filter)
	}
	var errs []error
	EachTest(r.Match, func(field string, t *rules.Test) {
		errs = append(errs, fmt.Errorf("%smatch.%s: %s; %s is parsed from the text of the line, not a property a filter pattern can select, so { $.%s … } would never match (give alarm.filter_pattern: %s; check it with alarms plan --verify)",
			at(t.Line, t.Col), field, neverThere(group, format, ff), field, field, suggestion(ff, field, t)))
	})
	if len(errs) == 0 { // match: {} counts every event: the empty pattern is exact
		return pattern.CompileFormat(r, pattern.FormatText)
	}
	return "", errors.Join(errs...)
}

// neverThere says what a filter on the group sees instead.
func neverThere(group, format string, ff FormatFields) string {
	if len(ff.Keys) > 0 {
		return fmt.Sprintf("log group %s is read with format %s, whose events a metric filter sees as JSON objects with only the properties %s", group, format, strings.Join(ff.Keys, ", "))
	}
	return fmt.Sprintf("log group %s is read with format %s, whose events a metric filter sees as text lines, not JSON", group, format)
}

// suggestion is the alarm.filter_pattern form for a test: the exact
// console-line pattern for an mcp event type, else the format's hint.
func suggestion(ff FormatFields, field string, t *rules.Test) string {
	if len(ff.Keys) > 0 && field == "event_type" && t.Op == rules.OpEq && eventTypeValue.MatchString(t.Values[0]) {
		return strings.Replace(ff.Hint, "authentication_failure", t.Values[0], 1)
	}
	return ff.Hint
}

// EachTest calls fn for every field test of m, in order.
func EachTest(m *rules.Match, fn func(field string, t *rules.Test)) {
	if m == nil {
		return
	}
	if m.Kind == rules.MatchField {
		for i := range m.Tests {
			fn(m.Field, &m.Tests[i])
		}
		return
	}
	for _, c := range m.Children {
		EachTest(c, fn)
	}
}
