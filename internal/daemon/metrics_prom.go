package daemon

import (
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// latencyBuckets are the upper bounds of secwatch_alert_delivery_latency_seconds:
// from a local notifier's milliseconds to the retries of a day-long outage
// (alerts.max_age defaults to 24h).
var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400}

func newLatency() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "secwatch_alert_delivery_latency_seconds",
		Help:    "time from an alert entering the outbox to the notifier confirming its delivery",
		Buckets: latencyBuckets,
	}, []string{"notifier"})
}

// observeLatency is the dispatcher's alerting.Metrics.DeliveryLatency.
func (m *metrics) observeLatency(notifier string, d time.Duration) {
	m.latency.WithLabelValues(validLabel(notifier)).Observe(d.Seconds())
}

// notifiers gives each notifier its latency series before its first
// delivery, so that a rate over it is 0, not absent.
func (m *metrics) notifiers(names []string) {
	for _, n := range names {
		m.latency.WithLabelValues(validLabel(n))
	}
}

// registry returns a registry of every series /metrics serves: the Go
// runtime's (go_*), the process's (process_*), secwatch_build_info with
// version and revision ("" shows as "unknown"), the delivery latency and
// the series collect writes.
func (m *metrics) registry(version, revision string) *prometheus.Registry {
	or := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return validLabel(s)
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "secwatch_build_info",
		Help:        "1, labelled with the version, VCS revision and Go version of the running binary",
		ConstLabels: prometheus.Labels{"version": or(version), "revision": or(revision), "goversion": runtime.Version()},
	})
	build.Set(1)
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		build, m.latency, selfCollector{m},
	)
	return reg
}

// metricsHandler serves reg in the text exposition format. A series that
// cannot be collected is logged and left out; the others are served.
func metricsHandler(reg *prometheus.Registry, log zerolog.Logger) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      scrapeLog{log},
		ErrorHandling: promhttp.ContinueOnError,
	})
}

type scrapeLog struct{ log zerolog.Logger }

func (l scrapeLog) Println(v ...any) {
	l.log.Error().Str("error", strings.TrimSpace(fmt.Sprintln(v...))).Msg("metrics scrape incomplete")
}

// selfCollector collects the series that metrics.collect writes from the
// daemon's counters. Which series exist depends on the configuration and
// on what has run (sources, rules, notifiers), so it describes none in
// advance: an unchecked collector, whose families the registry still
// checks for consistency at every gather.
type selfCollector struct{ m *metrics }

func (selfCollector) Describe(chan<- *prometheus.Desc) {}

func (c selfCollector) Collect(ch chan<- prometheus.Metric) { c.m.collect(&scrape{ch: ch}) }

// scrape receives the families of metrics.collect during one collection:
// metricHeader starts a family, sample adds a series to it, writeMetric
// does both for a series without labels.
type scrape struct {
	ch     chan<- prometheus.Metric
	name   string
	help   string
	typ    prometheus.ValueType
	desc   *prometheus.Desc
	labels []string // the label names of desc
}

// metricHeader starts the family name of type typ ("counter" or "gauge";
// anything else is exposed as untyped).
func metricHeader(w *scrape, name, typ, help string) {
	w.name, w.help, w.desc, w.labels = name, help, nil, nil
	switch typ {
	case "counter":
		w.typ = prometheus.CounterValue
	case "gauge":
		w.typ = prometheus.GaugeValue
	default:
		w.typ = prometheus.UntypedValue
	}
}

// writeMetric writes a family of one series without labels.
func writeMetric(w *scrape, name, typ, help string, v int64) {
	metricHeader(w, name, typ, help)
	w.sample(float64(v))
}

// sample adds a series with value v to the current family; labels are
// pairs of label name and value. Values are any string (the exposition
// escapes them); invalid UTF-8 is replaced with U+FFFD.
func (w *scrape) sample(v float64, labels ...string) {
	names := make([]string, 0, len(labels)/2)
	values := make([]string, 0, len(labels)/2)
	for i := 0; i+1 < len(labels); i += 2 {
		names = append(names, labels[i])
		values = append(values, validLabel(labels[i+1]))
	}
	if w.desc == nil || !slices.Equal(names, w.labels) {
		w.desc = prometheus.NewDesc(w.name, w.help, names, nil)
		w.labels = names
	}
	s, err := prometheus.NewConstMetric(w.desc, w.typ, v, values...)
	if err != nil {
		s = prometheus.NewInvalidMetric(w.desc, err)
	}
	w.ch <- s
}

// validLabel makes s a valid label value: UTF-8.
func validLabel(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
