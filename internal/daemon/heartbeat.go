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

// cloudWatchHeartbeat publishes the heartbeat metric (and the ingestion
// lag, when its alarm is configured) every period while the engine loop is
// alive, so that the secwatch-heartbeat alarm fires when the daemon dies or
// hangs (docs/alarms.md). Failures are logged when they change and
// counted; they never stop the daemon.
type cloudWatchHeartbeat struct {
	client  metricsAPI
	cfg     config.Alarms
	lagFrom []string // cloudwatch sources, whose greatest lag is published
	m       *metrics
	log     zerolog.Logger

	published, failed, skipped atomic.Int64
	lastErr                    string // owned by the publishing goroutine
}

// startHeartbeat starts publishing when the configuration asks for it and
// returns the function that stops it. In Once mode one heartbeat is
// published when it is stopped, if every source completed a read since
// startedAt: the alarm's missing_after must then exceed the schedule.
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
			if err := m.incomplete(d.Config, startedAt); err != nil {
				h.skipped.Add(1)
				h.changed("source did not complete its read; heartbeat withheld", zerolog.WarnLevel, err)
				return
			}
			h.publish(ctx, time.Now(), false)
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
		h.publish(ctx, time.Now(), true)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// publish sends one heartbeat if the engine loop has beaten recently (or
// unless checkEngine).
func (h *cloudWatchHeartbeat) publish(ctx context.Context, now time.Time, checkEngine bool) {
	if checkEngine && !h.m.engine.started() {
		h.skipped.Add(1) // starting: nothing to say yet
		return
	}
	if checkEngine && h.m.engine.age(now) > heartbeatStale {
		h.skipped.Add(1)
		h.changed("engine loop silent; heartbeat withheld", zerolog.WarnLevel, nil)
		return
	}
	if down := h.m.sourcesDown(now); checkEngine && len(down) > 0 {
		// The heartbeat means watching everything configured.
		h.skipped.Add(1)
		h.changed("sources down; heartbeat withheld", zerolog.WarnLevel, fmt.Errorf("%s", strings.Join(down, ", ")))
		return
	}
	// No Timestamp: CloudWatch stamps the datum when it arrives, which
	// is what a heartbeat means.
	data := []cwtypes.MetricDatum{{
		MetricName: aws.String(h.cfg.Heartbeat.MetricName),
		Value:      aws.Float64(1),
		Unit:       cwtypes.StandardUnitCount,
	}}
	if h.cfg.Lag.Enabled && len(h.lagFrom) > 0 {
		var lag time.Duration
		for _, name := range h.lagFrom {
			lag = max(lag, time.Duration(h.m.source(name).stats.Lag.Load()))
		}
		data = append(data, cwtypes.MetricDatum{
			MetricName: aws.String(h.cfg.Lag.MetricName),
			Value:      aws.Float64(lag.Seconds()),
			Unit:       cwtypes.StandardUnitSeconds,
		})
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
	h.published.Add(1)
	h.changed("", zerolog.InfoLevel, nil)
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
