package alarms

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
)

func parseRules(t *testing.T, text string) []*rules.Rule {
	t.Helper()
	rs, err := rulefile.Parse("rules.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

var testSettings = Settings{TopicARN: "arn:aws:sns:eu-west-1:123456789012:alerts", LogGroup: "/mcp-tagging/prod"}

func TestDesiredRuleAlarms(t *testing.T) {
	rs := parseRules(t, `rules:
  - id: burst
    title: Auth failures
    match: {event_type: authentication_failure}
    group_by: [client_ip]
    window: 90s
    threshold: 10
    alarm: {}
  - id: short
    match: {event_type: x}
    window: 20s
    threshold: 0
    alarm: {filter_pattern: '"x"', log_group: /other, namespace: custom, metric_name: Xs}
  - id: quiet
    match: {event_type: probe}
    absent: 150s
    alarm: {filter_pattern: '"probe"'}
  - id: no-alarm
    match: {event_type: y}
    window: 1m
    threshold: 1
`)
	got, errs := Desired(rs, testSettings)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(got) != 3 {
		t.Fatalf("got %d resources, want 3", len(got))
	}
	byName := map[string]Resource{}
	for _, r := range got {
		byName[r.Alarm.Name] = r
	}
	for _, tc := range []struct {
		name, group, pattern, metric, missing, comparison string
		period                                            int32
		threshold                                         float64
		notes                                             []string
	}{
		{"secwatch-burst", "/mcp-tagging/prod", `{ $.event_type = "authentication_failure" }`, "secwatch/burst", notBreaching, greaterThan, 120, 10,
			[]string{"window 1m30s is alarmed over a period of 2m", "aggregate alarm: the rule counts per client_ip"}},
		{"secwatch-short", "/other", `"x"`, "custom/Xs", notBreaching, greaterThan, 60, 0,
			[]string{"window 20s is alarmed over a period of 1m"}},
		{"secwatch-quiet", "/mcp-tagging/prod", `"probe"`, "secwatch/quiet", breaching, lessThan, 120, 1,
			[]string{"absent 2m30s is alarmed over a period of 2m"}},
	} {
		r, ok := byName[tc.name]
		if !ok {
			t.Errorf("%s: missing", tc.name)
			continue
		}
		f, a := r.Filter, r.Alarm
		if f.LogGroup != tc.group || f.Pattern != tc.pattern || metricID(f.Namespace, f.MetricName) != tc.metric || f.Value != "1" || f.Name != tc.name {
			t.Errorf("%s: filter %+v", tc.name, f)
		}
		if metricID(a.Namespace, a.MetricName) != tc.metric || a.Period != tc.period || a.Threshold != tc.threshold ||
			a.TreatMissingData != tc.missing || a.Comparison != tc.comparison || a.Statistic != "Sum" || a.EvaluationPeriods != 1 {
			t.Errorf("%s: alarm %+v", tc.name, a)
		}
		if len(a.Actions) != 1 || a.Actions[0] != testSettings.TopicARN || !a.ActionsEnabled {
			t.Errorf("%s: actions %v", tc.name, a.Actions)
		}
		if a.Tags[TagManaged] != "true" || a.Tags[TagRule] != strings.TrimPrefix(tc.name, "secwatch-") || len(a.Tags[TagHash]) != 16 {
			t.Errorf("%s: tags %v", tc.name, a.Tags)
		}
		if len(r.Notes) != len(tc.notes) {
			t.Errorf("%s: notes %q, want %d", tc.name, r.Notes, len(tc.notes))
			continue
		}
		for i, n := range tc.notes {
			if !strings.HasPrefix(r.Notes[i], n) {
				t.Errorf("%s: note %d: got %q, want it to start with %q", tc.name, i, r.Notes[i], n)
			}
		}
	}
}

func TestDesiredErrorsNameTheRule(t *testing.T) {
	rs := parseRules(t, `rules:
  - id: distinct-keys
    match: {event_type: authentication_failure}
    window: 5m
    threshold: 5
    distinct: key_hash
    alarm: {}
  - id: worked
    window: 5m
    sequence:
      - {match: {event_type: authentication_failure}, threshold: 5}
      - {match: {event_type: authentication_success}}
    alarm: {}
  - id: heartbeat
    match: {event_type: x}
    window: 1m
    threshold: 1
    alarm: {filter_pattern: '"x"'}
  - id: good
    match: {event_type: x}
    window: 1m
    threshold: 1
    alarm: {filter_pattern: '"x"'}
`)
	s := testSettings
	s.Heartbeat = &Heartbeat{Namespace: "secwatch", MetricName: "Heartbeat", Period: time.Minute, MissingAfter: 5 * time.Minute}
	got, errs := Desired(rs, s)
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		`rules.yaml:2:5: rule "distinct-keys": alarm: distinct rules cannot be alarmed`,
		`rules.yaml:8:5: rule "worked": alarm: sequence rules cannot be alarmed`,
		`alarm name secwatch-heartbeat is already used`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("errors lack %q:\n%s", want, all)
		}
	}
	if len(errs) != 3 {
		t.Errorf("got %d errors, want 3:\n%s", len(errs), all)
	}
	if len(got) != 2 || got[0].Alarm.Name != "secwatch-good" || got[1].Alarm.Name != HeartbeatName {
		t.Errorf("kept %v, want secwatch-good and the heartbeat", got)
	}
}

func TestDesiredNeedsLogGroup(t *testing.T) {
	rs := parseRules(t, "rules:\n  - id: a\n    match: {x: y}\n    window: 1m\n    threshold: 1\n    alarm: {filter_pattern: '\"y\"'}\n")
	_, errs := Desired(rs, Settings{})
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `rule "a": alarm: log_group: required`) {
		t.Errorf("got %v, want a log_group error naming rule a", errs)
	}
}

func TestDesiredHashFollowsTheDefinition(t *testing.T) {
	text := "rules:\n  - id: a\n    title: T\n    match: {x: y}\n    window: 1m\n    threshold: 1\n    alarm: {filter_pattern: '\"y\"'}\n"
	hashOf := func(text string, s Settings) string {
		got, errs := Desired(parseRules(t, text), s)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return got[0].Alarm.Tags[TagHash]
	}
	base := hashOf(text, testSettings)
	if hashOf(text, testSettings) != base {
		t.Error("the hash is not stable")
	}
	if hashOf(strings.Replace(text, "threshold: 1", "threshold: 2", 1), testSettings) == base {
		t.Error("a new threshold keeps the hash")
	}
	if hashOf(strings.Replace(text, "'\"y\"'", "'\"z\"'", 1), testSettings) == base {
		t.Error("a new pattern keeps the hash")
	}
	if hashOf(strings.Replace(text, "    match", "    cooldown: 1h\n    match", 1), testSettings) != base {
		t.Error("a cooldown, which the alarm does not use, changes the hash")
	}
	s := testSettings
	s.TopicARN = "arn:aws:sns:eu-west-1:123456789012:other"
	if hashOf(text, s) == base {
		t.Error("a new topic keeps the hash")
	}
}

func TestDesiredBuiltins(t *testing.T) {
	s := Settings{
		TopicARN:  testSettings.TopicARN,
		Heartbeat: &Heartbeat{Namespace: "ops", MetricName: "Heartbeat", Period: 2 * time.Minute, MissingAfter: 10 * time.Minute},
		Lag:       &Lag{Namespace: "ops", MetricName: "IngestionLagSeconds", Period: 2 * time.Minute, Threshold: 90 * time.Second},
		Owner:     "prod",
	}
	got, errs := Desired(nil, s)
	if len(errs) > 0 || len(got) != 2 {
		t.Fatalf("got %v, %v", got, errs)
	}
	hb, lag := got[0].Alarm, got[1].Alarm
	if hb.Name != HeartbeatName || hb.Namespace != "ops" || hb.Period != 120 || hb.EvaluationPeriods != 5 || hb.Threshold != 1 ||
		hb.Comparison != lessThan || hb.TreatMissingData != breaching || hb.Statistic != "Sum" || got[0].Filter != nil {
		t.Errorf("heartbeat: %+v", hb)
	}
	if lag.Name != LagName || lag.Statistic != "Maximum" || lag.Threshold != 90 || lag.Comparison != greaterThan || lag.TreatMissingData != notBreaching || lag.Period != 120 {
		t.Errorf("lag: %+v", lag)
	}
	for _, a := range []Alarm{hb, lag} {
		if a.Tags[TagManaged] != "prod" || a.Tags[TagRule] != "" || len(a.Actions) != 1 {
			t.Errorf("%s: tags %v, actions %v", a.Name, a.Tags, a.Actions)
		}
	}
}

// TestDesiredOperatorAlarms: the alarms on the operator metrics, under the
// deployment's prefix, each in the heartbeat's namespace and period.
func TestDesiredOperatorAlarms(t *testing.T) {
	s := Settings{
		TopicARN:   testSettings.TopicARN,
		NamePrefix: "staging",
		Operator:   &Operator{Namespace: "ops", Period: 2 * time.Minute, SourcesDown: "SourcesDown", DeadLetters: "DeadLetters", DeliveryFailures: "DeliveryFailures"},
	}
	got, errs := Desired(nil, s)
	if len(errs) > 0 || len(got) != 3 {
		t.Fatalf("got %v, %v", got, errs)
	}
	want := []string{
		"staging-dead-letters DeadLetters Maximum >0 x1",
		"staging-delivery-failures DeliveryFailures Sum >0 x3",
		"staging-sources-down SourcesDown Maximum >0 x1",
	}
	for i, res := range got {
		a := res.Alarm
		if g := fmt.Sprintf("%s %s %s >%g x%d", a.Name, a.MetricName, a.Statistic, a.Threshold, a.EvaluationPeriods); g != want[i] || a.Comparison != greaterThan {
			t.Errorf("alarm %d: got %s (%s), want %s", i, g, a.Comparison, want[i])
		}
		if a.Namespace != "ops" || a.Period != 120 || a.TreatMissingData != notBreaching || len(a.Actions) != 1 || a.Tags[TagPrefix] != "staging" || res.Filter != nil {
			t.Errorf("%s: %+v", a.Name, a)
		}
	}
}

// TestDesiredCompilesForTheGroupFormat: the source format of the group
// (exact, else the longest prefix) decides how a rule compiles: json
// compiles the match, mcp and alb refuse its fields.
func TestDesiredCompilesForTheGroupFormat(t *testing.T) {
	rs, err := rulefile.Parse("r.yaml", []byte(`rules:
  - id: a
    match: {status: 401}
    window: 5m
    threshold: 10
    alarm: {log_group: /app}
  - id: b
    match: {elb_status_code: 502}
    window: 5m
    threshold: 10
    alarm: {log_group: /alb/prod}
  - id: c
    match: {event_type: cors_violation}
    window: 5m
    threshold: 10
    alarm: {log_group: /mcp-tagging/prod}
`))
	if err != nil {
		t.Fatal(err)
	}
	s := Settings{
		Formats:       map[string]string{"/app": "json", "/mcp-tagging/prod": "mcp"},
		PrefixFormats: map[string]string{"/": "json", "/alb/": "alb"},
	}
	got, errs := Desired(rs, s)
	if len(got) != 1 || got[0].Filter.Pattern != "{ $.status = 401 }" {
		t.Errorf("resources %+v", got)
	}
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{
		`r.yaml:8:30: rule "b": alarm: match.elb_status_code: log group /alb/prod is read with format alb, whose events a metric filter sees as text lines, not JSON`,
		"a space-delimited pattern such as [type, time, elb, client, target, p1, p2, p3, elb_status_code = 5*, ...]",
		`r.yaml:13:25: rule "c": alarm: match.event_type: log group /mcp-tagging/prod is read with format mcp`,
		`SECURITY EVENT \[[A-Z]+\]: cors_violation - %`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("errors lack %q:\n%s", want, all)
		}
	}
}
