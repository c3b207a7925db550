package integration

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/alarms"
	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/daemon"
)

// TestHeartbeatPublishedAndAudited runs the daemon with an alarms map:
// it publishes its heartbeat metric, and the ingestion lag of its
// cloudwatch source, through the real SDK (PutMetricData) to the emulator
// as soon as its engine loop runs. Before that, the
// secwatch-heartbeat alarm applied from the same settings alarms on
// nothing (audit says so); after, it passes the audit.
//
// Not parallel: it owns the one secwatch-heartbeat alarm name of the
// emulator until its cleanup deletes it, before the parallel tests (one
// of which plans a heartbeat alarm) start.
func TestHeartbeatPublishedAndAudited(t *testing.T) {
	f := newAlarmsFixture(t)
	endpoint := startAlarmShim(t)
	dir := t.TempDir()
	logFile := filepath.Join(dir, "app.log")
	if err := os.WriteFile(logFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte("rules:\n  - id: x\n    match: {a: b}\n    window: 1m\n    threshold: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("secwatch.yaml", strings.NewReader(fmt.Sprintf(`state_dir: %s
rules: [%s]
sources:
  - {name: app, type: file, paths: [%q]}
  - {name: cw, type: cloudwatch, log_groups: [%q]}
alerts: {stdout: {enabled: true}}
http: {listen: ""}
aws: {region: us-east-1, endpoint: %s}
alarms:
  topic_arn: %s
  owner: %s
  heartbeat: {namespace: %s}
  lag: {enabled: true}
`, filepath.Join(dir, "state"), filepath.Join(dir, "rules.yaml"), logFile, f.group, endpoint, f.topic, f.owner, f.ns)), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := cfg.Alarms.Heartbeat
	if !cfg.Alarms.Enabled || !h.Enabled || h.MetricName != "Heartbeat" || h.Period != time.Minute || h.MissingAfter != 5*time.Minute {
		t.Fatalf("alarms config: %+v", cfg.Alarms)
	}

	s := f.settings()
	s.Heartbeat = &alarms.Heartbeat{Namespace: h.Namespace, MetricName: h.MetricName, Period: h.Period, MissingAfter: h.MissingAfter}
	if n := f.apply(t, nil, s, false); n != 1 {
		t.Fatalf("apply made %d changes, want 1 (the heartbeat alarm)", n)
	}
	t.Cleanup(func() {
		f.cw.DeleteAlarms(context.Background(), &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{alarms.HeartbeatName}})
	})
	audit := func() *alarms.Report {
		rep, err := (&alarms.Auditor{CloudWatch: f.cw, Logs: f.logs, SNS: f.sns, AlarmNamePrefix: alarms.HeartbeatName}).Audit(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := audit(); len(rep.Findings) != 1 || rep.Findings[0].Problem != alarms.AlarmsOnNothing {
		t.Fatalf("before the daemon ran: got findings %+v, want one %s", rep.Findings, alarms.AlarmsOnNothing)
	}

	log := &lockedBuffer{}
	d := &daemon.Daemon{
		Config:     cfg,
		Log:        zerolog.New(log),
		Stdout:     &lockedBuffer{},
		CloudWatch: cloudwatch.NewFromConfig(awsConfig(endpoint)),
		LogsClient: func(config.Source) (*cloudwatchlogs.Client, error) {
			return cloudwatchlogs.NewFromConfig(awsConfig(endpoint)), nil
		},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon: %v\n%s", err, log)
		}
	}()
	// The heartbeat and, with it, the ingestion lag of the cloudwatch
	// source.
	published := func() bool {
		for _, name := range []string{"Heartbeat", "IngestionLagSeconds"} {
			out, err := f.cw.ListMetrics(t.Context(), &cloudwatch.ListMetricsInput{Namespace: aws.String(f.ns), MetricName: aws.String(name)})
			if err != nil || len(out.Metrics) != 1 || len(out.Metrics[0].Dimensions) != 0 {
				return false
			}
		}
		return true
	}
	for end := time.Now().Add(30 * time.Second); !published(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("after 30s: no heartbeat metric in the emulator; daemon log:\n%s", log)
		}
	}
	if rep := audit(); len(rep.Findings) != 0 || len(rep.Passed) != 1 {
		t.Errorf("after the heartbeat: got findings %+v, passed %v; want the alarm to pass", rep.Findings, rep.Passed)
	}
	if strings.Contains(log.String(), "heartbeat not published") {
		t.Errorf("heartbeat failures logged:\n%s", log)
	}
}

// TestOperatorMetricsAndAlarms: `secwatch alarms plan` shows, and `alarms
// apply` creates, the alarms on the operator metrics with the heartbeat
// alarm, from the config alone; the daemon, with a source whose directory
// does not exist, publishes the operator metrics through the real SDK
// (sources down 1) and withholds the heartbeat, and the operator alarms
// then pass the audit (their metrics exist).
func TestOperatorMetricsAndAlarms(t *testing.T) {
	t.Parallel()
	f := newAlarmsFixture(t)
	endpoint := startAlarmShim(t)
	dir := t.TempDir()
	prefix := "op" + f.suffix
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte("rules:\n  - id: x\n    match: {a: b}\n    window: 1m\n    threshold: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "secwatch.yaml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(`state_dir: state
rules: [rules.yaml]
engine: {tick: 100ms}
sources:
  - {name: app, type: file, paths: [%q], poll_interval: 10ms, down_after: 1s}
alerts: {stdout: {enabled: true}}
http: {listen: ""}
aws: {region: us-east-1, endpoint: %s}
alarms:
  topic_arn: %s
  owner: %s
  name_prefix: %s
  heartbeat: {namespace: %s}
`, filepath.Join(dir, "missing", "*.log"), endpoint, f.topic, f.owner, prefix, f.ns)), 0o644); err != nil {
		t.Fatal(err)
	}
	names := []string{prefix + "-dead-letters", prefix + "-delivery-failures", prefix + "-heartbeat", prefix + "-sources-down"}
	alarmsCmd := func(sub string) string {
		t.Helper()
		cmd := exec.Command(secwatchBinary(t), "alarms", sub, "--config", cfgPath)
		cmd.Env = []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "HOME=" + dir}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("alarms %s: %v\n%s", sub, err, out)
		}
		return string(out)
	}
	plan := alarmsCmd("plan")
	for _, n := range names {
		if !strings.Contains(plan, n) {
			t.Errorf("plan does not show %s:\n%s", n, plan)
		}
	}
	alarmsCmd("apply")
	t.Cleanup(func() { f.cw.DeleteAlarms(context.Background(), &cloudwatch.DeleteAlarmsInput{AlarmNames: names}) })
	out, err := f.cw.DescribeAlarms(t.Context(), &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String(prefix + "-")})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, a := range out.MetricAlarms {
		got[aws.ToString(a.AlarmName)] = aws.ToString(a.Namespace) + "/" + aws.ToString(a.MetricName)
	}
	want := map[string]string{
		names[0]: f.ns + "/DeadLetters", names[1]: f.ns + "/DeliveryFailures",
		names[2]: f.ns + "/Heartbeat", names[3]: f.ns + "/SourcesDown",
	}
	if !maps.Equal(got, want) {
		t.Errorf("alarms in the emulator: got %v, want %v", got, want)
	}

	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	log := &lockedBuffer{}
	stop := runDaemon(t, &daemon.Daemon{
		Config: cfg, Log: zerolog.New(log), Stdout: &lockedBuffer{},
		CloudWatch: cloudwatch.NewFromConfig(awsConfig(endpoint)),
	}, log)
	defer stop()
	published := func(name string) bool {
		out, err := f.cw.ListMetrics(t.Context(), &cloudwatch.ListMetricsInput{Namespace: aws.String(f.ns), MetricName: aws.String(name)})
		return err == nil && len(out.Metrics) == 1 && len(out.Metrics[0].Dimensions) == 0
	}
	for end := time.Now().Add(30 * time.Second); !published("SourcesDown") || !published("DeadLetters") || !published("DeliveryFailures"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("after 30s: operator metrics not all in the emulator; daemon log:\n%s", log)
		}
	}
	// The first publication may precede down_after (1s); wait for one
	// that says the source is down.
	for end := time.Now().Add(90 * time.Second); !strings.Contains(log.String(), "sources down; heartbeat withheld"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("heartbeat not withheld; daemon log:\n%s", log)
		}
	}
	// A publication after the one that withheld the heartbeat (period:
	// 1m) says 1 source down.
	maxDown := func() float64 {
		st, err := f.cw.GetMetricStatistics(t.Context(), &cloudwatch.GetMetricStatisticsInput{
			Namespace: aws.String(f.ns), MetricName: aws.String("SourcesDown"), Statistics: []cwtypes.Statistic{cwtypes.StatisticMaximum},
			StartTime: aws.Time(time.Now().Add(-time.Hour)), EndTime: aws.Time(time.Now().Add(time.Hour)), Period: aws.Int32(60),
		})
		if err != nil {
			t.Fatalf("GetMetricStatistics: %v", err)
		}
		m := -1.0
		for _, p := range st.Datapoints {
			m = max(m, aws.ToFloat64(p.Maximum))
		}
		return m
	}
	for end := time.Now().Add(90 * time.Second); maxDown() != 1; time.Sleep(time.Second) {
		if time.Now().After(end) {
			t.Fatalf("SourcesDown never 1 (max %v); daemon log:\n%s", maxDown(), log)
		}
	}
	rep, err := (&alarms.Auditor{CloudWatch: f.cw, Logs: f.logs, SNS: f.sns, AlarmNamePrefix: prefix + "-"}).Audit(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range rep.Findings {
		if fd.Alarm != names[2] { // the heartbeat, withheld since the start, may alarm on nothing
			t.Errorf("audit finding: %+v", fd)
		}
	}
}
