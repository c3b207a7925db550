package daemon

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/config"
)

// TestHeartbeatWithheldWhileSourceDown: a polling source that has not
// completed a read within down_after stops the heartbeat, makes
// secwatch_source_up 0 and /healthz unhealthy with its problem; its next
// completed read brings all three back.
func TestHeartbeatWithheldWhileSourceDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &syncBuffer{}
		m := newMetrics()
		sm := m.source("cw")
		sm.up.Store(true)
		sm.track(90*time.Second, time.Now())
		fake := &fakeCloudWatch{}
		cfg := heartbeatConfig()
		cfg.Lag.Enabled = false
		h := &cloudWatchHeartbeat{client: fake, cfg: cfg, m: m, log: zerolog.New(logs)}
		ctx, cancel := context.WithCancel(t.Context())
		go func() {
			for ctx.Err() == nil {
				m.engine.beat(time.Now())
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}()
		done := make(chan struct{})
		go func() { h.run(ctx); close(done) }()

		time.Sleep(time.Minute + time.Second) // 0 and 1m: within down_after
		synctest.Wait()
		if got, want := fake.beats(), 2; got != want {
			t.Fatalf("within down_after: got %d heartbeats, want %d", got, want)
		}
		time.Sleep(2 * time.Minute) // 2m, 3m: no read completed for more than 90s
		synctest.Wait()
		if got, want := fake.beats(), 2; got != want {
			t.Errorf("source down: got %d heartbeats, want still %d", got, want)
		}
		fake.mu.Lock()
		last := values(fake.calls[len(fake.calls)-1])
		fake.mu.Unlock()
		if _, beat := last["Heartbeat"]; beat || last["SourcesDown"] != 1 {
			t.Errorf("while down: published %v, want SourcesDown 1 and no Heartbeat", last)
		}
		if n := strings.Count(logs.String(), "sources down; heartbeat withheld"); n != 1 {
			t.Errorf("withheld logged %d times, want once:\n%s", n, logs.String())
		}
		var expo strings.Builder
		m.write(&expo)
		if !strings.Contains(expo.String(), `secwatch_source_up{source="cw"} 0`+"\n") {
			t.Errorf("secwatch_source_up is not 0 while down:\n%s", expo.String())
		}
		if ok, why := m.healthy(time.Now(), time.Minute); ok || !strings.Contains(why, "cw") {
			t.Errorf("healthy = %v, %q; want unhealthy naming cw", ok, why)
		}

		sm.stats.LastRead.Store(time.Now().UnixNano()) // access restored
		time.Sleep(time.Minute)
		synctest.Wait()
		if got, want := fake.beats(), 3; got != want {
			t.Errorf("source back: got %d heartbeats, want %d", got, want)
		}
		expo.Reset()
		m.write(&expo)
		if !strings.Contains(expo.String(), `secwatch_source_up{source="cw"} 1`+"\n") {
			t.Errorf("secwatch_source_up is not 1 after a read:\n%s", expo.String())
		}
		cancel()
		<-done
	})
}

// TestIncompleteNamesSources: a polling source without a completed read
// since the run started makes the run incomplete, with its problem; stdin,
// which does not poll, never does.
func TestIncompleteNamesSources(t *testing.T) {
	start := time.Unix(1000, 0)
	cfg := &config.Config{Sources: []config.Source{
		{Name: "logs", Type: config.TypeFile, PollInterval: time.Second},
		{Name: "in", Type: config.TypeStdin},
		{Name: "cw", Type: config.TypeCloudWatch, PollInterval: 5 * time.Second},
	}}
	m := newMetrics()
	m.source("logs").stats.LastRead.Store(start.Add(time.Second).UnixNano())
	m.source("cw").stats.LastRead.Store(start.Add(-time.Second).UnixNano()) // a previous run's
	err := m.incomplete(cfg, start)
	if !errors.Is(err, ErrSourcesIncomplete) || !strings.Contains(err.Error(), "cw") || strings.Contains(err.Error(), "logs") {
		t.Errorf("got %v, want ErrSourcesIncomplete naming cw only", err)
	}
	m.source("cw").stats.LastRead.Store(start.UnixNano())
	if err := m.incomplete(cfg, start); err != nil {
		t.Errorf("every source read: got %v, want nil", err)
	}
}

func TestDownAfterDefault(t *testing.T) {
	for _, tc := range []struct {
		sc   config.Source
		want time.Duration
	}{
		{config.Source{Type: config.TypeFile, PollInterval: 250 * time.Millisecond}, 5 * time.Minute},
		{config.Source{Type: config.TypeCloudWatch, PollInterval: 10 * time.Minute}, 30 * time.Minute},
		{config.Source{Type: config.TypeCloudWatch, PollInterval: 5 * time.Second, DownAfter: time.Minute}, time.Minute},
		{config.Source{Type: config.TypeStdin}, 0},
	} {
		if got := downAfter(tc.sc); got != tc.want {
			t.Errorf("downAfter(%+v) = %s, want %s", tc.sc, got, tc.want)
		}
	}
}
