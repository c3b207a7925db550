package redisstore

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/testutil/redisserver"
)

// BenchmarkAlertLifecycle is one alert's whole way through an outbox: Put,
// then an ack from each of two notifiers (the second removes the entry and
// records the id as delivered). Against a real redis-server on loopback,
// and against the directory outbox, which fsyncs each step.
//
//	go test -run '^$' -bench AlertLifecycle -benchtime 2000x ./internal/redisstore/
func BenchmarkAlertLifecycle(b *testing.B) {
	notifiers := []string{"stdout", "sns"}
	run := func(b *testing.B, q interface {
		alerting.Queue
		Put(doc alerting.Document, now time.Time) (bool, error)
	}) {
		now := time.Now()
		for i := range b.N {
			id := "a" + strconv.Itoa(i)
			if ok, err := q.Put(doc(id), now); !ok || err != nil {
				b.Fatalf("Put: %v, %v", ok, err)
			}
			for _, n := range notifiers {
				if _, err := q.Ack(id, n, now); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
	}
	b.Run("dir", func(b *testing.B) {
		o, err := alerting.OpenOutbox(b.TempDir(), notifiers)
		if err != nil {
			b.Fatal(err)
		}
		defer o.Close()
		run(b, o)
	})
	b.Run("redis", func(b *testing.B) {
		srv := redisserver.Start(b)
		s, err := Open(Options{Addr: srv.Addr, Replica: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		o, err := OpenOutbox(context.Background(), s, notifiers)
		if err != nil {
			b.Fatal(err)
		}
		run(b, o)
	})
}
