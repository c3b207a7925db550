package loggen

import (
	"bufio"
	"strconv"
	"strings"
)

// mcpSink receives the records the real server's logging setup produces
// for one event. The console writes all of them (application lines through
// the root logger's handler, SECURITY lines through the security logger's
// own console handler, uvicorn's access lines); CloudWatch receives the
// application and security records as JSON envelopes and never sees
// uvicorn's lines, whose loggers do not propagate.
type mcpSink interface {
	// app is a record through the root logger:
	// "<asctime> - <logger> - <LEVEL> - [<cid>] - <msg>".
	app(t int64, logger, level, cid, msg string) error
	// sec is a record through the security logger's own handlers:
	// "<asctime> - SECURITY - <LEVEL> - <msg>".
	sec(t int64, level, cid, msg string) error
	// access is a uvicorn access line (no time of its own).
	access(node string, port int64, method, path string, status int) error
	// uvicorn is one of uvicorn's own INFO lines.
	uvicorn(msg string) error
}

// renderMCP renders the world through sink.
func renderMCP(sink mcpSink, w *world) error {
	x := newRenderer(w)
	redisDown := w.redisOutage()
	if err := x.startup(sink); err != nil {
		return err
	}
	for i := range w.events {
		e := &w.events[i]
		x.reset(e)
		if e.t >= redisDown.lo && e.t < redisDown.hi {
			e.flags |= fRedis
		}
		if err := x.mcpEvent(sink, e); err != nil {
			return err
		}
	}
	return nil
}

// redisOutage is a quarter of an hour during which Redis refuses
// connections, so every security event adds a "Failed to store" line.
func (w *world) redisOutage() zone {
	lo := w.start + int64(hash64(uint64(w.cfg.Seed), 7)%uint64(w.end-w.start-15*minute))
	return zone{lo, lo + 15*minute}
}

func (x *renderer) startup(sink mcpSink) error {
	t := x.w.start - 4*second + 117_000
	if err := sink.uvicorn("Started server process [1]"); err != nil {
		return err
	}
	if err := sink.uvicorn("Waiting for application startup."); err != nil {
		return err
	}
	for _, l := range []struct{ logger, msg string }{
		{"mcp_server.main", "Starting FinOps Tag Compliance MCP Server"},
		{"mcp_server.main", "Redis cache initialized"},
		{"mcp_server.main", "Audit service initialized"},
		{"mcp_server.main", "History service initialized with database: /app/data/history.db"},
		{"mcp_server.main", "AWS client initialized for region us-east-1"},
		{"mcp_server.main", "Policy service initialized from /app/policies/tagging_policy.json"},
		{"mcp_server.main", "Compliance service initialized"},
		{"mcp_server.middleware.budget_middleware", "BudgetTracker initialized: max_calls=100, session_ttl=3600s"},
		{"mcp_server.main", "Budget tracker initialized: max_calls=100, ttl=3600s"},
		{"mcp_server.utils.loop_detection", "LoopDetector initialized: max_identical_calls=3"},
		{"mcp_server.main", "Loop detector initialized: max_identical_calls=3, window=300s"},
		{"mcp_server.main", "Security service initialized: max_unknown_tool_attempts=10, window=60s"},
		{"mcp_server.main", "MCP handler initialized with 8 tools"},
		{"mcp_server.main", "MCP Server v0.2.0 started successfully on port 8080"},
	} {
		if err := sink.app(t, l.logger, "INFO", "-", l.msg); err != nil {
			return err
		}
		t += 1000 + int64(len(l.msg))*97
	}
	if err := sink.uvicorn("Application startup complete."); err != nil {
		return err
	}
	return sink.uvicorn("Uvicorn running on http://0.0.0.0:8080 (Press CTRL+C to quit)")
}

// securityEvent writes what SecurityService.log_security_event logs.
func (x *renderer) securityEvent(sink mcpSink, e *ev, t int64, cid, typ, severity, msg string) error {
	if e.flags&fRedis != 0 {
		if err := sink.app(t-x.between(50, 500), "mcp_server.services.security_service", "WARNING", cid,
			"Failed to store security event in Redis: "+redisError); err != nil {
			return err
		}
	}
	level := "WARNING"
	if severity == "critical" {
		level = "CRITICAL"
	}
	line := "SECURITY EVENT [" + strings.ToUpper(severity) + "]: " + typ + " - " + msg
	if err := sink.sec(t, level, cid, line); err != nil {
		return err
	}
	if err := sink.app(t, "security", level, cid, line); err != nil {
		return err
	}
	return sink.app(t+x.between(20, 300), "mcp_server.services.security_service", "WARNING", cid,
		"Security event logged: "+typ+" ("+severity+")")
}

// mcpEvent writes the records of one event. The security event's own
// record carries the event time; the handler's line comes just before it
// and the access line when the response is sent.
func (x *renderer) mcpEvent(sink mcpSink, e *ev) error {
	node := albNodes[hash64(x.seed, uint64(e.client), uint64(e.sess))%uint64(len(albNodes))]
	if e.kind == kHealth {
		return sink.access(albNodes[e.client], x.between(20000, 60999), "GET", "/health", 200)
	}
	cid := x.cid(e)
	before := e.t - x.between(600, 1500)
	var err error
	switch e.kind {
	case kAuthFailure:
		msg := failureTexts[e.sub]
		if e.sub == ftInvalidKey {
			msg += x.keyHash(e) + ")"
		}
		err = sink.app(before, "mcp_server.middleware.auth_middleware", "WARNING", cid, "Authentication failure: "+failureTypes[e.sub])
		if err == nil {
			err = x.securityEvent(sink, e, e.t, cid, "authentication_failure", "medium", msg)
		}
	case kCORS:
		err = sink.app(before, "mcp_server.middleware.cors_middleware", "WARNING", cid, "CORS violation: request from non-allowed origin")
		if err == nil {
			err = x.securityEvent(sink, e, e.t, cid, "cors_violation", "medium", "Request from non-allowed origin: "+badOrigins[e.sub])
		}
	case kSanitization:
		reason := sanitizationReasons[e.sub]
		err = sink.app(before, "mcp_server.middleware.sanitization_middleware", "WARNING", cid, "Request sanitization failed: "+reason)
		if err == nil {
			err = x.securityEvent(sink, e, e.t, cid, "request_sanitization_failure", "high", "Request sanitization failed: "+reason)
		}
	case kUnknownTool:
		err = sink.app(before, "mcp_server.mcp_handler", "WARNING", cid, "Attempt to invoke unknown tool: "+unknownTools[e.sub])
		if err == nil {
			err = x.securityEvent(sink, e, e.t, cid, "unknown_tool_attempt", "medium", "Attempt to invoke unknown tool: "+unknownTools[e.sub])
		}
		if e.n > 10 {
			return err // the rate-limit event that follows finishes the request
		}
	case kRateLimit:
		n := itoa(int(e.n))
		err = x.securityEvent(sink, e, e.t, cid, "rate_limit_exceeded", "high", "Session exceeded unknown tool attempt limit: "+n+"/10")
		if err == nil {
			err = sink.app(e.t+x.between(300, 900), "mcp_server.mcp_handler", "ERROR", cid,
				"Rate limit exceeded for unknown tool attempts: session="+cid+", count="+n+"/10")
		}
	case kInjection:
		tool, field := tools[e.sub], injectionFields[e.seq%int32(len(injectionFields))]
		vt := injectionTypes[x.r.IntN(len(injectionTypes))]
		err = sink.app(before, "mcp_server.mcp_handler", "ERROR", cid,
			"Security violation detected for tool '"+tool+"': Security violation ("+vt+"): Suspicious pattern detected in arguments")
		if err == nil {
			err = x.securityEvent(sink, e, e.t, cid, "injection_attempt", "high",
				"Injection attempt detected in tool '"+tool+"', field '"+field+"'")
		}
	case kValidationBypass:
		tool := tools[e.sub]
		err = sink.app(before, "mcp_server.mcp_handler", "ERROR", cid,
			"Security violation detected for tool '"+tool+"': Security violation (parameter_size_limit): Parameter 'arguments' exceeds the maximum size")
		if err == nil {
			err = x.securityEvent(sink, e, e.t, cid, "validation_bypass_attempt", "high", "Validation bypass attempt detected for tool '"+tool+"'")
		}
	case kLoop:
		tool := tools[e.sub]
		sig := hexN(hash64(x.seed, tagSig, uint64(e.seq)), 16)
		b := append([]byte("Loop detected: {'event_type': 'loop_detected', 'timestamp': '"), appendPyISO(nil, e.t-x.between(100, 600))...)
		b = append(b, "', 'session_id': '"+cid+"', 'tool_name': '"+tool+"', 'call_signature': '"+sig+
			"', 'call_count': 4, 'max_calls': 3, 'correlation_id': '"+cid+"'}"...)
		err = sink.app(e.t, "mcp_server.utils.loop_detection", "WARNING", cid, string(b))
		if err == nil {
			err = sink.app(e.t+x.between(100, 800), "mcp_server.mcp_handler", "WARNING", cid,
				"Loop detected for session "+cid+": Tool '"+tool+"' called 4 times (max: 3), signature="+sig)
		}
	case kBudget:
		err = sink.app(e.t, "mcp_server.middleware.budget_middleware", "WARNING", cid, "Budget exhausted for session "+cid+": 100/100 calls used")
		if err == nil {
			err = sink.app(e.t+x.between(100, 800), "mcp_server.mcp_handler", "WARNING", cid, "Budget exhausted for session "+cid+": 100/100 calls")
		}
	}
	if err != nil {
		return err
	}
	return sink.access(node, x.between(1024, 65535), method(e), paths[e.path], status(e))
}

// consoleSink writes the console (mcp-text).
type consoleSink struct {
	out   *bufio.Writer
	buf   []byte
	lines int
}

func (s *consoleSink) flush(b []byte) error {
	s.buf = append(b, '\n')
	s.lines++
	_, err := s.out.Write(s.buf)
	return err
}

func (s *consoleSink) app(t int64, logger, level, cid, msg string) error {
	return s.flush(appendAppLine(s.buf[:0], t, logger, level, cid, msg))
}

func (s *consoleSink) sec(t int64, level, _, msg string) error {
	return s.flush(appendSecLine(s.buf[:0], t, level, msg))
}

func (s *consoleSink) access(node string, port int64, method, path string, status int) error {
	b := append(s.buf[:0], "INFO:     "+node+":"...)
	b = strconv.AppendInt(b, port, 10)
	b = append(b, " - \""+method+" "+path+" HTTP/1.1\" "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, statusText[status]...)
	return s.flush(b)
}

func (s *consoleSink) uvicorn(msg string) error {
	return s.flush(append(s.buf[:0], "INFO:     "+msg...))
}

func appendAppLine(b []byte, t int64, logger, level, cid, msg string) []byte {
	b = appendAsctime(b, t)
	return append(b, " - "+logger+" - "+level+" - ["+cid+"] - "+msg...)
}

func appendSecLine(b []byte, t int64, level, msg string) []byte {
	b = appendAsctime(b, t)
	return append(b, " - SECURITY - "+level+" - "+msg...)
}

// cloudWatchSink writes the envelopes CloudWatchHandler puts (mcp-cloudwatch).
type cloudWatchSink struct {
	consoleSink
	line []byte
}

func (s *cloudWatchSink) envelope(t int64, level, logger, cid string) error {
	b := append(s.buf[:0], `{"message": `...)
	b = appendJSONString(b, string(s.line))
	b = append(b, `, "level": `...)
	b = appendJSONString(b, level)
	b = append(b, `, "logger": `...)
	b = appendJSONString(b, logger)
	b = append(b, `, "timestamp": `...)
	b = strconv.AppendFloat(b, float64(t)/1e6, 'f', -1, 64) // repr(record.created)
	b = append(b, `, "correlation_id": `...)
	b = appendJSONString(b, cid)
	b = append(b, '}')
	return s.flush(b)
}

func (s *cloudWatchSink) app(t int64, logger, level, cid, msg string) error {
	s.line = appendAppLine(s.line[:0], t, logger, level, cid, msg)
	return s.envelope(t, level, logger, cid)
}

func (s *cloudWatchSink) sec(t int64, level, cid, msg string) error {
	s.line = appendSecLine(s.line[:0], t, level, msg)
	return s.envelope(t, level, "security", cid)
}

func (s *cloudWatchSink) access(string, int64, string, string, int) error { return nil }
func (s *cloudWatchSink) uvicorn(string) error                            { return nil }
