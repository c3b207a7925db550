package alerting

import (
	"path/filepath"
	"testing"
)

// BenchmarkOutboxStorm measures the directory outbox alone in an alert
// storm: 5,000 alerts queued with PutLater, committed (Sync), acked by the
// one notifier and committed again, on a fresh outbox per op.
//
//	go test -run '^$' -bench OutboxStorm ./internal/alerting/
func BenchmarkOutboxStorm(b *testing.B) {
	const n = 5000
	docs := make([]Document, n)
	for i := range docs {
		docs[i] = testDoc(i)
	}
	for range b.N {
		b.StopTimer()
		o, err := OpenOutbox(filepath.Join(b.TempDir(), "outbox"), []string{"stdout"})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for _, d := range docs {
			if ok, err := o.PutLater(d, t0); !ok || err != nil {
				b.Fatalf("PutLater = %v, %v", ok, err)
			}
		}
		if err := o.Sync(); err != nil {
			b.Fatal(err)
		}
		for _, d := range docs {
			if _, err := o.Ack(d.AlertID, "stdout", t0); err != nil {
				b.Fatal(err)
			}
		}
		if err := o.Sync(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		o.Close()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "alerts/s")
}
