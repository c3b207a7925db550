package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/testutil"
	"github.com/secwatch/secwatch/internal/testutil/redisserver"
)

// These tests run secwatch replicas as real processes (this test binary,
// re-executed with SECWATCH_TEST_REPLICA set, runs one Daemon), so that a
// replica can be killed with SIGKILL, all sharing one real redis-server on
// a free loopback port. Every replica delivers to a "sink" notifier that
// appends "<replica> <alert_id> <client_ip> <count>" to a file the replicas
// share; a replica started with SECWATCH_TEST_FAIL=1 has a sink that always
// fails, so its alerts stay pending in the shared outbox.

func init() {
	if os.Getenv("SECWATCH_TEST_REPLICA") != "" {
		os.Exit(replicaMain())
	}
}

// sink is the replicas' notifier.
type sink struct {
	replica, path string
	fail          bool
	mu            sync.Mutex
}

func (s *sink) Name() string { return "sink" }

func (s *sink) Notify(_ context.Context, doc *alerting.Document) error {
	if s.fail {
		return errors.New("sink unavailable")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(s.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%s %s %s %d\n", s.replica, doc.AlertID, doc.Group["client_ip"], doc.Count)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// replicaMain runs one Daemon until SIGTERM.
func replicaMain() int {
	cfg, err := config.Load(os.Getenv("SECWATCH_TEST_CONFIG"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d := &Daemon{
		Config: cfg,
		Log:    zerolog.New(os.Stderr).With().Timestamp().Logger(),
		Stdout: io.Discard,
		Notifiers: []alerting.Notifier{&sink{
			replica: os.Getenv("SECWATCH_TEST_REPLICA"), path: os.Getenv("SECWATCH_TEST_SINK"),
			fail: os.Getenv("SECWATCH_TEST_FAIL") == "1",
		}},
	}
	if err := d.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// cluster is the files and the Redis that replicas share.
type cluster struct {
	t     *testing.T
	tb    *testbed
	redis *redisserver.Server
	cfg   string // config file path
	sink  string
	rdb   *redis.Client
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	return newClusterWith(t, burstRule)
}

// newClusterWith is newCluster with other rules.
func newClusterWith(t *testing.T, rulesYAML string) *cluster {
	t.Helper()
	srv := redisserver.Start(t)
	tb := newTestbed(t, rulesYAML)
	c := &cluster{t: t, tb: tb, redis: srv, cfg: filepath.Join(tb.dir, "secwatch.yaml"), sink: filepath.Join(tb.dir, "sink.log")}
	writeFile(t, c.cfg, fmt.Sprintf(`state:
  backend: redis
  redis: {addr: %q, key_prefix: "t:", lease: 3s}
rules: [%q]
engine: {tick: 100ms}
checkpoint_interval: 1s
shutdown_grace: 5s
sources:
  - {name: app, type: file, format: json, paths: [%q], start: beginning, poll_interval: 10ms}
alerts: {stdout: {enabled: true, format: json}, initial_backoff: 50ms, max_backoff: 1s}
http: {listen: "127.0.0.1:0"}
log: {level: info, format: json}
`, srv.Addr, tb.rules, tb.log))
	c.rdb = redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { c.rdb.Close() })
	return c
}

// replica is one running secwatch process.
type replica struct {
	name   string
	cmd    *exec.Cmd
	stderr *testutil.Buffer
	done   chan struct{}
	err    error
	ended  bool // stopped or killed by the test
}

func (c *cluster) start(name string, fail bool) *replica {
	c.t.Helper()
	r := &replica{name: name, stderr: &testutil.Buffer{}, done: make(chan struct{})}
	r.cmd = exec.Command(os.Args[0], "-test.run=^$")
	r.cmd.Env = append(os.Environ(), "SECWATCH_TEST_REPLICA="+name, "SECWATCH_TEST_CONFIG="+c.cfg, "SECWATCH_TEST_SINK="+c.sink)
	if fail {
		r.cmd.Env = append(r.cmd.Env, "SECWATCH_TEST_FAIL=1")
	}
	r.cmd.Stderr = r.stderr
	if err := r.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() { r.err = r.cmd.Wait(); close(r.done) }()
	c.t.Cleanup(func() { r.cmd.Process.Kill(); <-r.done })
	return r
}

func (r *replica) metric(series string) int64 { return testutil.Metric(r.stderr.String(), series) }

var replicaRe = regexp.MustCompile(`"replica":"([^"]+)"`)

// id returns the replica id the process uses in Redis.
func (r *replica) id(t *testing.T) string {
	t.Helper()
	var id string
	waitUntil(t, r.name+"'s replica id", func() bool {
		m := replicaRe.FindStringSubmatch(r.stderr.String())
		if m != nil {
			id = m[1]
		}
		return m != nil
	}, r)
	return id
}

// stop sends SIGTERM and waits for a clean exit.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	r.ended = true
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(waitFor):
		t.Fatalf("%s did not stop\n%s", r.name, r.stderr)
	}
	if r.err != nil {
		t.Fatalf("%s exit: %v\n%s", r.name, r.err, r.stderr)
	}
}

// kill sends SIGKILL: no drain, no final checkpoint, no lease released.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	r.ended = true
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
}

func waitUntil(t *testing.T, what string, cond func() bool, rs ...*replica) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		exited := ""
		for _, r := range rs {
			select {
			case <-r.done:
				if !r.ended {
					exited = r.name
				}
			default:
			}
		}
		if exited != "" || time.Now().After(deadline) {
			var b strings.Builder
			if exited != "" {
				fmt.Fprintf(&b, "replica %s exited\n", exited)
			}
			for _, r := range rs {
				fmt.Fprintf(&b, "--- %s\n%s%s", r.name, r.stderr, testutil.Metrics(r.stderr.String()))
			}
			t.Fatalf("timed out waiting for %s\n%s", what, b.String())
		}
		<-tick.C
	}
}

// The rule's counters are restored with its windows, so they count across
// replicas that resume from each other's checkpoints.
const (
	matchedSeries = `secwatch_rule_matched_total{rule="burst"}`
	firedSeries   = `secwatch_rule_alerts_total{rule="burst"}`
)

// delivery is one line of the sink.
type delivery struct{ replica, id, ip, count string }

func (c *cluster) deliveries() []delivery {
	b, err := os.ReadFile(c.sink)
	if err != nil && !os.IsNotExist(err) {
		c.t.Fatal(err)
	}
	var out []delivery
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(l); len(f) == 4 {
			out = append(out, delivery{f[0], f[1], f[2], f[3]})
		}
	}
	return out
}

// byIP counts deliveries per client IP.
func byIP(ds []delivery) map[string]int {
	m := map[string]int{}
	for _, d := range ds {
		m[d.ip]++
	}
	return m
}

// TestReplicasDeliverEachAlertOnce runs two replicas on the same input and
// the same Redis while the log grows: each alert is delivered exactly once
// in total.
//
// A replica resumes from the newest checkpoint any replica of the same
// input stored, so the one that starts second may begin where the first
// was: the matched counter, restored with the windows, is what shows that
// each has counted every event.
func TestReplicasDeliverEachAlertOnce(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a, b := c.start("a", false), c.start("b", false)
	ips := []string{"203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"}
	matched := 0
	for round := range 5 {
		var chunk []string
		for _, ip := range ips {
			chunk = append(chunk, c.tb.lines("login_failed", ip, 1)...)
			chunk = append(chunk, c.tb.lines("request", "198.51.100.9", 1)...)
		}
		c.tb.feed(chunk)
		matched += len(ips)
		if round == 2 {
			// Both replicas mid-burst (3 of 5 failures per client) before
			// the rest arrives, so that both race for every claim.
			waitUntil(t, "both replicas mid-burst", func() bool {
				return a.metric(matchedSeries) == int64(matched) && b.metric(matchedSeries) == int64(matched)
			}, a, b)
		}
	}
	for _, r := range []*replica{a, b} {
		waitUntil(t, r.name+" counted every event", func() bool {
			return r.metric(matchedSeries) == int64(matched)
		}, a, b)
	}
	waitUntil(t, "4 deliveries", func() bool { return len(c.deliveries()) >= 4 }, a, b)
	waitUntil(t, "every replica's alerts settled", func() bool {
		return a.metric(firedSeries) == 4 && b.metric(firedSeries) == 4 &&
			a.metric("secwatch_outbox_depth") == 0 && b.metric("secwatch_outbox_depth") == 0
	}, a, b)
	queued := a.metric("secwatch_alerts_total") + b.metric("secwatch_alerts_total")
	a.stop(t)
	b.stop(t)

	got := c.deliveries()
	if len(got) != 4 || queued != 4 {
		t.Fatalf("got %d deliveries (%d queued), want 4: %v", len(got), queued, got)
	}
	for _, ip := range ips {
		if n := byIP(got)[ip]; n != 1 {
			t.Errorf("%s: delivered %d times, want once: %v", ip, n, got)
		}
	}
	for _, d := range got {
		if d.count != "5" {
			t.Errorf("%s: count %s, want 5", d.ip, d.count)
		}
	}
	t.Logf("deliveries by replica: a %d, b %d", count(got, "a"), count(got, "b"))
}

func count(ds []delivery, replica string) int {
	n := 0
	for _, d := range ds {
		if d.replica == replica {
			n++
		}
	}
	return n
}

// TestReplicasDeliverEachReAlertOnce runs two replicas on a sustained
// attack whose rule re-alerts once per minute: each of the 4 firings has
// its own id and is delivered once in total.
func TestReplicasDeliverEachReAlertOnce(t *testing.T) {
	t.Parallel()
	c := newClusterWith(t, sustainedRule)
	a, b := c.start("a", false), c.start("b", false)
	lines := sustainedLines(c.tb.clock, "203.0.113.7")
	want := replayIDs(t, sustainedRule, lines)
	c.tb.feed(lines)
	const fired = `secwatch_rule_alerts_total{rule="sustained"}`
	waitUntil(t, "4 deliveries, every replica settled", func() bool {
		return len(c.deliveries()) >= 4 && a.metric(fired) == 4 && b.metric(fired) == 4 &&
			a.metric("secwatch_outbox_depth") == 0 && b.metric("secwatch_outbox_depth") == 0
	}, a, b)
	a.stop(t)
	b.stop(t)

	got := c.deliveries()
	ids := map[string]int{}
	for _, d := range got {
		ids[d.id]++
	}
	if len(got) != 4 || len(ids) != 4 {
		t.Fatalf("got %d deliveries with %d distinct ids, want 4 and 4: %v", len(got), len(ids), got)
	}
	for i, id := range want {
		if ids[id] != 1 {
			t.Errorf("replay's alert %d (id %s): delivered %d times, want once: %v", i, id, ids[id], got)
		}
	}
}

// TestKilledReplicaIsTakenOver kills a replica (SIGKILL) in the middle of a
// burst while its alert is pending in the shared outbox (its notifier is
// down): the live replica finishes the burst's window and fires, and
// delivers the killed replica's pending alert once its lease expires.
func TestKilledReplicaIsTakenOver(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	const first, second = "203.0.113.7", "203.0.113.8"
	a := c.start("a", true)
	c.tb.feed(c.tb.lines("login_failed", first, 5)) // a fires, cannot deliver
	c.tb.feed(c.tb.lines("login_failed", second, 3))
	waitUntil(t, "a's alert queued", func() bool {
		return a.metric("secwatch_alerts_total") == 1 && a.metric(matchedSeries) == 8
	}, a)
	aid := a.id(t)
	owners, err := c.rdb.HGetAll(context.Background(), "t:owner").Result()
	if err != nil || len(owners) != 1 {
		t.Fatalf("owners in redis: %v, %v; want one entry", owners, err)
	}
	for _, o := range owners {
		if o != aid {
			t.Fatalf("pending alert owned by %q, want a (%q)", o, aid)
		}
	}

	b := c.start("b", false)
	waitUntil(t, "b to count the input", func() bool { return b.metric(matchedSeries) == 8 }, a, b)
	if got := c.deliveries(); len(got) != 0 {
		t.Fatalf("deliveries before the kill: %v", got)
	}

	a.kill(t) // mid-burst: 3 of the second client's 5 failures seen
	c.tb.feed(c.tb.lines("login_failed", second, 2))

	waitUntil(t, "both alerts delivered", func() bool { return len(c.deliveries()) >= 2 }, b)
	waitUntil(t, "b settled", func() bool { return b.metric("secwatch_outbox_depth") == 0 }, b)
	if got := b.metric("secwatch_outbox_adopted_total"); got != 1 {
		t.Errorf("b adopted %d alerts, want 1", got)
	}
	b.stop(t)
	got := c.deliveries()
	if len(got) != 2 {
		t.Fatalf("got %d deliveries, want 2: %v", len(got), got)
	}
	for _, ip := range []string{first, second} {
		if byIP(got)[ip] != 1 {
			t.Errorf("%s delivered %d times, want once: %v", ip, byIP(got)[ip], got)
		}
	}
	for _, d := range got {
		if d.replica != "b" || d.count != "5" {
			t.Errorf("delivery %+v: want replica b and count 5", d)
		}
	}
	if n, _ := c.rdb.HLen(context.Background(), "t:outbox").Result(); n != 0 {
		t.Errorf("shared outbox holds %d entries after delivery, want 0", n)
	}

	// A replacement with no local state resumes from the newest checkpoint
	// in Redis: it counts the 10 events before it from the restored
	// windows, reads only what is new, and sends nothing twice.
	const third = "203.0.113.9"
	r := c.start("replacement", false)
	c.tb.feed(c.tb.lines("login_failed", third, 5))
	waitUntil(t, "the replacement's alert", func() bool { return len(c.deliveries()) >= 3 }, r)
	waitUntil(t, "the replacement settled", func() bool {
		return r.metric(matchedSeries) == 15 && r.metric("secwatch_outbox_depth") == 0
	}, r)
	if got := r.metric("secwatch_engine_events_total"); got != 5 {
		t.Errorf("the replacement read %d events, want only the 5 new ones", got)
	}
	r.stop(t)
	got = c.deliveries()
	if len(got) != 3 || got[2].replica != "replacement" || got[2].ip != third || got[2].count != "5" {
		t.Errorf("deliveries after the replacement: %v", got)
	}
}

// TestRedisRestartMidRun restarts Redis, empty (no persistence), in the
// middle of a run of two replicas. While it is down, an alert is delivered
// by each replica that fires it (at most once per replica, never lost);
// afterwards both reconnect, write their state again, and alerts are
// delivered exactly once again.
func TestRedisRestartMidRun(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a, b := c.start("a", false), c.start("b", false)
	const before, during, after = "203.0.113.1", "203.0.113.2", "203.0.113.3"
	matched := 5
	c.tb.feed(c.tb.lines("login_failed", before, 5))
	waitUntil(t, "the first alert", func() bool { return len(c.deliveries()) == 1 }, a, b)
	for _, r := range []*replica{a, b} {
		waitUntil(t, r.name+" settled", func() bool {
			return r.metric(matchedSeries) == int64(matched) && r.metric("secwatch_outbox_depth") == 0
		}, a, b)
	}

	c.redis.Stop()
	c.tb.feed(c.tb.lines("login_failed", during, 5))
	matched += 5
	for _, r := range []*replica{a, b} {
		waitUntil(t, r.name+" delivered during the outage", func() bool {
			return r.metric(matchedSeries) == int64(matched) &&
				r.metric("secwatch_redis_up") == 0 && r.metric("secwatch_outbox_depth") == 0
		}, a, b)
	}

	c.redis.Restart()
	ctx := context.Background()
	for _, r := range []*replica{a, b} {
		id := r.id(t)
		waitUntil(t, r.name+" reconnected", func() bool {
			n, _ := c.rdb.Exists(ctx, "t:replica:"+id).Result()
			return n == 1 && r.metric("secwatch_redis_up") == 1 && r.metric("secwatch_outbox_unsynced") == 0
		}, a, b)
	}
	c.tb.feed(c.tb.lines("login_failed", after, 5))
	matched += 5
	for _, r := range []*replica{a, b} {
		waitUntil(t, r.name+" settled after the restart", func() bool {
			return r.metric(matchedSeries) == int64(matched) && r.metric(firedSeries) == 3 && r.metric("secwatch_outbox_depth") == 0
		}, a, b)
	}
	waitUntil(t, "both checkpoints written again", func() bool {
		keys, _ := c.rdb.Keys(ctx, "t:checkpoint:*").Result()
		return len(keys) == 2
	}, a, b)
	errs := a.metric("secwatch_redis_errors_total") + b.metric("secwatch_redis_errors_total")
	a.stop(t)
	b.stop(t)

	got := byIP(c.deliveries())
	if got[before] != 1 || got[after] != 1 {
		t.Errorf("alerts fired while redis was up: delivered %d and %d times, want once each: %v", got[before], got[after], c.deliveries())
	}
	if got[during] < 1 || got[during] > 2 {
		t.Errorf("alert fired while redis was down: delivered %d times, want once per replica at most (1 or 2)", got[during])
	}
	if errs == 0 {
		t.Error("no redis errors counted across the outage")
	}
	t.Logf("during the outage the alert was delivered %d times; %d redis errors counted", got[during], errs)
}

// TestRedisDownAtStart starts a daemon whose Redis does not answer: it
// starts anyway (without a checkpoint), and its alert is delivered,
// without the cross-replica claim, and counted.
func TestRedisDownAtStart(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t, burstRule)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	cfg, err := config.Parse("secwatch.yaml", strings.NewReader(fmt.Sprintf(`state: {backend: redis, redis: {addr: %q, lease: 3s}}
rules: [%q]
sources:
  - {name: app, type: file, format: json, paths: [%q], start: beginning, poll_interval: 10ms}
alerts: {stdout: {enabled: true, format: json}}
http: {listen: "127.0.0.1:0"}
log: {level: debug, format: json}
`, addr, tb.rules, tb.log)), nil)
	if err != nil {
		t.Fatal(err)
	}
	in := start(t, cfg, nil)
	tb.feed(tb.lines("login_failed", "203.0.113.7", 5))
	got := in.waitAlerts(1)
	if got[0].Group["client_ip"] != "203.0.113.7" || got[0].Count != 5 {
		t.Errorf("alert: %+v", got[0])
	}
	in.waitMetric("secwatch_outbox_depth", 0)
	if in.metric("secwatch_redis_up") != 0 || in.metric("secwatch_outbox_unclaimed_total") != 1 || in.metric("secwatch_redis_errors_total") < 1 {
		t.Errorf("metrics: redis_up %v unclaimed %v errors %v, want 0, 1, ≥1", in.metric("secwatch_redis_up"),
			in.metric("secwatch_outbox_unclaimed_total"), in.metric("secwatch_redis_errors_total"))
	}
	if len(in.logEntries("redis unreachable; alerts are queued in memory and delivered without cross-replica de-duplication")) != 1 {
		t.Errorf("want one \"redis unreachable\" log line\n%s", in.log)
	}
	// The final checkpoint cannot be stored: Run says so, it does not hang.
	if err := in.stop(); err == nil || !strings.Contains(err.Error(), "redis") {
		t.Errorf("Run: got %v, want the failed checkpoint", err)
	}
}
