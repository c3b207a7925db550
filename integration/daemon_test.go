package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/secwatch/secwatch/internal/testutil"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/daemon"
)

// lockedBuffer is the shared goroutine-safe buffer.
type lockedBuffer = testutil.Buffer

// eventsObserved reads secwatch_engine_events_total from the daemon whose
// log is in l; -1 while unavailable.
func eventsObserved(l *lockedBuffer) int64 {
	return testutil.Metric(l.String(), "secwatch_engine_events_total")
}

// TestDaemonCloudWatchToSNS runs the daemon itself: a CloudWatch Logs source
// on a log group in the emulator and the SNS notifier on a topic with an SQS
// queue subscribed. The daemon is stopped in the middle of a burst and
// started again on the same state directory; the burst's alert reaches the
// queue exactly once, counting every event once.
func TestDaemonCloudWatchToSNS(t *testing.T) {
	f := newSNSFixture(t, false)
	logs := cloudwatchlogs.NewFromConfig(awsConfig(f.endpoint))
	group, stream := "/mcp-tagging/"+uniqueName(t, "it"), "security"
	ctx := t.Context()
	if _, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: &group}); err != nil {
		t.Fatal(err)
	}
	if _, err := logs.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: &group, LogStreamName: &stream}); err != nil {
		t.Fatal(err)
	}
	base := time.Now().Add(-90 * time.Second).Truncate(time.Millisecond)
	put := func(from, n int) {
		var evs []types.InputLogEvent
		for i := from; i < from+n; i++ {
			ts := base.Add(time.Duration(i) * 3 * time.Second)
			msg := fmt.Sprintf(`{"timestamp":%q,"event_type":"authentication_failure","client_ip":"203.0.113.7","n":%d}`, ts.Format(time.RFC3339Nano), i)
			evs = append(evs, types.InputLogEvent{Timestamp: aws.Int64(ts.UnixMilli()), Message: aws.String(msg)})
		}
		if _, err := logs.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: &group, LogStreamName: &stream, LogEvents: evs}); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), []byte(`rules:
  - id: auth-burst
    title: Authentication failures from one client
    severity: high
    match: {event_type: authentication_failure}
    group_by: [client_ip]
    window: 5m
    threshold: 10
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgText := fmt.Sprintf(`state_dir: %s
rules: [%s]
engine: {tick: 100ms}
sources:
  - name: mcp
    type: cloudwatch
    format: json
    log_groups: [%q]
    poll_interval: 1s
    endpoint: %s
    region: us-east-1
alerts:
  stdout: {enabled: false}
  sns: {topic_arn: %q}
  initial_backoff: 100ms
http: {listen: "127.0.0.1:0"}
log: {level: info, format: json}
`, filepath.Join(dir, "state"), filepath.Join(dir, "rules.yaml"), group, f.endpoint, f.topicARN)
	cfg, err := config.Parse("secwatch.yaml", strings.NewReader(cfgText), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := func() (stop func(), log *lockedBuffer) {
		log = &lockedBuffer{}
		d := &daemon.Daemon{
			Config:    cfg,
			Log:       zerolog.New(log),
			Notifiers: []alerting.Notifier{f.notifier()},
			LogsClient: func(config.Source) (*cloudwatchlogs.Client, error) {
				return cloudwatchlogs.NewFromConfig(awsConfig(f.endpoint)), nil
			},
		}
		return runDaemon(t, d, log), log
	}

	put(0, 6)
	stop, log := start()
	eventually(t, 60*time.Second, "6 events observed", func() bool { return eventsObserved(log) >= 6 })
	stop()
	if got := f.receive(t, 0); len(got) != 0 {
		t.Fatalf("%d alerts published before the burst completed", len(got))
	}

	put(6, 5) // the 11th failure completes the burst
	stop, log = start()
	var got []envelope
	eventually(t, 60*time.Second, "the alert in the queue", func() bool {
		got = append(got, f.receive(t, time.Second)...)
		return len(got) > 0
	})
	// The overlap makes the second run read the first six events again:
	// they must not be counted twice, and the alert must not repeat.
	eventually(t, 60*time.Second, "the second run to poll again", func() bool { return eventsObserved(log) >= 5 })
	stop()
	got = append(got, f.receive(t, time.Second)...)
	if len(got) != 1 {
		t.Fatalf("got %d alerts in the queue, want exactly 1", len(got))
	}
	var doc alerting.Document
	if err := json.Unmarshal([]byte(got[0].Message), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Rule != "auth-burst" || doc.Count != 11 || doc.Group["client_ip"] != "203.0.113.7" {
		t.Errorf("alert: got rule %s count %d group %v, want auth-burst, 11, 203.0.113.7", doc.Rule, doc.Count, doc.Group)
	}
	// Counted twice, the re-read events would have fired the rule early,
	// at an earlier time.
	if want := base.Add(30 * time.Second).UTC().Format(time.RFC3339Nano); doc.Time != want || doc.FirstSeen != base.UTC().Format(time.RFC3339Nano) {
		t.Errorf("alert time %s first_seen %s, want %s and %s", doc.Time, doc.FirstSeen, want, base.UTC().Format(time.RFC3339Nano))
	}
	if !strings.HasPrefix(got[0].Subject, "[HIGH] Authentication failures from one client") {
		t.Errorf("subject %q", got[0].Subject)
	}
	for _, k := range []string{"severity", "rule", "alert_id"} {
		if got[0].MessageAttributes[k].Value == "" {
			t.Errorf("message attribute %s missing: %+v", k, got[0].MessageAttributes)
		}
	}
}

// runDaemon runs d until the returned stop is called; stop fails the test
// when d ends with an error or does not stop within a minute.
func runDaemon(t *testing.T, d *daemon.Daemon, log *lockedBuffer) (stop func()) {
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("daemon: %v\n%s", err, log)
			}
		case <-time.After(60 * time.Second):
			t.Fatalf("daemon did not stop\n%s", log)
		}
	}
}
