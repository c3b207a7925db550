package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestNotifiers(t *testing.T) {
	src := `
sources: [{name: in, type: stdin}]
alerts:
  sns: {topic_arn: "arn:aws:sns:eu-west-1:123456789012:a", format: chatbot, match: ["severity=~\"high|critical\""]}
  notifiers:
    - type: slack
      url_env: SLACK_URL
    - name: pager
      type: pagerduty
      routing_key_file: pd.key
      match: [severity=critical, 'rule!~"noisy-.*"']
    - type: webhook
      url: https://hooks.example.com/secwatch
      secret_env: HOOK_SECRET
      headers: {X-Team: secops}
      template: '{"text": {{json .Title}}}'
      timeout: 5s
    - type: alertmanager
      url: http://127.0.0.1:9093
`
	c, err := parse(t, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Alerts.SNS.Format != "chatbot" || !reflect.DeepEqual(c.Alerts.SNS.Match, []string{`severity=~"high|critical"`}) {
		t.Errorf("sns = %+v", c.Alerts.SNS)
	}
	want := []Notifier{
		{Name: "slack", Type: "slack", Timeout: 10 * time.Second, URL: Secret{Env: "SLACK_URL"}},
		{Name: "pager", Type: "pagerduty", Timeout: 10 * time.Second, RoutingKey: Secret{File: "pd.key"},
			Match: []string{"severity=critical", `rule!~"noisy-.*"`}},
		{Name: "webhook", Type: "webhook", Timeout: 5 * time.Second, URL: Secret{Value: "https://hooks.example.com/secwatch"},
			Secret: Secret{Env: "HOOK_SECRET"}, Headers: map[string]string{"X-Team": "secops"}, Template: `{"text": {{json .Title}}}`},
		{Name: "alertmanager", Type: "alertmanager", Timeout: 10 * time.Second, URL: Secret{Value: "http://127.0.0.1:9093"},
			RepostInterval: time.Minute, ActiveFor: 15 * time.Minute},
	}
	if !reflect.DeepEqual(c.Alerts.Notifiers, want) {
		t.Errorf("got  %+v\nwant %+v", c.Alerts.Notifiers, want)
	}
}

func TestNotifierErrors(t *testing.T) {
	const head = "sources: [{name: in, type: stdin}]\nalerts:\n  notifiers:\n"
	for _, tt := range []struct{ name, src, want string }{
		{"no type", "    - {name: a}\n",
			`secwatch.yaml:4:7: alerts.notifiers[0].type: required: one of webhook, slack, pagerduty, alertmanager`},
		{"bad matcher", "    - {type: slack, url_env: U, match: ['severity=~(']}\n",
			`secwatch.yaml:4:41: alerts.notifiers[0].match[0]: invalid regular expression "(": missing closing ): ` + "`(`" + `, got "severity=~("`},
		{"slack url in the file", "    - {type: slack, url: 'https://hooks.slack.com/services/x'}\n",
			`secwatch.yaml:4:21: alerts.notifiers[0].url: does not apply to a slack notifier`},
		{"two sources of a secret", "    - {type: webhook, url: 'https://x', url_env: U}\n",
			`secwatch.yaml:4:41: alerts.notifiers[0].url_env: give only one of url, url_env and url_file`},
		{"pagerduty without key", "    - {type: pagerduty}\n",
			`secwatch.yaml:4:7: alerts.notifiers[0].routing_key: required: one of routing_key_env, routing_key_file`},
		{"default names collide", "    - {type: slack, url_env: A}\n    - {type: slack, url_env: B}\n",
			`secwatch.yaml:5:7: alerts.notifiers[1].name: required: another slack notifier (at secwatch.yaml:4:7) already has the default name "slack"`},
		{"built-in name", "    - {name: sns, type: slack, url_env: A}\n",
			`secwatch.yaml:4:14: alerts.notifiers[0].name: "sns" is the name of a built-in notifier`},
		{"bad template", "    - {type: webhook, url: 'https://x', template: '{{.Title'}\n",
			`secwatch.yaml:4:51: alerts.notifiers[0].template: body:1: unclosed action`},
		{"secret in env name", "    - {type: slack, url_env: 'https://hooks.slack.com/x'}\n",
			`secwatch.yaml:4:30: alerts.notifiers[0].url_env: must be the name of an environment variable (letters, digits and _), not the key itself; the value given is not shown`},
		{"header with newline", "    - {type: webhook, url: 'https://x', headers: {X-A: \"a\\nb\"}}\n",
			`secwatch.yaml:4:56: alerts.notifiers[0].headers.X-A: must be one line`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parse(t, head+tt.src, nil)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestSecretResolve(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "key")
	if err := os.WriteFile(f, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := env(map[string]string{"K": "from-env"})
	for _, tt := range []struct {
		s         Secret
		want, err string
	}{
		{Secret{Env: "K"}, "from-env", ""},
		{Secret{File: f}, "s3cret", ""},
		{Secret{Value: "v"}, "v", ""},
		{Secret{Env: "MISSING"}, "", "environment variable MISSING is not set"},
	} {
		got, err := tt.s.Resolve(getenv)
		if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("%+v.Resolve() = %q, %v; want %q, %q", tt.s, got, err, tt.want, tt.err)
		}
	}
}
