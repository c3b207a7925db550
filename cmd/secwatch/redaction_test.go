package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/secwatch/secwatch/internal/testutil"
	"github.com/secwatch/secwatch/internal/testutil/redisserver"
)

// TestRedactionEndToEnd runs the daemon on a log whose lines carry random
// secrets in random secret-bearing fields (testutil.NewSecretField), some
// of them in lines the parser rejects, with rules that fire on every line
// (grouped by a plain field and by a secret field). No secret may appear in
// the alert documents on stdout, in secwatch's own log (at debug level), or
// in /metrics, nor in the state the daemon leaves behind (outbox and
// checkpoints, in the state directory or in a real Redis); replay's output
// is checked the same way. The seed is fixed and printed.
func TestRedactionEndToEnd(t *testing.T) {
	t.Run("dir", func(t *testing.T) { redactionEndToEnd(t, "") })
	t.Run("redis", func(t *testing.T) {
		srv := redisserver.Start(t)
		redactionEndToEnd(t, srv.Addr)
	})
}

// redactionEndToEnd is TestRedactionEndToEnd with the state in the state
// directory (redisAddr "") or in the Redis at redisAddr.
func redactionEndToEnd(t *testing.T, redisAddr string) {
	const seed = 23
	r := rand.New(rand.NewPCG(seed, 3))
	dir := t.TempDir()
	writeFile(t, dir, "rules.yaml", `rules:
  - id: every-failure
    title: Authentication failure
    match: {event_type: authentication_failure}
    group_by: [client_ip]
    window: 1m
    threshold: 0
  - id: by-key
    title: Failures per key
    match: {event_type: authentication_failure}
    group_by: [api_key]
    window: 1m
    threshold: 0
`)
	var lines, secrets []string
	events := 0
	t0 := time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)
	for i := range 200 {
		key := testutil.NewSecret(r)
		fields := map[string]string{
			"timestamp": t0.Add(time.Duration(i) * time.Second).Format(time.RFC3339), "event_type": "authentication_failure",
			"client_ip": fmt.Sprintf("203.0.113.%d", i%250), "api_key": key,
		}
		secrets = append(secrets, key)
		for range 1 + r.IntN(3) {
			f := testutil.NewSecretField(r)
			fields[f.Key] = f.Value
			secrets = append(secrets, f.Secret)
		}
		b, err := json.Marshal(fields)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case i%10 == 3: // cut short: rejected with its position
			b = b[:len(b)*2/3]
		case i%25 == 7: // a secret where the time should be
			s := testutil.NewSecret(r)
			secrets = append(secrets, s)
			b = []byte(strings.Replace(string(b), fields["timestamp"], "Bearer "+s, 1))
		default:
			events++
		}
		lines = append(lines, string(b))
	}
	logPath := writeFile(t, dir, "app.log", strings.Join(lines, "\n")+"\n")
	stateCfg := ""
	if redisAddr != "" {
		stateCfg = "state: {backend: redis, redis: {addr: \"" + redisAddr + "\"}}\n"
	}
	cfg := writeFile(t, dir, "secwatch.yaml", `state_dir: state
`+stateCfg+`rules: [rules.yaml]
engine: {tick: 100ms}
sources:
  - {name: app, type: file, format: json, paths: [app.log], start: beginning, poll_interval: 10ms}
alerts: {stdout: {enabled: true, format: json}}
http: {listen: "127.0.0.1:0"}
log: {level: debug, format: json}
`)
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"run", "--config", cfg}, strings.NewReader(""), stdout, stderr) }()
	eventually(t, "every event observed and delivered", func() bool {
		return metric(stderr.String(), "secwatch_engine_events_total") == int64(events) &&
			metric(stderr.String(), "secwatch_outbox_depth") == 0 && len(parseAlerts(t, stdout.String())) == 2*events
	}, stderr)
	metrics := testutil.Metrics(stderr.String())
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("run exit %d\n%s", code, stderr)
	}
	replayOut, replayErr, _ := secwatch(t, "", "replay", "--rules", filepath.Join(dir, "rules.yaml"), "--output", "json", logPath)
	replayText, _, _ := secwatch(t, "", "replay", "--rules", filepath.Join(dir, "rules.yaml"), "--output", "text", logPath)
	var state string
	if redisAddr != "" {
		state = redisText(t, redisAddr)
	} else {
		state = stateDirText(t, filepath.Join(dir, "state"))
	}
	outputs := map[string]string{
		"alerts on stdout": stdout.String(), "secwatch log": stderr.String(), "/metrics": metrics,
		"replay json": replayOut, "replay text": replayText, "replay summary": replayErr,
		"saved state": state,
	}
	if !strings.Contains(stderr.String(), "line rejected") || metrics == "" {
		t.Fatalf("the test saw no rejected line or no metrics:\n%s", stderr)
	}
	leaks := 0
	for name, out := range outputs {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				leaks++
				i := strings.Index(out, s)
				t.Errorf("seed %d: secret %q in the %s: …%s…", seed, s, name, out[max(0, i-120):min(len(out), i+len(s)+40)])
			}
		}
	}
	// The checkpoint holds the last minute's groups: plain client_ip values
	// beside sealed api_key ones (else the search above proves little).
	if !strings.Contains(state, "hmac-sha256:") || !strings.Contains(state, "203.0.113.") {
		t.Errorf("the saved state holds no sealed group value or no plain one:\n%.2000q", state)
	}
	t.Logf("seed %d: %d lines, %d random secrets, %d alerts, %d bytes of saved state; %d secrets found in alerts, logs, /metrics, saved state or replay output",
		seed, len(lines), len(secrets), len(parseAlerts(t, stdout.String())), len(state), leaks)
}

// stateDirText returns every file under dir, concatenated.
func stateDirText(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		b.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// redisText returns every key and value in the Redis at addr, whatever
// their types, concatenated.
func redisText(t *testing.T, addr string) string {
	t.Helper()
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, k := range keys {
		typ, err := rdb.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		var v any
		switch typ {
		case "string":
			v, err = rdb.Get(ctx, k).Result()
		case "hash":
			v, err = rdb.HGetAll(ctx, k).Result()
		case "list":
			v, err = rdb.LRange(ctx, k, 0, -1).Result()
		case "set":
			v, err = rdb.SMembers(ctx, k).Result()
		case "zset":
			v, err = rdb.ZRangeWithScores(ctx, k, 0, -1).Result()
		case "stream":
			v, err = rdb.XRange(ctx, k, "-", "+").Result()
		default:
			t.Fatalf("redis key %q of type %q: the test cannot read it", k, typ)
		}
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %v\n", k, v)
	}
	return b.String()
}
