package rules_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/secwatch/secwatch/internal/alarms/pattern"
)

// TestMCPAlarmPatterns checks every alarmed rule of the packs on the mcp
// log group as CloudWatch holds it: for each copy of each security event
// (the security stream's envelope of the console line, the application
// stream's envelopes of the security logger's copy and of "Security event
// logged", the ECS stream's bare console line), the rule's filter pattern
// matches exactly when the rule does, and each rule counts its own event
// once. plan --verify does the same on the recorded log.
func TestMCPAlarmPatterns(t *testing.T) {
	const corr = "3f2b9c1e-8d4a-4c6b-9e2f-7a1d5c3b9e04"
	events := []struct{ typ, sev, text string }{
		{"authentication_failure", "MEDIUM", "Invalid API key (hash: afce3389)"},
		{"cors_violation", "MEDIUM", "Request from non-allowed origin: https://evil.example.net"},
		{"request_sanitization_failure", "HIGH", "Request sanitization failed: Dangerous header not allowed: x-forwarded-host"},
		{"injection_attempt", "HIGH", "Injection attempt detected in tool 'check_tag_compliance', field 'tags'"},
		{"validation_bypass_attempt", "HIGH", "Validation bypass attempt detected for tool 'suggest_tags'"},
		{"rate_limit_exceeded", "HIGH", "Session exceeded unknown tool attempt limit: 11/10"},
		{"unknown_tool_attempt", "MEDIUM", "Attempt to invoke unknown tool: admin_shell"},
	}
	envelope := func(line, logger string) string {
		return fmt.Sprintf(`{"message": %q, "level": "WARNING", "logger": %q, "timestamp": 1769628836.831, "correlation_id": %q}`, line, logger, corr)
	}
	type copyLine struct{ what, line, stream string }
	var lines []copyLine
	for _, e := range events {
		msg := "SECURITY EVENT [" + e.sev + "]: " + e.typ + " - " + e.text
		console := "2026-01-28 19:33:56,831 - SECURITY - WARNING - " + msg
		lines = append(lines,
			copyLine{e.typ + ": security stream envelope", envelope(console, "security"), "security"},
			copyLine{e.typ + ": security logger's copy", envelope("2026-01-28 19:33:56,831 - security - WARNING - ["+corr+"] - "+msg, "security"), "application"},
			copyLine{e.typ + ": Security event logged", envelope("2026-01-28 19:33:56,831 - mcp_server.services.security_service - WARNING - ["+corr+"] - Security event logged: "+e.typ+" (medium)", "mcp_server.services.security_service"), "application"},
			copyLine{e.typ + ": ECS copy", console, "mcp-server/mcp-server/6f1d0c2b9a8e4f3d"},
		)
	}
	all := loadPacks(t)
	alarmed := 0
	for _, id := range sortedIDs(all) {
		r := all[id]
		if r.Alarm == nil || !strings.HasPrefix(id, "mcp-") {
			continue
		}
		alarmed++
		p, err := pattern.Parse(r.Alarm.FilterPattern)
		if err != nil {
			t.Fatalf("rule %q: %v", id, err)
		}
		counted := 0
		for _, l := range lines {
			ev := parseMCP(t, l.line)
			ev.Add("@log_stream", l.stream)
			rm, pm := r.Match.Eval(ev), p.Match([]byte(l.line))
			if rm != pm {
				t.Errorf("rule %q, %s: rule matches %v, filter pattern %v", id, l.what, rm, pm)
			}
			if pm {
				counted++
			}
		}
		want := 1
		if id == "mcp-injection-attempt" {
			want = 2 // injection and validation bypass
		}
		if counted != want {
			t.Errorf("rule %q: the filter pattern counts %d lines of %d events, want %d", id, counted, len(events), want)
		}
	}
	if alarmed < 5 {
		t.Errorf("%d alarmed mcp rules, want at least 5 (23.2 and the other aggregate signals)", alarmed)
	}
}
