package daemon

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/config"
)

// metricsAPI is the part of the CloudWatch client the heartbeat uses.
type metricsAPI interface {
	PutMetricData(ctx context.Context, in *cloudwatch.PutMetricDataInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
}

var _ metricsAPI = (*cloudwatch.Client)(nil)

// heartbeatStale is how long the engine loop may stay silent before the
// heartbeat stops: a daemon whose engine is stuck is not watching.
const heartbeatStale = 30 * time.Second

// heartbeatTimeout bounds one PutMetricData call.
const heartbeatTimeout = 10 * time.Second

// cloudWatchHeartbeat publishes the heartbeat metric every period while
// the engine loop is alive and every source is read, so that the
// secwatch-heartbeat alarm fires when the daemon dies, hangs or is blind
// (docs/alarms.md). With it go the operator metrics (sources down, dead
// letters, delivery failures since the last publication) and the
// ingestion lag, when its alarm is configured; those are published even
// while the heartbeat is withheld. Failures are logged when they change
// and counted; they never stop the daemon.
type cloudWatchHeartbeat struct {
	client  metricsAPI
	cfg     config.Alarms
	lagFrom []string // cloudwatch sources, whose greatest lag is published
	m       *metrics
	log     zerolog.Logger

	published, failed, skipped atomic.Int64
	lastErr                    string // owned by the publishing goroutine
	failedBefore               int64  // delivery failures at the last publication; idem
}

// startHeartbeat starts publishing when the configuration asks for it and
// returns the function that stops it. In Once mode one publication is
// made when it is stopped, its heartbeat only if every source completed a
// read since startedAt: the alarm's missing_after must then exceed the
// schedule (alarms.heartbeat.schedule derives it).
func (d *Daemon) startHeartbeat(ctx context.Context, m *metrics, startedAt time.Time) (stop func()) {
	c := d.Config.Alarms
	if d.CloudWatch == nil || !c.Enabled || !c.Heartbeat.Enabled {
		return func() {}
	}
	h := &cloudWatchHeartbeat{client: d.CloudWatch, cfg: c, m: m, log: d.Log.With().Str("component", "heartbeat").Logger()}
	for _, s := range d.Config.Sources {
		if s.Type == config.TypeCloudWatch {
			h.lagFrom = append(h.lagFrom, s.Name)
		}
	}
	m.cwHeartbeat.Store(h)
	if d.Once {
		return func() {
			h.publish(ctx, m.incompleteSources(d.Config, startedAt), "source did not complete its read; heartbeat withheld")
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.run(ctx)
	}()
	return func() { cancel(); <-done }
}

// run publishes as soon as the engine loop has started, and then every
// period until ctx ends.
func (h *cloudWatchHeartbeat) run(ctx context.Context) {
	for !h.m.engine.started() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	t := time.NewTicker(h.cfg.Heartbeat.Period)
	defer t.Stop()
	for {
		h.tick(ctx, time.Now())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// tick publishes unless the engine loop has not beaten recently: a daemon
// whose engine is stuck says nothing, so the heartbeat alarm fires.
func (h *cloudWatchHeartbeat) tick(ctx context.Context, now time.Time) {
	if !h.m.engine.started() {
		h.skipped.Add(1) // starting: nothing to say yet
		return
	}
	if h.m.engine.age(now) > heartbeatStale {
		h.skipped.Add(1)
		h.changed("engine loop silent; heartbeat withheld", zerolog.WarnLevel, nil)
		return
	}
	h.publish(ctx, h.m.sourcesDown(now), "sources down; heartbeat withheld")
}

// publish sends the operator metrics, and the heartbeat unless a source
// is down (down names them; withheld is the log message then) or the
// state cannot be written: the heartbeat means watching everything
// configured and keeping what was seen.
func (h *cloudWatchHeartbeat) publish(ctx context.Context, down []string, withheld string) {
	failures := h.m.delivery.Failed.Load()
	var deadLetters int
	if h.m.outbox != nil {
		deadLetters = h.m.outbox.DeadLetters()
	}
	data := []cwtypes.MetricDatum{
		datum(config.SourcesDownMetric, float64(len(down)), cwtypes.StandardUnitCount),
		datum(config.DeadLettersMetric, float64(deadLetters), cwtypes.StandardUnitCount),
		datum(config.DeliveryFailuresMetric, float64(failures-h.failedBefore), cwtypes.StandardUnitCount),
	}
	watching := false
	switch p := h.m.state.problem(); {
	case len(down) > 0:
		h.skipped.Add(1)
		h.changed(withheld, zerolog.WarnLevel, fmt.Errorf("%s", strings.Join(down, ", ")))
	case p != nil:
		h.skipped.Add(1)
		h.changed("state not writable; heartbeat withheld", zerolog.WarnLevel, errors.New(p.err))
	default:
		watching = true
		data = append(data, datum(h.cfg.Heartbeat.MetricName, 1, cwtypes.StandardUnitCount))
	}
	if h.cfg.Lag.Enabled && len(h.lagFrom) > 0 {
		var lag time.Duration
		for _, name := range h.lagFrom {
			lag = max(lag, time.Duration(h.m.source(name).stats.Lag.Load()))
		}
		data = append(data, datum(h.cfg.Lag.MetricName, lag.Seconds(), cwtypes.StandardUnitSeconds))
	}
	ctx, cancel := context.WithTimeout(ctx, heartbeatTimeout)
	defer cancel()
	_, err := h.client.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String(h.cfg.Heartbeat.Namespace), MetricData: data})
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return // shutting down
		}
		h.failed.Add(1)
		h.changed("heartbeat not published", zerolog.ErrorLevel, err)
		return
	}
	h.failedBefore = failures
	if !watching {
		return // withheld: logged above
	}
	h.published.Add(1)
	h.changed("", zerolog.InfoLevel, nil)
}

// datum is one metric datum without a timestamp: CloudWatch stamps it
// when it arrives, which is what a heartbeat means.
func datum(name string, v float64, unit cwtypes.StandardUnit) cwtypes.MetricDatum {
	return cwtypes.MetricDatum{MetricName: aws.String(name), Value: aws.Float64(v), Unit: unit}
}

// changed logs the heartbeat's state when it differs from the last one
// logged: a repeating failure is logged once, and its end once.
func (h *cloudWatchHeartbeat) changed(state string, level zerolog.Level, err error) {
	key := state
	if err != nil {
		key += ": " + err.Error()
	}
	if key == h.lastErr {
		return
	}
	was := h.lastErr
	h.lastErr = key
	if state == "" {
		if was != "" {
			h.log.Info().Int64("failed", h.failed.Load()).Int64("skipped", h.skipped.Load()).Msg("heartbeat published again")
		}
		return
	}
	h.log.WithLevel(level).Err(err).Str("namespace", h.cfg.Heartbeat.Namespace).Str("metric", h.cfg.Heartbeat.MetricName).
		Int64("failed", h.failed.Load()).Int64("skipped", h.skipped.Load()).Msg(state)
}
