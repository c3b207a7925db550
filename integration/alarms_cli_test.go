package integration

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

var binary struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// secwatchBinary builds the secwatch command once per test process.
func secwatchBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "secwatch-integration-")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "secwatch")
		build := exec.Command("go", "build", "-o", binary.path, "./cmd/secwatch")
		build.Dir = ".." // the main module, with its own go.sum
		binary.out, binary.err = build.CombinedOutput()
	})
	if binary.err != nil {
		t.Fatalf("go build: %v\n%s", binary.err, binary.out)
	}
	return binary.path
}

// TestAlarmsCommandLine runs the secwatch binary's `alarms` commands
// against the emulator, as an operator would: exit codes and output of
// plan, apply, plan again, and audit before and after a broken alarm
// appears.
func TestAlarmsCommandLine(t *testing.T) {
	t.Parallel()
	f := newAlarmsFixture(t)
	endpoint := startAlarmShim(t)
	dir := t.TempDir()
	bin := secwatchBinary(t)
	writeFile := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	id := f.id("cli-burst")
	writeFile("rules.yaml", fmt.Sprintf("rules:\n  - id: %s\n    match: {event_type: authentication_failure}\n    group_by: [client_ip]\n    window: 5m\n    threshold: 10\n    alarm: {}\n", id))
	writeFile("a.log", "")
	writeFile("secwatch.yaml", fmt.Sprintf(`rules: [rules.yaml]
sources:
  - {name: app, type: file, paths: [a.log]}
aws: {region: us-east-1, endpoint: %s}
alarms: {topic_arn: %s, log_group: %s, owner: %s, heartbeat: {enabled: false}}
`, endpoint, f.topic, f.group, f.owner))
	secwatch := func(args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, append(append([]string{"alarms"}, args...), "--config", filepath.Join(dir, "secwatch.yaml"))...)
		// Static test credentials; nothing else from the environment.
		cmd.Env = []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "HOME=" + dir}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return out.String(), exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), 0
	}
	check := func(out string, code, wantCode int, want string) {
		t.Helper()
		if code != wantCode || !strings.Contains(out, want) {
			t.Errorf("got exit %d, want %d and %q in:\n%s", code, wantCode, want, out)
		}
	}
	out, code := secwatch("plan")
	check(out, code, 0, "plan: 2 to create, 0 to update, 0 to delete, 0 unchanged\n")
	check(out, code, 0, "note: aggregate alarm: the rule counts per client_ip")
	out, code = secwatch("apply")
	check(out, code, 0, "secwatch alarms apply: 2 changes made\n")
	out, code = secwatch("plan")
	check(out, code, 0, "nothing to do: 2 resources as wanted\n")
	out, code = secwatch("audit", "--prefix", "secwatch-"+id)
	check(out, code, 0, "1 alarms checked, 0 with problems, 0 findings\n")

	// A broken alarm under the same prefix: audit finds it and exits 1.
	if _, err := f.cw.PutMetricAlarm(t.Context(), &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String("secwatch-" + id + "-typo"), Namespace: aws.String("secwatch"), MetricName: aws.String(id + "-typo"),
		Statistic: cwtypes.StatisticSum, Period: aws.Int32(300), EvaluationPeriods: aws.Int32(1),
		Threshold: aws.Float64(10), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
	}); err != nil {
		t.Fatal(err)
	}
	out, code = secwatch("audit", "--json", "--prefix", "secwatch-"+id)
	check(out, code, 1, `"problem": "never-fires"`)
	check(out, code, 1, `"problem": "no-actions"`)
}
