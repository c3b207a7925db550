package config

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

const alarmsBase = `sources:
  - {name: mcp, type: cloudwatch, log_groups: [/mcp-tagging/prod]}
alerts:
  sns: {topic_arn: "arn:aws:sns:eu-west-1:123456789012:alerts"}
`

func TestAlarmsDefaults(t *testing.T) {
	c, err := Parse("secwatch.yaml", strings.NewReader(alarmsBase+"aws: {endpoint: \"http://localhost:4566\"}\nalarms: {}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Alarms{
		Enabled: true, TopicARN: "arn:aws:sns:eu-west-1:123456789012:alerts", Region: "eu-west-1",
		Endpoint: "http://localhost:4566", LogGroup: "/mcp-tagging/prod", Namespace: "secwatch", Owner: "true", NamePrefix: "secwatch",
		Heartbeat: Heartbeat{Enabled: true, Namespace: "secwatch", MetricName: "Heartbeat", Period: time.Minute, MissingAfter: 5 * time.Minute},
		Lag:       Lag{MetricName: "IngestionLagSeconds", Threshold: 5 * time.Minute},
	}
	if c.Alarms != want {
		t.Errorf("got  %+v\nwant %+v", c.Alarms, want)
	}
	c, err = Parse("secwatch.yaml", strings.NewReader(alarmsBase), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Alarms.Enabled {
		t.Errorf("without an alarms map: %+v", c.Alarms)
	}
}

func TestAlarmsKeys(t *testing.T) {
	c, err := Parse("secwatch.yaml", strings.NewReader(alarmsBase+`alarms:
  topic_arn: "arn:aws:sns:eu-west-1:123456789012:pager"
  log_group: /other
  namespace: mcp/prod
  owner: prod
  name_prefix: secwatch-staging
  heartbeat: {namespace: ops, metric_name: Beat, period: 2m}
  lag: {enabled: true, threshold: 90s}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Alarms
	if a.TopicARN != "arn:aws:sns:eu-west-1:123456789012:pager" || a.LogGroup != "/other" || a.Namespace != "mcp/prod" || a.Owner != "prod" || a.NamePrefix != "secwatch-staging" ||
		a.Heartbeat.Namespace != "ops" || a.Heartbeat.MetricName != "Beat" || a.Heartbeat.Period != 2*time.Minute ||
		a.Heartbeat.MissingAfter != 6*time.Minute || !a.Lag.Enabled || a.Lag.Threshold != 90*time.Second {
		t.Errorf("got %+v", a)
	}
}

func TestAlarmsMistakes(t *testing.T) {
	_, err := Parse("secwatch.yaml", strings.NewReader(`sources:
  - {name: app, type: file, paths: [a.log]}
aws: {region: us-east-1}
alarms:
  topic_arn: "arn:aws:sns:eu-west-1:123456789012:alerts"
  namespace: ":bad"
  name_prefix: "prod-"
  heartbeat: {period: 90s, missing_after: 5m, enabld: true}
  lag: {enabled: true}
`), nil)
	got := errString(err)
	for _, want := range []string{
		`secwatch.yaml:5:14: alarms.topic_arn: alarms can only notify a topic in their own region: the alarms are in "us-east-1", the topic in "eu-west-1"`,
		`secwatch.yaml:6:14: alarms.namespace: must be 1 to 255 printable ASCII characters not starting with ":", got ":bad"`,
		`secwatch.yaml:7:16: alarms.name_prefix: must be 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit and not ending in '-', got "prod-"`,
		`alarms.heartbeat.period: must be a whole number of minutes, got "90s"`,
		`alarms.heartbeat.enabld: unknown field (did you mean "enabled"?)`,
		`alarms.lag.enabled: is true but no source has type cloudwatch`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q:\n%s", want, got)
		}
	}
	_, err = Parse("secwatch.yaml", strings.NewReader(alarmsBase+"alarms: {heartbeat: {missing_after: 150s}}\n"), nil)
	if got, want := errString(err), `alarms.heartbeat.missing_after: must be a whole multiple of heartbeat.period (1m), got "150s"`; !strings.Contains(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestDocsNameEveryAlarmsKey: docs/config.md has a row for every key of
// the alarms map.
func TestDocsNameEveryAlarmsKey(t *testing.T) {
	data, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		prefix string
		keys   []string
	}{{"alarms.", alarmsKeys}, {"alarms.heartbeat.", heartbeatKeys}, {"alarms.lag.", lagKeys}} {
		for _, k := range s.keys {
			if k == "heartbeat" || k == "lag" {
				continue
			}
			if !regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(s.prefix+k) + "` \\|").Match(data) {
				t.Errorf("docs/config.md has no table row for %q", s.prefix+k)
			}
		}
	}
}

// TestHeartbeatSchedule: alarms.heartbeat.schedule, a duration or the
// schedule's own rate() expression, makes the heartbeat window three runs
// (in whole periods) unless missing_after is given, which must then be
// longer than one run.
func TestHeartbeatSchedule(t *testing.T) {
	for _, tc := range []struct {
		heartbeat string
		schedule  time.Duration
		missing   time.Duration
		err       string
	}{
		{heartbeat: `{schedule: 5m}`, schedule: 5 * time.Minute, missing: 15 * time.Minute},
		{heartbeat: `{schedule: "rate(1 hour)"}`, schedule: time.Hour, missing: 3 * time.Hour},
		{heartbeat: `{schedule: "rate(20 minutes)", period: 7m}`, schedule: 20 * time.Minute, missing: 63 * time.Minute},
		{heartbeat: `{schedule: "rate(1 minute)"}`, schedule: time.Minute, missing: 5 * time.Minute},
		{heartbeat: `{schedule: ""}`, missing: 5 * time.Minute},
		{heartbeat: `{schedule: 1h, missing_after: 2h}`, schedule: time.Hour, missing: 2 * time.Hour},
		{heartbeat: `{schedule: 1h, missing_after: 1h}`, err: `alarms.heartbeat.missing_after: must be longer than alarms.heartbeat.schedule (1h)`},
		{heartbeat: `{schedule: "cron(0 * * * ? *)"}`, err: `alarms.heartbeat.schedule: a cron expression has no fixed interval`},
		{heartbeat: `{schedule: "rate(1 fortnight)"}`, err: `alarms.heartbeat.schedule: must be a duration like "5m" or a rate expression`},
		{heartbeat: `{schedule: "rate(2 days)"}`, err: `alarms.heartbeat.schedule: must be between 1m and 8h`},
	} {
		c, err := Parse("secwatch.yaml", strings.NewReader(alarmsBase+"alarms: {heartbeat: "+tc.heartbeat+"}\n"), nil)
		if tc.err != "" {
			if got := errString(err); !strings.Contains(got, tc.err) {
				t.Errorf("%s: got error %q, want %q", tc.heartbeat, got, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.heartbeat, err)
			continue
		}
		if h := c.Alarms.Heartbeat; h.Schedule != tc.schedule || h.MissingAfter != tc.missing {
			t.Errorf("%s: got schedule %s, missing_after %s; want %s, %s", tc.heartbeat, h.Schedule, h.MissingAfter, tc.schedule, tc.missing)
		}
	}
}
