package alerting

import (
	"bufio"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/rules"
)

// benchAlerts are alerts like those bench/rules10.yaml raises on the bench
// corpus: mostly authentication-failure bursts with three samples of about
// fifteen fields, and single-sample alerts of the rules without threshold.
func benchAlerts() []rules.Alert {
	burst := &rules.Rule{ID: "mcp-auth-failure-burst", Title: "Repeated authentication failures from one client",
		Severity: "high", Description: "More than 10 failed API-key checks from one client IP within 5 minutes.",
		Labels: map[string]string{"requirement": "23.2"}, Window: 5 * time.Minute, Threshold: 10}
	probe := &rules.Rule{ID: "mcp-forwarded-host-rejected", Title: "Requests rejected for X-Forwarded-Host",
		Severity: "low", Description: "The server rejects X-Forwarded-Host; a client sending it is a misconfigured proxy or a host-header attack.",
		Window: time.Hour}
	loop := &rules.Rule{ID: "mcp-agent-runaway", Title: "Agent loop or exhausted tool budget", Severity: "low", Window: time.Hour}
	t0 := time.Date(2026, 1, 28, 19, 3, 15, 151107000, time.UTC)
	sample := func(i int, msg, failure string) event.Event {
		ts := t0.Add(time.Duration(i) * 317 * time.Millisecond)
		return event.Event{Time: ts, Fields: []event.Field{
			{Key: "@file", Value: "/root/.cache/secwatch-bench/corpus-1000000-50000-6d95962bd938.jsonl"},
			{Key: "@line", Value: strconv.Itoa(1933 + i)}, {Key: "@source", Value: "replay"},
			{Key: "client_ip", Value: "39.92.144.100"}, {Key: "details.client_ip", Value: "39.92.144.100"},
			{Key: "details.failure_type", Value: failure}, {Key: "details.method", Value: "POST"},
			{Key: "details.path", Value: "/mcp/tools/call"},
			{Key: "details.timestamp", Value: ts.Add(-time.Millisecond).Format("2006-01-02T15:04:05.000000")},
			{Key: "event_type", Value: "authentication_failure"}, {Key: "message", Value: msg},
			{Key: "session_id", Value: "90a52513-9e42-427c-b445-5fe07bfa25c7"}, {Key: "severity", Value: "medium"},
			{Key: "timestamp", Value: ts.Format("2006-01-02T15:04:05.000000")},
		}}
	}
	return []rules.Alert{
		{ID: "72bd649902c1115e526aaa4164a538cf", Rule: burst, Count: 11, Time: t0, FirstSeen: t0.Add(-53 * time.Second),
			Group: []event.Field{{Key: "client_ip", Value: "39.92.144.100"}}, Source: "replay",
			Samples: []event.Event{sample(0, "Invalid API key (hash: e2b52c47)", "invalid_key"),
				sample(1, "Invalid API key (hash: e0eb0835)", "invalid_key"), sample(2, "Invalid API key (hash: 20ab32a7)", "invalid_key")}},
		{ID: "9579d27fcc662694e40b404f0b24d82a", Rule: burst, Count: 11, Time: t0, FirstSeen: t0.Add(-4 * time.Second),
			Group: []event.Field{{Key: "client_ip", Value: "100.19.60.5"}}, Source: "replay",
			Samples: []event.Event{sample(3, "No Authorization header provided", "missing_header"),
				sample(4, "Authorization header must use Bearer scheme", "invalid_format"), sample(5, "Invalid API key (hash: 338d88e5)", "invalid_key")}},
		{ID: "5c6347ab9e962f2a9fc9fc8d7f920e7c", Rule: probe, Count: 1, Time: t0, FirstSeen: t0,
			Group: []event.Field{{Key: "client_ip", Value: "118.151.31.166"}}, Source: "replay",
			Samples: []event.Event{{Time: t0, Fields: []event.Field{
				{Key: "@file", Value: "/root/.cache/secwatch-bench/corpus-1000000-50000-6d95962bd938.jsonl"},
				{Key: "@line", Value: "103"}, {Key: "@source", Value: "replay"}, {Key: "client_ip", Value: "118.151.31.166"},
				{Key: "details.client_host", Value: "118.151.31.166"}, {Key: "details.error", Value: "Dangerous header not allowed: x-forwarded-host"},
				{Key: "details.method", Value: "POST"}, {Key: "details.path", Value: "/mcp"},
				{Key: "event_type", Value: "request_sanitization_failure"},
				{Key: "message", Value: "Request sanitization failed: Dangerous header not allowed: x-forwarded-host"},
				{Key: "session_id", Value: "ceb4befb-6c3b-4593-9ce0-045e8137a15e"}, {Key: "severity", Value: "high"},
				{Key: "timestamp", Value: "2026-01-28T19:00:24.601570"}}}}},
		{ID: "774e074e60d2ffb5c86dc3597eccee04", Rule: loop, Count: 1, Time: t0, FirstSeen: t0,
			Group: []event.Field{{Key: "session_id", Value: "fd400642-b8f8-4d61-be63-938c40f6a45a"}}, Source: "replay",
			Samples: []event.Event{{Time: t0, Fields: []event.Field{
				{Key: "@file", Value: "/root/.cache/secwatch-bench/corpus-1000000-50000-6d95962bd938.jsonl"},
				{Key: "@line", Value: "924"}, {Key: "@source", Value: "replay"}, {Key: "client_ip", Value: "208.210.223.141"},
				{Key: "details.call_count", Value: "4"}, {Key: "details.call_signature", Value: "ac5f211499be48f3"},
				{Key: "details.correlation_id", Value: "fd400642-b8f8-4d61-be63-938c40f6a45a"}, {Key: "details.max_calls", Value: "3"},
				{Key: "event_type", Value: "loop_detected"},
				{Key: "message", Value: "Loop detected: Tool 'get_tagging_policy' called 4 times with identical parameters (max: 3)"},
				{Key: "session_id", Value: "fd400642-b8f8-4d61-be63-938c40f6a45a"}, {Key: "severity", Value: "low"},
				{Key: "timestamp", Value: "2026-01-28T19:01:49.330069"}, {Key: "tool_name", Value: "get_tagging_policy"}}}}},
	}
}

// BenchmarkWriteJSON renders bench-like alerts as replay does (one op:
// every alert of benchAlerts once, to a buffered writer).
func BenchmarkWriteJSON(b *testing.B) {
	as := benchAlerts()
	w := bufio.NewWriter(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		for i := range as {
			if err := WriteJSON(w, &as[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
