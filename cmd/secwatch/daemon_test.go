package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/secwatch/secwatch/internal/testutil"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the daemon for real: as a subprocess (so that it can be
// killed with SIGKILL) or in-process through run. They wait for conditions
// (events observed, alerts written) with generous deadlines; they never
// assert on timing.

const waitFor = 60 * time.Second

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// secwatchBinary builds the command once per test run.
func secwatchBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "secwatch-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "secwatch")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// eventually polls cond until it holds or the deadline passes; on timeout
// it fails with what and, when given, the daemon's log at that moment.
func eventually(t *testing.T, what string, cond func() bool, log ...*syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			var l string
			for _, b := range log {
				l += b.String()
			}
			if len(log) > 0 {
				l += testutil.Metrics(log[0].String())
			}
			t.Fatalf("timed out waiting for %s\n%s", what, l)
		}
		<-tick.C
	}
}

// syncBuffer is the shared goroutine-safe buffer.
type syncBuffer = testutil.Buffer

// proc is a running daemon subprocess.
type proc struct {
	cmd    *exec.Cmd
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // its exit status, once done is closed
}

// wait returns the exit status, failing the test if the process does not
// exit within the deadline.
func (p *proc) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(waitFor):
		t.Fatalf("daemon did not exit\n%s", p.stderr)
		return nil
	}
}

func startDaemon(t *testing.T, cfg string) *proc {
	t.Helper()
	p := &proc{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(secwatchBinary(t), "run", "--config", cfg)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// metric reads one series from the daemon whose log is stderr.
func metric(stderr, series string) int64 { return testutil.Metric(stderr, series) }

func (p *proc) waitEvents(t *testing.T, n int64) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d events observed", n), func() bool {
		return metric(p.stderr.String(), "secwatch_engine_events_total") >= n
	}, p.stderr)
}

// alertDoc is the part of an alert document the tests compare.
type alertDoc struct {
	ID        string            `json:"alert_id"`
	Rule      string            `json:"rule"`
	Group     map[string]string `json:"group"`
	Count     int               `json:"count"`
	Time      string            `json:"time"`
	FirstSeen string            `json:"first_seen"`
	Source    string            `json:"source"`
}

// parseAlerts parses JSON lines of alert documents; any other line (one
// torn by a kill, say) fails the test.
func parseAlerts(t *testing.T, out string) []alertDoc {
	t.Helper()
	var docs []alertDoc
	for i, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var d alertDoc
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("line %d is not an alert document: %q: %v", i+1, line, err)
		}
		docs = append(docs, d)
	}
	return docs
}

// logWriter appends JSON auth-failure lines to files and remembers every
// line in the order written, for the replay that the daemon must agree with.
type logWriter struct {
	t     *testing.T
	all   []string
	clock time.Time
}

func (w *logWriter) lines(typ, ip string, n int) []string {
	var out []string
	for range n {
		w.clock = w.clock.Add(7 * time.Second)
		out = append(out, fmt.Sprintf(`{"timestamp":%q,"event_type":%q,"client_ip":%q}`, w.clock.Format(time.RFC3339Nano), typ, ip))
	}
	return out
}

func (w *logWriter) appendTo(path string, lines []string) {
	w.t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, l := range lines {
		if _, err := io.WriteString(f, l+"\n"); err != nil {
			w.t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		w.t.Fatal(err)
	}
	w.all = append(w.all, lines...)
}

const burstRule = `rules:
  - id: auth-burst
    title: Authentication failures from one client
    severity: high
    match: {event_type: authentication_failure}
    group_by: [client_ip]
    window: 5m
    threshold: 10
    cooldown: 30m
`

func daemonConfig(t *testing.T, dir, sources string) string {
	t.Helper()
	writeFile(t, dir, "rules.yaml", burstRule)
	return writeFile(t, dir, "secwatch.yaml", fmt.Sprintf(`state_dir: state
rules: [rules.yaml]
engine: {tick: 100ms}
checkpoint_interval: 1s
shutdown_grace: 10s
sources:
%s
alerts:
  stdout: {enabled: true, format: json}
  initial_backoff: 100ms
http: {listen: "127.0.0.1:0"}
log: {level: debug, format: json}
`, sources))
}

// TestDaemonSurvivesRotationAndSIGKILL is the end-to-end test of the issue:
// lines appended, the file rotated by rename and by copy-truncate in the
// middle of an attack burst, the process killed with SIGKILL in the middle
// of the window and restarted. The alert fires exactly once, with the same
// time and count as secwatch replay of the concatenated log.
func TestDaemonSurvivesRotationAndSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	cfg := daemonConfig(t, dir, `  - {name: app, type: file, format: json, paths: [app.log], start: beginning, poll_interval: 20ms}`)
	w := &logWriter{t: t, clock: time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)}
	const attacker = "203.0.113.7"

	w.appendTo(logPath, w.lines("request", "198.51.100.1", 2))
	w.appendTo(logPath, w.lines("authentication_failure", attacker, 4))
	p := startDaemon(t, cfg)
	p.waitEvents(t, 6)

	// Rotation by rename, with a line written to the old file after the
	// rename and before the writer reopens.
	if err := os.Rename(logPath, logPath+".1"); err != nil {
		t.Fatal(err)
	}
	w.appendTo(logPath+".1", w.lines("authentication_failure", attacker, 1))
	w.appendTo(logPath, w.lines("authentication_failure", attacker, 2))
	p.waitEvents(t, 9)

	// SIGKILL in the middle of the window: 7 of the 11 failures seen.
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.wait(t)
	if n := len(parseAlerts(t, p.stdout.String())); n != 0 {
		t.Fatalf("first process wrote %d alerts before the burst completed", n)
	}

	// Lines written while the daemon is down are read after the restart.
	w.appendTo(logPath, w.lines("authentication_failure", attacker, 2))
	p2 := startDaemon(t, cfg)
	// The rule's counters are restored with its windows, so 9 means the
	// two lines written while down were read (and nothing twice: the
	// alert's count checks that).
	waitMatched(t, p2, 9)

	// Copy-truncate in the middle of the burst.
	data, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath+".2", data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(logPath, 0); err != nil {
		t.Fatal(err)
	}
	w.appendTo(logPath, w.lines("authentication_failure", attacker, 3))
	w.appendTo(logPath, w.lines("request", "198.51.100.1", 1))

	eventually(t, "the alert", func() bool { return len(parseAlerts(t, p2.stdout.String())) > 0 })
	waitMatched(t, p2, 12)
	if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p2.wait(t); err != nil {
		t.Fatalf("daemon exit after SIGTERM: %v\n%s", err, p2.stderr)
	}

	live := append(parseAlerts(t, p.stdout.String()), parseAlerts(t, p2.stdout.String())...)
	all := writeFile(t, dir, "all.log", strings.Join(w.all, "\n")+"\n")
	out, errb, code := secwatch(t, "", "replay", "--rules", filepath.Join(dir, "rules.yaml"), "--source", "app", all)
	if code != exitOK {
		t.Fatalf("replay: %s", errb)
	}
	replayed := parseAlerts(t, out)
	if len(replayed) != 1 {
		t.Fatalf("replay of the concatenated log: got %d alerts, want 1", len(replayed))
	}
	if len(live) != 1 {
		t.Fatalf("live: got %d alerts, want exactly 1:\n%+v", len(live), live)
	}
	if fmt.Sprint(live[0]) != fmt.Sprint(replayed[0]) {
		t.Errorf("live alert differs from replay:\nlive   %+v\nreplay %+v", live[0], replayed[0])
	}
	if live[0].Count != 11 {
		t.Errorf("count: got %d, want 11", live[0].Count)
	}
}

// waitMatched waits for the rule's matched counter (restored from the
// checkpoint, so it counts across restarts).
func waitMatched(t *testing.T, p *proc, n int64) {
	t.Helper()
	var last int64
	eventually(t, fmt.Sprintf("%d matched events", n), func() bool {
		last = metric(p.stderr.String(), `secwatch_rule_matched_total{rule="auth-burst"}`)
		return last >= n
	}, p.stderr, &syncBuffer{})
	_ = last
}

// TestOnceTwiceReadsEachLineOnce runs --once twice over a growing file.
func TestOnceTwiceReadsEachLineOnce(t *testing.T) {
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	cfg := daemonConfig(t, dir, `  - {name: app, type: file, format: json, paths: [app.log], start: beginning}`)
	w := &logWriter{t: t, clock: time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)}
	const attacker = "203.0.113.7"

	w.appendTo(logPath, w.lines("authentication_failure", attacker, 6))
	out1, errb, code := secwatch(t, "", "run", "--once", "--config", cfg)
	if code != exitOK {
		t.Fatalf("first --once: code %d\n%s", code, errb)
	}
	if n := len(parseAlerts(t, out1)); n != 0 {
		t.Fatalf("first --once: %d alerts from 6 failures", n)
	}
	w.appendTo(logPath, w.lines("authentication_failure", attacker, 5))
	out2, errb, code := secwatch(t, "", "run", "--once", "--config", cfg)
	if code != exitOK {
		t.Fatalf("second --once: code %d\n%s", code, errb)
	}
	// Had the second run read the first six lines again, the 11th failure
	// would have been counted at the fifth line and the count would differ.
	got := parseAlerts(t, out2)
	all := writeFile(t, dir, "all.log", strings.Join(w.all, "\n")+"\n")
	out, _, _ := secwatch(t, "", "replay", "--rules", filepath.Join(dir, "rules.yaml"), "--source", "app", all)
	want := parseAlerts(t, out)
	if len(got) != 1 || len(want) != 1 || fmt.Sprint(got[0]) != fmt.Sprint(want[0]) {
		t.Fatalf("second --once alerts:\n%+v\nwant (replay):\n%+v", got, want)
	}
	out3, _, code := secwatch(t, "", "run", "--once", "--config", cfg)
	if code != exitOK || strings.TrimSpace(out3) != "" {
		t.Fatalf("third --once with nothing new: code %d, stdout %q", code, out3)
	}
}

// TestLiveEqualsReplayOnBundledLogs feeds a bundled recorded log to the
// daemon in chunks, as a server would write it, and compares the alerts
// with replay's.
func TestLiveEqualsReplayOnBundledLogs(t *testing.T) {
	for _, b := range bundled {
		t.Run(b.name, func(t *testing.T) {
			src, err := os.ReadFile("../../testdata/logs/" + b.log)
			if err != nil {
				t.Fatal(err)
			}
			rulesPath, err := filepath.Abs("../../rules/" + b.rules)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			logPath := filepath.Join(dir, "live.log")
			cfg := writeFile(t, dir, "secwatch.yaml", fmt.Sprintf(`state_dir: state
rules: [%q]
engine: {tick: 100ms}
sources:
  - {name: replay, type: file, format: %s, paths: [live.log], start: beginning, poll_interval: 10ms}
alerts: {stdout: {enabled: true, format: json}}
http: {listen: "127.0.0.1:0"}
log: {level: info, format: json}
`, rulesPath, b.format))
			ctx, cancel := context.WithCancel(context.Background())
			stdout, stderr := &syncBuffer{}, &syncBuffer{}
			done := make(chan int, 1)
			go func() { done <- run(ctx, []string{"run", "--config", cfg}, strings.NewReader(""), stdout, stderr) }()

			want, errb, code := secwatch(t, "", "replay", "--rules", rulesPath, "--format", b.format, "--source", "replay", "../../testdata/logs/"+b.log)
			if code != exitOK {
				t.Fatalf("replay: %s", errb)
			}
			// Append in chunks of about 50 lines.
			lines := strings.SplitAfter(string(src), "\n")
			f, err := os.Create(logPath)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(lines); i += 50 {
				if _, err := io.WriteString(f, strings.Join(lines[i:min(i+50, len(lines))], "")); err != nil {
					t.Fatal(err)
				}
			}
			f.Close()
			wantDocs := parseAlerts(t, want)
			events := regexp.MustCompile(`events (\d+) `).FindStringSubmatch(errb)
			if events == nil {
				t.Fatalf("no event count in the replay summary: %s", errb)
			}
			eventually(t, "every event observed and its alerts delivered", func() bool {
				return fmt.Sprint(metric(stderr.String(), "secwatch_engine_events_total")) == events[1] &&
					metric(stderr.String(), "secwatch_outbox_depth") == 0
			})
			cancel()
			if code := <-done; code != exitOK {
				t.Fatalf("run exit %d: %s", code, stderr)
			}
			got := parseAlerts(t, stdout.String())
			if fmt.Sprint(got) != fmt.Sprint(wantDocs) {
				t.Errorf("live alerts differ from replay:\nlive   %+v\nreplay %+v", got, wantDocs)
			}
		})
	}
}
