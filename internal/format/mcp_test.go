package format

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/secwatch/secwatch/internal/event"
)

// Lines are built from the format strings of the MCP server
// (docs/formats.md, "mcp"):
//
//	app:      "%(asctime)s - %(name)s - %(levelname)s - [%(correlation_id)s] - %(message)s"
//	console:  "%(asctime)s - SECURITY - %(levelname)s - %(message)s"
//	envelope: json.dumps({"message", "level", "logger", "timestamp", "correlation_id"})
//	security: f"SECURITY EVENT [{severity.upper()}]: {event_type} - {message}"
const (
	asc     = "2026-01-28 19:15:02,117"
	ascTime = "2026-01-28T19:15:02.117Z"
	corrID  = "3f2b9c1e-8d7a-4b6c-9e5f-0a1b2c3d4e5f"
	authLog = "mcp_server.middleware.auth_middleware"
)

func appLine(logger, level, corr, msg string) string {
	return asc + " - " + logger + " - " + level + " - [" + corr + "] - " + msg
}

func consoleLine(level, msg string) string {
	return asc + " - SECURITY - " + level + " - " + msg
}

func secMsg(sev, typ, text string) string {
	return "SECURITY EVENT [" + sev + "]: " + typ + " - " + text
}

// pyJSON encodes s as Python's json.dumps does (ensure_ascii=True).
func pyJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || (r > 0x7e && r < 0x10000):
			fmt.Fprintf(&b, `\u%04x`, r)
		case r >= 0x10000:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// envelope builds the CloudWatch handler's JSON; corr "" leaves the key out.
func envelope(msg, level, logger, timestamp, corr string) string {
	s := `{"message": ` + pyJSON(msg) + `, "level": "` + level + `", "logger": "` + logger + `", "timestamp": ` + timestamp
	if corr != "" {
		s += `, "correlation_id": ` + pyJSON(corr)
	}
	return s + "}"
}

type mcpCase struct {
	name     string
	line     string
	fallback time.Time
	want     []event.Field
	wantTime string // RFC 3339; "" means ascTime
}

var fallbackTime = mustTime("2026-01-28T19:20:00Z")

// console wraps fields expected of a console security line.
func console(level, msg string, rest ...string) []event.Field {
	return append(kv("shape", "console", "logger", "SECURITY", "level", level, "message", msg), kv(rest...)...)
}

func TestParseMCPSecurityEvents(t *testing.T) {
	sec := func(name, sev, typ, text string, extra ...string) mcpCase {
		m := secMsg(sev, typ, text)
		level := "WARNING"
		if sev == "CRITICAL" {
			level = "CRITICAL"
		}
		want := console(level, m, append([]string{"event_type", typ, "severity", strings.ToLower(sev), "detail", text}, extra...)...)
		return mcpCase{name: name, line: consoleLine(level, m), want: want}
	}
	tests := []mcpCase{
		sec("auth missing header", "MEDIUM", "authentication_failure", "No Authorization header provided", "failure_type", "missing_header"),
		sec("auth invalid format", "MEDIUM", "authentication_failure", "Authorization header must use Bearer scheme", "failure_type", "invalid_format"),
		sec("auth empty token", "MEDIUM", "authentication_failure", "Bearer token is empty", "failure_type", "empty_token"),
		sec("auth invalid key", "MEDIUM", "authentication_failure", "Invalid API key (hash: 1a2b3c4d)", "failure_type", "invalid_key", "key_hash", "1a2b3c4d"),
		sec("auth invalid key, malformed hash", "MEDIUM", "authentication_failure", "Invalid API key (hash: zz2b3c4d)", "failure_type", "invalid_key"),
		sec("auth unknown text", "MEDIUM", "authentication_failure", "Something new"),
		sec("cors", "MEDIUM", "cors_violation", "Request from non-allowed origin: https://evil.example", "origin", "https://evil.example"),
		sec("cors origin with separators", "MEDIUM", "cors_violation", "Request from non-allowed origin: null - x] - y", "origin", "null - x] - y"),
		sec("sanitization", "HIGH", "request_sanitization_failure", "Request sanitization failed: Dangerous header not allowed: x-forwarded-host",
			"reason", "Dangerous header not allowed: x-forwarded-host"),
		sec("sanitization too many headers", "HIGH", "request_sanitization_failure", "Request sanitization failed: Too many headers: 51 (max: 50)",
			"reason", "Too many headers: 51 (max: 50)"),
		sec("unknown tool", "MEDIUM", "unknown_tool_attempt", "Attempt to invoke unknown tool: delete_all_resources", "tool_name", "delete_all_resources"),
		sec("rate limit", "HIGH", "rate_limit_exceeded", "Session exceeded unknown tool attempt limit: 11/10", "count", "11", "max", "10"),
		sec("injection", "HIGH", "injection_attempt", "Injection attempt detected in tool 'check_tag_compliance', field 'resource_types'",
			"tool_name", "check_tag_compliance", "field", "resource_types"),
		sec("injection, quote in field", "HIGH", "injection_attempt", "Injection attempt detected in tool 'suggest_tags', field 'a', field 'b'",
			"tool_name", "suggest_tags", "field", "a', field 'b"),
		sec("validation bypass", "HIGH", "validation_bypass_attempt", "Validation bypass attempt detected for tool 'validate_resource_tags'",
			"tool_name", "validate_resource_tags"),
		sec("critical", "CRITICAL", "injection_attempt", "Injection attempt detected in tool 't', field 'f'", "tool_name", "t", "field", "f"),
		{name: "no detail", line: consoleLine("WARNING", "SECURITY EVENT [LOW]: probe"),
			want: console("WARNING", "SECURITY EVENT [LOW]: probe", "event_type", "probe", "severity", "low")},
		{name: "malformed security message is just a message", line: consoleLine("WARNING", "SECURITY EVENT [MEDIUM: x - y"),
			want: console("WARNING", "SECURITY EVENT [MEDIUM: x - y")},
	}
	runMCP(t, tests)
}

func TestParseMCPAppLines(t *testing.T) {
	app := func(logger, corr, msg string, rest ...string) []event.Field {
		f := kv("shape", "app", "logger", logger, "level", "WARNING")
		if corr != "" {
			f = append(f, kv("correlation_id", corr)...)
		}
		return append(append(f, kv("message", msg)...), kv(rest...)...)
	}
	loopDict := `{'event_type': 'loop_detected', 'timestamp': '2026-01-28T19:15:02.116000', 'session_id': "it's \"x\"", ` +
		`'tool_name': 'check_tag_compliance', 'call_signature': 'a\'b\\c\n\x41\u00e9\U0001F600', 'call_count': 4, 'max_calls': 3, ` +
		`'ratio': -1.5e-3, 'ok': True, 'bad': False, 'correlation_id': None, 'nested': {'k': 'v', 'n': {'m': 1}}, ` +
		`'items': ['a', 'b,}'], 'when': datetime.datetime(2026, 1, 28, 19, 15, 2)}`
	tests := []mcpCase{
		{name: "auth failure log", line: appLine(authLog, "WARNING", corrID, "Authentication failure: invalid_key"),
			want: app(authLog, corrID, "Authentication failure: invalid_key", "event_type", "authentication_failure_log", "failure_type", "invalid_key")},
		{name: "dash correlation id is absent", line: appLine(authLog, "WARNING", "-", "Authentication failure: missing_header"),
			want: app(authLog, "", "Authentication failure: missing_header", "event_type", "authentication_failure_log", "failure_type", "missing_header")},
		{name: "loop detected dict repr", line: appLine("mcp_server.utils.loop_detection", "WARNING", corrID, "Loop detected: "+loopDict),
			want: app("mcp_server.utils.loop_detection", corrID, "Loop detected: "+loopDict,
				"event_type", "loop_detected",
				"timestamp", "2026-01-28T19:15:02.116000",
				"session_id", `it's "x"`,
				"tool_name", "check_tag_compliance",
				"call_signature", "a'b\\c\nAé😀",
				"call_count", "4", "max_calls", "3", "ratio", "-1.5e-3", "ok", "true", "bad", "false",
				"nested.k", "v", "nested.n.m", "1",
				"items", "['a', 'b,}']",
				"when", "datetime.datetime(2026, 1, 28, 19, 15, 2)")},
		{name: "loop detected, broken repr keeps what parsed", line: appLine("l", "WARNING", "-", "Loop detected: {'session_id': 's1', 'x': 'unterminated}"),
			want: app("l", "", "Loop detected: {'session_id': 's1', 'x': 'unterminated}", "event_type", "loop_detected", "session_id", "s1")},
		{name: "budget", line: appLine("mcp_server.middleware.budget_middleware", "WARNING", corrID, "Budget exhausted for session sess-42: 100/100 calls used"),
			want: app("mcp_server.middleware.budget_middleware", corrID, "Budget exhausted for session sess-42: 100/100 calls used",
				"event_type", "budget_exhausted", "session_id", "sess-42", "count", "100", "max", "100")},
		{name: "unknown tool rate limit", line: appLine("mcp_server.mcp_handler", "WARNING", corrID, "Rate limit exceeded for unknown tool attempts: session=sess-42, count=11/10"),
			want: app("mcp_server.mcp_handler", corrID, "Rate limit exceeded for unknown tool attempts: session=sess-42, count=11/10",
				"event_type", "unknown_tool_rate_limit", "session_id", "sess-42", "count", "11", "max", "10")},
		{name: "security event logged noise", line: appLine("mcp_server.services.security_service", "WARNING", corrID, "Security event logged: authentication_failure (medium)"),
			want: app("mcp_server.services.security_service", corrID, "Security event logged: authentication_failure (medium)",
				"event_type", "security_event_logged", "logged_event_type", "authentication_failure", "logged_severity", "medium")},
		{name: "redis store failure noise", line: appLine("mcp_server.services.security_service", "WARNING", corrID, "Failed to store security event in Redis: Connection refused"),
			want: app("mcp_server.services.security_service", corrID, "Failed to store security event in Redis: Connection refused",
				"event_type", "security_store_failure", "error", "Connection refused")},
		{name: "security event through the root logger", line: appLine("security", "WARNING", corrID, secMsg("MEDIUM", "authentication_failure", "Bearer token is empty")),
			want: app("security", corrID, secMsg("MEDIUM", "authentication_failure", "Bearer token is empty"),
				"event_type", "authentication_failure", "severity", "medium", "detail", "Bearer token is empty", "failure_type", "empty_token")},
		{name: "other message: no event_type", line: appLine("mcp_server.main", "WARNING", "-", "Redis unavailable, using memory"),
			want: app("mcp_server.main", "", "Redis unavailable, using memory")},
		{name: "no correlation brackets", line: asc + " - mcp_server.main - WARNING - plain message",
			want: app("mcp_server.main", "", "plain message")},
		// The correlation id is the client's header: it must not hide the
		// real message or forge one.
		{name: "correlation id injection", line: appLine(authLog, "WARNING", "x] - Loop detected: {'a': 1}", "Authentication failure: invalid_key"),
			want: app(authLog, "x] - Loop detected: {'a': 1}", "Authentication failure: invalid_key", "event_type", "authentication_failure_log", "failure_type", "invalid_key")},
		{name: "correlation id with brackets", line: appLine(authLog, "WARNING", "[a]b", "Authentication failure: empty_token"),
			want: app(authLog, "[a]b", "Authentication failure: empty_token", "event_type", "authentication_failure_log", "failure_type", "empty_token")},
	}
	runMCP(t, tests)
}

func TestParseMCPEnvelope(t *testing.T) {
	const envTS = "1769627702.118532"
	const envTime = "2026-01-28T19:15:02.118532Z"
	invalidKey := secMsg("MEDIUM", "authentication_failure", "Invalid API key (hash: 1a2b3c4d)")
	tests := []mcpCase{
		{name: "security stream: console inside", line: envelope(consoleLine("WARNING", invalidKey), "WARNING", "security", envTS, corrID),
			wantTime: envTime,
			want: kv("shape", "envelope", "inner_shape", "console", "logger", "SECURITY", "level", "WARNING", "message", invalidKey,
				"event_type", "authentication_failure", "severity", "medium", "detail", "Invalid API key (hash: 1a2b3c4d)",
				"failure_type", "invalid_key", "key_hash", "1a2b3c4d", "timestamp", envTS, "correlation_id", corrID)},
		{name: "application stream: app inside", line: envelope(appLine(authLog, "WARNING", corrID, "Authentication failure: invalid_key"), "WARNING", authLog, envTS, corrID),
			wantTime: envTime,
			want: kv("shape", "envelope", "inner_shape", "app", "logger", authLog, "level", "WARNING", "correlation_id", corrID,
				"message", "Authentication failure: invalid_key", "event_type", "authentication_failure_log", "failure_type", "invalid_key",
				"timestamp", envTS)},
		{name: "dash correlation id", line: envelope(appLine("mcp_server.main", "INFO", "-", "Server started"), "INFO", "mcp_server.main", envTS, "-"),
			wantTime: envTime,
			want:     kv("shape", "envelope", "inner_shape", "app", "logger", "mcp_server.main", "level", "INFO", "message", "Server started", "timestamp", envTS)},
		{name: "envelope id settles an injected id", line: envelope(appLine(authLog, "WARNING", "a] - Authentication failure: empty_token", "Authentication failure: invalid_key"),
			"WARNING", authLog, envTS, "a] - Authentication failure: empty_token"),
			wantTime: envTime,
			want: kv("shape", "envelope", "inner_shape", "app", "logger", authLog, "level", "WARNING", "correlation_id", "a] - Authentication failure: empty_token",
				"message", "Authentication failure: invalid_key", "event_type", "authentication_failure_log", "failure_type", "invalid_key",
				"timestamp", envTS)},
		{name: "message not a text line", line: envelope("Server started on port 8080", "INFO", "mcp_server.main", envTS, ""),
			wantTime: envTime,
			want:     kv("shape", "envelope", "message", "Server started on port 8080", "level", "INFO", "logger", "mcp_server.main", "timestamp", envTS)},
		{name: "bare security message", line: envelope(invalidKey, "WARNING", "security", envTS, corrID),
			wantTime: envTime,
			want: kv("shape", "envelope", "message", invalidKey, "event_type", "authentication_failure", "severity", "medium",
				"detail", "Invalid API key (hash: 1a2b3c4d)", "failure_type", "invalid_key", "key_hash", "1a2b3c4d",
				"level", "WARNING", "logger", "security", "timestamp", envTS, "correlation_id", corrID)},
		{name: "non-ascii escaped origin", line: envelope(consoleLine("WARNING", secMsg("MEDIUM", "cors_violation", "Request from non-allowed origin: https://é.example/😀")), "WARNING", "security", envTS, corrID),
			wantTime: envTime,
			want: kv("shape", "envelope", "inner_shape", "console", "logger", "SECURITY", "level", "WARNING",
				"message", secMsg("MEDIUM", "cors_violation", "Request from non-allowed origin: https://é.example/😀"),
				"event_type", "cors_violation", "severity", "medium", "detail", "Request from non-allowed origin: https://é.example/😀",
				"origin", "https://é.example/😀", "timestamp", envTS, "correlation_id", corrID)},
		{name: "no envelope timestamp: inner asctime", line: `{"message": ` + pyJSON(consoleLine("WARNING", "hello")) + `, "level": "WARNING"}`,
			want: kv("shape", "envelope", "inner_shape", "console", "logger", "SECURITY", "level", "WARNING", "message", "hello")},
		{name: "neither time: fallback", line: `{"message": "hello", "level": "INFO"}`, fallback: fallbackTime,
			wantTime: "2026-01-28T19:20:00Z",
			want:     kv("shape", "envelope", "message", "hello", "level", "INFO")},
		{name: "structured security event", fallback: fallbackTime,
			line: `{"event_type": "authentication_failure", "severity": "MEDIUM", "message": "Invalid API key (hash: 1a2b3c4d)", ` +
				`"client_ip": "10.0.1.57", "details": {"failure_type": "invalid_key", "client_ip": "10.0.1.57", "method": "POST", ` +
				`"path": "/mcp/tools/call", "timestamp": "2026-01-28T19:15:02.117000", "origin": null}, "session_id": null, ` +
				`"tool_name": null, "timestamp": "2026-01-28T19:15:02.117000"}`,
			want: kv("shape", "structured", "event_type", "authentication_failure", "severity", "medium", "message", "Invalid API key (hash: 1a2b3c4d)",
				"client_ip", "10.0.1.57", "details.failure_type", "invalid_key", "details.client_ip", "10.0.1.57", "details.method", "POST",
				"details.path", "/mcp/tools/call", "details.timestamp", "2026-01-28T19:15:02.117000", "timestamp", "2026-01-28T19:15:02.117000")},
		{name: "other json", line: `{"ts_unused": 1, "timestamp": "2026-01-28T19:15:02.117Z", "a": {"b": [1]}}`,
			want: kv("shape", "json", "ts_unused", "1", "timestamp", "2026-01-28T19:15:02.117Z", "a.b", "[1]")},
	}
	runMCP(t, tests)
}

func TestParseMCPAccessAndUnparsed(t *testing.T) {
	access := func(rest ...string) []event.Field {
		return append(kv("shape", "access", "level", "INFO"), kv(rest...)...)
	}
	unparsed := func(line string) []event.Field {
		return kv("shape", "unparsed", "event_type", "unparsed", "message", line)
	}
	tests := []mcpCase{
		{name: "access 401", fallback: fallbackTime, wantTime: "2026-01-28T19:20:00Z",
			line: `INFO:     10.0.1.57:43122 - "POST /mcp/tools/call HTTP/1.1" 401 Unauthorized`,
			want: access("client_ip", "10.0.1.57", "client_port", "43122", "method", "POST", "path", "/mcp/tools/call",
				"http_version", "1.1", "status", "401", "status_text", "Unauthorized")},
		{name: "access ipv6, query, two-word status", fallback: fallbackTime, wantTime: "2026-01-28T19:20:00Z",
			line: `INFO:     2001:db8::7:51000 - "GET /missing?x=1&y=%22 HTTP/1.1" 404 Not Found`,
			want: access("client_ip", "2001:db8::7", "client_port", "51000", "method", "GET", "path", "/missing?x=1&y=%22",
				"http_version", "1.1", "status", "404", "status_text", "Not Found")},
		{name: "access path with space and quote", fallback: fallbackTime, wantTime: "2026-01-28T19:20:00Z",
			line: `INFO:     10.0.1.57:43122 - "GET /a b"c HTTP/1.1" 200 OK`,
			want: access("client_ip", "10.0.1.57", "client_port", "43122", "method", "GET", "path", `/a b"c`,
				"http_version", "1.1", "status", "200", "status_text", "OK")},
		{name: "uvicorn startup line", fallback: fallbackTime, wantTime: "2026-01-28T19:20:00Z",
			line: `INFO:     Started server process [1]`, want: unparsed(`INFO:     Started server process [1]`)},
		{name: "asctime then garbage keeps the time",
			line: asc + " something else", want: unparsed(asc + " something else")},
		{name: "traceback", fallback: fallbackTime, wantTime: "2026-01-28T19:20:00Z",
			line: `Traceback (most recent call last):`, want: unparsed(`Traceback (most recent call last):`)},
		{name: "broken json", fallback: fallbackTime, wantTime: "2026-01-28T19:20:00Z",
			line: `{"message": "x", `, want: unparsed(`{"message": "x",`)},
		{name: "lower-case level is not an app line",
			line: asc + " - x - warning - [c] - m", want: unparsed(asc + " - x - warning - [c] - m")},
	}
	runMCP(t, tests)
}

func runMCP(t *testing.T, tests []mcpCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := parseLine(mustParser(t, "mcp", Options{}), tt.line, tt.fallback)
			if err != nil {
				t.Fatalf("Parse(%s): %v", tt.line, err)
			}
			if d := fieldsDiff(ev.Fields, tt.want); d != "" {
				t.Errorf("Parse(%s): fields differ:%s", tt.line, d)
			}
			want := tt.wantTime
			if want == "" {
				want = ascTime
			}
			if got := event.FormatTime(ev.Time); got != want {
				t.Errorf("time = %s, want %s", got, want)
			}
		})
	}
}

// Access lines carry no time: they take the previous line's, and a parser
// that has seen no time yet fails rather than invent one.
func TestParseMCPTimeSequence(t *testing.T) {
	p := mustParser(t, "mcp", Options{})
	access := `INFO:     10.0.1.57:43122 - "POST /mcp HTTP/1.1" 401 Unauthorized`
	steps := []struct {
		line string
		want string
	}{
		{access, "error: no timestamp"},
		{"no time at all", "error: no timestamp"},
		{consoleLine("WARNING", "x"), ascTime},
		{access, ascTime},
		{envelope("hello", "INFO", "x", "1769627800.5", ""), "2026-01-28T19:16:40.5Z"},
		{access, "2026-01-28T19:16:40.5Z"},
		{"no time at all", "2026-01-28T19:16:40.5Z"},
	}
	for i, s := range steps {
		ev, err := parseLine(p, s.line, time.Time{})
		got := event.FormatTime(ev.Time)
		if err != nil {
			got = "error: " + err.Error()
		}
		if got != s.want {
			t.Errorf("step %d %q: got %s, want %s", i, s.line, got, s.want)
		}
	}
}

// FuzzParseMCP: any valid UTF-8 line gives an event or "no timestamp", an
// event always names its shape, and the parser never panics.
func FuzzParseMCP(f *testing.F) {
	for _, s := range []string{
		consoleLine("WARNING", secMsg("MEDIUM", "authentication_failure", "Invalid API key (hash: 1a2b3c4d)")),
		appLine(authLog, "WARNING", "x] - y", "Loop detected: {'a': {'b': [1, (2,)]}, 'c': '\\x4'}"),
		envelope(appLine("l", "INFO", "c", "Budget exhausted for session s: 1/2 calls used"), "INFO", "l", "1769627702.5", "c"),
		`INFO:     ::1:1 - "GET / HTTP/1.1" 200 OK`,
		`{"event_type": "x", "details": {"a": [1]}}`,
		"Loop detected: {",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		p := newMCPParser()
		var ev event.Event
		ev.Time = fallbackTime
		err := p.Parse([]byte(line), &ev)
		if err == ErrEmptyLine {
			return
		}
		if err != nil {
			t.Fatalf("Parse(%q) with a fallback time: %v", line, err)
		}
		if v, _ := ev.Get("shape"); v == "" {
			t.Fatalf("Parse(%q): no shape in %v", line, ev.Fields)
		}
	})
}

func BenchmarkParseMCP(b *testing.B) {
	lines := []struct{ name, line string }{
		{"envelope", envelope(consoleLine("WARNING", secMsg("MEDIUM", "authentication_failure", "Invalid API key (hash: 1a2b3c4d)")), "WARNING", "security", "1769627702.118532", corrID)},
		{"app", appLine(authLog, "WARNING", corrID, "Authentication failure: invalid_key")},
		{"console", consoleLine("WARNING", secMsg("MEDIUM", "authentication_failure", "Invalid API key (hash: 1a2b3c4d)"))},
		{"access", `INFO:     10.0.1.57:43122 - "POST /mcp/tools/call HTTP/1.1" 401 Unauthorized`},
	}
	for _, l := range lines {
		b.Run(l.name, func(b *testing.B) {
			p := mustParser(b, "mcp", Options{})
			line := []byte(l.line)
			var ev event.Event
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				ev.Reset()
				ev.Time = fallbackTime
				if err := p.Parse(line, &ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
