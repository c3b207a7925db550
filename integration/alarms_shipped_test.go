package integration

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// recordedLine is one line of a recorded MCP log with its event time.
type recordedLine struct {
	at     time.Time
	stream string
	text   string
}

// recordedMCP reads the recorded CloudWatch log (envelopes: the console
// lines into the security stream, the rest into the application stream)
// and the recorded stderr log of the same traffic (the ECS stream's bare
// copies), in time order.
func recordedMCP(t *testing.T) []recordedLine {
	t.Helper()
	var out []recordedLine
	read := func(name string, parse func(string) (time.Time, string, bool)) {
		f, err := os.Open(filepath.Join("..", "testdata", "logs", name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if at, stream, ok := parse(sc.Text()); ok {
				out = append(out, recordedLine{at, stream, sc.Text()})
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	read("mcp-cloudwatch.jsonl", func(l string) (time.Time, string, bool) {
		var env struct {
			Message   string  `json:"message"`
			Timestamp float64 `json:"timestamp"`
		}
		if err := json.Unmarshal([]byte(l), &env); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		stream := "application"
		if strings.Contains(env.Message, " - SECURITY - ") {
			stream = "security"
		}
		return time.UnixMicro(int64(env.Timestamp * 1e6)).UTC(), stream, true
	})
	read("mcp-stderr.log", func(l string) (time.Time, string, bool) {
		if len(l) < 23 {
			return time.Time{}, "", false
		}
		at, err := time.Parse("2006-01-02 15:04:05,000", l[:23])
		return at, "mcp-server/mcp-server/6f1d0c2b9a8e4f3d", err == nil
	})
	slices.SortStableFunc(out, func(a, b recordedLine) int { return a.at.Compare(b.at) })
	return out
}

// between returns the lines from first to last inclusive.
func between(lines []recordedLine, first, last string) []recordedLine {
	f, _ := time.Parse(time.RFC3339Nano, first)
	l, _ := time.Parse(time.RFC3339Nano, last)
	var out []recordedLine
	for _, x := range lines {
		if !x.at.Before(f) && !x.at.After(l) {
			out = append(out, x)
		}
	}
	return out
}

// putRecorded puts lines into group, shifted so that the first starts at
// start, one PutLogEvents per stream.
func putRecorded(t *testing.T, logs *cloudwatchlogs.Client, group string, lines []recordedLine, start time.Time) {
	t.Helper()
	shift := start.Sub(lines[0].at)
	byStream := map[string][]logstypes.InputLogEvent{}
	for _, l := range lines {
		byStream[l.stream] = append(byStream[l.stream], logstypes.InputLogEvent{Message: aws.String(l.text), Timestamp: aws.Int64(l.at.Add(shift).UnixMilli())})
	}
	for stream, evs := range byStream {
		if _, err := logs.CreateLogStream(t.Context(), &cloudwatchlogs.CreateLogStreamInput{LogGroupName: &group, LogStreamName: aws.String(stream)}); err != nil &&
			!strings.Contains(err.Error(), "ResourceAlreadyExists") {
			t.Fatal(err)
		}
		if _, err := logs.PutLogEvents(t.Context(), &cloudwatchlogs.PutLogEventsInput{LogGroupName: &group, LogStreamName: aws.String(stream), LogEvents: evs}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAlarmsShippedDeploymentFires applies the shipped deployment config
// (deploy/config/secwatch.yaml, rules/mcp.yaml) with the secwatch binary,
// as an operator would, and feeds the recorded MCP logs into the log group
// through the shim's metric filters: the near miss (10 failures in 5
// minutes, every copy of each) leaves requirement 23.2's alarm OK, the
// first attack burst (26) puts it in ALARM. Then the whole recorded log:
// the audit passes every shipped rule alarm, and finds a filter written
// for a field the group never holds.
func TestAlarmsShippedDeploymentFires(t *testing.T) {
	t.Parallel()
	f := newAlarmsFixture(t)
	endpoint := startAlarmShim(t)
	bin := secwatchBinary(t)
	prefix := "shipped-" + f.suffix
	alarm := prefix + "-mcp-auth-failure-burst-console"
	config, err := filepath.Abs("../deploy/config/secwatch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	secwatch := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, append(append([]string{"alarms"}, args...), "--config", config)...)
		cmd.Env = []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "HOME=" + t.TempDir(),
			"AWS_REGION=us-east-1", "AWS_ENDPOINT_URL=" + endpoint,
			"SECWATCH_MCP_LOG_GROUP=" + f.group, "SECWATCH_TOPIC_ARN=" + f.topic,
			"SECWATCH_METRIC_NAMESPACE=" + f.ns, "SECWATCH_ALARM_NAME_PREFIX=" + prefix}
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		switch {
		case err == nil:
			return string(out), 0
		case errors.As(err, &exit):
			return string(out), exit.ExitCode()
		}
		t.Fatal(err)
		return "", 0
	}
	out, code := secwatch("apply")
	t.Logf("alarms apply:\n%s", out)
	for _, want := range []string{
		"+ create metric filter " + alarm + " on " + f.group,
		"+ create alarm " + alarm,
		"+ create alarm " + prefix + "-heartbeat",
		// The operator metrics' alarms come with the heartbeat's.
		"+ create alarm " + prefix + "-sources-down",
		"+ create alarm " + prefix + "-dead-letters",
		"+ create alarm " + prefix + "-delivery-failures",
		// The heartbeat window from the shipped schedule: 3 × rate(5 minutes).
		"no heartbeat for 15m",
		"secwatch alarms apply: 14 changes made",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("apply: exit %d, output lacks %q", code, want)
		}
	}
	state := func() (cwtypes.StateValue, string) {
		t.Helper()
		got := f.describe(t, alarm)[alarm]
		return got.StateValue, aws.ToString(got.StateReason)
	}
	if st, _ := state(); st == cwtypes.StateValueAlarm {
		t.Fatalf("alarm %s is in ALARM before any event", alarm)
	}

	lines := recordedMCP(t)
	base := time.Now().UTC().Truncate(5 * time.Minute).Add(-4 * time.Hour)
	nearMiss := between(lines, "2026-01-28T19:57:02.807Z", "2026-01-28T20:00:36.727277Z")
	putRecorded(t, f.logs, f.group, nearMiss, base.Add(time.Second))
	st, why := state()
	t.Logf("near miss, %d lines: %s %s: %s", len(nearMiss), alarm, st, why)
	if st != cwtypes.StateValueOk || !strings.Contains(why, "sums [10]") {
		t.Errorf("after the near miss (%d lines, 10 failures): %s (%s), want OK on a sum of 10", len(nearMiss), st, why)
	}
	burst := between(lines, "2026-01-28T19:33:56.831Z", "2026-01-28T19:38:43.769824Z")
	putRecorded(t, f.logs, f.group, burst, base.Add(30*time.Minute+time.Second))
	st, why = state()
	t.Logf("attack burst, %d lines: %s %s: %s", len(burst), alarm, st, why)
	if st != cwtypes.StateValueAlarm || !strings.Contains(why, "sums [26]") {
		t.Errorf("after the attack burst (%d lines, 26 failures): %s (%s), want ALARM on a sum of 26", len(burst), st, why)
	}

	// The whole recorded log, three hours ending well before now.
	putRecorded(t, f.logs, f.group, lines, base.Add(-3*time.Hour))
	out, code = secwatch("audit", "--prefix", prefix+"-mcp-")
	if code != 0 || !strings.Contains(out, "5 alarms checked, 0 with problems, 0 findings") || !strings.Contains(out, "ok: "+alarm+"\n") {
		t.Errorf("audit of the shipped alarms: exit %d\n%s", code, out)
	}
	// The filter a user would naturally write: it matches nothing here.
	dead := prefix + "-mcp-event-type"
	if _, err := f.logs.PutMetricFilter(t.Context(), &cloudwatchlogs.PutMetricFilterInput{
		FilterName: aws.String(dead), LogGroupName: aws.String(f.group), FilterPattern: aws.String(`{ $.event_type = "authentication_failure" }`),
		MetricTransformations: []logstypes.MetricTransformation{{MetricNamespace: aws.String(f.ns), MetricName: aws.String("EventType"), MetricValue: aws.String("1")}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cw.PutMetricAlarm(t.Context(), &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String(dead), Namespace: aws.String(f.ns), MetricName: aws.String("EventType"),
		Statistic: cwtypes.StatisticSum, Period: aws.Int32(300), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(10),
		ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold, AlarmActions: []string{f.topic},
	}); err != nil {
		t.Fatal(err)
	}
	out, code = secwatch("audit", "--prefix", prefix+"-mcp-")
	t.Logf("alarms audit:\n%s", out)
	if code != 1 || !strings.Contains(out, dead+"  never-matches  metric filter "+dead+" on "+f.group+" matched 0 of the ") ||
		!strings.Contains(out, "6 alarms checked, 1 with problems, 1 findings") {
		t.Errorf("audit with a dead filter: exit %d\n%s", code, out)
	}
}

// TestAlarmsNamePrefixesSideBySide: two deployments in one account and
// region, with the same rules and the default owner, differ only in
// alarms.name_prefix, one prefix extending the other (secwatch and
// secwatch-staging, here side-N and side-N-staging). Each applies its own
// heartbeat and rule alarm without conflict, then has nothing to do, and
// pruning one leaves the other's alone.
func TestAlarmsNamePrefixesSideBySide(t *testing.T) {
	t.Parallel()
	f := newAlarmsFixture(t)
	endpoint := startAlarmShim(t)
	bin := secwatchBinary(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	write("rules.yaml", "rules:\n  - id: auth-burst\n    match: {event_type: authentication_failure}\n    window: 5m\n    threshold: 10\n    alarm: {}\n")
	write("a.log", "")
	prod, staging := "side-"+f.suffix, "side-"+f.suffix+"-staging"
	config := func(prefix string) string {
		return write(prefix+".yaml", `rules: [rules.yaml]
sources:
  - {name: app, type: file, format: json, paths: [a.log]}
aws: {region: us-east-1, endpoint: `+endpoint+`}
alarms: {topic_arn: `+f.topic+`, log_group: `+f.group+`, namespace: `+f.ns+`, name_prefix: `+prefix+`}
`)
	}
	run := func(cfg string, args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append(append([]string{"alarms"}, args...), "--config", cfg)...)
		cmd.Env = []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "HOME=" + dir}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("alarms %s --config %s: %v\n%s", strings.Join(args, " "), filepath.Base(cfg), err, out)
		}
		return string(out)
	}
	prodCfg, stagingCfg := config(prod), config(staging)
	for _, step := range []struct {
		cfg, arg, want string
	}{
		// A rule's filter and alarm, the heartbeat and the three operator alarms.
		{prodCfg, "apply", "secwatch alarms apply: 6 changes made"},
		{stagingCfg, "apply", "secwatch alarms apply: 6 changes made"},
		{prodCfg, "plan", "nothing to do: 6 resources as wanted"},
		{stagingCfg, "plan", "nothing to do: 6 resources as wanted"},
		{prodCfg, "--prune", "secwatch alarms apply: 0 changes made"},
		{stagingCfg, "plan", "nothing to do: 6 resources as wanted"},
	} {
		args := []string{step.arg}
		if step.arg == "--prune" {
			args = []string{"apply", "--prune"}
		}
		out := run(step.cfg, args...)
		t.Logf("alarms %s --config %s: %s", strings.Join(args, " "), filepath.Base(step.cfg), step.want)
		if !strings.Contains(out, step.want) {
			t.Errorf("alarms %s --config %s: output lacks %q:\n%s", strings.Join(args, " "), filepath.Base(step.cfg), step.want, out)
		}
	}
	got := f.describe(t, prod+"-heartbeat", prod+"-auth-burst", staging+"-heartbeat", staging+"-auth-burst")
	if len(got) != 4 {
		t.Errorf("alarms: got %d of the 4 (two heartbeats, two rule alarms)", len(got))
	}
	if fs := f.filters(t); fs[prod+"-auth-burst"] == "" || fs[staging+"-auth-burst"] == "" {
		t.Errorf("metric filters: %v", fs)
	}
}
