package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	dto "github.com/prometheus/client_model/go"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/testutil/redisserver"
)

// metricsDoc is the one place that lists every metric /metrics serves.
const metricsDoc = "../../docs/metrics.md"

// flaky fails its first attempt and delivers after that.
type flaky struct {
	mu    sync.Mutex
	calls int
}

func (f *flaky) Name() string { return "flaky" }

func (f *flaky) Notify(context.Context, *alerting.Document) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls == 1 {
		return errors.New("connect: connection refused")
	}
	return nil
}

// emptyBucket answers every S3 request with an empty listing.
func emptyBucket(t *testing.T) *s3.Client {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>logs</Name><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>`)
	}))
	t.Cleanup(srv.Close)
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: aws.AnonymousCredentials{}})
}

const scrapeRules = `rules:
  - id: burst
    match: {event_type: login_failed}
    group_by: [client_ip]
    window: 5m
    threshold: 2
`

// scrapeDirBackend runs a daemon on a state directory with a file and an
// s3 source, the stdout notifier and one that fails once, and the
// CloudWatch heartbeat, and returns its /metrics once an alert has reached
// both notifiers and a checkpoint and a heartbeat are done.
func scrapeDirBackend(t *testing.T) string {
	tb := newTestbed(t, scrapeRules)
	cfg := tb.config(options{sources: "  - {name: alb, type: s3, format: alb, bucket: logs}"})
	cfg.Alarms = heartbeatConfig()
	client := emptyBucket(t)
	in := start(t, cfg, func(d *Daemon) {
		d.Notifiers = []alerting.Notifier{&flaky{}}
		d.CloudWatch = &fakeCloudWatch{}
		d.S3Client = func(config.Source) (S3Clients, error) { return S3Clients{S3: client}, nil }
		d.Version, d.Revision = "v0.0.0-test", "0123abc"
	})
	tb.feed(tb.lines("login_failed", "203.0.113.7", 3))
	in.waitAlerts(1)
	for _, series := range []string{
		"secwatch_delivered_total",
		`secwatch_notifier_failures_total{notifier="flaky"}`,
		`secwatch_alert_delivery_latency_seconds_count{notifier="flaky"}`,
		`secwatch_alert_delivery_latency_seconds_count{notifier="stdout"}`,
		"secwatch_heartbeats_published_total",
	} {
		in.waitMetric(series, 1)
	}
	eventually(t, "a checkpoint", func() bool { return in.metric("secwatch_last_checkpoint_time_seconds") > 0 }, in)
	_, body, err := in.get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	in.stopClean()
	return body
}

// scrapeRedisBackend runs a daemon on the Redis backend and returns its
// /metrics once an alert is delivered.
func scrapeRedisBackend(t *testing.T) string {
	srv := redisserver.Start(t)
	tb := newTestbed(t, scrapeRules)
	cfg, err := config.Parse("secwatch.yaml", strings.NewReader(fmt.Sprintf(`state:
  backend: redis
  redis: {addr: %q, key_prefix: "m:", lease: 3s}
rules: [%q]
engine: {tick: 100ms}
sources:
  - {name: app, type: file, format: json, paths: [%q], start: beginning, poll_interval: 10ms}
alerts: {stdout: {enabled: true, format: json}}
http: {listen: "127.0.0.1:0"}
`, srv.Addr, tb.rules, tb.log)), nil)
	if err != nil {
		t.Fatal(err)
	}
	in := start(t, cfg, nil)
	tb.feed(tb.lines("login_failed", "203.0.113.7", 3))
	in.waitAlerts(1)
	in.waitMetric("secwatch_delivered_total", 1)
	_, body, err := in.get("/metrics")
	if err != nil {
		t.Fatal(err)
	}
	in.stopClean()
	return body
}

// TestMetricsScrape lints real scrapes with promtool and checks that
// docs/metrics.md lists exactly the families they hold, with their types
// and labels: the two backends' daemons between them show every family.
func TestMetricsScrape(t *testing.T) {
	t.Parallel()
	scrapes := map[string]string{
		"state directory": scrapeDirBackend(t),
		"redis":           scrapeRedisBackend(t),
	}

	t.Run("promtool", func(t *testing.T) {
		promtool := promtoolBinary()
		if promtool == "" {
			t.Skip("promtool not found: run scripts/promtool.sh (make test-go does) to install Debian's prometheus package")
		}
		for name, body := range scrapes {
			cmd := exec.Command(promtool, "check", "metrics")
			cmd.Stdin = strings.NewReader(body)
			out, err := cmd.CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Errorf("promtool check metrics on the %s daemon's scrape: %v\n%s", name, err, out)
			}
		}
	})

	t.Run("documented", func(t *testing.T) {
		doc, err := os.ReadFile(metricsDoc)
		if err != nil {
			t.Fatal(err)
		}
		documented := documentedMetrics(t, string(doc))
		seen := map[string]bool{}
		for name, body := range scrapes {
			for fname, f := range parseExposition(t, body) {
				seen[fname] = true
				d, ok := documented[fname]
				if !ok {
					t.Errorf("%s (scraped from the %s daemon) is not in docs/metrics.md", fname, name)
					continue
				}
				if got := strings.ToLower(f.GetType().String()); got != d.typ {
					t.Errorf("%s: type %s, docs/metrics.md says %s", fname, got, d.typ)
				}
				if got := familyLabels(f); !slices.Equal(got, d.labels) {
					t.Errorf("%s: labels %q, docs/metrics.md says %q", fname, got, d.labels)
				}
			}
		}
		for fname := range documented {
			if !seen[fname] {
				t.Errorf("%s is in docs/metrics.md but in no scrape", fname)
			}
		}
	})
}

func promtoolBinary() string {
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	for _, d := range []string{"/usr/bin", "/usr/sbin", "/usr/local/bin"} {
		if p := filepath.Join(d, "promtool"); fileExists(p) {
			return p
		}
	}
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

type docMetric struct {
	typ    string
	labels []string // sorted
}

// docRow is a row of a metrics table: | `name` | type | `label`, … | …
var docRow = regexp.MustCompile("^\\| `([a-zA-Z_:][a-zA-Z0-9_:]*)` \\| ([a-z]+) \\| ([^|]*) \\|")

// documentedMetrics reads the metrics tables of docs/metrics.md.
func documentedMetrics(t *testing.T, doc string) map[string]docMetric {
	t.Helper()
	out := map[string]docMetric{}
	for i, line := range strings.Split(doc, "\n") {
		m := docRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if _, dup := out[m[1]]; dup {
			t.Errorf("docs/metrics.md:%d: %s listed twice", i+1, m[1])
		}
		var labels []string
		for _, l := range regexp.MustCompile("`([a-zA-Z_][a-zA-Z0-9_]*)`").FindAllStringSubmatch(m[3], -1) {
			labels = append(labels, l[1])
		}
		slices.Sort(labels)
		out[m[1]] = docMetric{typ: m[2], labels: labels}
	}
	if len(out) == 0 {
		t.Fatal("docs/metrics.md lists no metric")
	}
	return out
}

// familyLabels returns the label names of a family's series, sorted,
// without the bucket and quantile labels of histograms and summaries.
func familyLabels(f *dto.MetricFamily) []string {
	var out []string
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if !slices.Contains(out, l.GetName()) {
				out = append(out, l.GetName())
			}
		}
	}
	slices.Sort(out)
	return out
}
