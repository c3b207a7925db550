package main

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/config"
)

// alarmsConfig writes a config with the given alarms map (and rules) to a
// temporary directory. Its endpoint refuses connections, so a test that
// got as far as calling AWS would see an error about it.
func alarmsConfig(t *testing.T, alarmsMap, rulesYAML string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "rules.yaml", rulesYAML)
	writeFile(t, dir, "app.log", "")
	return writeFile(t, dir, "secwatch.yaml", `rules: [rules.yaml]
sources:
  - {name: app, type: file, format: json, paths: [app.log]}
aws: {region: eu-west-1, endpoint: "http://127.0.0.1:1"}
`+alarmsMap)
}

const alarmRule = `rules:
  - id: burst
    match: {event_type: authentication_failure}
    window: 5m
    threshold: 10
    alarm: {log_group: /mcp-tagging/prod}
`

func TestAlarmsUsage(t *testing.T) {
	cfg := alarmsConfig(t, "alarms: {}\n", alarmRule)
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"alarms"}, exitUsage, "Usage: secwatch alarms plan|apply|audit"},
		{[]string{"alarms", "--help"}, exitOK, "audit   report every alarm"},
		{[]string{"alarms", "destroy"}, exitUsage, `unknown subcommand "destroy"`},
		{[]string{"alarms", "plan", "--help"}, exitOK, "-verify"},
		{[]string{"alarms", "apply", "--help"}, exitOK, "-prune"},
		{[]string{"alarms", "audit", "--help"}, exitOK, "-prefix"},
		{[]string{"alarms", "audit", "--prune"}, exitUsage, "flag provided but not defined: -prune"},
		{[]string{"alarms", "plan", "--config", cfg, "extra"}, exitUsage, `unexpected arguments ["extra"]`},
		{[]string{"alarms", "plan", "--config", cfg, "--verify"}, exitUsage, "name at least one recorded log FILE"},
		{[]string{"alarms", "plan", "--config", "/no/such/file.yaml"}, exitFailed, "no such file"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errb, code := secwatch(t, "", tt.args...)
			if code != tt.code {
				t.Errorf("exit code: got %d, want %d (stderr %q)", code, tt.code, errb)
			}
			if !strings.Contains(out+errb, tt.want) {
				t.Errorf("output does not contain %q:\nstdout: %s\nstderr: %s", tt.want, out, errb)
			}
		})
	}
}

func TestAlarmsNeedAlarmsMap(t *testing.T) {
	cfg := alarmsConfig(t, "", alarmRule)
	_, errb, code := secwatch(t, "", "alarms", "plan", "--config", cfg)
	if code != exitFailed || !strings.Contains(errb, "has no alarms map (alarms: {} takes the defaults") {
		t.Errorf("got %d %q", code, errb)
	}
}

// TestAlarmsRuleErrorsBeforeAWS: a rule that cannot become an alarm fails
// plan and apply with its position, before any AWS call (the endpoint
// would refuse the connection).
func TestAlarmsRuleErrorsBeforeAWS(t *testing.T) {
	cfg := alarmsConfig(t, "alarms: {}\n", alarmRule+`  - id: keys
    match: {event_type: authentication_failure}
    window: 5m
    threshold: 5
    distinct: key_hash
    alarm: {log_group: /g}
`)
	for _, sub := range []string{"plan", "apply"} {
		_, errb, code := secwatch(t, "", "alarms", sub, "--config", cfg)
		if code != exitFailed || !strings.Contains(errb, `rules.yaml:7:5: rule "keys": alarm: distinct rules cannot be alarmed`) ||
			!strings.Contains(errb, "1 rules cannot become alarms; nothing was read or changed") || strings.Contains(errb, "127.0.0.1:1") {
			t.Errorf("%s: got %d %q", sub, code, errb)
		}
	}
}

func TestAlarmSettingsFromConfig(t *testing.T) {
	cfg := &config.Config{Alarms: config.Alarms{
		Enabled: true, TopicARN: "arn:aws:sns:eu-west-1:123456789012:a", LogGroup: "/g", Namespace: "ns", Owner: "prod", NamePrefix: "staging",
		Heartbeat: config.Heartbeat{Enabled: true, Namespace: "hb", MetricName: "Beat", Period: 2 * time.Minute, MissingAfter: 10 * time.Minute},
		Lag:       config.Lag{Enabled: true, MetricName: "Lag", Threshold: time.Minute},
	}, Sources: []config.Source{
		{Type: config.TypeCloudWatch, Format: "mcp", LogGroups: []string{"/g", "/h"}},
		{Type: config.TypeCloudWatch, LogGroups: []string{"/h", "/j"}},
		{Type: config.TypeFile, Format: "alb"},
		{Type: config.TypeCloudWatch, Format: "alb", LogGroupPrefix: "/alb/"},
	}}
	c := &cfg.Alarms
	s := alarmSettings(cfg)
	if s.TopicARN != c.TopicARN || s.LogGroup != "/g" || s.Namespace != "ns" || s.Owner != "prod" || s.NamePrefix != "staging" {
		t.Errorf("settings %+v", s)
	}
	if want := map[string]string{"/g": "mcp", "/h": "mcp", "/j": "json"}; !maps.Equal(s.Formats, want) {
		t.Errorf("formats %v, want %v", s.Formats, want)
	}
	if want := map[string]string{"/alb/": "alb"}; !maps.Equal(s.PrefixFormats, want) {
		t.Errorf("prefix formats %v, want %v", s.PrefixFormats, want)
	}
	if h := s.Heartbeat; h == nil || h.Namespace != "hb" || h.MetricName != "Beat" || h.Period != 2*time.Minute || h.MissingAfter != 10*time.Minute {
		t.Errorf("heartbeat %+v", s.Heartbeat)
	}
	// The lag is published with the heartbeat: same namespace and period.
	if l := s.Lag; l == nil || l.Namespace != "hb" || l.MetricName != "Lag" || l.Period != 2*time.Minute || l.Threshold != time.Minute {
		t.Errorf("lag %+v", s.Lag)
	}
	c.Heartbeat.Enabled, c.Lag.Enabled = false, false
	if s := alarmSettings(cfg); s.Heartbeat != nil || s.Lag != nil {
		t.Errorf("disabled: %+v", s)
	}
}

// TestAlarmsVerifyUsesTheSourceFormat: plan --verify replays the files in
// the format of the config's only source, offline (the endpoint refuses
// connections), and exits 1 on a line where rule and pattern disagree.
func TestAlarmsVerifyUsesTheSourceFormat(t *testing.T) {
	cfg := alarmsConfig(t, "", `rules:
  - id: burst
    match: {event_type: authentication_failure}
    window: 5m
    threshold: 10
    alarm: {log_group: /g, filter_pattern: '"failure"'}
`)
	log := writeFile(t, t.TempDir(), "events.jsonl", `{"timestamp":"2026-01-28T19:00:00Z","event_type":"authentication_failure"}
{"timestamp":"2026-01-28T19:00:01Z","event_type":"authorization_failure"}
{"timestamp":"2026-01-28T19:00:02Z","event_type":"request"}
`)
	out, errb, code := secwatch(t, "", "alarms", "plan", "--config", cfg, "--verify", log)
	if code != exitFailed || !strings.Contains(out, "events.jsonl:2:") || strings.Contains(out, "events.jsonl:1:") || strings.Contains(out+errb, "127.0.0.1:1") {
		t.Errorf("got %d\nstdout: %s\nstderr: %s", code, out, errb)
	}
}

// TestAlarmsPlanKnowsTheGroupFormat: a rule on a field the mcp format
// parses out of text, on a log group a cloudwatch source reads with
// format mcp, is a plan error naming the rule, the field and the pattern
// that works, before any AWS call; the same for a hand-written JSON pattern
// on a property the envelope never has.
func TestAlarmsPlanKnowsTheGroupFormat(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "rules.yaml", alarmRule+`  - id: by-hand
    match: {event_type: cors_violation}
    window: 5m
    threshold: 5
    alarm: {log_group: /mcp-tagging/prod, filter_pattern: '{ $.logger = "security" && $.event_type = "cors_violation" }'}
`)
	cfg := writeFile(t, dir, "secwatch.yaml", `rules: [rules.yaml]
sources:
  - {name: mcp, type: cloudwatch, format: mcp, log_groups: [/mcp-tagging/prod]}
aws: {region: eu-west-1, endpoint: "http://127.0.0.1:1"}
alarms: {}
`)
	_, errb, code := secwatch(t, "", "alarms", "plan", "--config", cfg)
	for _, want := range []string{
		`rules.yaml:3:25: rule "burst": alarm: match.event_type: log group /mcp-tagging/prod is read with format mcp, whose events a metric filter sees as JSON objects with only the properties correlation_id, level, logger, message, timestamp; event_type is parsed from the text of the line`,
		`{ $.message = %^[0-9-]+ [0-9:,]+ - SECURITY - [A-Z]+ - SECURITY EVENT \[[A-Z]+\]: authentication_failure - % }`,
		`rule "by-hand": alarm: filter_pattern: $.event_type: log group /mcp-tagging/prod is read with format mcp`,
		"2 rules cannot become alarms; nothing was read or changed",
	} {
		if !strings.Contains(errb, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb)
		}
	}
	if code != exitFailed || strings.Contains(errb, "127.0.0.1:1") {
		t.Errorf("got exit %d, stderr %s", code, errb)
	}
}
