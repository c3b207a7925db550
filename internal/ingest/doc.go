// Package ingest holds secwatch's sources and parsers: it turns log lines
// into events.
//
// In the dependency map it sits beside the engine: it imports
// internal/event (and may import internal/rules), and it never imports
// internal/alerting, internal/alarms or cmd. It does no logging; bad lines
// are reported to the caller, who counts and logs them.
//
// # Pieces
//
//   - Parser (NewParser, Formats): one line → one event.Event.
//   - Reader: splits a stream into lines with positions, enforcing a line
//     length limit in bounded memory and UTF-8 validity.
//   - Replay: reads recorded logs through parsers and merges several inputs
//     by event time.
//
// # Time
//
// A line's own time wins; then the caller's fallback (ev.Time set before
// Parse, e.g. the CloudWatch event time); then the time of the last line
// with a time of its own that the same parser saw (uvicorn access lines
// have no time); otherwise Parse fails with "no timestamp". Times are UTC;
// a time without a zone is taken as UTC. A time field that is present but
// does not parse is an error (json, logfmt, regex, alb), never silently
// replaced.
//
// # json and logfmt
//
// json: one object per line; nested objects become dotted keys
// ("details.failure_type"); strings are unescaped; numbers, true and false
// keep their literal text; null means absent; an array is kept as its raw
// JSON text (rules compare scalars; contains and regex still work on it);
// the first of duplicate keys wins. Objects nested deeper than 64 levels or
// with more than 4096 members are errors. Time: Options.TimeField, else the
// first of event.TimeFields present.
//
// logfmt: key=value pairs; values may be double-quoted with backslash
// escapes; a bare key means "true"; "key=" is present and empty.
//
// # mcp
//
// Every mcp event has a field "shape" naming the line shape, because the
// server writes one event several times. One authentication failure gives:
// on stderr (the ECS stdout stream) an app line "Authentication failure:
// <type>", a console line and an app line (logger "security", through the
// root logger) with the SECURITY EVENT, an app line "Security event logged",
// and the uvicorn access line; in CloudWatch, envelopes of the three app
// lines in the application stream and an envelope of the console line in
// the security stream. To count each security event once, match
// event_type and one shape: "console" for stderr, or "envelope" with
// inner_shape "console" for the CloudWatch log group (and/or count
// distinct correlation_id, remembering that the client chooses it).
//
//	shape       line                                                   fields
//	app         <asctime> - <logger> - <LEVEL> - [<corr>] - <message>  logger, level, correlation_id (absent for "-"), message
//	console     <asctime> - SECURITY - <LEVEL> - <message>             logger ("SECURITY"), level, message
//	envelope    {"message": <app or console line>, "level", "logger",  inner_shape (app|console), then the inner line's
//	            "timestamp": <epoch float>, "correlation_id"}            fields; then envelope keys the line lacks
//	access      INFO:     <ip>:<port> - "<METHOD> <path> HTTP/<v>"     level, client_ip, client_port, method, path (as
//	            <status> <text>                                          written, query included), http_version, status, status_text
//	structured  {"event_type", "severity", "message", "details": {…},  all keys flattened like json (details.failure_type…),
//	            "session_id", "tool_name", "timestamp"}                  severity lower-cased
//	json        any other JSON object                                  all keys flattened
//	unparsed    anything else                                          event_type "unparsed", message (the whole line)
//
// Levels are kept as written (WARNING). Times: asctime (UTC) for text
// lines, the envelope's timestamp for envelopes (else the inner asctime),
// the structured form's timestamp; access lines and unparsed lines without
// an asctime prefix take the previous or fallback time. An unparsed line is
// an event, not an error: only a line with no time at all fails.
//
// In an envelope the text line is the record and the envelope fills gaps:
// the inner line's logger, level and correlation_id win; the envelope's
// correlation_id fills in for console lines and "-"; its timestamp and any
// other keys are added. An envelope whose message is not a text line keeps
// the message and is classified like any message.
//
// Messages of app, console and envelope lines are classified:
//
//	SECURITY EVENT [<SEV>]: <type> - <text>    event_type <type>, severity (low|medium|high|critical), detail <text>, plus:
//	  No Authorization header provided              failure_type missing_header
//	  Authorization header must use Bearer scheme   failure_type invalid_format
//	  Bearer token is empty                         failure_type empty_token
//	  Invalid API key (hash: <8 hex>)               failure_type invalid_key, key_hash
//	  Request from non-allowed origin: <o>          origin
//	  Request sanitization failed: <r>              reason
//	  Attempt to invoke unknown tool: <t>           tool_name
//	  Session exceeded unknown tool attempt limit: <n>/<max>   count, max
//	  Injection attempt detected in tool '<t>', field '<f>'    tool_name, field
//	  Validation bypass attempt detected for tool '<t>'        tool_name
//	Authentication failure: <failure_type>     event_type authentication_failure_log, failure_type
//	Loop detected: {<python dict repr>}        event_type loop_detected, every dict key as a field
//	                                           (None absent, True/False → true/false, nested dicts dotted)
//	Budget exhausted for session <sid>: <n>/<max> calls used
//	                                           event_type budget_exhausted, session_id, count, max
//	Rate limit exceeded for unknown tool attempts: session=<id>, count=<n>/<max>
//	                                           event_type unknown_tool_rate_limit, session_id, count, max
//	Security event logged: <type> (<sev>)      event_type security_event_logged, logged_event_type, logged_severity
//	Failed to store security event in Redis: <e>   event_type security_store_failure, error
//
// Any other message leaves event_type absent. The noise lines get their
// own event_type and deliberately no event_type/severity of the event they
// echo, so rules on authentication_failure do not count them.
//
// The correlation id is the client's X-Correlation-ID header, unchecked, so
// it can contain "] - ". In an envelope the envelope's copy of the id makes
// the split exact; in a bare text line the message is taken after the last
// "] - " that is followed by a message the server writes (so authentication
// failures, whose text the client cannot influence, always parse right).
//
// # alb
//
// AWS ALB access log entries. Fields, each absent when "-":
//
//	type time elb client_ip client_port target_ip target_port
//	request_processing_time target_processing_time response_processing_time
//	elb_status_code target_status_code received_bytes sent_bytes
//	request_method request_url request_protocol request_scheme request_path
//	user_agent ssl_cipher ssl_protocol target_group_arn trace_id domain_name
//	chosen_cert_arn matched_rule_priority request_creation_time
//	actions_executed redirect_url error_reason target_port_list
//	target_status_code_list classification classification_reason conn_trace_id
//
// request_scheme and request_path (without query) are derived from
// request_url. IPv6 addresses are written by the ALB without brackets; the
// port follows the last colon. Entries need the fields up to "request";
// fields AWS adds later are ignored until named here.
package ingest
