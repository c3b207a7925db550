package format

import (
	"strings"
	"time"

	"github.com/secwatch/secwatch/internal/event"
)

// Line shapes of the mcp format, the value of the "shape" field. One
// authentication failure is written about six times in different shapes;
// rules count one shape to count each failure once.
const (
	ShapeApp        = "app"        // <asctime> - <logger> - <LEVEL> - [<corr>] - <message>
	ShapeConsole    = "console"    // <asctime> - SECURITY - <LEVEL> - <message>
	ShapeEnvelope   = "envelope"   // {"message": <app or console line>, "level", "logger", "timestamp", "correlation_id"}
	ShapeAccess     = "access"     // INFO:     10.0.1.57:43122 - "POST /mcp HTTP/1.1" 401 Unauthorized
	ShapeStructured = "structured" // {"event_type", "severity", "message", "details": {…}, …}
	ShapeJSON       = "json"       // any other JSON object
	ShapeUnparsed   = "unparsed"   // anything else (event_type unparsed too)
)

// mcpParser is the mcp format; docs/formats.md lists what it produces.
type mcpParser struct {
	clock
	f   flattener
	env event.Event // the JSON object of the line, before it is sorted into ev
	py  pyParser
}

func newMCPParser() *mcpParser { return &mcpParser{} }

func (p *mcpParser) Parse(line []byte, ev *event.Event) error {
	s, _, err := lineString(line)
	if err != nil {
		return err
	}
	base := len(ev.Fields)
	if s[0] == '{' {
		if t, own, ok := p.jsonLine(s, ev); ok {
			return p.settle(ev, t, own)
		}
		ev.Fields = ev.Fields[:base]
		return p.unparsed(s, ev, time.Time{}, false)
	}
	if t, n, ok := asctimePrefix(s); ok {
		if strings.HasPrefix(s[n:], " - ") && p.textLine(s[n+3:], "", false, ev) {
			return p.settle(ev, t, true)
		}
		ev.Fields = ev.Fields[:base]
		return p.unparsed(s, ev, t, true)
	}
	if accessLine(s, ev) {
		return p.settle(ev, time.Time{}, false)
	}
	ev.Fields = ev.Fields[:base]
	return p.unparsed(s, ev, time.Time{}, false)
}

func (p *mcpParser) unparsed(s string, ev *event.Event, t time.Time, own bool) error {
	ev.Add("shape", ShapeUnparsed)
	ev.Add("event_type", EventTypeUnparsed)
	ev.Add("message", s)
	return p.settle(ev, t, own)
}

// asctimePrefix recognises Python's asctime ("2026-01-28 19:15:02,117") or
// an ISO time at the start of s and returns its time and length.
func asctimePrefix(s string) (time.Time, int, bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':' {
		return time.Time{}, 0, false
	}
	n := 19
	if n < len(s) && (s[n] == ',' || s[n] == '.') {
		n++
		for n < len(s) && isDigit(s[n]) {
			n++
		}
	}
	t, ok := event.ParseTime(s[:n])
	return t, n, ok
}

// textLine parses what follows "<asctime> - " in an application or console
// line. knownCorr, when not empty, is the correlation id the envelope
// carries, which settles where the bracketed id ends. inEnvelope makes the
// shape "envelope" and records the text line's shape as inner_shape.
func (p *mcpParser) textLine(rest, knownCorr string, inEnvelope bool, ev *event.Event) bool {
	i := strings.Index(rest, " - ")
	if i <= 0 {
		return false
	}
	logger := rest[:i]
	rest = rest[i+3:]
	j := strings.Index(rest, " - ")
	if j <= 0 || !isLevel(rest[:j]) {
		return false
	}
	level := rest[:j]
	msg := rest[j+3:]
	shape, corr := ShapeApp, ""
	if logger == "SECURITY" {
		// The security console formatter writes the word SECURITY where the
		// logger goes and has no correlation id.
		shape = ShapeConsole
	} else if strings.HasPrefix(msg, "[") {
		corr, msg = splitCorrelation(msg, knownCorr)
	}
	if inEnvelope {
		ev.Add("shape", ShapeEnvelope)
		ev.Add("inner_shape", shape)
	} else {
		ev.Add("shape", shape)
	}
	ev.Add("logger", logger)
	ev.Add("level", level)
	if corr != "" && corr != "-" {
		ev.Add("correlation_id", corr)
	}
	ev.Add("message", msg)
	p.classify(msg, ev)
	return true
}

// isLevel accepts Python level names: upper-case letters.
func isLevel(s string) bool {
	if len(s) == 0 || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// splitCorrelation splits "[<corr>] - <message>". The correlation id comes
// from the client's X-Correlation-ID header unchecked, so it may itself
// contain "] - ", and so may attacker text inside some messages (origins,
// tool names). With the envelope's copy of the id the split is exact.
// Otherwise the split is the last "] - " followed by a message the server
// writes (so an id cannot hide the real message behind a fake one:
// authentication failures, whose text the client cannot influence, always
// parse right), or failing that the first "] - ".
func splitCorrelation(s, knownCorr string) (corr, msg string) {
	if knownCorr != "" && len(s) > len(knownCorr)+4 && s[1:1+len(knownCorr)] == knownCorr &&
		strings.HasPrefix(s[1+len(knownCorr):], "] - ") {
		return knownCorr, s[len(knownCorr)+5:]
	}
	first, best := -1, -1
	for off := 0; ; {
		k := strings.Index(s[off:], "] - ")
		if k < 0 {
			break
		}
		k += off
		if first < 0 {
			first = k
		}
		if knownMessage(s[k+4:]) {
			best = k
		}
		off = k + 1
	}
	if best < 0 {
		best = first
	}
	if best < 0 {
		return "", s // no closing bracket: the brackets are part of the message
	}
	return s[1:best], s[best+4:]
}

// Messages the parser knows (see classify).
const (
	msgSecurityEvent = "SECURITY EVENT ["
	msgAuthFailure   = "Authentication failure: "
	msgLoop          = "Loop detected: "
	msgBudget        = "Budget exhausted for session "
	msgRateLimit     = "Rate limit exceeded for unknown tool attempts: "
	msgEventLogged   = "Security event logged: "
	msgStoreFailure  = "Failed to store security event in Redis: "
)

func knownMessage(m string) bool {
	for _, prefix := range [...]string{msgSecurityEvent, msgAuthFailure, msgLoop, msgBudget, msgRateLimit, msgEventLogged, msgStoreFailure} {
		if strings.HasPrefix(m, prefix) {
			return true
		}
	}
	return false
}

// The event_type values of the app-logger lines that are not security
// events (docs/formats.md).
const (
	EventTypeAuthFailureLog      = "authentication_failure_log"
	EventTypeLoopDetected        = "loop_detected"
	EventTypeBudgetExhausted     = "budget_exhausted"
	EventTypeUnknownToolLimit    = "unknown_tool_rate_limit"
	EventTypeSecurityEventLogged = "security_event_logged"
	EventTypeStoreFailure        = "security_store_failure"
)

// classify adds event_type and the fields a known message carries.
func (p *mcpParser) classify(msg string, ev *event.Event) {
	switch {
	case strings.HasPrefix(msg, msgSecurityEvent):
		securityEvent(msg[len(msgSecurityEvent):], ev)
	case strings.HasPrefix(msg, msgAuthFailure):
		ev.Add("event_type", EventTypeAuthFailureLog)
		if v := msg[len(msgAuthFailure):]; v != "" {
			ev.Add("failure_type", v)
		}
	case strings.HasPrefix(msg, msgLoop):
		ev.Add("event_type", EventTypeLoopDetected)
		if d := msg[len(msgLoop):]; strings.HasPrefix(d, "{") {
			// Best effort: entries before a syntax error are kept.
			_ = p.py.dict(d, ev)
		}
	case strings.HasPrefix(msg, msgBudget):
		ev.Add("event_type", EventTypeBudgetExhausted)
		rest := msg[len(msgBudget):]
		if k := strings.LastIndex(rest, ": "); k >= 0 {
			ev.Add("session_id", rest[:k])
			addCountMax(ev, strings.TrimSuffix(rest[k+2:], " calls used"))
		}
	case strings.HasPrefix(msg, msgRateLimit):
		ev.Add("event_type", EventTypeUnknownToolLimit)
		rest := msg[len(msgRateLimit):]
		if k := strings.LastIndex(rest, ", count="); k >= 0 && strings.HasPrefix(rest, "session=") && k >= len("session=") {
			ev.Add("session_id", rest[len("session="):k])
			addCountMax(ev, rest[k+len(", count="):])
		}
	case strings.HasPrefix(msg, msgEventLogged):
		ev.Add("event_type", EventTypeSecurityEventLogged)
		rest := msg[len(msgEventLogged):]
		if k := strings.LastIndex(rest, " ("); k > 0 && strings.HasSuffix(rest, ")") {
			ev.Add("logged_event_type", rest[:k])
			ev.Add("logged_severity", lowerSeverity(rest[k+2:len(rest)-1]))
		}
	case strings.HasPrefix(msg, msgStoreFailure):
		ev.Add("event_type", EventTypeStoreFailure)
		ev.Add("error", msg[len(msgStoreFailure):])
	}
}

// securityEvent parses "<SEV>]: <event_type> - <text>", the rest of a
// "SECURITY EVENT [" message.
func securityEvent(rest string, ev *event.Event) {
	k := strings.Index(rest, "]: ")
	if k <= 0 || !isLevel(rest[:k]) {
		return
	}
	sev, body := rest[:k], rest[k+3:]
	typ, detail, hasDetail := strings.Cut(body, " - ")
	if typ == "" || strings.IndexByte(typ, ' ') >= 0 {
		return
	}
	ev.Add("event_type", typ)
	ev.Add("severity", lowerSeverity(sev))
	if !hasDetail {
		return
	}
	ev.Add("detail", detail)
	securityDetail(detail, ev)
}

// Texts of the security events (docs/formats.md, "mcp").
const (
	txtMissingHeader = "No Authorization header provided"
	txtInvalidFormat = "Authorization header must use Bearer scheme"
	txtEmptyToken    = "Bearer token is empty"
	txtInvalidKey    = "Invalid API key"
	txtOrigin        = "Request from non-allowed origin: "
	txtSanitization  = "Request sanitization failed: "
	txtUnknownTool   = "Attempt to invoke unknown tool: "
	txtToolLimit     = "Session exceeded unknown tool attempt limit: "
	txtInjection     = "Injection attempt detected in tool '"
	txtBypass        = "Validation bypass attempt detected for tool '"
)

// securityDetail extracts the fields a security event's text carries. It
// goes by the text, not the event_type, so a renamed type still parses.
func securityDetail(d string, ev *event.Event) {
	switch {
	case d == txtMissingHeader:
		ev.Add("failure_type", "missing_header")
	case d == txtInvalidFormat:
		ev.Add("failure_type", "invalid_format")
	case d == txtEmptyToken:
		ev.Add("failure_type", "empty_token")
	case strings.HasPrefix(d, txtInvalidKey):
		ev.Add("failure_type", "invalid_key")
		// "Invalid API key (hash: 1a2b3c4d)"
		if h := d[len(txtInvalidKey):]; len(h) == len(" (hash: 12345678)") &&
			strings.HasPrefix(h, " (hash: ") && h[len(h)-1] == ')' && isHex(h[8:16]) {
			ev.Add("key_hash", h[8:16])
		}
	case strings.HasPrefix(d, txtOrigin):
		ev.Add("origin", d[len(txtOrigin):])
	case strings.HasPrefix(d, txtSanitization):
		ev.Add("reason", d[len(txtSanitization):])
	case strings.HasPrefix(d, txtUnknownTool):
		ev.Add("tool_name", d[len(txtUnknownTool):])
	case strings.HasPrefix(d, txtToolLimit):
		addCountMax(ev, d[len(txtToolLimit):])
	case strings.HasPrefix(d, txtInjection) && strings.HasSuffix(d, "'") && len(d) > len(txtInjection):
		// The tool is one the server knows (the attempt was caught in its
		// arguments); the field name is the client's, so split at the
		// first separator.
		rest := d[len(txtInjection) : len(d)-1]
		if tool, field, ok := strings.Cut(rest, "', field '"); ok {
			ev.Add("tool_name", tool)
			ev.Add("field", field)
		}
	case strings.HasPrefix(d, txtBypass) && strings.HasSuffix(d, "'") && len(d) > len(txtBypass):
		ev.Add("tool_name", d[len(txtBypass):len(d)-1])
	}
}

// addCountMax adds count and max from "<n>/<max>" when both are integers.
func addCountMax(ev *event.Event, s string) {
	n, m, ok := strings.Cut(s, "/")
	if ok && isDigits(n) && isDigits(m) {
		ev.Add("count", n)
		ev.Add("max", m)
	}
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !isDigit(s[i]) && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}

// lowerSeverity lower-cases a severity without allocating for the usual
// values.
func lowerSeverity(s string) string {
	switch s {
	case "LOW", "low":
		return "low"
	case "MEDIUM", "medium":
		return "medium"
	case "HIGH", "high":
		return "high"
	case "CRITICAL", "critical":
		return "critical"
	case "INFO", "info":
		return "info"
	}
	return strings.ToLower(s)
}

// accessLine parses a uvicorn access line:
//
//	INFO:     10.0.1.57:43122 - "POST /mcp/tools/call HTTP/1.1" 401 Unauthorized
//
// The client address is "host:port" without brackets, also for IPv6, and
// the path is logged with its query string and may contain spaces.
func accessLine(s string, ev *event.Event) bool {
	colon := strings.IndexByte(s, ':')
	if colon <= 0 || !isLevel(s[:colon]) || colon+1 >= len(s) || s[colon+1] != ' ' {
		return false
	}
	level := s[:colon]
	rest := strings.TrimLeft(s[colon+1:], " ")
	k := strings.Index(rest, ` - "`)
	if k < 0 {
		return false
	}
	client := rest[:k]
	if strings.IndexByte(client, ' ') >= 0 {
		return false
	}
	rest = rest[k+4:]
	q := strings.LastIndex(rest, `" `)
	if q < 0 {
		return false
	}
	request, tail := rest[:q], rest[q+2:]
	status, statusText, _ := strings.Cut(tail, " ")
	if len(status) != 3 || !isDigits(status) {
		return false
	}
	method, target, ok := strings.Cut(request, " ")
	if !ok {
		return false
	}
	proto := ""
	if k := strings.LastIndexByte(target, ' '); k >= 0 && strings.HasPrefix(target[k+1:], "HTTP/") {
		target, proto = target[:k], target[k+1+len("HTTP/"):]
	}
	ev.Add("shape", ShapeAccess)
	ev.Add("level", level)
	if client != "" {
		ip, port := splitHostPort(client)
		ev.Add("client_ip", ip)
		if port != "" {
			ev.Add("client_port", port)
		}
	}
	ev.Add("method", method)
	ev.Add("path", target)
	if proto != "" {
		ev.Add("http_version", proto)
	}
	ev.Add("status", status)
	if statusText != "" {
		ev.Add("status_text", statusText)
	}
	return true
}

// jsonLine handles the JSON shapes: the CloudWatch envelope, the structured
// SecurityEvent, and any other object. ok is false for a line that is not
// valid JSON.
func (p *mcpParser) jsonLine(s string, ev *event.Event) (t time.Time, own, ok bool) {
	env := &p.env
	env.Reset()
	if err := p.f.flatten(s, 0, env); err != nil {
		return time.Time{}, false, false
	}
	if ts, found := env.Get("timestamp"); found {
		t, own = event.ParseTime(ts)
	}
	if _, structured := env.Get("event_type"); structured {
		ev.Add("shape", ShapeStructured)
		for _, f := range env.Fields {
			if f.Key == "severity" {
				f.Value = lowerSeverity(f.Value)
			}
			ev.Add(f.Key, f.Value)
		}
		return t, own, true
	}
	msg, isEnvelope := env.Get("message")
	if !isEnvelope {
		ev.Add("shape", ShapeJSON)
		ev.Fields = append(ev.Fields, env.Fields...)
		return t, own, true
	}
	corr, _ := env.Get("correlation_id")
	if corr == "-" {
		corr = ""
	}
	inner := false
	if at, n, found := asctimePrefix(msg); found && strings.HasPrefix(msg[n:], " - ") {
		if inner = p.textLine(msg[n+3:], corr, true, ev); inner && !own {
			t, own = at, true
		}
	}
	if !inner {
		ev.Add("shape", ShapeEnvelope)
		ev.Add("message", msg)
		p.classify(msg, ev)
	}
	// The text line is the record; the envelope fills in what it lacks (a
	// correlation id for console lines, the timestamp, any other keys).
	for _, f := range env.Fields {
		if f.Key == "message" || (f.Key == "correlation_id" && f.Value == "-") {
			continue
		}
		addIfAbsent(ev, f.Key, f.Value)
	}
	return t, own, true
}
