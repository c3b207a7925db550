package daemon

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/testutil/redisserver"
)

// BenchmarkBackend measures `secwatch run --once` over a 100,000-line log
// with the directory backend and with the Redis backend (a real
// redis-server on loopback): read, evaluate, queue every alert in the
// outbox, deliver it to stdout (discarded), checkpoint.
//
// In the "alerting" log 1,000 clients each fail a login every 10 s of log
// time, so every client fires about every 5 minutes: 4% of the lines raise
// an alert, far more alert traffic than production sees, which shows what
// the backend costs per alert. In the "quiet" log 50,000 clients fail
// twice each and nothing fires: the backend's cost per event. The "storm"
// is an alert storm: 20,000 lines from as many clients under a rule with
// threshold 0, so every line is an alert, and alerts/s is what the outbox
// takes end to end.
//
//	go test -run '^$' -bench Backend -benchtime 3x ./internal/daemon/
func BenchmarkBackend(b *testing.B) {
	for _, w := range []struct {
		name           string
		lines, clients int
		rule           string
	}{{"alerting", 100_000, 1000, burstRule}, {"quiet", 100_000, 50_000, burstRule}, {"storm", 20_000, 20_000, stormRule}} {
		b.Run(w.name, func(b *testing.B) { benchBackend(b, w.lines, w.clients, w.rule) })
	}
}

// stormRule fires on every failed login of a client.
const stormRule = `rules:
  - id: storm
    match: {event_type: login_failed}
    group_by: [client_ip]
    window: 1m
    threshold: 0
`

func benchBackend(b *testing.B, lines, clients int, rule string) {
	dir := b.TempDir()
	logPath := filepath.Join(dir, "app.log")
	writeBenchLog(b, logPath, lines, clients)
	rulesPath := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rulesPath, []byte(rule), 0o644); err != nil {
		b.Fatal(err)
	}
	srv := redisserver.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()

	for _, backend := range []string{"dir", "redis"} {
		b.Run(backend, func(b *testing.B) {
			var alerts int64
			for range b.N {
				b.StopTimer()
				stateDir := b.TempDir() // fresh: no checkpoint to resume from
				if err := rdb.FlushDB(context.Background()).Err(); err != nil {
					b.Fatal(err)
				}
				state := ""
				if backend == "redis" {
					state = fmt.Sprintf("state: {backend: redis, redis: {addr: %q}}\n", srv.Addr)
				}
				cfg, err := config.Parse("bench.yaml", strings.NewReader(fmt.Sprintf(`%sstate_dir: %q
rules: [%q]
sources:
  - {name: app, type: file, format: json, paths: [%q], start: beginning}
alerts: {stdout: {enabled: true, format: json}}
http: {listen: ""}
shutdown_grace: 10m
`, state, stateDir, rulesPath, logPath)), nil)
				if err != nil {
					b.Fatal(err)
				}
				d := &Daemon{Config: cfg, Log: zerolog.Nop(), Stdout: io.Discard, Once: true}
				b.StartTimer()
				if err := d.Run(context.Background()); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				alerts, _ = d.metrics.alertCounts()
			}
			if (alerts == 0) != (clients > lines/5 && rule == burstRule) {
				b.Fatalf("%d alerts fired", alerts)
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(lines)/sec, "events/s")
			b.ReportMetric(float64(alerts)/sec, "alerts/s")
			b.ReportMetric(float64(alerts), "alerts/op")
		})
	}
}

func writeBenchLog(b *testing.B, path string, lines, clients int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	t0 := time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)
	for i := range lines {
		ts := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		fmt.Fprintf(w, `{"timestamp":%q,"event_type":"login_failed","client_ip":"10.%d.%d.%d","path":"/mcp"}`+"\n",
			ts.Format(time.RFC3339Nano), i%clients/65536, i%clients/256%256, i%clients%256)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}
