package daemon

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/ingest"
	"github.com/secwatch/secwatch/internal/probe"
	"github.com/secwatch/secwatch/internal/probe/probetest"
)

// TestProbeSourceInterval runs a probe source in a synctest bubble: one
// round at once, the next every interval, each round one event per check
// stamped with the time it ran; in once mode one round and Run returns.
// The target's URL is invalid, so the checks fail without any I/O.
func TestProbeSourceInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		src := &probeSource{
			name: ProbeSourceName("p"), target: probe.Target{Name: "p", URL: "http://not-https.example"},
			interval: 5 * time.Minute, stats: new(ingest.SourceStats), last: map[string]probe.Status{}, log: zerolog.Nop(),
		}
		out := make(chan ingest.Record, 100)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- src.Run(ctx, out) }()
		synctest.Wait()
		if got, want := len(out), len(probe.Checks); got != want {
			t.Fatalf("first round: %d records, want %d", got, want)
		}
		time.Sleep(5*time.Minute - time.Nanosecond)
		synctest.Wait()
		if got, want := len(out), len(probe.Checks); got != want {
			t.Fatalf("before the interval: %d records, want %d", got, want)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if got, want := len(out), 2*len(probe.Checks); got != want {
			t.Fatalf("after the interval: %d records, want %d", got, want)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		close(out)
		i := 0
		for rec := range out {
			want := start
			if i >= len(probe.Checks) {
				want = start.Add(5 * time.Minute)
			}
			if !rec.Event.Time.Equal(want) {
				t.Errorf("record %d: time %v, want %v", i, rec.Event.Time, want)
			}
			if v, _ := rec.Event.Get("@source"); v != "probe:p" || rec.Source != "probe:p" {
				t.Errorf("record %d: @source %q, Source %q, want probe:p", i, v, rec.Source)
			}
			if v, _ := rec.Event.Get("ok"); v != "false" {
				t.Errorf("record %d: ok = %q, want false (invalid target)", i, v)
			}
			i++
		}
		if got := src.stats.Events.Load(); got != int64(2*len(probe.Checks)) {
			t.Errorf("stats.Events = %d, want %d", got, 2*len(probe.Checks))
		}

		// Once: one round, then Run returns by itself.
		src.once = true
		out = make(chan ingest.Record, 100)
		if err := src.Run(context.Background(), out); err != nil {
			t.Fatal(err)
		}
		if got, want := len(out), len(probe.Checks); got != want {
			t.Errorf("once: %d records, want %d", got, want)
		}
	})
}

func TestProbeTarget(t *testing.T) {
	pc := config.Probe{Name: "p", URL: "https://x.example/mcp", APIKeyEnv: "K", DisallowedOriginPost: "warn", CABundle: "/nonexistent/ca.pem"}
	env := func(k string) (string, bool) {
		if k == "K" {
			return "the-key", true
		}
		return "", false
	}
	if _, err := ProbeTarget(pc, env); err == nil {
		t.Error("missing CA bundle: no error")
	}
	pc.CABundle = ""
	tg, err := ProbeTarget(pc, env)
	if err != nil {
		t.Fatal(err)
	}
	if tg.APIKey != "the-key" || tg.OriginPost != probe.Warn {
		t.Errorf("got key set %v, origin post %v", tg.APIKey == "the-key", tg.OriginPost)
	}
}

// TestProbeKeyFileRotation: the key file is re-read before every round, so
// a rotated key is used from the next round on without a restart; an
// unreadable file leaves the round without a key (valid key untested) and
// is logged once, without the key.
func TestProbeKeyFileRotation(t *testing.T) {
	s := probetest.Start(t, probetest.None)
	path := filepath.Join(t.TempDir(), "key")
	var logBuf bytes.Buffer
	src := &probeSource{
		name: ProbeSourceName("p"), once: true, stats: new(ingest.SourceStats), last: map[string]probe.Status{},
		log: zerolog.New(&logBuf), keyFile: path,
		target: probe.Target{Name: "p", URL: s.URL, RootCAs: s.RootCAs, Checks: []string{probe.CheckAuth}, Timeout: 5 * time.Second},
	}
	round := func() string {
		t.Helper()
		out := make(chan ingest.Record, 10)
		if err := src.Run(context.Background(), out); err != nil {
			t.Fatal(err)
		}
		rec := <-out
		st, _ := rec.Event.Get("status")
		codes, _ := rec.Event.Get("findings")
		untested, _ := rec.Event.Get("untested")
		return st + ":" + codes + "/" + untested
	}
	for _, c := range []struct{ key, want string }{
		{"an-old-revoked-key\n", "fail:valid_key_refused/"},
		{probetest.Key + "\n", "pass:/"},       // rotated: no restart
		{"", "untested:/valid_key_not_tested"}, // "": no file
		{"", "untested:/valid_key_not_tested"}, // still none: logged once
		{probetest.Key, "pass:/"},
	} {
		os.Remove(path)
		if c.key != "" {
			if err := os.WriteFile(path, []byte(c.key), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		if got := round(); got != c.want {
			t.Errorf("key file %q: got %q, want %q", c.key, got, c.want)
		}
	}
	log := logBuf.String()
	if n := strings.Count(log, "probe key unreadable"); n != 1 {
		t.Errorf("%d \"probe key unreadable\" lines, want 1:\n%s", n, log)
	}
	if !strings.Contains(log, "probe key readable again") {
		t.Errorf("recovery not logged:\n%s", log)
	}
	if strings.Contains(log, probetest.Key) || strings.Contains(log, "an-old-revoked-key") {
		t.Errorf("the log holds a key:\n%s", log)
	}
}
