package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
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
