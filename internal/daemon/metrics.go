package daemon

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/ingest"
	"github.com/secwatch/secwatch/internal/rules"
)

// metrics are the daemon's self-metrics, written by their owners and read
// by the HTTP handler; everything is atomic or guarded.
type metrics struct {
	start  time.Time
	engine heartbeat
	events atomic.Int64

	checkpoints        atomic.Int64
	checkpointFailures atomic.Int64
	state              stateHealth // checkpoint failures now (selfalert.go)
	lastCheckpoint     atomic.Int64
	reloads            atomic.Int64
	reloadFailures     atomic.Int64
	silenced           atomic.Int64

	delivery alerting.Metrics
	// latency is secwatch_alert_delivery_latency_seconds, observed by the
	// dispatcher through delivery.DeliveryLatency.
	latency *prometheus.HistogramVec
	// stallAfter is alerts.stall_after: a notifier without a delivery for
	// longer while alerts wait for it makes /healthz fail; 0: never.
	stallAfter time.Duration
	outbox     outbox
	backend    backend // its own metrics (redis)
	// cwHeartbeat is set while the CloudWatch heartbeat publisher runs.
	cwHeartbeat atomic.Pointer[cloudWatchHeartbeat]
	s3          s3Metrics // type s3 sources (s3.go)

	mu      sync.Mutex
	sources map[string]*sourceMetrics
	rules   []rules.RuleStats
}

type sourceMetrics struct {
	stats    *ingest.SourceStats
	rejected atomic.Int64
	restarts atomic.Int64
	up       atomic.Bool
	// downAfter (a time.Duration) and since: see isUp (health_sources.go);
	// atomic because /metrics may read them while the sources start.
	downAfter atomic.Int64
	since     atomic.Int64
}

func newMetrics() *metrics {
	m := &metrics{start: time.Now(), sources: map[string]*sourceMetrics{}, latency: newLatency()}
	m.delivery.DeliveryLatency = m.observeLatency
	return m
}

// source returns the metrics of the named source, creating them.
func (m *metrics) source(name string) *sourceMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	sm := m.sources[name]
	if sm == nil {
		sm = &sourceMetrics{stats: new(ingest.SourceStats)}
		m.sources[name] = sm
	}
	return sm
}

// setRules publishes a copy of the engine's counters (the engine goroutine
// owns the engine; the handler reads this copy).
func (m *metrics) setRules(rs []rules.RuleStats) {
	m.mu.Lock()
	m.rules = rs
	m.mu.Unlock()
}

// healthy reports whether the engine loop is alive, every source is
// running and no notifier is stalled, with the reason when not.
func (m *metrics) healthy(now time.Time, maxAge time.Duration) (bool, string) {
	if !m.engine.started() {
		// The listener is up before the engine loop and the sources are:
		// not yet healthy, but nothing is failing either.
		return false, "starting"
	}
	if age := m.engine.age(now); age > maxAge {
		return false, fmt.Sprintf("engine loop silent for %s", age.Round(time.Second))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var down []string
	for name, sm := range m.sources {
		if !sm.isUp(now) {
			down = append(down, sm.describe(name))
		}
	}
	if len(down) > 0 {
		sort.Strings(down)
		return false, "sources failing: " + strings.Join(down, ", ")
	}
	if why := m.state.reason(); why != "" {
		return false, why
	}
	if m.stallAfter > 0 {
		var stalled []string
		for _, st := range m.delivery.Stalled(now, m.stallAfter) {
			stalled = append(stalled, fmt.Sprintf("%s (no delivery for %s, %d alerts pending)",
				st.Name, now.Sub(st.Waiting).Round(time.Second), st.Pending))
		}
		if len(stalled) > 0 {
			return false, "notifiers stalled: " + strings.Join(stalled, ", ")
		}
	}
	return true, "ok"
}

// alertCounts returns the alerts the outbox queued and the duplicates it
// refused.
func (m *metrics) alertCounts() (alerts, duplicates int64) {
	if m.outbox == nil {
		return 0, 0
	}
	return m.outbox.Queued(), m.outbox.Duplicates()
}

// collect writes the daemon's own series into w (the registry adds the Go
// runtime's, the process's, build info and the delivery latency).
func (m *metrics) collect(w *scrape) {
	writeMetric(w, "secwatch_up", "gauge", "1 while the daemon runs", 1)
	writeMetric(w, "secwatch_start_time_seconds", "gauge", "start time of the daemon", m.start.Unix())
	writeMetric(w, "secwatch_engine_events_total", "counter", "events observed by the engine", m.events.Load())
	alerts, duplicates := m.alertCounts()
	writeMetric(w, "secwatch_alerts_total", "counter", "alerts written to the outbox", alerts)
	writeMetric(w, "secwatch_alerts_duplicate_total", "counter", "alerts fired again (after a restart) that the outbox already had", duplicates)
	writeMetric(w, "secwatch_alerts_silenced_total", "counter", "alerts a silence muted (kept with the state: the silenced directory, or Redis)", m.silenced.Load())
	writeMetric(w, "secwatch_checkpoints_total", "counter", "checkpoints written", m.checkpoints.Load())
	writeMetric(w, "secwatch_checkpoint_failures_total", "counter", "checkpoints that could not be written", m.checkpointFailures.Load())
	m.state.write(w)
	if t := m.lastCheckpoint.Load(); t > 0 {
		writeMetric(w, "secwatch_last_checkpoint_time_seconds", "gauge", "time of the last checkpoint", t/1e9)
	}
	writeMetric(w, "secwatch_rule_reloads_total", "counter", "successful rule reloads", m.reloads.Load())
	writeMetric(w, "secwatch_rule_reload_failures_total", "counter", "rejected rule reloads (invalid rules; the old rules stay)", m.reloadFailures.Load())

	d := &m.delivery
	writeMetric(w, "secwatch_delivered_total", "counter", "alerts every notifier acknowledged", d.Delivered.Load())
	writeMetric(w, "secwatch_delivery_failures_total", "counter", "failed delivery attempts (per notifier)", d.Failed.Load())
	writeMetric(w, "secwatch_dead_lettered_total", "counter", "alerts moved to the dead-letter directory by this process", d.DeadLettered.Load())
	writeMetric(w, "secwatch_suppressed_total", "counter", "alerts held back by the per-rule hourly cap (each is counted in a digest)", d.Suppressed.Load())
	writeMetric(w, "secwatch_digests_total", "counter", "digest alerts made by flood control", d.Digests.Load())
	ns := d.Notifiers()
	metricHeader(w, "secwatch_notifier_pending", "gauge", "alerts waiting for the notifier")
	for _, st := range ns {
		w.sample(float64(st.Pending), "notifier", st.Name)
	}
	metricHeader(w, "secwatch_notifier_failures_total", "counter", "failed delivery attempts of the notifier (retried or permanent)")
	for _, st := range ns {
		w.sample(float64(st.Failures), "notifier", st.Name)
	}
	if m.outbox != nil {
		writeMetric(w, "secwatch_outbox_depth", "gauge", "alerts waiting for delivery", int64(m.outbox.Len()))
		writeMetric(w, "secwatch_dead_letters", "gauge", "alerts in the dead-letter directory", int64(m.outbox.DeadLetters()))
	}
	if m.backend != nil {
		m.backend.writeMetrics(w)
	}
	if h := m.cwHeartbeat.Load(); h != nil {
		writeMetric(w, "secwatch_heartbeats_published_total", "counter", "heartbeat metrics published to CloudWatch", h.published.Load())
		writeMetric(w, "secwatch_heartbeat_failures_total", "counter", "heartbeat publications CloudWatch refused or never answered", h.failed.Load())
		writeMetric(w, "secwatch_heartbeats_skipped_total", "counter", "heartbeats withheld because the engine loop had not beaten recently", h.skipped.Load())
	}

	m.s3.write(w)

	m.mu.Lock()
	names := make([]string, 0, len(m.sources))
	for n := range m.sources {
		names = append(names, n)
	}
	sort.Strings(names)
	srcs := make([]*sourceMetrics, len(names))
	for i, n := range names {
		srcs[i] = m.sources[n]
	}
	rs := m.rules
	m.mu.Unlock()

	type series struct {
		name, typ, help string
		value           func(*sourceMetrics) int64
	}
	for _, s := range []series{
		{"secwatch_source_lines_total", "counter", "lines read", func(s *sourceMetrics) int64 { return s.stats.Lines.Load() }},
		{"secwatch_source_events_total", "counter", "events parsed", func(s *sourceMetrics) int64 { return s.stats.Events.Load() }},
		{"secwatch_source_unparsed_total", "counter", "lines of an unknown shape (kept as event_type unparsed)", func(s *sourceMetrics) int64 { return s.stats.Unparsed.Load() }},
		{"secwatch_source_malformed_total", "counter", "lines the parser rejected", func(s *sourceMetrics) int64 { return s.stats.Malformed.Load() }},
		{"secwatch_source_oversize_total", "counter", "lines longer than max_line_bytes", func(s *sourceMetrics) int64 { return s.stats.Oversize.Load() }},
		{"secwatch_source_invalid_utf8_total", "counter", "lines that are not UTF-8", func(s *sourceMetrics) int64 { return s.stats.InvalidUTF8.Load() }},
		{"secwatch_source_rotations_total", "counter", "file rotations followed", func(s *sourceMetrics) int64 { return s.stats.Rotations.Load() }},
		{"secwatch_source_truncations_total", "counter", "file truncations followed", func(s *sourceMetrics) int64 { return s.stats.Truncations.Load() }},
		{"secwatch_source_content_resumes_total", "counter", "files resumed at their cursor after their device or inode changed, recognised by content", func(s *sourceMetrics) int64 { return s.stats.ContentResumes.Load() }},
		{"secwatch_source_throttled_total", "counter", "AWS requests throttled (and retried with backoff)", func(s *sourceMetrics) int64 { return s.stats.Throttled.Load() }},
		{"secwatch_source_restarts_total", "counter", "source restarts after a failure", func(s *sourceMetrics) int64 { return s.restarts.Load() }},
		{"secwatch_source_up", "gauge", "1 while the source runs and has completed a read within down_after", func(s *sourceMetrics) int64 {
			if s.isUp(time.Now()) {
				return 1
			}
			return 0
		}},
	} {
		metricHeader(w, s.name, s.typ, s.help)
		for i, n := range names {
			w.sample(float64(s.value(srcs[i])), "source", n)
		}
	}
	metricHeader(w, "secwatch_source_lag_seconds", "gauge", "last event's delay from its timestamp to being read")
	for i, n := range names {
		w.sample(float64(srcs[i].stats.Lag.Load())/1e9, "source", n)
	}
	metricHeader(w, "secwatch_source_errors_total", "counter", "reads a source could not do, by kind (permanent, throttling, transient)")
	for i, n := range names {
		for _, k := range ingest.ErrorKinds {
			w.sample(float64(srcs[i].stats.Errors[k].Load()), "source", n, "kind", k.String())
		}
	}

	type rseries struct {
		name, typ, help string
		value           func(rules.RuleStats) int64
	}
	for _, s := range []rseries{
		{"secwatch_rule_matched_total", "counter", "events that matched the rule", func(r rules.RuleStats) int64 { return r.Matched }},
		{"secwatch_rule_alerts_total", "counter", "alerts the rule fired", func(r rules.RuleStats) int64 { return r.Alerts }},
		{"secwatch_rule_late_total", "counter", "matching events outside their group's window", func(r rules.RuleStats) int64 { return r.Late }},
		{"secwatch_rule_ungrouped_total", "counter", "matching events missing a group_by field", func(r rules.RuleStats) int64 { return r.Ungrouped }},
		{"secwatch_rule_evicted_total", "counter", "groups evicted by max_keys (a spray of keys shows here)", func(r rules.RuleStats) int64 { return r.Evicted }},
		{"secwatch_rule_groups", "gauge", "groups held", func(r rules.RuleStats) int64 { return int64(r.Groups) }},
	} {
		metricHeader(w, s.name, s.typ, s.help)
		for _, r := range rs {
			w.sample(float64(s.value(r)), "rule", r.Rule)
		}
	}
}

type httpServer struct {
	srv  *http.Server
	done chan struct{}
	Addr string
}

// startHTTP serves /healthz and /metrics on addr; version and revision
// label secwatch_build_info.
func startHTTP(addr string, m *metrics, version, revision string, log zerolog.Logger) (*httpServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ok, why := m.healthy(time.Now(), 30*time.Second)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, why)
	})
	mux.Handle("GET /metrics", metricsHandler(m.registry(version, revision), log))
	s := &httpServer{
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second},
		done: make(chan struct{}),
		Addr: ln.Addr().String(),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Error().Err(err).Msg("http server failed")
		}
	}()
	log.Info().Str("addr", s.Addr).Msg("serving /healthz and /metrics")
	return s, nil
}

func (s *httpServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s.srv.Shutdown(ctx)
	<-s.done
}
