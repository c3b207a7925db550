package daemon

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/ingest"
	"github.com/secwatch/secwatch/internal/probe"
)

// probeSource runs one configured probe every interval (once, in once
// mode) and sends one event per check, which the rules see like any log
// event (rules/probe.yaml). It is an ingest.Source: the daemon supervises it
// and it never closes out.
type probeSource struct {
	name     string // "probe:<probe name>": @source and the metrics label
	target   probe.Target
	interval time.Duration
	once     bool
	stats    *ingest.SourceStats
	log      zerolog.Logger
	last     map[string]probe.Status // per check, to log changes only
	keyFile  string                  // re-read before every round ("": the key is fixed)
	keyErr   string                  // the last key file error, to log changes only
}

// ProbeSourceName is the @source of a probe's events: config source names
// cannot contain ":", so it never collides with one.
func ProbeSourceName(probeName string) string { return "probe:" + probeName }

// Run probes until ctx ends (or once). Each round's events carry the time
// their check finished.
func (s *probeSource) Run(ctx context.Context, out chan<- ingest.Record) error {
	for {
		s.rereadKey()
		for _, r := range probe.Run(ctx, s.target) {
			if ctx.Err() != nil {
				return nil
			}
			s.logChange(&r)
			ev := r.Event()
			ev.Set("@source", s.name)
			select {
			case out <- ingest.Record{Event: ev, Source: s.name}:
				s.stats.Events.Add(1)
			case <-ctx.Done():
				return nil
			}
		}
		if s.once {
			return nil
		}
		t := time.NewTimer(s.interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// logChange logs a check whose status changed (the first result too, when
// it is not a pass): a broken service is logged once, not every interval.
func (s *probeSource) logChange(r *probe.Result) {
	st := r.Status()
	prev, seen := s.last[r.Check]
	s.last[r.Check] = st
	if seen && prev == st || !seen && st == probe.Pass {
		return
	}
	e := s.log.Info()
	if st == probe.Fail {
		e = s.log.Warn()
	}
	e.Str("check", r.Check).Str("status", st.String()).Str("requirement", r.Requirement()).
		Str("detail", r.Detail()).Msg("probe check changed")
}

// rereadKey reads the key file, if any, so that a rotated key is used from
// the next round on. An unreadable file leaves the round without a key
// (the valid-key checks are untested) and is logged when its error changes.
func (s *probeSource) rereadKey() {
	if s.keyFile == "" {
		return
	}
	k, err := probe.ReadKeyFile(s.keyFile)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	if msg != s.keyErr {
		if err != nil {
			s.log.Warn().Err(err).Msg("probe key unreadable")
		} else {
			s.log.Info().Msg("probe key readable again")
		}
		s.keyErr = msg
	}
	s.target.APIKey = k
}

// probeSources builds a source per configured probe. An unreadable CA
// bundle stops the daemon before anything starts.
func (d *Daemon) probeSources(m *metrics) ([]*probeSource, error) {
	var out []*probeSource
	for _, pc := range d.Config.Probes {
		t, err := ProbeTarget(pc, os.LookupEnv)
		if err != nil {
			return nil, fmt.Errorf("probe %q: %w", pc.Name, err)
		}
		name := ProbeSourceName(pc.Name)
		out = append(out, &probeSource{
			name: name, target: t, interval: pc.Interval, once: d.Once,
			stats: m.source(name).stats, last: map[string]probe.Status{}, keyFile: pc.APIKeyFile,
			log: d.Log.With().Str("component", "probe").Str("probe", pc.Name).Logger(),
		})
	}
	return out, nil
}

// startProbes runs the probe sources under supervision, like sources.
func (d *Daemon) startProbes(ctx context.Context, wg *sync.WaitGroup, srcs []*probeSource, out chan<- ingest.Record, m *metrics) {
	for _, s := range srcs {
		m.source(s.name).up.Store(true)
		wg.Go(func() {
			supervise(ctx, s, out, d.Once, m.source(s.name), d.Log.With().Str("component", "source").Str("source", s.name).Logger())
		})
	}
}

// ProbeTarget turns a probe's configuration into a probe.Target, reading
// the API key from the file it names, or else from the environment
// variable it names (getenv), and the CA bundle from disk. An unreadable
// key file or CA bundle is an error.
func ProbeTarget(pc config.Probe, getenv func(string) (string, bool)) (probe.Target, error) {
	t := probe.Target{
		Name: pc.Name, URL: pc.URL, Checks: pc.Checks, Origin: pc.Origin, AllowedOrigin: pc.AllowedOrigin,
		OAuth: pc.OAuth, PlaintextURL: pc.PlaintextURL,
		CertWarnDays: pc.CertWarnDays, CertFailDays: pc.CertFailDays, Timeout: pc.Timeout,
	}
	if pc.DisallowedOriginPost == "warn" {
		t.OriginPost = probe.Warn
	}
	switch {
	case pc.APIKeyFile != "":
		k, err := probe.ReadKeyFile(pc.APIKeyFile)
		if err != nil {
			return t, err
		}
		t.APIKey = k
	case pc.APIKeyEnv != "":
		if k, ok := getenv(pc.APIKeyEnv); ok {
			t.APIKey = probe.Secret(k)
		}
	}
	if pc.CABundle != "" {
		pool, err := CAPool(pc.CABundle)
		if err != nil {
			return t, err
		}
		t.RootCAs = pool
	}
	return t, nil
}

// CAPool returns the system roots plus the certificates of a PEM file.
func CAPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ca_bundle: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("ca_bundle: " + path + " holds no PEM certificate")
	}
	return pool, nil
}
