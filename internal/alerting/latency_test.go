package alerting

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// DeliveryLatency sees, per notifier, the time from the alert entering the
// outbox to that notifier's confirmation: a slow notifier's answer time,
// and for a retried one the failed round and its backoff too.
func TestDeliveryLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fast := &fake{name: "fast"}
		slow := &fake{name: "slow", behave: func(context.Context, int, *Document) error {
			time.Sleep(3 * time.Second)
			return nil
		}}
		flaky := &fake{name: "flaky", behave: func(_ context.Context, call int, _ *Document) error {
			if call == 1 {
				return errors.New("503")
			}
			return nil
		}}
		r := newRig(t, fast, slow, flaky)
		var mu sync.Mutex
		got := map[string][]time.Duration{}
		r.d.Metrics = &Metrics{DeliveryLatency: func(notifier string, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			got[notifier] = append(got[notifier], d)
		}}
		r.d.InitialBackoff = time.Second
		r.start()
		defer r.stop()
		// The alert waits a minute in the outbox before the dispatcher
		// is told: that wait is part of its latency.
		mustPut(t, r.ob, testDoc(1), time.Now())
		time.Sleep(time.Minute)
		r.d.Wake()
		time.Sleep(time.Hour)
		synctest.Wait()

		mu.Lock()
		defer mu.Unlock()
		// slow answers after 3s; flaky fails at once, the round ends with
		// slow's answer, and flaky's retry comes one backoff (1s) later.
		want := map[string][]time.Duration{
			"fast":  {time.Minute},
			"slow":  {time.Minute + 3*time.Second},
			"flaky": {time.Minute + 4*time.Second},
		}
		if !maps.EqualFunc(got, want, func(a, b []time.Duration) bool { return slices.Equal(a, b) }) {
			t.Errorf("latencies: got %v, want %v", got, want)
		}
	})
}
