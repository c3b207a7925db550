package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/yamldiag"
)

// env returns a getenv over a fixed map, so that tests never depend on the
// process environment.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func parse(t *testing.T, src string, vars map[string]string) (*Config, error) {
	t.Helper()
	return Parse("secwatch.yaml", strings.NewReader(src), env(vars))
}

func TestDefaults(t *testing.T) {
	got, err := parse(t, "sources:\n  - {name: in, type: stdin}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		File:     "secwatch.yaml",
		StateDir: "/var/lib/secwatch",
		Rules:    []string{"rules"},
		Engine:   Engine{MaxKeys: 100_000, MaxLateness: 10 * time.Minute, MaxFuture: 24 * time.Hour, Tick: time.Second},
		Sources:  []Source{{Name: "in", Type: "stdin", Format: "json", MaxLineBytes: 1 << 20}},
		Alerts: Alerts{
			Stdout:         Stdout{Enabled: true, Format: "auto"},
			MaxAge:         24 * time.Hour,
			InitialBackoff: time.Second,
			MaxBackoff:     5 * time.Minute,
			AttemptTimeout: 30 * time.Second,
			StallAfter:     10 * time.Minute,
		},
		HTTP:               HTTP{Listen: "127.0.0.1:9464"},
		ShutdownGrace:      20 * time.Second,
		CheckpointInterval: 10 * time.Second,
		Log:                Log{Level: "info", Format: "auto"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestSourceDefaults(t *testing.T) {
	src := `
aws: {region: eu-west-1, endpoint: "http://localhost:4566"}
sources:
  - {name: f, type: file, paths: x.log}
  - {name: cw, type: cloudwatch, log_group_prefix: /mcp/}
  - {name: cw2, type: cloudwatch, log_groups: [/a], region: us-east-2, endpoint: "https://logs.test"}
`
	c, err := parse(t, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Source{
		{Name: "f", Type: "file", Format: "json", MaxLineBytes: 1 << 20, Paths: []string{"x.log"}, Start: "end", PollInterval: 250 * time.Millisecond},
		{Name: "cw", Type: "cloudwatch", Format: "json", MaxLineBytes: 1 << 20, LogGroupPrefix: "/mcp/", PollInterval: 5 * time.Second, Overlap: 2 * time.Minute, Region: "eu-west-1", Endpoint: "http://localhost:4566"},
		{Name: "cw2", Type: "cloudwatch", Format: "json", MaxLineBytes: 1 << 20, LogGroups: []string{"/a"}, PollInterval: 5 * time.Second, Overlap: 2 * time.Minute, Region: "us-east-2", Endpoint: "https://logs.test"},
	}
	if !reflect.DeepEqual(c.Sources, want) {
		t.Errorf("got  %+v\nwant %+v", c.Sources, want)
	}
}

func TestEveryKey(t *testing.T) {
	src := `
state_dir: /srv/secwatch
rules: [rules/, extra.yaml]
engine: {max_keys: 5_000, max_lateness: 1m, max_future: 48h, tick: 500ms}
sources:
  - name: app_1
    type: file
    format: regex
    time_field: ts
    pattern: '^(?P<ts>\S+) (?P<msg>.*)$'
    max_line_bytes: 512KiB
    paths: [/var/log/app/*.log]
    start: beginning
    poll_interval: 1s
  - name: cw
    type: cloudwatch
    format: mcp
    max_line_bytes: 65536
    log_groups: [/mcp-tagging/prod]
    stream_prefix: ecs/
    filter_pattern: '"SECURITY EVENT"'
    overlap: 5m
    poll_interval: 10s
alerts:
  stdout: {enabled: false, format: json}
  sns: {topic_arn: "arn:aws:sns:eu-west-1:123456789012:alerts.fifo", endpoint: "http://localhost:4566"}
  max_age: 48h
  initial_backoff: 2s
  max_backoff: 10m
  attempt_timeout: 1m
  per_rule_hourly_cap: 20
http: {listen: "[::1]:9000"}
shutdown_grace: 25s
checkpoint_interval: 1m
log: {level: debug, format: console}
aws: {region: eu-west-1}
probes: []
`
	got, err := parse(t, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		File:     "secwatch.yaml",
		StateDir: "/srv/secwatch",
		Rules:    []string{"rules/", "extra.yaml"},
		Engine:   Engine{MaxKeys: 5000, MaxLateness: time.Minute, MaxFuture: 48 * time.Hour, Tick: 500 * time.Millisecond},
		Sources: []Source{{
			Name: "app_1", Type: "file", Format: "regex", TimeField: "ts", Pattern: `^(?P<ts>\S+) (?P<msg>.*)$`,
			MaxLineBytes: 512 << 10, PollInterval: time.Second, Paths: []string{"/var/log/app/*.log"}, Start: "beginning",
		}, {
			Name: "cw", Type: "cloudwatch", Format: "mcp", MaxLineBytes: 65536, PollInterval: 10 * time.Second,
			LogGroups: []string{"/mcp-tagging/prod"}, StreamPrefix: "ecs/", FilterPattern: `"SECURITY EVENT"`,
			Overlap: 5 * time.Minute, Region: "eu-west-1",
		}},
		Alerts: Alerts{
			Stdout:           Stdout{Enabled: false, Format: "json"},
			SNS:              SNS{TopicARN: "arn:aws:sns:eu-west-1:123456789012:alerts.fifo", Region: "eu-west-1", Endpoint: "http://localhost:4566", FIFO: true},
			MaxAge:           48 * time.Hour,
			InitialBackoff:   2 * time.Second,
			MaxBackoff:       10 * time.Minute,
			AttemptTimeout:   time.Minute,
			StallAfter:       10 * time.Minute,
			PerRuleHourlyCap: 20,
		},
		HTTP:               HTTP{Listen: "[::1]:9000"},
		ShutdownGrace:      25 * time.Second,
		CheckpointInterval: time.Minute,
		Log:                Log{Level: "debug", Format: "console"},
		AWS:                AWS{Region: "eu-west-1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// TestErrors checks single mistakes, each with its exact message and
// position, and that nothing else is reported.
func TestErrors(t *testing.T) {
	const stdin = "sources: [{name: in, type: stdin}]\n"
	tests := []struct {
		name string
		src  string
		env  map[string]string
		want string
	}{
		{"empty file", "", nil,
			`secwatch.yaml: sources: required: at least one source`},
		{"not a map", "- a\n", nil,
			`secwatch.yaml:1:1: a config file must be a map of settings, got a list`},
		{"yaml syntax", "sources: [\n", nil,
			`secwatch.yaml:2: invalid yaml: did not find expected node content`},
		{"two documents", stdin + "---\nx: 1\n", nil,
			`secwatch.yaml:2:1: a config file must hold one yaml document, found another`},
		{"misspelt top key", stdin + "stat_dir: /x\n", nil,
			`secwatch.yaml:2:1: stat_dir: unknown field (did you mean "state_dir"?)`},
		{"misspelt nested key", stdin + "engine: {max_key: 5}\n", nil,
			`secwatch.yaml:2:10: engine.max_key: unknown field (did you mean "max_keys"?)`},
		{"unknown key, nothing close", stdin + "colour: blue\n", nil,
			`secwatch.yaml:2:1: colour: unknown field`},
		{"duplicate key", stdin + "log: {level: info, level: warn}\n", nil,
			`secwatch.yaml:2:20: log: duplicate key "level"`},
		{"alias", "x: &a 1s\n" + stdin, nil,
			`secwatch.yaml:1:1: x: unknown field`},
		{"alias used", stdin + "shutdown_grace: &g 5s\ncheckpoint_interval: *g\n", nil,
			`secwatch.yaml:3:22: checkpoint_interval: yaml aliases are not allowed in the config file, got "*g"`},
		{"custom tag", stdin + "state_dir: !secret x\n", nil,
			`secwatch.yaml:2:12: state_dir: unsupported yaml tag "!secret"`},
		{"tilde", stdin + "state_dir: ~/state\n", nil,
			`secwatch.yaml:2:12: state_dir: "~" is not expanded (use "${HOME}"), got "~/state"`},
		{"rules empty list", stdin + "rules: []\n", nil,
			`secwatch.yaml:2:8: rules: must name at least one rule file or directory`},
		{"rules empty item", stdin + "rules: [a, '']\n", nil,
			`secwatch.yaml:2:12: rules[1]: must not be empty`},
		{"rules map", stdin + "rules: {a: b}\n", nil,
			`secwatch.yaml:2:8: rules: must be a string or a list of strings, got a map`},
		{"max_keys too large", stdin + "engine: {max_keys: 10_000_001}\n", nil,
			`secwatch.yaml:2:20: engine.max_keys: must be a whole number from 1 to 10000000, got "10_000_001"`},
		{"max_keys negative", stdin + "engine: {max_keys: -1}\n", nil,
			`secwatch.yaml:2:20: engine.max_keys: must be a whole number from 1 to 10000000, got "-1"`},
		{"tick too long", stdin + "engine: {tick: 2m}\n", nil,
			`secwatch.yaml:2:16: engine.tick: must be between 100ms and 1m, got "2m"`},
		{"duration without unit", stdin + "checkpoint_interval: 10\n", nil,
			`secwatch.yaml:2:22: checkpoint_interval: must be a duration like "5m", got "10"`},
		{"checkpoint too long", stdin + "checkpoint_interval: 11m\n", nil,
			`secwatch.yaml:2:22: checkpoint_interval: must be between 1s and 10m, got "11m"`},
		{"grace zero", stdin + "shutdown_grace: 0s\n", nil,
			`secwatch.yaml:2:17: shutdown_grace: must be between 1s and 10m, got "0s"`},
		{"grace days", stdin + "shutdown_grace: 1d\n", nil,
			`secwatch.yaml:2:17: shutdown_grace: must be a duration like "5m", got "1d" (write days as hours: "24h")`},
		{"sources empty", "sources: []\n", nil,
			`secwatch.yaml:1:10: sources: required: at least one source`},
		{"sources map", "sources: {name: a}\n", nil,
			`secwatch.yaml:1:10: sources: must be a list of sources, got a map`},
		{"source not a map", "sources: [stdin]\n", nil,
			`secwatch.yaml:1:11: sources[0]: must be a map, got "stdin"`},
		{"source type missing", "sources: [{name: a}]\n", nil,
			`secwatch.yaml:1:11: sources[0].type: required (one of file, stdin, cloudwatch, s3)`},
		{"source name missing", "sources: [{type: stdin}]\n", nil,
			`secwatch.yaml:1:11: sources[0].name: required`},
		{"source type misspelt", "sources: [{name: a, type: files}]\n", nil,
			`secwatch.yaml:1:27: sources[0].type: must be one of file, stdin, cloudwatch, s3, got "files" (did you mean "file"?)`},
		{"source name invalid", "sources: [{name: App, type: stdin}]\n", nil,
			`secwatch.yaml:1:18: sources[0].name: must match [a-z0-9][a-z0-9_-]* (at most 64 characters), got "App"`},
		{"source name too long", "sources: [{name: " + strings.Repeat("a", 65) + ", type: stdin}]\n", nil,
			`secwatch.yaml:1:18: sources[0].name: must match [a-z0-9][a-z0-9_-]* (at most 64 characters), got "` + strings.Repeat("a", 65) + `"`},
		{"duplicate names", "sources:\n  - {name: a, type: stdin}\n  - {name: a, type: file, paths: x}\n", nil,
			`secwatch.yaml:3:12: sources[1].name: duplicate name "a", first defined at secwatch.yaml:2:12`},
		{"two stdin", "sources:\n  - {name: a, type: stdin}\n  - {name: b, type: stdin}\n", nil,
			`secwatch.yaml:3:21: sources[1].type: only one stdin source is allowed, the first is at secwatch.yaml:2:21`},
		{"paths on stdin", "sources: [{name: a, type: stdin, paths: [x]}]\n", nil,
			`secwatch.yaml:1:34: sources[0].paths: only for type file`},
		{"poll_interval on stdin", "sources: [{name: a, type: stdin, poll_interval: 1s}]\n", nil,
			`secwatch.yaml:1:34: sources[0].poll_interval: only for types file and cloudwatch`},
		{"region on file", "sources: [{name: a, type: file, paths: x, region: eu-west-1}]\n", nil,
			`secwatch.yaml:1:43: sources[0].region: only for types cloudwatch and s3`},
		{"start on cloudwatch", "sources: [{name: a, type: cloudwatch, log_groups: [/a], start: end}]\n", nil,
			`secwatch.yaml:1:57: sources[0].start: only for type file`},
		{"unknown source key", "sources: [{name: a, type: file, paths: x, colour: red}]\n", nil,
			`secwatch.yaml:1:43: sources[0].colour: unknown field`},
		{"file without paths", "sources: [{name: a, type: file, paths: []}]\n", nil,
			`secwatch.yaml:1:40: sources[0].paths: required for type file: at least one path`},
		{"bad glob", "sources: [{name: a, type: file, paths: ['x/[a']}]\n", nil,
			`secwatch.yaml:1:41: sources[0].paths[0]: must be a valid glob pattern, got "x/[a"`},
		{"bad start", "sources: [{name: a, type: file, paths: x, start: begin}]\n", nil,
			`secwatch.yaml:1:50: sources[0].start: must be one of beginning, end, got "begin"`},
		{"file poll too fast", "sources: [{name: a, type: file, paths: x, poll_interval: 1ms}]\n", nil,
			`secwatch.yaml:1:58: sources[0].poll_interval: must be between 10ms and 1m, got "1ms"`},
		{"size MB", "sources: [{name: a, type: stdin, max_line_bytes: 1MB}]\n", nil,
			`secwatch.yaml:1:50: sources[0].max_line_bytes: must be a size from 1KiB to 64MiB like "512KiB" or "1MiB", got "1MB"`},
		{"size too large", "sources: [{name: a, type: stdin, max_line_bytes: 65MiB}]\n", nil,
			`secwatch.yaml:1:50: sources[0].max_line_bytes: must be a size from 1KiB to 64MiB like "512KiB" or "1MiB", got "65MiB"`},
		{"size too small", "sources: [{name: a, type: stdin, max_line_bytes: 100}]\n", nil,
			`secwatch.yaml:1:50: sources[0].max_line_bytes: must be a size from 1KiB to 64MiB like "512KiB" or "1MiB", got "100"`},
		{"regex without pattern", "sources: [{name: a, type: stdin, format: regex}]\n", nil,
			`secwatch.yaml:1:11: sources[0].pattern: required for format regex`},
		{"regex without named groups", "sources: [{name: a, type: stdin, format: regex, pattern: '\\d+'}]\n", nil,
			`secwatch.yaml:1:58: sources[0].pattern: has no named groups (?P<name>…)`},
		{"pattern with json", "sources: [{name: a, type: stdin, pattern: '(?P<a>x)'}]\n", nil,
			`secwatch.yaml:1:43: sources[0].pattern: only valid with formats regex and syslog`},
		{"time_field with mcp", "sources: [{name: a, type: stdin, format: mcp, time_field: ts}]\n", nil,
			`secwatch.yaml:1:59: sources[0].time_field: not used by format mcp`},
		{"format case", "sources: [{name: a, type: stdin, format: JSON}]\n", nil,
			`secwatch.yaml:1:42: sources[0].format: must be one of json, logfmt, regex, syslog, clf, nginx, mcp, alb, got "JSON" (did you mean "json"?)`},
		{"cloudwatch without groups", "sources: [{name: a, type: cloudwatch}]\n", nil,
			`secwatch.yaml:1:11: sources[0].log_groups: required for type cloudwatch (or log_group_prefix)`},
		{"cloudwatch both", "sources: [{name: a, type: cloudwatch, log_groups: [/a], log_group_prefix: /b}]\n", nil,
			`secwatch.yaml:1:57: sources[0].log_group_prefix: give log_groups or log_group_prefix, not both`},
		{"bad log group", "sources: [{name: a, type: cloudwatch, log_groups: ['my group']}]\n", nil,
			`secwatch.yaml:1:52: sources[0].log_groups[0]: must be a log group name (letters, digits and . _ / # -), got "my group"`},
		{"bad stream prefix", "sources: [{name: a, type: cloudwatch, log_groups: /a, stream_prefix: 'a:b'}]\n", nil,
			`secwatch.yaml:1:70: sources[0].stream_prefix: must be at most 512 characters without ':' or '*', got "a:b"`},
		{"overlap zero", "sources: [{name: a, type: cloudwatch, log_groups: /a, overlap: 0s}]\n", nil,
			`secwatch.yaml:1:64: sources[0].overlap: must be between 1s and 1h, got "0s"`},
		{"bad region", stdin + "aws: {region: us-east1}\n", nil,
			`secwatch.yaml:2:15: aws.region: must be an AWS region like "eu-west-1", got "us-east1"`},
		{"bad endpoint", stdin + "aws: {endpoint: 'localhost:4566'}\n", nil,
			`secwatch.yaml:2:17: aws.endpoint: must be an http or https URL like "http://localhost:4566", got "localhost:4566"`},
		{"listen without port", stdin + "http: {listen: localhost}\n", nil,
			`secwatch.yaml:2:16: http.listen: must be host:port like "127.0.0.1:9464", or "" to disable, got "localhost"`},
		{"listen bad port", stdin + "http: {listen: ':99999'}\n", nil,
			`secwatch.yaml:2:16: http.listen: must be host:port like "127.0.0.1:9464", or "" to disable, got ":99999"`},
		{"listen disabled", stdin + "http: {listen: ''}\n", nil, ""},
		{"listen all interfaces", stdin + "http: {listen: ':9464'}\n", nil, ""},
		{"log level", stdin + "log: {level: warning}\n", nil,
			`secwatch.yaml:2:14: log.level: must be one of debug, info, warn, error, got "warning"`},
		{"stdout format", stdin + "alerts: {stdout: {format: yaml}}\n", nil,
			`secwatch.yaml:2:27: alerts.stdout.format: must be one of auto, json, text, got "yaml"`},
		{"stdout enabled", stdin + "alerts: {stdout: {enabled: yes}}\n", nil,
			`secwatch.yaml:2:28: alerts.stdout.enabled: must be true or false, got "yes"`},
		{"no notifier", stdin + "alerts:\n  stdout: {enabled: false}\n", nil,
			`secwatch.yaml:3:21: alerts.stdout.enabled: is false and neither alerts.sns nor alerts.notifiers is configured, so alerts would go nowhere`},
		{"sns without arn", stdin + "alerts: {sns: {region: eu-west-1}}\n", nil,
			`secwatch.yaml:2:15: alerts.sns.topic_arn: required when alerts.sns is given`},
		{"sns bad arn", stdin + "alerts: {sns: {topic_arn: alerts}}\n", nil,
			`secwatch.yaml:2:27: alerts.sns.topic_arn: must be an SNS topic ARN like "arn:aws:sns:eu-west-1:123456789012:secwatch-alerts", got "alerts"`},
		{"sns fifo mismatch", stdin + "alerts: {sns: {topic_arn: 'arn:aws:sns:eu-west-1:123456789012:a', fifo: true}}\n", nil,
			`secwatch.yaml:2:73: alerts.sns.fifo: is true but the topic name does not end in ".fifo"`},
		{"sns region mismatch", stdin + "alerts: {sns: {topic_arn: 'arn:aws:sns:eu-west-1:123456789012:a', region: us-east-1}}\n", nil,
			`secwatch.yaml:2:75: alerts.sns.region: is "us-east-1" but the topic is in "eu-west-1"`},
		{"backoff order", stdin + "alerts: {initial_backoff: 30s, max_backoff: 10s}\n", nil,
			`secwatch.yaml:2:45: alerts.max_backoff: must be at least initial_backoff ("30s"), got "10s"`},
		{"state_dir empty", stdin + "state_dir: ''\n", nil,
			`secwatch.yaml:2:12: state_dir: must not be empty`},
		{"secret not shown in region mismatch", stdin + "alerts: {sns: {topic_arn: '${ARN}', region: us-east-1}}\n",
			map[string]string{"ARN": "arn:aws:sns:eu-west-1:123456789012:hidden"},
			`secwatch.yaml:2:45: alerts.sns.region: must be the region of alerts.sns.topic_arn, got "us-east-1" for the value of "${ARN}"`},
		{"backoff order, default max", stdin + "alerts: {initial_backoff: 1m, max_backoff: 10m}\n", nil, ""},
		{"max_age too short", stdin + "alerts: {max_age: 10s}\n", nil,
			`secwatch.yaml:2:19: alerts.max_age: must be between 1m and 720h, got "10s"`},
		{"cap negative", stdin + "alerts: {per_rule_hourly_cap: -5}\n", nil,
			`secwatch.yaml:2:31: alerts.per_rule_hourly_cap: must be a whole number from 0 to 1000000, got "-5"`},
		{"probes", stdin + "probes:\n  - url: https://x\n", nil,
			`secwatch.yaml:3:5: probes[0].name: required`},
		{"empty value is the default", stdin + "http: {listen: }\nengine:\n", nil, ""},
		{"unset variable", stdin + "state_dir: ${STATE}/x\n", nil,
			`secwatch.yaml:2:12: state_dir: environment variable "STATE" is not set (write "${STATE:-default}" for a default)`},
		{"two unset variables", stdin + "state_dir: ${A}${B}\n", nil,
			"secwatch.yaml:2:12: state_dir: environment variable \"A\" is not set (write \"${A:-default}\" for a default)\n" +
				`secwatch.yaml:2:12: state_dir: environment variable "B" is not set (write "${B:-default}" for a default)`},
		{"unset variable in a list", "sources:\n  - name: a\n    type: file\n    paths: [/a, '${LOGS}/*.log']\n", nil,
			`secwatch.yaml:4:17: sources[0].paths[1]: environment variable "LOGS" is not set (write "${LOGS:-default}" for a default)`},
		{"unset variable in an unknown key is only the unknown key", stdin + "stat_dir: ${X}\n", nil,
			`secwatch.yaml:2:1: stat_dir: unknown field (did you mean "state_dir"?)`},
		{"variable in a comment", stdin + "# ${NOT_SET}\n", nil, ""},
		{"bad reference", stdin + "state_dir: ${1X}\n", nil,
			`secwatch.yaml:2:12: state_dir: invalid reference "${1X}": a name is a letter or _ followed by letters, digits and _`},
		{"unterminated reference", stdin + "state_dir: ${X\n", nil,
			`secwatch.yaml:2:12: state_dir: unterminated "${" (write "$${" for a literal "${")`},
		{"secret not shown", stdin + "alerts: {sns: {topic_arn: '${TOPIC}'}}\n", map[string]string{"TOPIC": "hunter2"},
			`secwatch.yaml:2:27: alerts.sns.topic_arn: must be an SNS topic ARN like "arn:aws:sns:eu-west-1:123456789012:secwatch-alerts", got the value of "${TOPIC}"`},
		{"secret not shown in enum", stdin + "log: {level: '${LEVEL}'}\n", map[string]string{"LEVEL": "debugg"},
			`secwatch.yaml:2:14: log.level: must be one of debug, info, warn, error, got the value of "${LEVEL}"`},
		{"secret not shown in pattern", "sources: [{name: a, type: stdin, format: regex, pattern: '${P}'}]\n", map[string]string{"P": "(hunter2"},
			`secwatch.yaml:1:58: sources[0].pattern: invalid, got the value of "${P}"`},
		{"time_format misspelt", "sources: [{name: a, type: stdin, format: json, time_format: rfc3146}]\n", nil,
			`secwatch.yaml:1:61: sources[0].time_format: unknown name "rfc3146" (did you mean "rfc3164"?)`},
		{"time_format bad directive", "sources: [{name: a, type: stdin, format: json, time_format: '%Y-%m-%d %Q'}]\n", nil,
			`secwatch.yaml:1:61: sources[0].time_format: "%Y-%m-%d %Q": unknown directive %Q at byte 10`},
		{"time_format on clf", "sources: [{name: a, type: stdin, format: clf, time_format: clf}]\n", nil,
			`secwatch.yaml:1:60: sources[0].time_format: not used by format clf, which knows its time format`},
		{"time_zone unknown", "sources: [{name: a, type: stdin, format: syslog, time_zone: Europe/Pariss}]\n", nil,
			`secwatch.yaml:1:61: sources[0].time_zone: unknown zone "Europe/Pariss" (an IANA name like "Europe/Paris", "UTC" or "Local")`},
		{"time options", "sources: [{name: a, type: stdin, format: regex, pattern: '(?P<t>.*)', time_field: t, time_format: '%d/%b/%Y:%H:%M:%S %z', time_zone: Local}]\n", nil, ""},
		{"secret not shown in duplicate name", "sources:\n  - {name: hidden, type: stdin}\n  - {name: '${N}', type: file, paths: x}\n", map[string]string{"N": "hidden"},
			`secwatch.yaml:3:12: sources[1].name: duplicate name the value of "${N}", first defined at secwatch.yaml:2:12`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.src, tt.env)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			for _, v := range tt.env {
				if strings.Contains(got, v) {
					t.Errorf("error shows the value %q of an environment variable:\n%s", v, got)
				}
			}
		})
	}
}

// TestMistakes checks that a file with many mistakes gives exactly one line
// per mistake, sorted by position, and nothing that follows from another
// mistake (max_backoff is not compared with an initial_backoff that did not
// parse).
func TestMistakes(t *testing.T) {
	const file = "testdata/mistakes/secwatch.yaml"
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := Parse(file, f, env(nil))
	if c != nil {
		t.Errorf("got a Config with errors")
	}
	var list yamldiag.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("got %T %v, want a yamldiag.ErrorList", err, err)
	}
	want := []string{
		`2:1: rule: unknown field (did you mean "rules"?)`,
		`4:13: engine.max_keys: must be a whole number from 1 to 10000000, got "0"`,
		`5:9: engine.tick: must be between 100ms and 1m, got "10ms"`,
		`9:13: sources[0].format: must be one of json, logfmt, regex, syslog, clf, nginx, mcp, alb, got "jsn" (did you mean "json"?)`,
		`10:13: sources[0].paths[0]: must be a valid glob pattern, got "/var/log/[mcp.log"`,
		`11:5: sources[0].log_groups: only for type cloudwatch`,
		`12:11: sources[1].name: duplicate name "mcp", first defined at testdata/mistakes/secwatch.yaml:7:11`,
		`14:11: sources[2].name: must match [a-z0-9][a-z0-9_-]* (at most 64 characters), got "Bad Name"`,
		`15:11: sources[2].type: only one stdin source is allowed, the first is at testdata/mistakes/secwatch.yaml:13:11`,
		"17:14: sources[2].pattern: error parsing regexp: missing closing ): `(\\d+`",
		`21:5: sources[3].log_group_prefix: give log_groups or log_group_prefix, not both`,
		`22:20: sources[3].poll_interval: must be between 1s and 10m, got "250ms"`,
		`24:73: alerts.sns.region: is "us-east-1" but the topic is in "eu-west-1"`,
		`25:20: alerts.initial_backoff: must be between 10ms and 1m, got "10m"`,
		`28:11: http.listen: must be host:port like "127.0.0.1:9464", or "" to disable, got "localhost"`,
		`29:17: shutdown_grace: must be a duration like "5m", got "2d" (write days as hours: "48h")`,
		`31:10: log.level: must be one of debug, info, warn, error, got "verbose"`,
		`33:5: probes[0].name: required`,
	}
	for i := range want {
		want[i] = file + ":" + want[i]
	}
	if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(list) != len(want) {
		t.Errorf("got %d errors, want %d", len(list), len(want))
	}
}

func TestLoadResolvesRelativePaths(t *testing.T) {
	dir := filepath.Join("testdata", "relative")
	c, err := Load(filepath.Join(dir, "secwatch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.File, filepath.Join(dir, "secwatch.yaml"); got != want {
		t.Errorf("File: got %q, want %q", got, want)
	}
	if got, want := c.StateDir, filepath.Join(dir, "state"); got != want {
		t.Errorf("StateDir: got %q, want %q", got, want)
	}
	if got, want := c.Rules, []string{"testdata/rules", "/etc/secwatch/rules"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Rules: got %q, want %q", got, want)
	}
	if got, want := c.Sources[0].Paths, []string{filepath.Join(dir, "logs/*.log"), "/var/log/app.log"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Paths: got %q, want %q", got, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want a not-exist error", err)
	}
}

func TestParseDoesNotResolvePaths(t *testing.T) {
	c, err := Parse("dir/secwatch.yaml", strings.NewReader("state_dir: s\nsources: [{name: f, type: file, paths: x}]\n"), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.StateDir != "s" || c.Sources[0].Paths[0] != "x" {
		t.Errorf("got state_dir %q, paths %q, want them as written", c.StateDir, c.Sources[0].Paths)
	}
}

func TestTooLarge(t *testing.T) {
	src := "sources: [{name: in, type: stdin}]\n#" + strings.Repeat("x", maxFileBytes)
	_, err := parse(t, src, nil)
	if got, want := errString(err), "secwatch.yaml: config file is larger than 1 MiB"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestExample parses the configuration `make run` uses, from its real
// place in the repository.
func TestExample(t *testing.T) {
	path := filepath.Join("..", "..", "examples", "secwatch.yaml")
	// The example's ${…:-default} references must work with the variables
	// unset, whatever the environment running the test holds.
	for _, v := range []string{"SECWATCH_LISTEN", "SECWATCH_LOG_LEVEL"} {
		if val, ok := os.LookupEnv(v); ok {
			t.Setenv(v, val) // restored after the test
			os.Unsetenv(v)
		}
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join("..", "..")
	if got, want := c.StateDir, filepath.Join(root, ".cache", "state"); got != want {
		t.Errorf("StateDir: got %q, want %q", got, want)
	}
	if got, want := c.Rules, []string{filepath.Join(root, "rules", "mcp.yaml"), filepath.Join(root, "rules", "alb.yaml")}; !reflect.DeepEqual(got, want) {
		t.Errorf("Rules: got %q, want %q", got, want)
	}
	type src struct{ name, typ, format, path, start string }
	var got []src
	for _, s := range c.Sources {
		got = append(got, src{s.Name, s.Type, s.Format, strings.Join(s.Paths, ","), s.Start})
	}
	want := []src{
		{"mcp-app", "file", "mcp", filepath.Join(root, ".cache", "demo", "mcp.log"), "beginning"},
		{"alb", "file", "alb", filepath.Join(root, ".cache", "demo", "alb.log"), "beginning"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sources: got %+v, want %+v", got, want)
	}
	if !c.Alerts.Stdout.Enabled || c.Alerts.SNS.TopicARN != "" {
		t.Errorf("alerts: got %+v, want stdout only", c.Alerts)
	}
	if got, want := c.HTTP.Listen, "127.0.0.1:9464"; got != want {
		t.Errorf("HTTP.Listen: got %q, want %q", got, want)
	}
}

// TestMisspeltRequiredKey: a required key that is only misspelt is one
// mistake, reported once as the unknown key.
func TestMisspeltRequiredKey(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"sources", "source:\n  - {name: a, type: stdin}\n",
			`secwatch.yaml:1:1: source: unknown field (did you mean "sources"?)`},
		{"name", "sources: [{nme: a, type: stdin}]\n",
			`secwatch.yaml:1:12: sources[0].nme: unknown field (did you mean "name"?)`},
		{"type", "sources: [{name: a, typ: stdin}]\n",
			`secwatch.yaml:1:21: sources[0].typ: unknown field (did you mean "type"?)`},
		{"paths", "sources: [{name: a, type: file, path: x}]\n",
			`secwatch.yaml:1:33: sources[0].path: unknown field (did you mean "paths"?)`},
		{"log_groups", "sources: [{name: a, type: cloudwatch, log_group: [/a]}]\n",
			`secwatch.yaml:1:39: sources[0].log_group: unknown field (did you mean "log_groups"?)`},
		{"pattern", "sources: [{name: a, type: stdin, format: regex, patern: '(?P<a>.)'}]\n",
			`secwatch.yaml:1:49: sources[0].patern: unknown field (did you mean "pattern"?)`},
		{"not close enough to be taken for it", "sources: [{name: a, type: stdin}]\nalerts: {sns: {topic: x}}\n",
			"secwatch.yaml:2:15: alerts.sns.topic_arn: required when alerts.sns is given\n" +
				`secwatch.yaml:2:16: alerts.sns.topic: unknown field`},
		{"topic_arn", "sources: [{name: a, type: stdin}]\nalerts: {sns: {topic_ar: x}}\n",
			`secwatch.yaml:2:16: alerts.sns.topic_ar: unknown field (did you mean "topic_arn"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, tt.src, nil)
			if got := errString(err); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"sources: [{name: a, type: stdin}]\n",
		"sources:\n  - name: a\n    type: file\n    paths: [x]\n",
		"engine: {max_keys: 1}\nsources: [{name: a, type: cloudwatch, log_groups: /a}]\n",
		"a: &x [*x]\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse("f.yaml", strings.NewReader(s), env(map[string]string{"A": "v"}))
		if (c == nil) == (err == nil) {
			t.Errorf("got config %v and error %v: want exactly one", c != nil, err)
		}
	})
}
