package integration

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/daemon"
	"github.com/secwatch/secwatch/internal/testutil"
)

// denyingProxy stands between secwatch and the emulator (through the
// alarm shim, which takes PutMetricData): while deny is set it answers
// AccessDeniedException to every FilterLogEvents, as CloudWatch does for
// a task role without logs:FilterLogEvents; it counts heartbeats.
type denyingProxy struct {
	next       http.Handler
	deny       atomic.Bool
	heartbeats atomic.Int64
}

func (p *denyingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.deny.Load() && r.Header.Get("X-Amz-Target") == "Logs_20140328.FilterLogEvents" {
		logsError(w, "AccessDeniedException", "User: arn:aws:sts::000000000000:assumed-role/secwatch-task/x is not authorized to perform: logs:FilterLogEvents")
		return
	}
	if strings.HasSuffix(r.URL.Path, "/PutMetricData") && carriesHeartbeat(r) {
		p.heartbeats.Add(1)
	}
	p.next.ServeHTTP(w, r)
}

// carriesHeartbeat reports whether a PutMetricData request holds the
// Heartbeat metric (the operator metrics are published without it while
// it is withheld), leaving the body for the next handler.
func carriesHeartbeat(r *http.Request) bool {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	plain := body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return false
		}
		if plain, err = io.ReadAll(zr); err != nil {
			return false
		}
	}
	return bytes.Contains(plain, []byte("Heartbeat"))
}

// blindRun is one `secwatch run --once` of the binary.
type blindRun struct {
	code        int
	alerts      int // alerts of the rule on stdout (one JSON line each)
	downAlerts  int // secwatch-source-down alerts on stdout
	log         string
	heartbeatsN int64 // heartbeats published by the run
}

// blindFixture runs `secwatch run --once` against a log group in the
// emulator through a denyingProxy.
type blindFixture struct {
	t     *testing.T
	dir   string
	group string
	rule  string
	proxy *denyingProxy
	url   string
	logs  *cloudwatchlogs.Client
	n     int // events put so far
	// overlap of the source: a group read for the first time starts at
	// the run's start minus it.
	overlap string
}

func newBlindFixture(t *testing.T) *blindFixture {
	shimURL, _ := url.Parse(startAlarmShim(t))
	f := &blindFixture{t: t, dir: t.TempDir(), group: "/secwatch-it/" + uniqueName(t, "blind"), rule: strings.ReplaceAll(strings.ToLower(uniqueName(t, "blind-rule")), "_", "-"),
		proxy: &denyingProxy{next: httputil.NewSingleHostReverseProxy(shimURL)}, overlap: "2m"}
	srv := httptest.NewServer(f.proxy)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	f.logs = cloudwatchlogs.NewFromConfig(awsConfig(startEmulator(t)))
	ctx := t.Context()
	if _, err := f.logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: &f.group}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.logs.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: &f.group, LogStreamName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	rules := fmt.Sprintf("rules:\n  - id: %s\n    match: {event_type: authentication_failure}\n    group_by: [client_ip]\n    window: 1m\n    threshold: 1\n", f.rule)
	if err := os.WriteFile(filepath.Join(f.dir, "rules.yaml"), []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// put writes n pairs of events, each pair from its own client, stamped
// now: each pair is one alert (more than threshold 1).
func (f *blindFixture) put(n int) {
	now := time.Now().UnixMilli()
	var evs []cwltypes.InputLogEvent
	for range n {
		f.n++
		msg := fmt.Sprintf(`{"event_type":"authentication_failure","client_ip":"10.0.%d.%d"}`, f.n/256, f.n%256)
		evs = append(evs, cwltypes.InputLogEvent{Timestamp: aws.Int64(now), Message: aws.String(msg)},
			cwltypes.InputLogEvent{Timestamp: aws.Int64(now), Message: aws.String(msg)})
	}
	if _, err := f.logs.PutLogEvents(f.t.Context(), &cloudwatchlogs.PutLogEventsInput{LogGroupName: &f.group, LogStreamName: aws.String("s"), LogEvents: evs}); err != nil {
		f.t.Fatal(err)
	}
}

// run runs secwatch run --once reading group.
func (f *blindFixture) run(group string) blindRun {
	t := f.t
	t.Helper()
	cfg := fmt.Sprintf(`state_dir: state
rules: [rules.yaml]
sources:
  - {name: cw, type: cloudwatch, log_groups: [%q], overlap: %s}
alerts: {stdout: {enabled: true, format: json}}
http: {listen: ""}
log: {format: json}
aws: {region: us-east-1, endpoint: %s}
alarms: {topic_arn: "", owner: blind, heartbeat: {namespace: %s}}
`, group, f.overlap, f.url, uniqueName(t, "ns"))
	if err := os.WriteFile(filepath.Join(f.dir, "secwatch.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(secwatchBinary(t), "run", "--once", "--timeout", "2m", "--config", filepath.Join(f.dir, "secwatch.yaml"))
	cmd.Env = []string{"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test-secret-never-logged", "HOME=" + f.dir}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	before := f.proxy.heartbeats.Load()
	err := cmd.Run()
	r := blindRun{log: stderr.String(), heartbeatsN: f.proxy.heartbeats.Load() - before}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if strings.Contains(line, `"`+f.rule+`"`) {
			r.alerts++
		}
		if strings.Contains(line, `"rule":"secwatch-source-down"`) {
			r.downAlerts++
		}
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		r.code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.log, "test-secret-never-logged") {
		t.Errorf("the log holds the secret key:\n%s", r.log)
	}
	for _, line := range strings.Split(strings.TrimSpace(r.log), "\n") {
		if !strings.HasPrefix(line, "{") {
			t.Errorf("log line is not JSON: %q", line)
		}
	}
	return r
}

func (f *blindFixture) want(r blindRun, code, alerts int, heartbeat bool, logs ...string) {
	f.t.Helper()
	if r.code != code || r.alerts != alerts || (r.heartbeatsN > 0) != heartbeat {
		f.t.Errorf("got exit %d, %d alerts, %d heartbeats; want exit %d, %d alerts, heartbeat %v; log:\n%s",
			r.code, r.alerts, r.heartbeatsN, code, alerts, heartbeat, r.log)
	}
	for _, s := range logs {
		if !strings.Contains(r.log, s) {
			f.t.Errorf("log lacks %q:\n%s", s, r.log)
		}
	}
}

// TestRunOnceDeniedGroup: a task role denied logs:FilterLogEvents makes
// run --once exit 3, say what to check, count the error and withhold the
// heartbeat, however often it runs; once access is restored the next run
// exits 0, publishes the heartbeat and alerts on every event put while
// denied: none is lost although the outage outlasts the overlap (1s), since
// the denied runs saved where the group's reading starts.
func TestRunOnceDeniedGroup(t *testing.T) {
	t.Parallel()
	f := newBlindFixture(t)
	f.overlap = "1s"
	f.proxy.deny.Store(true)
	denied := []string{"AccessDeniedException", "logs:FilterLogEvents", f.group, `"kind":"permanent"`, `"run summary"`}
	begin := time.Now()
	first := f.run(f.group)
	f.want(first, 3, 0, false, denied...)
	f.put(3)
	second := f.run(f.group)
	f.want(second, 3, 0, false, denied...)
	// One secwatch-source-down alert through the outbox per hour: the
	// second run's has the first's alert_id.
	if first.downAlerts != 1 || first.downAlerts+second.downAlerts > hoursSpanned(begin) {
		t.Errorf("source-down alerts: %d then %d; want 1, then none within the hour", first.downAlerts, second.downAlerts)
	}
	f.put(2)
	putAt := time.Now()
	// The outage must outlast the overlap for the test to mean anything:
	// a run that started again from its own start minus 1s would miss
	// every event.
	time.Sleep(time.Until(putAt.Add(3 * time.Second)))
	f.proxy.deny.Store(false)
	f.want(f.run(f.group), 0, 5, true, `"run summary"`)
	f.put(1)
	f.want(f.run(f.group), 0, 1, true)
}

// TestRunOnceMisnamedGroup: a misspelled log group makes run --once exit
// 3 and says to check the name; with the name corrected every event of
// the group is read.
func TestRunOnceMisnamedGroup(t *testing.T) {
	t.Parallel()
	f := newBlindFixture(t)
	f.put(4)
	typo := f.run(f.group + "-typo")
	f.want(typo, 3, 0, false, "ResourceNotFoundException", "check the log group name")
	if typo.downAlerts != 1 {
		t.Errorf("got %d source-down alerts, want 1", typo.downAlerts)
	}
	fixed := f.run(f.group)
	f.want(fixed, 0, 4, true)
	if fixed.downAlerts != 0 {
		t.Errorf("with the name fixed: got %d source-down alerts, want 0", fixed.downAlerts)
	}
}

// hoursSpanned is the number of clock hours from start to now: a
// self-alert may be sent once in each.
func hoursSpanned(start time.Time) int {
	return int(time.Now().UTC().Truncate(time.Hour).Sub(start.UTC().Truncate(time.Hour))/time.Hour) + 1
}

// TestServiceDeniedGroup runs the daemon as a service on a log group the
// task role may not read: within down_after (2s here) secwatch_source_up
// is 0, /healthz answers 503 with the AccessDeniedException, and one
// secwatch-source-down alert goes through the outbox to the notifier.
// When access is restored the source is up again (logged), /healthz is
// 200, and every event put while denied is alerted on.
func TestServiceDeniedGroup(t *testing.T) {
	t.Parallel()
	f := newBlindFixture(t)
	f.proxy.deny.Store(true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg, err := config.Parse("secwatch.yaml", strings.NewReader(fmt.Sprintf(`state_dir: %s
rules: [%s]
engine: {tick: 100ms}
sources:
  - {name: cw, type: cloudwatch, log_groups: [%q], poll_interval: 1s, down_after: 2s, overlap: 1s}
alerts: {stdout: {enabled: true, format: json}}
http: {listen: %q}
aws: {region: us-east-1, endpoint: %s}
`, filepath.Join(f.dir, "state"), filepath.Join(f.dir, "rules.yaml"), f.group, addr, f.url)), nil)
	if err != nil {
		t.Fatal(err)
	}
	log, stdout := &lockedBuffer{}, &lockedBuffer{}
	stop := runDaemon(t, &daemon.Daemon{
		Config: cfg, Log: zerolog.New(log), Stdout: stdout,
		LogsClient: func(config.Source) (*cloudwatchlogs.Client, error) {
			return cloudwatchlogs.NewFromConfig(awsConfig(f.url)), nil
		},
	}, log)
	defer stop()
	healthz := func() (int, string) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	count := func(s string) int { return strings.Count(stdout.String(), s) }
	wait := func(what string, cond func() bool) {
		t.Helper()
		for end := time.Now().Add(60 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(end) {
				code, body := healthz()
				t.Fatalf("timed out waiting for %s; /healthz %d %s\nstdout:\n%s\nlog:\n%s", what, code, body, stdout, log)
			}
		}
	}
	begin := time.Now()
	wait("the source down", func() bool {
		code, body := healthz()
		return code == http.StatusServiceUnavailable && strings.Contains(body, "AccessDeniedException") &&
			testutil.Metric(log.String(), `secwatch_source_up{source="cw"}`) == 0
	})
	wait("a secwatch-source-down alert", func() bool { return count(`"rule":"secwatch-source-down"`) == 1 })
	f.put(3)
	time.Sleep(2 * time.Second) // more polls, all denied: no second alert this hour
	if n := count(`"rule":"secwatch-source-down"`); n > hoursSpanned(begin) {
		t.Errorf("got %d source-down alerts, want one per hour", n)
	}

	f.proxy.deny.Store(false)
	wait("the source up again", func() bool { return strings.Contains(log.String(), `"message":"source up again"`) })
	wait("/healthz 200", func() bool { code, _ := healthz(); return code == http.StatusOK })
	wait("the events put while denied", func() bool { return count(`"rule":"`+f.rule+`"`) == 3 })
}
