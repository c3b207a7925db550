package daemon

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/config"
)

// fakeCloudWatch answers PutMetricData with the errors in errs, in turn,
// and then with success; it records what was sent.
type fakeCloudWatch struct {
	mu    sync.Mutex
	errs  []error
	calls []*cloudwatch.PutMetricDataInput
}

func (f *fakeCloudWatch) PutMetricData(_ context.Context, in *cloudwatch.PutMetricDataInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, in)
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return nil, err
	}
	return &cloudwatch.PutMetricDataOutput{}, nil
}

func (f *fakeCloudWatch) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// beats counts the calls that carried the heartbeat: the operator metrics
// are published without it while it is withheld.
func (f *fakeCloudWatch) beats() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, in := range f.calls {
		if _, ok := values(in)["Heartbeat"]; ok {
			n++
		}
	}
	return n
}

// values maps each metric of a PutMetricData call to its value.
func values(in *cloudwatch.PutMetricDataInput) map[string]float64 {
	m := map[string]float64{}
	for _, d := range in.MetricData {
		m[aws.ToString(d.MetricName)] = aws.ToFloat64(d.Value)
	}
	return m
}

func heartbeatConfig() config.Alarms {
	return config.Alarms{
		Enabled: true,
		Heartbeat: config.Heartbeat{
			Enabled: true, Namespace: "secwatch", MetricName: "Heartbeat",
			Period: time.Minute, MissingAfter: 5 * time.Minute,
		},
		Lag: config.Lag{Enabled: true, MetricName: "IngestionLagSeconds", Threshold: 5 * time.Minute},
	}
}

// TestHeartbeatFailuresAreCountedAndLoggedOnce: three failed publishes in
// a row are counted, logged once (the error does not change), and the
// publisher keeps going; the success after them is logged once. When the
// engine loop goes silent, the heartbeat is withheld.
func TestHeartbeatFailuresAreCountedAndLoggedOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &syncBuffer{}
		m := newMetrics()
		m.source("cw").up.Store(true)
		m.source("cw").stats.Lag.Store(int64(42 * time.Second))
		fake := &fakeCloudWatch{errs: []error{errors.New("throttled"), errors.New("throttled"), errors.New("throttled")}}
		h := &cloudWatchHeartbeat{client: fake, cfg: heartbeatConfig(), lagFrom: []string{"cw"}, m: m, log: zerolog.New(logs)}

		ctx, cancel := context.WithCancel(t.Context())
		engineAlive, stopEngine := context.WithCancel(ctx)
		go func() { // the engine loop's tick
			for engineAlive.Err() == nil {
				m.engine.beat(time.Now())
				select {
				case <-engineAlive.Done():
				case <-time.After(time.Second):
				}
			}
		}()
		done := make(chan struct{})
		go func() { h.run(ctx); close(done) }()

		time.Sleep(4*time.Minute + time.Second) // publishes at 0, 1, 2, 3 and 4 minutes
		synctest.Wait()
		if got, want := fake.count(), 5; got != want {
			t.Fatalf("got %d PutMetricData calls, want %d", got, want)
		}
		if got, want := h.failed.Load(), int64(3); got != want {
			t.Errorf("failed: got %d, want %d", got, want)
		}
		if got, want := h.published.Load(), int64(2); got != want {
			t.Errorf("published: got %d, want %d", got, want)
		}
		m.cwHeartbeat.Store(h)
		var exposition strings.Builder
		m.write(&exposition)
		for _, series := range []string{"secwatch_heartbeat_failures_total 3", "secwatch_heartbeats_published_total 2"} {
			if !strings.Contains(exposition.String(), series+"\n") {
				t.Errorf("/metrics lacks %q", series)
			}
		}
		if n := strings.Count(logs.String(), "heartbeat not published"); n != 1 {
			t.Errorf("failure logged %d times, want once:\n%s", n, logs.String())
		}
		if n := strings.Count(logs.String(), "heartbeat published again"); n != 1 {
			t.Errorf("recovery logged %d times, want once:\n%s", n, logs.String())
		}
		fake.mu.Lock()
		in := fake.calls[4]
		fake.mu.Unlock()
		want := map[string]float64{"Heartbeat": 1, "IngestionLagSeconds": 42, "SourcesDown": 0, "DeadLetters": 0, "DeliveryFailures": 0}
		if got := values(in); aws.ToString(in.Namespace) != "secwatch" || !maps.Equal(got, want) {
			t.Errorf("published %v in %s, want %v", got, aws.ToString(in.Namespace), want)
		}

		stopEngine() // a hung engine: no more heartbeats once it is stale
		time.Sleep(3 * time.Minute)
		synctest.Wait()
		if got, want := fake.count(), 5; got != want {
			t.Errorf("with the engine silent: got %d calls, want still %d", got, want)
		}
		if n := strings.Count(logs.String(), "engine loop silent; heartbeat withheld"); n != 1 {
			t.Errorf("withheld logged %d times, want once:\n%s", n, logs.String())
		}
		cancel()
		<-done
	})
}

// TestDaemonSurvivesFailingHeartbeat: a CloudWatch that refuses every
// heartbeat does not stop the daemon, which keeps alerting and stops
// cleanly.
func TestDaemonSurvivesFailingHeartbeat(t *testing.T) {
	tb := newTestbed(t, `rules:
  - id: burst
    match: {event_type: authentication_failure}
    window: 5m
    threshold: 2
`)
	cfg := tb.config(options{})
	cfg.Alarms = heartbeatConfig()
	cfg.Alarms.Lag.Enabled = false
	fake := &fakeCloudWatch{}
	for range 100 {
		fake.errs = append(fake.errs, errors.New("AccessDenied: not allowed"))
	}
	in := start(t, cfg, func(d *Daemon) { d.CloudWatch = fake })
	eventually(t, "a heartbeat attempt", func() bool { return fake.count() >= 1 }, in)
	tb.feed(tb.lines("authentication_failure", "203.0.113.7", 3))
	in.waitAlerts(1)
	in.stopClean()
	if got := in.logEntries("heartbeat not published"); len(got) != 1 {
		t.Errorf("got %d failure log entries, want 1:\n%s", len(got), in.log)
	}
}
