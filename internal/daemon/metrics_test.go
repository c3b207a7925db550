package daemon

import (
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/rules"
)

// write renders the daemon's own series (collect) in the text exposition
// format, for tests that look at them without a listener.
func (m *metrics) write(w io.Writer) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(selfCollector{m})
	families, err := reg.Gather()
	if err != nil {
		panic(err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			panic(err)
		}
	}
}

// parseExposition parses a scrape as Prometheus does.
func parseExposition(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("scrape does not parse: %v\n%s", err, body)
	}
	return fams
}

// labelValues returns the values of label name in a family's series.
func labelValues(f *dto.MetricFamily, name string) []string {
	var out []string
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == name {
				out = append(out, l.GetValue())
			}
		}
	}
	return out
}

// TestMetricsEscapeHostileLabels: names with a quote, a backslash, a
// newline or invalid UTF-8, served by the real handler, parse back to
// themselves (invalid UTF-8 to U+FFFD) and take nothing else with them.
func TestMetricsEscapeHostileLabels(t *testing.T) {
	hostile := "a\"b\\c\nsecwatch_up 0\n# TYPE x counter"
	m := newMetrics()
	m.source(hostile).stats.Lines.Add(3)
	m.source("bad\xffutf8").stats.Lines.Add(1)
	m.setRules([]rules.RuleStats{{Rule: hostile, Matched: 2}})
	m.notifiers([]string{hostile})
	m.observeLatency(hostile, 2*time.Second)
	srv, err := startHTTP("127.0.0.1:0", m, `v"1\`, "rev\n", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()
	resp, err := http.Get("http://" + srv.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d, %v", resp.StatusCode, err)
	}
	fams := parseExposition(t, string(body))

	for _, c := range []struct{ family, label string }{
		{"secwatch_source_lines_total", "source"},
		{"secwatch_rule_matched_total", "rule"},
		{"secwatch_alert_delivery_latency_seconds", "notifier"},
	} {
		f := fams[c.family]
		if f == nil {
			t.Errorf("%s missing", c.family)
			continue
		}
		if got := labelValues(f, c.label); !slices.Contains(got, hostile) {
			t.Errorf("%s: %s values %q, want %q among them", c.family, c.label, got, hostile)
		}
	}
	if got, want := labelValues(fams["secwatch_source_lines_total"], "source"), "bad\uFFFDutf8"; !slices.Contains(got, want) {
		t.Errorf("source values %q, want %q among them", got, want)
	}
	if got := fams["secwatch_up"].GetMetric(); len(got) != 1 || got[0].GetGauge().GetValue() != 1 {
		t.Errorf("secwatch_up: got %v, want one series of 1 (a label value must not inject one)", got)
	}
	if fams["x"] != nil {
		t.Error("a label value injected a family")
	}
	h := fams["secwatch_alert_delivery_latency_seconds"].GetMetric()
	if len(h) != 1 || h[0].GetHistogram().GetSampleCount() != 1 || h[0].GetHistogram().GetSampleSum() != 2 {
		t.Errorf("latency histogram: got %v, want one observation of 2s", h)
	}
	b := fams["secwatch_build_info"].GetMetric()
	if len(b) != 1 {
		t.Fatalf("secwatch_build_info: got %v, want one series", b)
	}
	want := map[string]string{"version": `v"1\`, "revision": "rev\n", "goversion": runtime.Version()}
	for _, l := range b[0].GetLabel() {
		if l.GetValue() != want[l.GetName()] {
			t.Errorf("secwatch_build_info{%s}: got %q, want %q", l.GetName(), l.GetValue(), want[l.GetName()])
		}
	}
}
