package alerting

import (
	"context"
	"time"
)

// amBatch bounds how many alerts one re-post carries.
const amBatch = 100

// Run re-posts the active alerts every RepostInterval until ctx is
// cancelled, then returns nil. It is not outbox delivery: Notify has
// already delivered each alert once; a failed re-post is logged (when
// failures start and end) and tried again at the next interval. Before
// each round it adds what Store holds (an earlier run's alerts, another
// replica's), re-posting those at once at start; without a Store the
// alerts are lost with the process, and Alertmanager resolves them at
// their last endsAt. Run one Run per Alertmanager.
func (a *Alertmanager) Run(ctx context.Context) error {
	fails := newFailureLog(a.Log, "notifier", "alertmanager re-post failing", "alertmanager re-post still failing", "alertmanager re-post recovered")
	loadFails := newFailureLog(a.Log, "notifier", "alertmanager active alerts unreadable", "alertmanager active alerts still unreadable", "alertmanager active alerts readable again")
	t := time.NewTicker(a.interval())
	defer t.Stop()
	for first := true; ; first = false {
		if !first {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
		now := time.Now()
		if err := a.load(now); err != nil {
			loadFails.fail(a.Name(), errorText(err), now)
		} else {
			loadFails.ok(a.Name(), now)
		}
		due := a.due(now)
		for len(due) > 0 {
			n := min(len(due), amBatch)
			actx, cancel := context.WithTimeout(ctx, a.interval())
			err := a.post(actx, due[:n], now)
			cancel()
			if err != nil {
				fails.fail(a.Name(), errorText(err), now)
				break
			}
			fails.ok(a.Name(), now)
			due = due[n:]
		}
	}
}

// due drops the alerts whose active period has ended (their last post
// carried endsAt = until) and returns the others.
func (a *Alertmanager) due(now time.Time) []*amActive {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*amActive
	for id, act := range a.active {
		if !now.Before(act.until) {
			delete(a.active, id)
			if a.Store != nil {
				a.Store.Remove(id) // a failure leaves a record load skips
			}
			continue
		}
		out = append(out, act)
	}
	return out
}

// Active returns how many alerts Run is keeping alive.
func (a *Alertmanager) Active() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.active)
}
