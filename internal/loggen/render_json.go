package loggen

import (
	"bufio"
	"strconv"
)

var injectionTypes = []string{"sql_injection", "command_injection", "script_injection", "path_traversal"}

// renderJSON writes one SecurityEvent JSON object per event, keys in the
// order of SecurityEvent.to_dict, compact, with the true client IP.
func renderJSON(out *bufio.Writer, w *world) error {
	x := newRenderer(w)
	for i := range w.events {
		e := &w.events[i]
		x.reset(e)
		b := x.buf[:0]
		ip := w.ips[e.client]
		cid := x.cid(e)
		var severity, msg string
		switch e.kind {
		case kAuthFailure:
			severity, msg = "medium", failureTexts[e.sub]
			if e.sub == ftInvalidKey {
				msg += x.keyHash(e) + ")"
			}
		case kCORS:
			severity, msg = "medium", "Request from non-allowed origin: "+badOrigins[e.sub]
		case kSanitization:
			severity, msg = "high", "Request sanitization failed: "+sanitizationReasons[e.sub]
		case kUnknownTool:
			severity, msg = "medium", "Attempt to invoke unknown tool: "+unknownTools[e.sub]
		case kRateLimit:
			severity, msg = "high", "Session exceeded unknown tool attempt limit: "+itoa(int(e.n))+"/10"
		case kInjection:
			severity, msg = "high", "Injection attempt detected in tool '"+tools[e.sub]+"', field '"+injectionFields[e.seq%int32(len(injectionFields))]+"'"
		case kValidationBypass:
			severity, msg = "high", "Validation bypass attempt detected for tool '"+tools[e.sub]+"'"
		case kLoop:
			severity, msg = "low", "Loop detected: Tool '"+tools[e.sub]+"' called 4 times with identical parameters (max: 3)"
		case kBudget:
			severity, msg = "low", "Tool-call budget exhausted for session "+cid+". Used 100/100 calls."
		default:
			severity, msg = "info", method(e)+" "+paths[e.path]+" 200"
		}
		b = append(b, `{"event_type":`...)
		b = appendJSONString(b, kindNames[e.kind])
		b = append(b, `,"severity":`...)
		b = appendJSONString(b, severity)
		b = append(b, `,"message":`...)
		b = appendJSONString(b, msg)
		b = append(b, `,"client_ip":`...)
		b = appendJSONString(b, ip)
		b = append(b, `,"details":{`...)
		b = x.jsonDetails(b, e, ip, cid)
		b = append(b, `},"session_id":`...)
		b = appendJSONString(b, cid)
		b = append(b, `,"tool_name":`...)
		if tool := toolOf(e); tool != "" && e.kind != kAuthFailure {
			b = appendJSONString(b, tool)
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `,"timestamp":"`...)
		b = appendPyISO(b, e.t)
		b = append(b, "\"}\n"...)
		x.buf = b
		x.lines++
		if _, err := out.Write(b); err != nil {
			return err
		}
	}
	w.lines = x.lines
	return nil
}

// jsonDetails appends the members of the details object, as the server's
// code builds it for each event type.
func (x *renderer) jsonDetails(b []byte, e *ev, ip, cid string) []byte {
	str := func(b []byte, key, val string) []byte {
		b = append(b, '"')
		b = append(b, key...)
		b = append(b, `":`...)
		return appendJSONString(b, val)
	}
	// The handler stamps details before the SecurityEvent is created.
	stamp := func(b []byte) []byte {
		b = append(b, `,"timestamp":"`...)
		b = appendPyISO(b, e.t-x.between(80, 900))
		return append(b, '"')
	}
	switch e.kind {
	case kAuthFailure:
		b = str(b, "failure_type", failureTypes[e.sub])
		b = append(b, ',')
		b = str(b, "client_ip", ip)
		b = append(b, ',')
		b = str(b, "method", method(e))
		b = append(b, ',')
		b = str(b, "path", paths[e.path])
		b = stamp(b)
	case kCORS:
		b = str(b, "origin", badOrigins[e.sub])
		b = append(b, ',')
		b = str(b, "client_ip", ip)
		b = append(b, ',')
		b = str(b, "method", method(e))
		b = append(b, ',')
		b = str(b, "path", paths[e.path])
		b = stamp(b)
		b = append(b, `,"allowed_origins":[`...)
		for i, o := range allowedOrigins {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, o)
		}
		b = append(b, ']')
	case kSanitization:
		b = str(b, "method", method(e))
		b = append(b, ',')
		b = str(b, "path", paths[e.path])
		b = append(b, ',')
		b = str(b, "client_host", ip)
		b = append(b, ',')
		b = str(b, "error", sanitizationReasons[e.sub])
	case kUnknownTool:
		b = str(b, "tool_name", unknownTools[e.sub])
		b = append(b, `,"has_parameters":true,"parameter_count":`...)
		b = strconv.AppendInt(b, x.between(0, 3), 10)
	case kRateLimit:
		b = str(b, "tool_name", unknownTools[e.sub])
		b = append(b, `,"attempts_in_window":`...)
		b = strconv.AppendInt(b, int64(e.n), 10)
		b = append(b, `,"window_seconds":60`...)
	case kInjection:
		b = str(b, "tool_name", tools[e.sub])
		b = append(b, ',')
		b = str(b, "violation_type", injectionTypes[x.r.IntN(len(injectionTypes))])
		b = append(b, ',')
		b = str(b, "field_name", injectionFields[e.seq%int32(len(injectionFields))])
	case kValidationBypass:
		b = str(b, "tool_name", tools[e.sub])
		b = append(b, ',')
		b = str(b, "violation_type", "parameter_size_limit")
	case kLoop:
		b = str(b, "call_signature", hexN(hash64(x.seed, tagSig, uint64(e.seq)), 16))
		b = append(b, `,"call_count":4,"max_calls":3,`...)
		b = str(b, "correlation_id", cid)
	case kBudget:
		b = append(b, `"current_count":100,"max_calls":100`...)
	default:
		b = str(b, "method", method(e))
		b = append(b, ',')
		b = str(b, "path", paths[e.path])
		b = append(b, `,"status":200,"duration_ms":`...)
		b = strconv.AppendFloat(b, float64(x.between(30, 25000))/10, 'f', 1, 64)
	}
	return b
}
