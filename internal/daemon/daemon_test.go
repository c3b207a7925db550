package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/secwatch/secwatch/internal/testutil"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/state"
)

// These tests run the daemon in-process: a file source tails a temporary
// log, alerts go to a stdout notifier writing into a buffer, and the HTTP
// listener serves /metrics on a free port. They wait for conditions
// (events observed, alerts written, reloads counted) with generous
// deadlines and never assert on timing.

const waitFor = 30 * time.Second

// syncBuffer is the shared goroutine-safe buffer.
type syncBuffer = testutil.Buffer

// testbed is one daemon's files: rules, a tailed log and a state
// directory, all under a temporary directory.
type testbed struct {
	t     *testing.T
	dir   string
	rules string // the rules file
	log   string // the tailed log file
	state string
	clock time.Time // timestamp of the last line written
}

func newTestbed(t *testing.T, rulesYAML string) *testbed {
	t.Helper()
	dir := t.TempDir()
	tb := &testbed{
		t: t, dir: dir,
		rules: filepath.Join(dir, "rules.yaml"),
		log:   filepath.Join(dir, "app.log"),
		state: filepath.Join(dir, "state"),
		clock: time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC),
	}
	writeFile(t, tb.rules, rulesYAML)
	writeFile(t, tb.log, "")
	return tb
}

// options vary the configuration of a testbed.
type options struct {
	alerts  string // extra keys of the alerts map, flow style: "attempt_timeout: 5m"
	sources string // extra entries of the sources list, one per line
}

// config builds the daemon's configuration through config.Parse, as
// `secwatch run` does.
func (tb *testbed) config(o options) *config.Config {
	tb.t.Helper()
	alerts := "stdout: {enabled: true, format: json}, initial_backoff: 10ms, max_backoff: 1s"
	if o.alerts != "" {
		alerts += ", " + o.alerts
	}
	y := fmt.Sprintf(`state_dir: %q
rules: [%q]
engine: {tick: 100ms}
checkpoint_interval: 10m
shutdown_grace: 10s
sources:
  - {name: app, type: file, format: json, paths: [%q], start: beginning, poll_interval: 10ms}
%s
alerts: {%s}
http: {listen: "127.0.0.1:0"}
log: {level: debug, format: json}
`, tb.state, tb.rules, tb.log, o.sources, alerts)
	cfg, err := config.Parse("secwatch.yaml", strings.NewReader(y), nil)
	if err != nil {
		tb.t.Fatalf("config:\n%v\n%s", err, y)
	}
	return cfg
}

// lines returns n JSON log lines of one event type from one client, each
// seven seconds after the one before.
func (tb *testbed) lines(typ, ip string, n int) []string {
	var out []string
	for range n {
		tb.clock = tb.clock.Add(7 * time.Second)
		out = append(out, fmt.Sprintf(`{"timestamp":%q,"event_type":%q,"client_ip":%q}`, tb.clock.Format(time.RFC3339), typ, ip))
	}
	return out
}

// feed appends lines to the tailed log.
func (tb *testbed) feed(lines []string) {
	tb.t.Helper()
	f, err := os.OpenFile(tb.log, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		tb.t.Fatal(err)
	}
	for _, l := range lines {
		if _, err := io.WriteString(f, l+"\n"); err != nil {
			tb.t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		tb.t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replaceFile replaces path atomically: a hidden file in the same
// directory, renamed over it. The watcher ignores hidden files, so it
// sees one change, and never a half-written file.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	writeFile(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// instance is one running Daemon.
type instance struct {
	t      *testing.T
	d      *Daemon
	stdout *syncBuffer
	log    *syncBuffer
	reload chan struct{}
	cancel context.CancelFunc
	done   chan error
	ended  bool
	err    error
	addr   string // of the HTTP listener
}

var addrRe = regexp.MustCompile(`"addr":"([0-9.:]+)"`)

// start runs a Daemon on cfg until stop (or the end of the test). set, if
// not nil, adjusts the Daemon before it runs (extra notifiers).
func start(t *testing.T, cfg *config.Config, set func(*Daemon)) *instance {
	t.Helper()
	in := &instance{
		t: t, stdout: &syncBuffer{}, log: &syncBuffer{},
		reload: make(chan struct{}, 1), done: make(chan error, 1),
	}
	in.d = &Daemon{
		Config: cfg,
		Log:    zerolog.New(in.log).Level(zerolog.DebugLevel).With().Timestamp().Logger(),
		Stdout: in.stdout,
		Reload: in.reload,
		Ready:  make(chan struct{}),
	}
	if set != nil {
		set(in.d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	go func() { in.done <- in.d.Run(ctx) }()
	t.Cleanup(func() {
		if !in.ended {
			in.cancel()
			<-in.done
		}
	})
	select {
	case <-in.d.Ready:
	case err := <-in.done:
		in.ended = true
		t.Fatalf("daemon ended before it was ready: %v\n%s", err, in.log)
	case <-time.After(waitFor):
		t.Fatalf("daemon not ready\n%s", in.log)
	}
	if m := addrRe.FindStringSubmatch(in.log.String()); m != nil {
		in.addr = m[1]
	} else if cfg.HTTP.Listen != "" {
		t.Fatalf("no listener address in the log\n%s", in.log)
	}
	return in
}

// stop cancels the daemon's context (SIGTERM) and returns Run's result.
func (in *instance) stop() error {
	in.t.Helper()
	if in.ended {
		return in.err
	}
	in.cancel()
	select {
	case in.err = <-in.done:
		in.ended = true
	case <-time.After(waitFor):
		in.t.Fatalf("daemon did not stop\n%s", in.log)
	}
	return in.err
}

// stopClean stops the daemon and fails the test unless Run returned nil.
func (in *instance) stopClean() {
	in.t.Helper()
	if err := in.stop(); err != nil {
		in.t.Fatalf("Run: %v\n%s", err, in.log)
	}
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// get fetches a path from the daemon's listener.
func (in *instance) get(path string) (int, string, error) {
	resp, err := httpClient.Get("http://" + in.addr + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// metrics returns every sample of /metrics by series (name and labels,
// sorted by name); nil when the listener does not answer.
func (in *instance) metrics() map[string]float64 {
	code, body, err := in.get("/metrics")
	if err != nil || code != http.StatusOK {
		return nil
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[testutil.SortLabels(line[:i])] = v
	}
	return out
}

// metric returns one series (labels in any order), or -1 while it is
// unavailable.
func (in *instance) metric(series string) float64 {
	v, ok := in.metrics()[testutil.SortLabels(series)]
	if !ok {
		return -1
	}
	return v
}

// eventually polls cond until it holds, failing the test with what and the
// daemons' logs and metrics if it does not within the deadline.
func eventually(t *testing.T, what string, cond func() bool, ins ...*instance) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, in := range ins {
				b.WriteString(in.log.String())
				if in.addr != "" && !in.ended {
					_, m, _ := in.get("/metrics")
					for _, l := range strings.Split(m, "\n") {
						if strings.HasPrefix(l, "secwatch_") {
							b.WriteString(l + "\n")
						}
					}
				}
			}
			t.Fatalf("timed out waiting for %s\n%s", what, b.String())
		}
		<-tick.C
	}
}

// waitMetric waits until series has value want.
func (in *instance) waitMetric(series string, want float64) {
	in.t.Helper()
	eventually(in.t, fmt.Sprintf("%s = %v", series, want), func() bool { return in.metric(series) == want }, in)
}

// waitEvents waits until the engine has observed n events in this run.
func (in *instance) waitEvents(n int) {
	in.t.Helper()
	in.waitMetric("secwatch_engine_events_total", float64(n))
}

// alerts parses what the stdout notifier wrote.
func alerts(t *testing.T, out string) []alerting.Document {
	t.Helper()
	var docs []alerting.Document
	for _, line := range strings.Split(out, "\n") {
		if line == "" {
			continue
		}
		var d alerting.Document
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("stdout line is not an alert document: %q: %v", line, err)
		}
		docs = append(docs, d)
	}
	return docs
}

func (in *instance) alerts() []alerting.Document { return alerts(in.t, in.stdout.String()) }

// waitAlerts waits until the stdout notifier has written n alerts and
// returns them.
func (in *instance) waitAlerts(n int) []alerting.Document {
	in.t.Helper()
	eventually(in.t, fmt.Sprintf("%d alerts on stdout", n), func() bool { return len(in.alerts()) >= n }, in)
	return in.alerts()
}

// logEntries returns the daemon's log records with the given message.
func (in *instance) logEntries(msg string) []map[string]any {
	in.t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(in.log.String(), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			in.t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		if m["message"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// checkAlert compares the fields of an alert the tests care about.
func checkAlert(t *testing.T, got alerting.Document, rule, ip string, count int, firstSeen, at time.Time) {
	t.Helper()
	want := fmt.Sprintf("rule=%s group=%v count=%d first_seen=%s time=%s", rule, map[string]string{"client_ip": ip}, count,
		firstSeen.Format(time.RFC3339), at.Format(time.RFC3339))
	if g := fmt.Sprintf("rule=%s group=%v count=%d first_seen=%s time=%s", got.Rule, got.Group, got.Count, got.FirstSeen, got.Time); g != want {
		t.Errorf("alert:\ngot  %s\nwant %s", g, want)
	}
}

func timeOf(t *testing.T, line string) time.Time {
	t.Helper()
	var v struct {
		Timestamp time.Time `json:"timestamp"`
	}
	if err := json.Unmarshal([]byte(line), &v); err != nil {
		t.Fatal(err)
	}
	return v.Timestamp
}

const ruleA = `rules:
  - id: a
    match: {event_type: login_failed}
    group_by: [client_ip]
    window: 5m
    threshold: %d
`

// TestReloadOnRuleFileChange edits the rules file under a running daemon,
// in place and by renaming a new file over it (as editors and
// configuration management do): the file watcher notices and the new
// threshold applies to new input.
func TestReloadOnRuleFileChange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, path, content string)
	}{
		{"in place", writeFile},
		{"renamed over", replaceFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := newTestbed(t, fmt.Sprintf(ruleA, 3))
			in := start(t, tb.config(options{}), nil)

			first := tb.lines("login_failed", "203.0.113.7", 1)
			tb.feed(first)
			in.waitEvents(1)

			tc.write(t, tb.rules, fmt.Sprintf(ruleA, 1))
			eventually(t, "a reload", func() bool { return in.metric("secwatch_rule_reloads_total") >= 1 }, in)

			// Under the old rules (threshold 3) three failures do not
			// fire; under the new ones (threshold 1) the two after the
			// reload do, and the edited rule's window started empty, so
			// the count is 2, not 3.
			more := tb.lines("login_failed", "203.0.113.7", 2)
			tb.feed(more)
			got := in.waitAlerts(1)
			in.waitEvents(3)
			in.stopClean()

			if len(got) != 1 {
				t.Fatalf("got %d alerts, want 1: %+v", len(got), got)
			}
			checkAlert(t, got[0], "a", "203.0.113.7", 2, timeOf(t, more[0]), timeOf(t, more[1]))
			if got[0].Threshold != 1 {
				t.Errorf("alert threshold: got %d, want 1 (the edited rule)", got[0].Threshold)
			}
			if r := in.logEntries("rules reloaded"); len(r) == 0 || r[0]["trigger"] != "rule files changed" {
				t.Errorf("reload log: got %v, want trigger %q", r, "rule files changed")
			}
		})
	}
}

// TestReloadOnSIGHUP reloads through the Reload channel (what cmd sends on
// SIGHUP). The rules file is a symbolic link; the watcher also watches its
// target's directory, so it may reload the edit again after its debounce,
// but the signal's reload comes first and is the one that starts rule b.
func TestReloadOnSIGHUP(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t, "")
	real := filepath.Join(tb.dir, "managed", "rules.yaml")
	if err := os.Mkdir(filepath.Dir(real), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, real, fmt.Sprintf(ruleA, 3))
	if err := os.Remove(tb.rules); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, tb.rules); err != nil {
		t.Fatal(err)
	}
	in := start(t, tb.config(options{}), nil)

	before := tb.lines("port_scan", "198.51.100.9", 1)
	tb.feed(before)
	in.waitEvents(1)

	writeFile(t, real, fmt.Sprintf(ruleA, 3)+`  - id: b
    match: {event_type: port_scan}
    window: 1m
    threshold: 0
`)
	in.reload <- struct{}{}
	in.waitMetric("secwatch_rule_reloads_total", 1)
	after := tb.lines("port_scan", "198.51.100.9", 1)
	tb.feed(after)
	got := in.waitAlerts(1)
	in.waitEvents(2)
	in.stopClean()

	if len(got) != 1 || got[0].Rule != "b" || got[0].Count != 1 || got[0].Time != timeOf(t, after[0]).Format(time.RFC3339) {
		t.Fatalf("alerts: got %+v, want one of rule b for the event after the reload", got)
	}
	r := in.logEntries("rules reloaded")
	if len(r) == 0 || r[0]["trigger"] != "SIGHUP" || fmt.Sprint(r[0]["started"]) != "[b]" {
		t.Errorf("reload log: got %v, want first a reload with trigger SIGHUP starting rule b", r)
	}
}

// TestReloadRejectsInvalidEdit writes a broken rules file: the daemon logs
// every problem with its position, counts the failure and goes on alerting
// with the rules it had; a later valid edit is picked up.
func TestReloadRejectsInvalidEdit(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t, fmt.Sprintf(ruleA, 1))
	in := start(t, tb.config(options{}), nil)

	// Line 6 col 13: a window with an unknown unit; line 8 col 5: a typo.
	replaceFile(t, tb.rules, `rules:
  - id: a
    match: {event_type: login_failed}
    group_by: [client_ip]
    threshold: 1
    window: 5 minutes
    title: Login failures
    treshold: 2
`)
	in.waitMetric("secwatch_rule_reload_failures_total", 1)

	var problems []string
	for _, e := range in.logEntries("rule reload rejected") {
		p, _ := e["problem"].(string)
		problems = append(problems, p)
	}
	for _, want := range []string{
		tb.rules + `:6:13: rule "a": window: `,
		tb.rules + `:8:5: rule "a": treshold: unknown field`,
	} {
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.HasPrefix(p, want) }) {
			t.Errorf("no logged problem starts with %q; logged:\n%s", want, strings.Join(problems, "\n"))
		}
	}
	if len(problems) != 2 {
		t.Errorf("got %d problems logged, want 2 (one per problem, once):\n%s", len(problems), strings.Join(problems, "\n"))
	}

	// The old rule (threshold 1) still fires on new input.
	burst := tb.lines("login_failed", "203.0.113.7", 2)
	tb.feed(burst)
	got := in.waitAlerts(1)
	checkAlert(t, got[0], "a", "203.0.113.7", 2, timeOf(t, burst[0]), timeOf(t, burst[1]))
	if v := in.metric("secwatch_rule_reloads_total"); v != 0 {
		t.Errorf("secwatch_rule_reloads_total: got %v, want 0", v)
	}

	// Fixing the file is a successful reload.
	replaceFile(t, tb.rules, fmt.Sprintf(ruleA, 5))
	in.waitMetric("secwatch_rule_reloads_total", 1)
	in.stopClean()
}

// TestReloadWaitsForContent truncates the rules file and writes its
// content only after the watcher has fired, as `rulegen > rules.yaml` does
// when rulegen is slow: the empty file is not taken for "no rules", and
// the burst in progress keeps its window.
func TestReloadWaitsForContent(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t, burstRule)
	in := start(t, tb.config(options{}), nil)
	const ip = "203.0.113.7"
	part1 := tb.lines("login_failed", ip, 3)
	tb.feed(part1)
	in.waitEvents(3)

	f, err := os.Create(tb.rules) // truncates
	if err != nil {
		t.Fatal(err)
	}
	in.waitMetric("secwatch_rule_reload_failures_total", 1)
	if _, err := io.WriteString(f, burstRule); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the reload of the written file", func() bool { return in.metric("secwatch_rule_reloads_total") >= 1 }, in)

	part2 := tb.lines("login_failed", ip, 2)
	tb.feed(part2)
	got := in.waitAlerts(1)
	in.stopClean()
	checkAlert(t, got[0], "burst", ip, 5, timeOf(t, part1[0]), timeOf(t, part2[1]))
	if r := in.logEntries("rule reload rejected"); len(r) != 1 || !strings.HasPrefix(fmt.Sprint(r[0]["problem"]), "no rules") {
		t.Errorf("rejections logged: %v, want one saying there are no rules", r)
	}
}

// TestReloadKeepsUnchangedWindows reloads with one rule edited: the
// unchanged rule keeps its window, the edited one starts empty.
func TestReloadKeepsUnchangedWindows(t *testing.T) {
	t.Parallel()
	const rulesUC = `rules:
  - id: u
    match: {event_type: u_event}
    group_by: [client_ip]
    window: 5m
    threshold: 2
  - id: c
    match: {event_type: c_event}
    group_by: [client_ip]
    window: 5m
    threshold: %d
`
	tb := newTestbed(t, fmt.Sprintf(rulesUC, 2))
	in := start(t, tb.config(options{}), nil)
	const ip = "203.0.113.7"

	u := tb.lines("u_event", ip, 2)
	c := tb.lines("c_event", ip, 2)
	tb.feed(append(u, c...))
	in.waitEvents(4)

	replaceFile(t, tb.rules, fmt.Sprintf(rulesUC, 3))
	in.waitMetric("secwatch_rule_reloads_total", 1)

	// u's third event: it fires only if the two before the reload are
	// still in its window.
	u3 := tb.lines("u_event", ip, 1)
	tb.feed(u3)
	got := in.waitAlerts(1)
	checkAlert(t, got[0], "u", ip, 3, timeOf(t, u[0]), timeOf(t, u3[0]))

	// c (now threshold 3) started empty: had it kept its window, the
	// second event after the reload would make 4 and fire; it fires only
	// at the fourth, with a count and first_seen from after the reload.
	c2 := tb.lines("c_event", ip, 4)
	tb.feed(c2)
	in.waitEvents(9)
	in.waitAlerts(2)
	in.stopClean()
	got = in.alerts()
	if len(got) != 2 {
		t.Fatalf("got %d alerts, want 2: %+v", len(got), got)
	}
	checkAlert(t, got[1], "c", ip, 4, timeOf(t, c2[0]), timeOf(t, c2[3]))

	r := in.logEntries("rules reloaded")
	if len(r) == 0 || fmt.Sprint(r[0]["kept"]) != "[u]" || fmt.Sprint(r[0]["started"]) != "[c]" {
		t.Errorf("reload log: got %v, want kept [u] and started [c]", r)
	}
}

const burstRule = `rules:
  - id: burst
    match: {event_type: login_failed}
    group_by: [client_ip]
    window: 5m
    threshold: 4
`

// TestRestartResumesWindows stops the daemon cleanly in the middle of a
// burst and starts a new one on the same state directory: the burst's
// first events are neither lost nor read twice.
func TestRestartResumesWindows(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t, burstRule)
	cfg := tb.config(options{})
	const ip = "203.0.113.7"

	in := start(t, cfg, nil)
	part1 := tb.lines("login_failed", ip, 3)
	tb.feed(part1)
	in.waitEvents(3)
	in.stopClean()
	if got := in.alerts(); len(got) != 0 {
		t.Fatalf("first run: got %d alerts before the burst was complete", len(got))
	}

	in2 := start(t, cfg, nil)
	part2 := tb.lines("login_failed", ip, 2)
	tb.feed(part2)
	in2.waitAlerts(1)
	in2.waitEvents(2) // the second run read only the new lines
	in2.waitMetric("secwatch_outbox_depth", 0)
	in2.stopClean()

	got := in2.alerts()
	if len(got) != 1 {
		t.Fatalf("got %d alerts, want exactly 1: %+v", len(got), got)
	}
	checkAlert(t, got[0], "burst", ip, 5, timeOf(t, part1[0]), timeOf(t, part2[1]))
}

// checkpointSeq reads the sequence number of a checkpoint file.
func checkpointSeq(t *testing.T, path string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, payload, _ := bytes.Cut(b, []byte("\n"))
	ck, err := decodeCheckpoint(payload)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ck.Seq
}

// TestCorruptCheckpoint damages the checkpoints between runs: the daemon
// starts anyway, logs the problem, moves the bad file aside, resumes from
// the other generation (or from scratch when both are bad), and the next
// start is clean.
func TestCorruptCheckpoint(t *testing.T) {
	t.Parallel()
	flip := func(t *testing.T, path string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		b[len(b)-2] ^= 0x20 // inside the JSON payload: a checksum mismatch
		writeFile(t, path, string(b))
	}
	truncate := func(t *testing.T, path string) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, fi.Size()/2); err != nil {
			t.Fatal(err)
		}
	}
	undecodable := func(t *testing.T, path string) {
		// A sound frame around a payload that is not a checkpoint.
		d, err := state.Open(filepath.Dir(path))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if err := d.Write(filepath.Base(path), []byte(`{"version":1,"seq":`)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name           string
		newest, older  func(*testing.T, string) // nil: left alone
		resumeFrom     uint64                   // 0: from scratch
		eventsObserved int                      // by the run after the damage
	}{
		{name: "newest flipped", newest: flip, resumeFrom: 2, eventsObserved: 3},
		{name: "newest truncated", newest: truncate, resumeFrom: 2, eventsObserved: 3},
		{name: "newest undecodable", newest: undecodable, resumeFrom: 2, eventsObserved: 3},
		{name: "both damaged", newest: truncate, older: flip, resumeFrom: 0, eventsObserved: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tb := newTestbed(t, burstRule)
			cfg := tb.config(options{})
			const ip = "203.0.113.7"
			burst := tb.lines("login_failed", ip, 5)

			// Run 1 checkpoints when it opens the log (seq 1) and at
			// shutdown (seq 2, two events); run 2 at shutdown (seq 3,
			// three events).
			tb.feed(burst[:2])
			in := start(t, cfg, nil)
			in.waitEvents(2)
			in.stopClean()
			tb.feed(burst[2:3])
			in = start(t, cfg, nil)
			in.waitEvents(1)
			in.stopClean()

			a, b := filepath.Join(tb.state, "checkpoint-a"), filepath.Join(tb.state, "checkpoint-b")
			newest, older := a, b
			if checkpointSeq(t, b) > checkpointSeq(t, a) {
				newest, older = b, a
			}
			if n, o := checkpointSeq(t, newest), checkpointSeq(t, older); n != 3 || o != 2 {
				t.Fatalf("checkpoints before the damage: newest %d, older %d; want 3 and 2", n, o)
			}
			damaged := 0
			for _, d := range []struct {
				path string
				f    func(*testing.T, string)
			}{{newest, tc.newest}, {older, tc.older}} {
				if d.f != nil {
					d.f(t, d.path)
					damaged++
				}
			}

			in = start(t, cfg, nil)
			tb.feed(burst[3:])
			got := in.waitAlerts(1)
			// Resuming from seq 2 reads the third line again; from
			// scratch, all five.
			in.waitEvents(tc.eventsObserved)
			in.waitMetric("secwatch_outbox_depth", 0)
			in.stopClean()
			if len(got) != 1 {
				t.Fatalf("got %d alerts, want 1: %+v", len(got), got)
			}
			checkAlert(t, got[0], "burst", ip, 5, timeOf(t, burst[0]), timeOf(t, burst[4]))

			if p := in.logEntries("checkpoint unusable; resuming from an older one or from scratch"); len(p) != damaged {
				t.Errorf("got %d checkpoint problems logged, want %d: %v", len(p), damaged, p)
			} else {
				for _, e := range p {
					if msg, _ := e["error"].(string); !strings.Contains(msg, "moved to "+tb.state+"/checkpoint-") {
						t.Errorf("logged problem does not say where the file went: %q", msg)
					}
				}
			}
			for _, d := range []struct {
				path string
				f    func(*testing.T, string)
			}{{newest, tc.newest}, {older, tc.older}} {
				if _, err := os.Stat(d.path + ".corrupt-1"); (err == nil) != (d.f != nil) {
					t.Errorf("%s.corrupt-1: stat error %v, want it to exist only if that file was damaged", filepath.Base(d.path), err)
				}
			}
			resumed := in.logEntries("resumed from checkpoint")
			switch {
			case tc.resumeFrom == 0 && len(resumed) != 0:
				t.Errorf("resumed from %v, want a fresh start", resumed[0]["checkpoint"])
			case tc.resumeFrom != 0 && (len(resumed) != 1 || resumed[0]["checkpoint"] != float64(tc.resumeFrom)):
				t.Errorf("resumed: %v, want checkpoint %d", resumed, tc.resumeFrom)
			}

			// No crash loop: the next start finds nothing wrong.
			in = start(t, cfg, nil)
			in.stopClean()
			if p := in.logEntries("checkpoint unusable; resuming from an older one or from scratch"); len(p) != 0 {
				t.Errorf("the start after the recovery logged problems: %v", p)
			}
			if got := in.alerts(); len(got) != 0 {
				t.Errorf("the start after the recovery alerted again: %+v", got)
			}
		})
	}
}

// TestCorruptOutboxEntry damages the journal record of one pending alert:
// the segment is moved aside and logged, and the others are delivered.
func TestCorruptOutboxEntry(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t, burstRule)
	cfg := tb.config(options{})
	dir := filepath.Join(tb.state, "outbox")
	if err := os.MkdirAll(tb.state, 0o700); err != nil {
		t.Fatal(err)
	}
	ob, err := alerting.OpenOutbox(dir, []string{"stdout"})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"0a1b", "2c3d", "4e5f"}
	for _, id := range ids {
		doc := alerting.Document{AlertID: id, Rule: "burst", Title: "t", Severity: "high", Group: map[string]string{"client_ip": id},
			Count: 5, Threshold: 4, Window: "5m0s", Time: "2026-01-28T19:00:00Z", FirstSeen: "2026-01-28T19:00:00Z"}
		if _, err := ob.Put(doc, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	segs, err := filepath.Glob(filepath.Join(dir, "journal-*.log"))
	if err != nil || len(segs) != 1 {
		t.Fatalf("journal segments %v (%v), want one", segs, err)
	}
	bad := segs[0]
	b, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	b[strings.Index(string(b), `"`+ids[1]+`"`)+1] ^= 0x01 // in the record of ids[1]
	writeFile(t, bad, string(b))

	in := start(t, cfg, nil)
	in.waitAlerts(2)
	in.waitMetric("secwatch_outbox_depth", 0)
	in.stopClean()

	var got []string
	for _, d := range in.alerts() {
		got = append(got, d.AlertID)
	}
	slices.Sort(got)
	if want := []string{ids[0], ids[2]}; !slices.Equal(got, want) {
		t.Errorf("delivered: got %v, want %v", got, want)
	}
	if _, err := os.Stat(bad + ".corrupt-1"); err != nil {
		t.Errorf("damaged journal segment not moved aside: %v", err)
	}
	if p := in.logEntries("outbox entry unusable; moved aside"); len(p) != 1 || !strings.Contains(fmt.Sprint(p[0]["error"]), filepath.Base(bad)) {
		t.Errorf("logged: %v, want one problem naming %s", p, filepath.Base(bad))
	}
	if left := pendingFiles(t, tb.state); len(left) != 0 {
		t.Errorf("still pending in the outbox: %v", left)
	}
}

// TestHealthAndMetrics checks /healthz and that /metrics counts what was
// fed, per source and per rule.
func TestHealthAndMetrics(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t, `rules:
  - id: fails
    match: {event_type: login_failed}
    group_by: [client_ip]
    window: 5m
    threshold: 2
  - id: never
    match: {event_type: no_such_event}
    window: 5m
    threshold: 0
`)
	in := start(t, tb.config(options{}), nil)
	var code int
	var body string
	eventually(t, "/healthz to answer 200 ok", func() bool {
		code, body, _ = in.get("/healthz")
		return code == http.StatusOK && body == "ok\n"
	}, in)

	lines := tb.lines("login_failed", "203.0.113.7", 3)
	lines = append(lines, tb.lines("login_failed", "198.51.100.1", 1)...)
	lines = append(lines, tb.lines("request", "198.51.100.1", 2)...)
	lines = append(lines, `{"timestamp": not json`)
	tb.feed(lines)
	in.waitAlerts(1)

	want := map[string]float64{
		"secwatch_up":                                      1,
		"secwatch_engine_events_total":                     6,
		"secwatch_alerts_total":                            1,
		"secwatch_delivered_total":                         1,
		"secwatch_outbox_depth":                            0,
		"secwatch_rule_reloads_total":                      0,
		`secwatch_source_lines_total{source="app"}`:        7,
		`secwatch_source_events_total{source="app"}`:       6,
		`secwatch_source_malformed_total{source="app"}`:    1,
		`secwatch_source_up{source="app"}`:                 1,
		`secwatch_source_restarts_total{source="app"}`:     0,
		`secwatch_rule_matched_total{rule="fails"}`:        4,
		`secwatch_rule_alerts_total{rule="fails"}`:         1,
		`secwatch_rule_groups{rule="fails"}`:               2,
		`secwatch_rule_matched_total{rule="never"}`:        0,
		`secwatch_rule_alerts_total{rule="never"}`:         0,
		`secwatch_rule_ungrouped_total{rule="fails"}`:      0,
		`secwatch_rule_late_total{rule="fails"}`:           0,
		`secwatch_rule_evicted_total{rule="fails"}`:        0,
		`secwatch_source_oversize_total{source="app"}`:     0,
		`secwatch_source_unparsed_total{source="app"}`:     0,
		"secwatch_rule_reload_failures_total":              0,
		"secwatch_dead_lettered_total":                     0,
		`secwatch_source_invalid_utf8_total{source="app"}`: 0,
	}
	eventually(t, fmt.Sprintf("metrics to match what was fed: %v", want), func() bool {
		got := in.metrics()
		for k, v := range want {
			if g, ok := got[k]; !ok || g != v {
				return false
			}
		}
		return true
	}, in)
	if code, body, err := in.get("/healthz"); err != nil || code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz after the input: %d %q %v, want 200 \"ok\\n\"", code, body, err)
	}
	in.stopClean()
}

// failingReader fails every read, as stdin does on an I/O error.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) {
	return 0, errors.New("read /dev/stdin: input/output error")
}

// TestHealthzReportsFailingSource gives the daemon a stdin that fails:
// /healthz answers 503 naming the source, while the file source goes on.
func TestHealthzReportsFailingSource(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t, fmt.Sprintf(ruleA, 0))
	cfg := tb.config(options{sources: "  - {name: in, type: stdin}"})
	in := start(t, cfg, func(d *Daemon) { d.Stdin = failingReader{} })

	eventually(t, "/healthz to report the failing source", func() bool {
		code, body, _ := in.get("/healthz")
		return code == http.StatusServiceUnavailable && body == "sources failing: in\n"
	}, in)
	eventually(t, "a restart of the failing source", func() bool {
		return in.metric(`secwatch_source_restarts_total{source="in"}`) >= 1
	}, in)
	if v := in.metric(`secwatch_source_up{source="app"}`); v != 1 {
		t.Errorf(`secwatch_source_up{source="app"}: got %v, want 1`, v)
	}
	// The healthy source still delivers.
	tb.feed(tb.lines("login_failed", "203.0.113.7", 1))
	in.waitAlerts(1)
	in.stopClean()
}

// TestHealthy is the /healthz decision: the engine loop must have beaten
// recently and every source must be up.
func TestHealthy(t *testing.T) {
	t0 := time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)
	const maxAge = 30 * time.Second
	m := newMetrics()
	check := func(what string, now time.Time, wantOK bool, wantWhy string) {
		t.Helper()
		ok, why := m.healthy(now, maxAge)
		if ok != wantOK || why != wantWhy {
			t.Errorf("%s: got %v %q, want %v %q", what, ok, why, wantOK, wantWhy)
		}
	}
	m.source("a") // not marked up yet: starting, not failing
	check("before the engine loop beats", t0, false, "starting")
	m.source("a").up.Store(true)
	m.engine.beat(t0)
	check("just after a beat", t0.Add(time.Second), true, "ok")
	check("at the limit", t0.Add(maxAge), true, "ok")
	check("engine loop stuck", t0.Add(maxAge+time.Second), false, "engine loop silent for 31s")

	m.engine.beat(t0.Add(time.Minute))
	for _, n := range []string{"b", "c"} {
		m.source(n).up.Store(true)
	}
	check("every source up", t0.Add(time.Minute), true, "ok")
	m.source("c").up.Store(false)
	m.source("a").up.Store(false)
	check("sources down", t0.Add(time.Minute), false, "sources failing: a, c")
}

// blockingNotifier hangs in Notify until released (a notifier whose
// endpoint does not answer), then delivers.
type blockingNotifier struct {
	entered chan struct{} // receives once per call
	release chan struct{} // closed to let calls through
	mu      sync.Mutex
	got     []string
}

func (n *blockingNotifier) Name() string { return "slow" }

func (n *blockingNotifier) Notify(ctx context.Context, doc *alerting.Document) error {
	select {
	case n.entered <- struct{}{}:
	default:
	}
	select {
	case <-n.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	n.mu.Lock()
	n.got = append(n.got, doc.AlertID)
	n.mu.Unlock()
	return nil
}

func (n *blockingNotifier) delivered() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.got)
}

// pendingFiles lists the alerts in the outbox directory.
func pendingFiles(t *testing.T, stateDir string) []string {
	t.Helper()
	es, err := alerting.ReadPending(filepath.Join(stateDir, "outbox"))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range es {
		ids = append(ids, e.Doc.AlertID)
	}
	slices.Sort(ids)
	return ids
}

// TestSlowNotifierBlocksNothing hangs a notifier: alerts are still written
// to the outbox, the engine keeps observing and the other notifier keeps
// delivering; once released, everything is delivered and removed.
func TestSlowNotifierBlocksNothing(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t, fmt.Sprintf(ruleA, 1))
	// No attempt times out during the test: the notifier stays stuck.
	cfg := tb.config(options{alerts: "attempt_timeout: 5m"})
	slow := &blockingNotifier{entered: make(chan struct{}, 1), release: make(chan struct{})}
	in := start(t, cfg, func(d *Daemon) { d.Notifiers = []alerting.Notifier{slow} })

	tb.feed(tb.lines("login_failed", "203.0.113.7", 2))
	select {
	case <-slow.entered:
	case <-time.After(waitFor):
		t.Fatalf("the slow notifier was never called\n%s", in.log)
	}

	// While it hangs: more events, and a second alert.
	tb.feed(tb.lines("request", "198.51.100.1", 50))
	tb.feed(tb.lines("login_failed", "198.51.100.2", 2))
	in.waitEvents(54)
	got := in.waitAlerts(2)
	var ids []string
	for _, d := range got {
		ids = append(ids, d.AlertID)
	}
	slices.Sort(ids)
	if p := pendingFiles(t, tb.state); !slices.Equal(p, ids) {
		t.Errorf("outbox files while the notifier hangs: got %v, want %v", p, ids)
	}
	if v := in.metric("secwatch_outbox_depth"); v != 2 {
		t.Errorf("secwatch_outbox_depth while the notifier hangs: got %v, want 2", v)
	}
	if d := slow.delivered(); len(d) != 0 {
		t.Fatalf("the slow notifier delivered %v before it was released", d)
	}

	close(slow.release)
	in.waitMetric("secwatch_outbox_depth", 0)
	in.waitMetric("secwatch_delivered_total", 2)
	in.stopClean()
	d := slow.delivered()
	slices.Sort(d)
	if !slices.Equal(d, ids) {
		t.Errorf("the slow notifier delivered %v, want %v", d, ids)
	}
	if p := pendingFiles(t, tb.state); len(p) != 0 {
		t.Errorf("outbox files after delivery: %v", p)
	}
	if n := len(in.alerts()); n != 2 {
		t.Errorf("stdout got %d alerts, want 2", n)
	}
}

// pager is a notifier that fails (retryably) while down, and records what
// it delivers.
type pager struct {
	down  bool
	mu    sync.Mutex
	calls int
	got   []string
}

func (p *pager) Name() string { return "pager" }

func (p *pager) Notify(_ context.Context, doc *alerting.Document) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.down {
		return errors.New("connect: connection refused")
	}
	p.got = append(p.got, doc.AlertID)
	return nil
}

// runOnce runs a --once pass to its end.
func runOnce(t *testing.T, cfg *config.Config, n alerting.Notifier) (stdout, log *syncBuffer, err error) {
	t.Helper()
	stdout, log = &syncBuffer{}, &syncBuffer{}
	d := &Daemon{
		Config: cfg, Once: true, Stdout: stdout,
		Log:       zerolog.New(log).Level(zerolog.DebugLevel),
		Notifiers: []alerting.Notifier{n},
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	return stdout, log, d.Run(ctx)
}

// TestOnceLeavesUndeliveredAlerts runs --once with a notifier that is down:
// Run reports the alert left in the outbox, and the next run delivers it,
// once, to the notifier that missed it.
func TestOnceLeavesUndeliveredAlerts(t *testing.T) {
	t.Parallel()
	tb := newTestbed(t, fmt.Sprintf(ruleA, 1))
	cfg := tb.config(options{})
	tb.feed(tb.lines("login_failed", "203.0.113.7", 2))

	down := &pager{down: true}
	stdout1, log1, err := runOnce(t, cfg, down)
	if !errors.Is(err, ErrUndelivered) {
		t.Fatalf("first run: got %v, want an error wrapping ErrUndelivered\n%s", err, log1)
	}
	first := alerts(t, stdout1.String())
	if len(first) != 1 {
		t.Fatalf("first run: stdout got %d alerts, want 1", len(first))
	}
	id := first[0].AlertID
	if p := pendingFiles(t, tb.state); !slices.Equal(p, []string{id}) {
		t.Fatalf("outbox after the first run: got %v, want [%s]", p, id)
	}
	if down.calls == 0 {
		t.Fatal("the pager was never tried")
	}

	up := &pager{}
	stdout2, log2, err := runOnce(t, cfg, up)
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, log2)
	}
	if !slices.Equal(up.got, []string{id}) {
		t.Errorf("second run: pager got %v, want [%s] once", up.got, id)
	}
	if got := alerts(t, stdout2.String()); len(got) != 0 {
		t.Errorf("second run: stdout got %+v again; it had acknowledged the alert in the first run", got)
	}
	if p := pendingFiles(t, tb.state); len(p) != 0 {
		t.Errorf("outbox after the second run: %v", p)
	}

	// A third run has nothing to do.
	again := &pager{}
	stdout3, log3, err := runOnce(t, cfg, again)
	if err != nil || again.calls != 0 || stdout3.String() != "" {
		t.Errorf("third run: err %v, pager calls %d, stdout %q\n%s", err, again.calls, stdout3, log3)
	}
}

// TestFailedStartLeavesNothingRunning makes Run fail after the state
// directory is open — the listener's port is taken — with an alert pending
// in the outbox. Run must fail before anything starts: no delivery may be
// in progress or begin after Run has released the state directory's lock,
// or it would race the next daemon on the same directory.
func TestFailedStartLeavesNothingRunning(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tb := newTestbed(t, burstRule)
	cfg := tb.config(options{})
	cfg.HTTP.Listen = busy.Addr().String()
	if err := os.MkdirAll(tb.state, 0o700); err != nil {
		t.Fatal(err)
	}
	ob, err := alerting.OpenOutbox(filepath.Join(tb.state, "outbox"), []string{"stdout", "slow"})
	if err != nil {
		t.Fatal(err)
	}
	doc := alerting.Document{AlertID: "0a1b", Rule: "burst", Title: "t", Severity: "high", Count: 5, Threshold: 4,
		Window: "5m0s", Time: "2026-01-28T19:00:00Z", FirstSeen: "2026-01-28T19:00:00Z"}
	if _, err := ob.Put(doc, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := ob.Close(); err != nil {
		t.Fatal(err)
	}
	slow := &blockingNotifier{entered: make(chan struct{}, 1), release: make(chan struct{})}
	stdout := &syncBuffer{}
	d := &Daemon{Config: cfg, Log: zerolog.Nop(), Stdout: stdout, Notifiers: []alerting.Notifier{slow}}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	err = d.Run(ctx)
	if want := "http listen " + busy.Addr().String(); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Run: got %v, want an error containing %q", err, want)
	}
	select {
	case <-slow.entered:
		t.Errorf("a Run that failed to start attempted a delivery")
	default:
	}
	if out := stdout.String(); out != "" {
		t.Errorf("a Run that failed to start delivered to stdout: %s", out)
	}
	if p := pendingFiles(t, tb.state); !slices.Equal(p, []string{"0a1b"}) {
		t.Errorf("outbox after the failed start: got %v, want the pending alert kept", p)
	}
}
