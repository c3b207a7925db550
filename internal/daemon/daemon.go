// Package daemon is `secwatch run`: it wires sources, the rule engine, the
// outbox and dispatcher, checkpoints, hot reload and the HTTP listener.
//
// One goroutine per source (supervised, restarted with backoff) sends
// records into one bounded channel, closed by the goroutine that waits for
// every source; the goroutine that calls Run owns the engine, the flood gate
// and the cursors, writes checkpoints, and puts alerts durably in the outbox
// before the dispatcher's goroutines deliver them. Shutdown drains in order:
// sources, engine, final checkpoint, then delivery for the rest of the grace
// period (docs/delivery.md, "Shutdown and restart").
//
// It sits below cmd and above ingest, rules, alerting, state and config.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/format"
	"github.com/secwatch/secwatch/internal/ingest"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
)

// recordBuffer is the capacity of the channel between sources and the
// engine: enough to absorb bursts while a checkpoint is written.
const recordBuffer = 4096

// Daemon runs secwatch continuously, or once (Once) for scheduled tasks.
// Set the fields, then call Run once.
type Daemon struct {
	Config *config.Config
	Log    zerolog.Logger
	// Stdin feeds a stdin source; Stdout receives the stdout notifier's
	// alerts (text when StdoutText).
	Stdin      io.Reader
	Stdout     io.Writer
	StdoutText bool
	// Once reads everything available since the cursors, evaluates,
	// delivers (or leaves in the outbox), saves state and returns.
	Once bool
	// Reload receives a value for every SIGHUP; nil: no signal reloads
	// (rule-file changes still reload when watching is possible).
	Reload <-chan struct{}
	// Ready, if set, is closed once sources have started (tests).
	Ready chan struct{}

	// Notifiers beyond stdout (SNS), built by cmd.
	Notifiers []alerting.Notifier
	// Alertmanagers are the Alertmanager notifiers among Notifiers: Run
	// gives each the backend's ActiveStore and runs its re-posts.
	Alertmanagers []*alerting.Alertmanager
	// LogsClient returns the CloudWatch Logs client for a cloudwatch
	// source (cmd builds one per region and endpoint); nil: cloudwatch
	// sources are an error.
	LogsClient func(sc config.Source) (*cloudwatchlogs.Client, error)
	// CloudWatch publishes the heartbeat when the config's alarms map asks
	// for it (heartbeat.go); nil: no heartbeat.
	CloudWatch metricsAPI
	// S3Client returns the clients of a type s3 source (s3.go); nil: s3
	// sources are an error.
	S3Client func(sc config.Source) (S3Clients, error)
	// Version and Revision (the VCS commit) of the binary, for
	// secwatch_build_info; "": unknown.
	Version, Revision string

	metrics *metrics
	s3      s3Sources
}

// ErrUndelivered is returned by a --once run that could not deliver every
// alert; they stay in the outbox for the next run.
var ErrUndelivered = errors.New("alerts left undelivered in the outbox")

// Run runs the daemon until ctx ends (or, with Once, until the input is
// consumed). It returns nil after a clean shutdown.
func (d *Daemon) Run(ctx context.Context) error {
	cfg := d.Config
	log := d.Log.With().Str("component", "daemon").Logger()

	store, err := d.openBackend(log)
	if err != nil {
		return err
	}
	defer store.close()

	rs, err := rulefile.Load(cfg.Rules...)
	if err != nil {
		return fmt.Errorf("load rules: %w", err)
	}
	engine := rules.NewEngine(rs)
	engine.MaxKeys = cfg.Engine.MaxKeys
	engine.MaxLateness = cfg.Engine.MaxLateness

	m := newMetrics()
	d.metrics = m
	flood := &alerting.Flood{Cap: cfg.Alerts.PerRuleHourlyCap, Metrics: &m.delivery}

	ck, problems := store.loadCheckpoint()
	for _, p := range problems {
		log.Error().Err(p).Msg("checkpoint unusable; resuming from an older one or from scratch")
	}
	cursors := map[string]map[string]any{}
	var seq uint64
	if ck != nil {
		restored, discarded := engine.Restore(ck.Engine)
		if len(ck.Flood) > 0 {
			if err := flood.UnmarshalJSON(ck.Flood); err != nil {
				log.Error().Err(err).Msg("flood state unusable; counting afresh")
			}
		}
		for src, cs := range ck.Cursors {
			cursors[src] = make(map[string]any, len(cs))
			for k, c := range cs {
				cursors[src][k] = c
			}
		}
		seq = ck.Seq
		log.Info().Uint64("checkpoint", ck.Seq).Time("saved", ck.Saved).Strs("restored_rules", restored).
			Strs("reset_rules", discarded).Msg("resumed from checkpoint")
	}

	notifiers := d.Notifiers
	if cfg.Alerts.Stdout.Enabled {
		notifiers = append([]alerting.Notifier{&alerting.Stdout{W: d.Stdout, Text: d.StdoutText}}, notifiers...)
	}
	names := make([]string, len(notifiers))
	for i, n := range notifiers {
		names[i] = n.Name()
	}
	outbox, loadErrors, err := store.openOutbox(names)
	if err != nil {
		return err
	}
	defer outbox.Close()
	for _, e := range loadErrors {
		log.Error().Err(e).Msg("outbox entry unusable; moved aside")
	}
	m.outbox, m.backend = outbox, store
	m.notifiers(names)
	m.stallAfter = cfg.Alerts.StallAfter
	disp := &alerting.Dispatcher{
		Outbox:         outbox,
		Notifiers:      notifiers,
		Log:            d.Log.With().Str("component", "dispatcher").Logger(),
		MaxAge:         cfg.Alerts.MaxAge,
		InitialBackoff: cfg.Alerts.InitialBackoff,
		MaxBackoff:     cfg.Alerts.MaxBackoff,
		AttemptTimeout: cfg.Alerts.AttemptTimeout,
		Metrics:        &m.delivery,
	}

	loop := &engineLoop{
		d: d, log: log, store: store, engine: engine, flood: flood, outbox: outbox,
		cursors: cursors, seq: seq, metrics: m, rulePaths: cfg.Rules,
	}
	m.setRules(engine.Stats())
	for _, am := range d.Alertmanagers {
		if am.Store, err = store.active(am.Name()); err != nil {
			return err
		}
	}
	silences, err := store.silences()
	if err != nil {
		return err
	}
	loop.mute = newSilencer(silences, &m.silenced, d.Log.With().Str("component", "silences").Logger())

	// Everything that can refuse to start is checked before any goroutine
	// starts: a Run that returns an error has delivered nothing and left
	// nothing running on the state directory it unlocks.
	srcs := make([]ingest.Source, len(cfg.Sources))
	for i, sc := range cfg.Sources {
		if srcs[i], err = d.newSource(sc, ck, m); err != nil {
			return err
		}
	}
	probeSrcs, err := d.probeSources(m)
	if err != nil {
		return err
	}
	var httpSrv *httpServer
	if !d.Once && cfg.HTTP.Listen != "" {
		httpSrv, err = startHTTP(cfg.HTTP.Listen, m, d.Version, d.Revision, d.Log.With().Str("component", "http").Logger())
		if err != nil {
			return err
		}
		defer httpSrv.close()
	}

	// The dispatcher runs on its own context so that it outlives the
	// sources at shutdown and then gets the grace period to drain.
	dispCtx, stopDisp := context.WithCancel(context.Background())
	defer stopDisp()
	var dispDone chan error
	if !d.Once {
		dispDone = make(chan error, 1)
		go func() { dispDone <- disp.Run(dispCtx) }()
	}
	store.start(disp.Wake, func() { loop.retry.Store(true) })
	if loop.mute != nil && !d.Once {
		go loop.mute.run(dispCtx)
	}
	var reposts sync.WaitGroup
	repostCtx, stopReposts := context.WithCancel(context.Background())
	defer func() { stopReposts(); reposts.Wait() }()
	for _, am := range d.Alertmanagers {
		reposts.Go(func() { am.Run(repostCtx) })
	}
	if len(outbox.Pending()) > 0 {
		disp.Wake()
	}

	reload := make(chan struct{}, 1)
	if !d.Once {
		stopWatch := watchRules(ctx, cfg.Rules, reload, d.Log.With().Str("component", "reload").Logger())
		defer stopWatch()
	}

	records := make(chan ingest.Record, recordBuffer)
	startedAt := time.Now()
	srcCtx, stopSources := context.WithCancel(ctx)
	defer stopSources()
	var wg sync.WaitGroup
	for i, sc := range cfg.Sources {
		// Up from the start, not from whenever its goroutine gets to
		// run: /healthz must not report a source failing that has
		// merely not been scheduled yet.
		m.source(sc.Name).up.Store(true)
		m.source(sc.Name).track(downAfter(sc), startedAt)
		wg.Go(func() {
			supervise(srcCtx, srcs[i], records, d.Once, m.source(sc.Name), d.Log.With().Str("component", "source").Str("source", sc.Name).Logger())
		})
	}
	d.startProbes(srcCtx, &wg, probeSrcs, records, m)
	go func() { wg.Wait(); close(records) }()
	defer d.startHeartbeat(ctx, m, startedAt)()
	if d.Ready != nil {
		close(d.Ready)
	}
	log.Info().Int("rules", len(rs)).Int("sources", len(cfg.Sources)).Bool("once", d.Once).Msg("started")

	// The grace period starts when shutdown does (the signal), not when
	// the engine has drained: the whole shutdown must fit in it.
	var shutdownAt atomic.Int64
	stopWatch := context.AfterFunc(ctx, func() { shutdownAt.Store(time.Now().UnixNano()) })
	defer stopWatch()
	loopErr := loop.run(records, reload, d.Reload)
	stopSources()

	// Delivery gets whatever is left of the grace period after the final
	// checkpoint.
	start := time.Now()
	if t := shutdownAt.Load(); t != 0 {
		start = time.Unix(0, t)
	}
	grace, cancelGrace := context.WithDeadline(context.Background(), start.Add(cfg.ShutdownGrace))
	defer cancelGrace()
	stopDisp()
	if dispDone != nil {
		<-dispDone
	}
	// The final checkpoint waited for the outbox to commit the engine's
	// last alerts, unless it failed: then wait here, so the drain sees them.
	outbox.Sync()
	if err := disp.Drain(grace); err != nil {
		log.Warn().Err(err).Int("pending", outbox.Len()).Msg("shutdown grace ended before every alert was delivered; they stay in the outbox")
	}
	pending := outbox.Len()
	log.Info().Int("outbox", pending).Msg("stopped")
	if loopErr != nil {
		return loopErr
	}
	if !d.Once {
		return nil
	}
	err = m.incomplete(cfg, startedAt)
	if pending > 0 {
		err = errors.Join(err, fmt.Errorf("%w: %d", ErrUndelivered, pending))
	}
	m.logSummary(log, cfg, pending, err)
	return err
}

// newSource builds a source from its configuration.
func (d *Daemon) newSource(sc config.Source, ck *checkpoint, m *metrics) (ingest.Source, error) {
	opts := sc.ParserOptions()
	newParser := func() (format.Parser, error) { return format.NewParser(sc.Format, opts) }
	stats := m.source(sc.Name).stats
	log := d.Log.With().Str("component", "source").Str("source", sc.Name).Logger()
	bad := badLineLogger(log, m.source(sc.Name))
	fail := readErrorLogger(log)
	// Events stamped too far ahead of the clock are rejected as they are
	// decoded, like malformed lines.
	maxFuture := d.maxFuture()
	switch sc.Type {
	case config.TypeFile:
		cs := storedCursors[ingest.FileCursor](ck, sc.Name, log)
		return &ingest.File{
			Name: sc.Name, Paths: sc.Paths, NewParser: newParser, Start: sc.Start,
			MaxLineBytes: sc.MaxLineBytes, PollInterval: sc.PollInterval, Watch: true, Cursors: cs,
			Once: d.Once, MaxFuture: maxFuture, Stats: stats, Bad: bad, Fail: fail,
		}, nil
	case config.TypeCloudWatch:
		if d.LogsClient == nil {
			return nil, fmt.Errorf("source %q: no CloudWatch Logs client", sc.Name)
		}
		client, err := d.LogsClient(sc)
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", sc.Name, err)
		}
		cs := storedCursors[ingest.CloudWatchCursor](ck, sc.Name, log)
		// Plain text and JSON share CloudWatch log groups: text is an
		// event with its message, not a malformed line.
		cwOpts := opts
		cwOpts.PlainText = true
		newParser := func() (format.Parser, error) { return format.NewParser(sc.Format, cwOpts) }
		return &ingest.CloudWatch{
			Name: sc.Name, Client: client, LogGroups: sc.LogGroups, LogGroupPrefix: sc.LogGroupPrefix,
			StreamPrefix: sc.StreamPrefix, FilterPattern: sc.FilterPattern, NewParser: newParser,
			Overlap: sc.Overlap, PollInterval: sc.PollInterval, Cursors: cs, Once: d.Once,
			Stats: stats, Bad: bad, Fail: fail, MaxLineBytes: sc.MaxLineBytes, MaxFuture: maxFuture,
		}, nil
	case config.TypeS3:
		return d.newS3Source(sc, ck, m, log, newParser, bad)
	case config.TypeStdin:
		in := d.Stdin
		if in == nil {
			in = os.Stdin
		}
		return &ingest.Stdin{Name: sc.Name, R: in, NewParser: newParser, MaxLineBytes: sc.MaxLineBytes,
			MaxFuture: maxFuture, Stats: stats, Bad: bad}, nil
	}
	return nil, fmt.Errorf("source %q: type %q is not supported by this build", sc.Name, sc.Type)
}

// maxFuture is the far-future limit of the sources' events.
func (d *Daemon) maxFuture() time.Duration {
	if d.Config.Engine.MaxFuture <= 0 {
		return ingest.MaxFuture
	}
	return d.Config.Engine.MaxFuture
}

// storedCursors returns the cursors of source name in ck (nil: none), of
// the source's cursor type C. A cursor that does not decode is logged and
// left out: its file or group is read as if new.
func storedCursors[C ingest.Cursor](ck *checkpoint, name string, log zerolog.Logger) []C {
	if ck == nil {
		return nil
	}
	cs, errs := ingest.DecodeCursors[C](ck.Cursors[name])
	for _, err := range errs {
		log.Error().Err(err).Msg("checkpoint cursor unusable; ignored")
	}
	return cs
}

// badLineLogger logs rejected lines with their position at most once per
// second per source; the ones in between are counted and reported with the
// next line logged.
func badLineLogger(log zerolog.Logger, sm *sourceMetrics) func(ingest.Position, string) {
	var mu sync.Mutex
	var last time.Time
	var skipped int64
	return func(pos ingest.Position, reason string) {
		sm.rejected.Add(1)
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if now.Sub(last) < time.Second {
			skipped++
			return
		}
		last = now
		log.Warn().Str("position", pos.String()).Str("reason", reason).Int64("more_since_last", skipped).Msg("line rejected")
		skipped = 0
	}
}

// heartbeat is beaten by the engine loop when it starts and on every tick,
// for /healthz.
type heartbeat struct{ last atomic.Int64 }

func (h *heartbeat) beat(t time.Time) { h.last.Store(t.UnixNano()) }

// started reports whether the loop has beaten at all.
func (h *heartbeat) started() bool { return h.last.Load() != 0 }

func (h *heartbeat) age(now time.Time) time.Duration {
	l := h.last.Load()
	if l == 0 {
		return time.Duration(1<<63 - 1)
	}
	return now.Sub(time.Unix(0, l))
}
