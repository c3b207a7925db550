package pattern_test

import (
	"strings"
	"testing"

	"github.com/secwatch/secwatch/internal/alarms/pattern"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
)

func loadOne(t *testing.T, yaml string) *rules.Rule {
	t.Helper()
	head := "rules:\n  - id: r\n    window: 5m\n    threshold: 1\n"
	if strings.Contains(yaml, "sequence:") {
		head = "rules:\n  - id: r\n    window: 5m\n"
	}
	rs, err := rulefile.Parse("r.yaml", []byte(head+yaml))
	if err != nil {
		t.Fatalf("rule does not load: %v\n%s", err, yaml)
	}
	return rs[0]
}

func TestCompile(t *testing.T) {
	tests := []struct {
		name, rule, want string
	}{
		{"eq", "    match: {event_type: authentication_failure}",
			`{ $.event_type = "authentication_failure" }`},
		{"nested and in", "    match: {details.failure_type: [invalid_key, empty_token]}",
			`{ $.details.failure_type = "invalid_key" || $.details.failure_type = "empty_token" }`},
		{"numeric", "    match: {status: {gte: 400, lt: 500}}",
			`{ $.status >= 400 && $.status < 500 }`},
		{"numeric eq", "    match: {status: 401}",
			`{ $.status = 401 }`},
		{"prefix suffix contains", "    match: {path: {prefix: /mcp, suffix: call}, ua: {contains: curl}}",
			`{ $.path = "/mcp*" && $.path = "*call" && $.ua = "*curl*" }`},
		{"not pushes down and allows absence", "    match: {not: {details.method: OPTIONS, details.failure_type: missing_header}}",
			`{ $.details.method NOT EXISTS || $.details.method IS NULL || $.details.method != "OPTIONS" || $.details.failure_type NOT EXISTS || $.details.failure_type IS NULL || $.details.failure_type != "missing_header" }`},
		{"exists", "    match: {any: [{shape: {exists: false}}, {shape: structured}]}",
			`{ $.shape NOT EXISTS || $.shape IS NULL || $.shape = "structured" }`},
		{"exists true", "    match: {session_id: {exists: true}}",
			`{ $.session_id = * }`},
		{"ne and not_in", "    match: {level: {ne: DEBUG}, status: {not_in: [200, 204]}}",
			`{ $.level != "DEBUG" && $.status != 200 && $.status != 204 }`},
		{"boolean", "    match: {ok: true}",
			`{ $.ok = "true" || $.ok IS TRUE }`},
		{"regex", "    match: {path: {regex: '^/mcp/tools/[a-z_]+$'}}",
			`{ $.path = %^/mcp/tools/[a-z_]+$% }`},
		{"negated regex", "    match: {not: {path: {regex: '^/health'}}}",
			`{ $.path NOT EXISTS || $.path IS NULL || $.path != %^/health% }`},
		{"negated numeric", "    match: {not: {status: {gt: 499}}}",
			`{ $.status NOT EXISTS || $.status IS NULL || $.status <= 499 }`},
		{"any inside all", "    match: {a: x, any: [{b: y}, {c: z}]}",
			`{ $.a = "x" && ($.b = "y" || $.c = "z") }`},
		{"no match is every event", "    match: {}", ``},
		{"text contains", "    alarm: {format: text}\n    match: {message: {contains: 'SECURITY EVENT'}, not: {message: {contains: DEBUG}}}",
			`"SECURITY EVENT" -"DEBUG"`},
		{"text any", "    alarm: {format: text}\n    match: {any: [{message: {contains: ERROR}}, {message: {contains: CRITICAL}}]}",
			`?"ERROR" ?"CRITICAL"`},
		{"text prefix", "    alarm: {format: text}\n    match: {message: {prefix: 'INFO: 10.0'}}",
			`%^INFO: 10\.0%`},
		{"text regex", "    alarm: {format: text}\n    match: {message: {regex: 'Budget exhausted for session [a-z0-9-]+'}}",
			`%Budget exhausted for session [a-z0-9-]+%`},
		{"override", "    alarm: {filter_pattern: '{ $.x = 1 }'}\n    match: {client_ip: {cidr: [10.0.0.0/8]}}",
			`{ $.x = 1 }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pattern.Compile(loadOne(t, tt.rule))
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if _, err := pattern.Parse(got); err != nil {
				t.Errorf("compiled pattern does not parse: %v", err)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name, rule, want string
	}{
		{"cidr", "    match: {client_ip: {not_cidr: [10.0.0.0/8]}}",
			`r.yaml:5:25: rule "r": match.client_ip: not_cidr ["10.0.0.0/8"]: a filter pattern cannot test IP address ranges exactly`},
		{"regex with parentheses", "    match:\n      message: {regex: '^Invalid API key \\(hash: [0-9a-f]{8}\\)$'}",
			`r.yaml:6:17: rule "r": match.message: regex "^Invalid API key \\(hash: [0-9a-f]{8}\\)$": regex cannot be used by CloudWatch: byte 18: escape \( is not supported`},
		{"secwatch field", "    match: {'@log_stream': {prefix: security}}",
			`rule "r": match.@log_stream: prefix "security": @log_stream is set by secwatch, not written in the log line`},
		{"literal star", "    match: {path: {contains: '*'}}",
			`a '*' is a wildcard in CloudWatch patterns and cannot be matched literally`},
		{"quote", "    match: {msg: 'say \"hi\"'}",
			`CloudWatch does not document how to escape '"' in a quoted value`},
		{"selector", "    match: {'user agent': curl}",
			`a CloudWatch selector allows only letters, digits, '_' and '-' in property names, got ' '`},
		{"three regexes", "    match: {a: {regex: x}, b: {regex: y}, c: {regex: z}}",
			`needs 3 regexes; CloudWatch allows 2 in one pattern`},
		{"sequence", "    sequence:\n      - match: {a: x}\n      - match: {b: y}",
			`rule "r": sequence: a sequence rule has no single match to compile`},
		{"text other field", "    alarm: {format: text}\n    match: {level: ERROR}",
			`match.level: eq "ERROR": with alarm.format text only "message" (the whole line) can be matched`},
		{"text mixed", "    alarm: {format: text}\n    match: {message: {contains: a}, any: [{message: {contains: b}}, {message: {contains: c}}]}",
			`a text pattern can only require terms`},
		{"text ne", "    alarm: {format: text}\n    match: {message: {ne: a}}",
			`operator ne cannot be expressed as a text pattern`},
		{"text padded term", "    alarm: {format: text}\n    match: {message: {contains: ' a'}}",
			`leading or trailing white space`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pattern.Compile(loadOne(t, tt.rule))
			if err == nil {
				t.Fatalf("Compile = %q, want an error containing %q", got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got  %v\nwant it to contain %s", err, tt.want)
			}
			if !strings.Contains(err.Error(), "alarm.filter_pattern") {
				t.Errorf("error %v does not point at alarm.filter_pattern", err)
			}
		})
	}
}
