package daemon

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/ingest"
)

// ErrSourcesIncomplete is returned by a --once run in which a source did
// not complete its read (access denied, no such log group or directory,
// an unreadable file), even if every alert was delivered.
var ErrSourcesIncomplete = errors.New("sources did not complete their read")

// minDownAfter is the least default down_after: a few slow polls are not
// an outage.
const minDownAfter = 5 * time.Minute

// downAfter is how long source sc may go without completing a read before
// it is down; 0 for a source that does not poll (stdin).
func downAfter(sc config.Source) time.Duration {
	if sc.Type != config.TypeFile && sc.Type != config.TypeCloudWatch {
		return 0
	}
	if sc.DownAfter > 0 {
		return sc.DownAfter
	}
	return max(minDownAfter, 3*sc.PollInterval)
}

// track starts the down_after clock of sm at now.
func (sm *sourceMetrics) track(bound time.Duration, now time.Time) {
	sm.downAfter.Store(int64(bound))
	sm.since.Store(now.UnixNano())
}

// isUp reports whether the source runs and, if it polls, has completed a
// read within its down_after bound (counted from its start before the
// first one).
func (sm *sourceMetrics) isUp(now time.Time) bool {
	if !sm.up.Load() {
		return false
	}
	bound := time.Duration(sm.downAfter.Load())
	if bound <= 0 {
		return true
	}
	last := max(sm.stats.LastRead.Load(), sm.since.Load())
	return now.Sub(time.Unix(0, last)) <= bound
}

// describe names a down source with its last read error, for /healthz.
func (sm *sourceMetrics) describe(name string) string {
	if p := sm.stats.Problem.Load(); p != nil {
		return fmt.Sprintf("%s (%s)", name, p.Error())
	}
	return name
}

// sourcesDown returns the sources that are down at now, sorted.
func (m *metrics) sourcesDown(now time.Time) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var down []string
	for name, sm := range m.sources {
		if !sm.isUp(now) {
			down = append(down, name)
		}
	}
	slices.Sort(down)
	return down
}

// incomplete returns ErrSourcesIncomplete, with each source's problem,
// when a polling source of cfg has not completed a read since since.
func (m *metrics) incomplete(cfg *config.Config, since time.Time) error {
	bad := m.incompleteSources(cfg, since)
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrSourcesIncomplete, strings.Join(bad, "; "))
}

// incompleteSources describes each polling source of cfg that has not
// completed a read since since, in the order of cfg.
func (m *metrics) incompleteSources(cfg *config.Config, since time.Time) []string {
	var bad []string
	for _, sc := range cfg.Sources {
		sm := m.source(sc.Name)
		if downAfter(sc) > 0 && sm.stats.LastRead.Load() < since.UnixNano() {
			bad = append(bad, sm.describe(sc.Name))
		}
	}
	return bad
}

// readErrorLogger logs a source's read errors (each reported by the source
// once until it changes) with what to check, and counts nothing else: the
// sources count them in their stats.
func readErrorLogger(log zerolog.Logger) func(*ingest.ReadError) {
	return func(e *ingest.ReadError) {
		ev := log.Error()
		if e.Kind != ingest.ErrPermanent {
			ev = log.Warn()
		}
		ev.Str("where", e.Where).Stringer("kind", e.Kind).Str("error", e.Err.Error())
		if h := e.Hint(); h != "" {
			ev.Str("check", h)
		}
		ev.Msg("source cannot read")
	}
}

// logSummary logs the one line that ends a --once run.
func (m *metrics) logSummary(log zerolog.Logger, cfg *config.Config, pending int, err error) {
	lines := zerolog.Dict()
	var errs int64
	for _, sc := range cfg.Sources {
		st := m.source(sc.Name).stats
		lines.Int64(sc.Name, st.Lines.Load())
		for _, k := range ingest.ErrorKinds {
			errs += st.Errors[k].Load()
		}
	}
	alerts, _ := m.alertCounts()
	ev := log.Info()
	if err != nil {
		ev = log.Warn() // err itself is the caller's to log
	}
	ev.Dict("lines", lines).Int64("alerts", alerts).Int64("delivered", m.delivery.Delivered.Load()).
		Int("pending", pending).Int64("dead_lettered", m.delivery.DeadLettered.Load()).
		Int64("source_errors", errs).Msg("run summary")
}
