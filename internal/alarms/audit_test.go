package alarms

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

func dimsOf(kv ...string) []cwtypes.Dimension {
	var out []cwtypes.Dimension
	for i := 0; i < len(kv); i += 2 {
		out = append(out, cwtypes.Dimension{Name: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

// TestAudit covers each finding on a fake that pages two at a time: the
// alarm that passes is listed after more than one page of alarms, and the
// dimension set it watches after more than one page of metrics.
func TestAudit(t *testing.T) {
	f := newFakeAWS()
	topic, denied := "arn:aws:sns:eu-west-1:123456789012:alerts", "arn:aws:sns:eu-west-1:123456789012:locked"
	f.topics[topic] = true
	f.topics[denied] = false
	for i := range 3 {
		f.metrics = append(f.metrics, cwtypes.Metric{Namespace: aws.String("app"), MetricName: aws.String("Errors"), Dimensions: dimsOf("Environment", "prod", "Origin", fmt.Sprint(i))})
	}
	f.metrics = append(f.metrics, cwtypes.Metric{Namespace: aws.String("app"), MetricName: aws.String("Errors"), Dimensions: dimsOf("Environment", "prod")})
	alarm := func(name, metric string, missing string, actions []string, enabled bool, dims ...string) {
		f.alarms[name] = cwtypes.MetricAlarm{
			AlarmName: aws.String(name), Namespace: aws.String("app"), MetricName: aws.String(metric),
			Dimensions: dimsOf(dims...), TreatMissingData: aws.String(missing),
			AlarmActions: actions, ActionsEnabled: aws.Bool(enabled),
		}
	}
	alarm("a-wrong-dims", "Errors", notBreaching, []string{topic}, true, "Environment", "staging")
	alarm("b-no-actions", "Errors", "missing", nil, true, "Environment", "prod")
	alarm("c-disabled", "Errors", "missing", []string{topic}, false, "Environment", "prod")
	alarm("d-gone-topic", "Errors", "missing", []string{topic + "-gone"}, true, "Environment", "prod")
	alarm("e-denied-topic", "Errors", "missing", []string{denied}, true, "Environment", "prod")
	alarm("f-heartbeat", "Heartbeat", breaching, []string{topic}, true)
	alarm("g-good", "Errors", notBreaching, []string{topic}, true, "Environment", "prod")

	rep, err := (&Auditor{CloudWatch: f, Logs: f, SNS: f}).Audit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fd := range rep.Findings {
		got = append(got, fd.Alarm+" "+fd.Problem)
	}
	want := []string{
		"a-wrong-dims never-fires", "a-wrong-dims silent-ok", "b-no-actions no-actions", "c-disabled actions-disabled",
		"d-gone-topic missing-topic", "f-heartbeat alarms-on-nothing",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rep.Checked != 7 || strings.Join(rep.Passed, ",") != "e-denied-topic,g-good" {
		t.Errorf("checked %d, passed %v", rep.Checked, rep.Passed)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "topic "+denied+" could not be checked") {
		t.Errorf("warnings: %q", rep.Warnings)
	}
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"ALARM         PROBLEM            DETAIL\n",
		"a-wrong-dims  never-fires        watches app/Errors {Environment=staging}, which no metric is published with (published with {Environment, Origin} in 3 series; {Environment} in 1 series)\n",
		"7 alarms checked, 5 with problems, 6 findings\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

// TestAuditWithoutOptionalClients: without the Logs and SNS clients the
// checks they enable are skipped, and the report says so.
func TestAuditWithoutOptionalClients(t *testing.T) {
	f := newFakeAWS()
	f.alarms["x"] = cwtypes.MetricAlarm{AlarmName: aws.String("x"), Namespace: aws.String("n"), MetricName: aws.String("m"),
		AlarmActions: []string{"arn:aws:sns:eu-west-1:123456789012:gone"}, ActionsEnabled: aws.Bool(true)}
	rep, err := (&Auditor{CloudWatch: f}).Audit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Problem != NeverFires || len(rep.Warnings) != 2 {
		t.Errorf("findings %+v, warnings %q", rep.Findings, rep.Warnings)
	}
}

// TestAuditNeverMatches: a metric filter whose pattern matches none of the
// events of a log group that has events is reported against the alarm on
// its metric, with the counts; a filter that matches (after empty pages, as
// CloudWatch returns them) passes; a filter on a group without events is
// not judged; a filter no audited alarm watches is reported by its name.
func TestAuditNeverMatches(t *testing.T) {
	f := newFakeAWS()
	topic := "arn:aws:sns:eu-west-1:123456789012:alerts"
	f.topics[topic] = true
	envelope := `{"message": "2026-01-28 19:33:56,831 - SECURITY - WARNING - SECURITY EVENT [MEDIUM]: authentication_failure - Bearer token is empty", "logger": "security"}`
	f.events["/mcp"] = []string{`{"message": "started", "logger": "main"}`, envelope, envelope}
	f.events["/quiet"] = []string{}
	filter := func(name, group, pat, metric string) {
		f.filters = append(f.filters, logstypes.MetricFilter{FilterName: aws.String(name), LogGroupName: aws.String(group), FilterPattern: aws.String(pat),
			MetricTransformations: []logstypes.MetricTransformation{{MetricNamespace: aws.String("secwatch"), MetricName: aws.String(metric), MetricValue: aws.String("1")}}})
		f.alarms[name] = cwtypes.MetricAlarm{AlarmName: aws.String(name), Namespace: aws.String("secwatch"), MetricName: aws.String(metric),
			TreatMissingData: aws.String(notBreaching), AlarmActions: []string{topic}, ActionsEnabled: aws.Bool(true)}
	}
	filter("secwatch-dead", "/mcp", `{ $.event_type = "authentication_failure" }`, "dead")
	filter("secwatch-live", "/mcp", `{ $.message = "*authentication_failure*" }`, "live")
	filter("secwatch-quiet", "/quiet", `{ $.event_type = "x" }`, "quiet")
	filter("other-team", "/mcp", `"ERROR"`, "errors")
	delete(f.alarms, "other-team")

	rep, err := (&Auditor{CloudWatch: f, Logs: f, SNS: f}).Audit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, fd := range rep.Findings {
		got = append(got, fd.Alarm+" "+fd.Filter+" "+fd.Problem+": "+fd.Detail)
	}
	want := []string{
		" other-team never-matches: metric filter other-team on /mcp matched 0 of the 3 events of the last 24h: pattern \"ERROR\"",
		`secwatch-dead secwatch-dead never-matches: metric filter secwatch-dead on /mcp matched 0 of the 3 events of the last 24h: pattern { $.event_type = "authentication_failure" }`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Join(rep.Passed, ",") != "secwatch-live,secwatch-quiet" {
		t.Errorf("passed %v", rep.Passed)
	}
	// With a prefix, only the filters feeding the audited alarms are run.
	f.calls = nil
	if _, err := (&Auditor{CloudWatch: f, Logs: f, AlarmNamePrefix: "secwatch-live"}).Audit(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, c := range f.calls {
		if strings.HasPrefix(c, "FilterLogEvents") && !strings.Contains(c, "*authentication_failure*") {
			t.Errorf("with --prefix secwatch-live: %s", c)
		}
	}
}
