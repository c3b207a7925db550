package rules

import (
	"fmt"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/event"
)

// benchRule is the replay benchmark's headline rule (bench/rules1.yaml).
const benchRule = `rules:
  - id: mcp-auth-failure-burst
    severity: high
    match:
      event_type: authentication_failure
    group_by: [client_ip]
    window: 5m
    threshold: 10
    cooldown: 15m
`

// benchEvent is the event the json parser makes of one SecurityEvent line
// of the benchmark corpus.
func benchEvent(eventType, ip string) event.Event {
	return event.Event{Time: t0, Fields: []event.Field{
		{Key: "event_type", Value: eventType},
		{Key: "severity", Value: "medium"},
		{Key: "message", Value: "Invalid API key (hash: 1a2b3c4d)"},
		{Key: "client_ip", Value: ip},
		{Key: "details.failure_type", Value: "invalid_key"},
		{Key: "details.client_ip", Value: ip},
		{Key: "details.method", Value: "POST"},
		{Key: "details.path", Value: "/mcp/tools/call"},
		{Key: "details.timestamp", Value: "2026-01-28T19:15:02.117000"},
		{Key: "session_id", Value: "3f2b9c1e-8d7a-4b6c-9e5f-0a1b2c3d4e5f"},
		{Key: "timestamp", Value: "2026-01-28T19:15:02.117000"},
		{Key: "@source", Value: "bench"},
	}}
}

func benchEngine(b *testing.B) *Engine {
	rs, err := Parse("bench.yaml", []byte(benchRule))
	if err != nil {
		b.Fatal(err)
	}
	return NewEngine(rs)
}

// BenchmarkObserve feeds one threshold rule with group_by (the headline
// rule) events whose time moves forward by step each iteration:
//
//   - nomatch: an event the rule does not match (most of the traffic);
//   - match/below-threshold: a matching event of one client, spaced so that
//     its window never holds more than 8 (no samples kept, never fires);
//   - match/cooling-down: one client failing every second, above the
//     threshold all the time: it fires once per cooldown and in between
//     every event is counted while cooling down (samples are kept);
//   - match/50k-clients: matching events rotating over 50,000 client IPs,
//     1 ms apart, like the corpus: group lookup and LRU upkeep, counts low.
//
// The target (issue) is 0 allocs/op on this path.
func BenchmarkObserve(b *testing.B) {
	b.Run("nomatch", func(b *testing.B) {
		e := benchEngine(b)
		ev := benchEvent("request", "203.0.113.7")
		observeLoop(b, e, func(int) *event.Event { return &ev }, time.Millisecond)
	})
	b.Run("match/below-threshold", func(b *testing.B) {
		e := benchEngine(b)
		ev := benchEvent("authentication_failure", "203.0.113.7")
		observeLoop(b, e, func(int) *event.Event { return &ev }, 5*time.Minute/8)
	})
	b.Run("match/cooling-down", func(b *testing.B) {
		e := benchEngine(b)
		ev := benchEvent("authentication_failure", "203.0.113.7")
		observeLoop(b, e, func(int) *event.Event { return &ev }, time.Second)
	})
	b.Run("match/50k-clients", func(b *testing.B) {
		e := benchEngine(b)
		evs := make([]event.Event, 50000)
		for i := range evs {
			evs[i] = benchEvent("authentication_failure", fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&0xff, i&0xff))
		}
		observeLoop(b, e, func(i int) *event.Event { return &evs[i%len(evs)] }, time.Millisecond)
	})
}

func observeLoop(b *testing.B, e *Engine, next func(int) *event.Event, step time.Duration) {
	b.ReportAllocs()
	alerts := 0
	i := 0
	for b.Loop() {
		ev := next(i)
		ev.Time = t0.Add(time.Duration(i) * step)
		alerts += len(e.Observe(ev))
		i++
	}
	b.ReportMetric(float64(alerts)/float64(max(i, 1)), "alerts/op")
}
