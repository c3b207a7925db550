package daemon

import (
	"context"
	"fmt"
	"github.com/secwatch/secwatch/internal/alerting"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/redisstore"
	"github.com/secwatch/secwatch/internal/testutil/redisserver"
)

// The Redis outbox's claimer runs the claims after PutLater returned; a
// checkpoint saved after the alerts must not be in Redis before their
// claims are, or a replacement resuming from it would not fire them again.
// With 200 alerts queued just before, a saveCheckpoint that did not wait
// for the claimer would store the checkpoint before the last claims.
func TestRedisCheckpointWaitsForClaimer(t *testing.T) {
	srv := redisserver.Start(t)
	s, err := redisstore.Open(redisstore.Options{Addr: srv.Addr, KeyPrefix: "t:", Replica: "a", Scope: "s"})
	if err != nil {
		t.Fatal(err)
	}
	b := &redisBackend{s: s, log: zerolog.Nop()}
	defer b.close()
	const n = 200
	q := queueThenCheckpoint(t, b, n)
	defer q.Close()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	if got, err := rdb.HLen(context.Background(), "t:owner").Result(); err != nil || got != n {
		t.Errorf("alerts claimed in redis when the checkpoint was saved: got %d, %v, want %d", got, err, n)
	}
	// The claimer decides what is a duplicate; the metrics read its counts.
	q.PutLater(alerting.Document{AlertID: fmt.Sprintf("%032x", 0), Rule: "r"}, time.Now())
	if err := b.saveCheckpoint(&checkpoint{Seq: 2, Saved: time.Now()}); err != nil {
		t.Fatal(err)
	}
	m := newMetrics()
	m.outbox = q
	if alerts, dups := m.alertCounts(); alerts != n || dups != 1 {
		t.Errorf("alert metrics: got %d alerts, %d duplicates, want %d and 1", alerts, dups, n)
	}
}
