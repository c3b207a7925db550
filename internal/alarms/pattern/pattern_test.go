package pattern

import (
	"errors"
	"strings"
	"testing"
)

// Examples from the AWS CloudWatch Logs documentation ("Filter and pattern
// syntax"), with the answers the documentation gives.
const (
	docTrail = `{"eventType": "UpdateTrail", "sourceIPAddress": "111.111.111.111",
		"arrayKey": ["value", "another value"],
		"objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
		"SomeObject": null, "ThisFlag": true}`
	docUsers = `{"user": {"id": 1, "email": "John.Stiles@example.com"},
		"users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3, "email": "Jane.Doe@example.com"}],
		"actions": ["GET", "PUT", "DELETE"],
		"coordinates": [[0, 1, 2], [4, 5, 6], [7, 8, 9]]}`
)

func TestMatchAWSDocExamples(t *testing.T) {
	tests := []struct {
		pattern, message string
		want             bool
	}{
		{`{ $.eventType = "UpdateTrail" }`, docTrail, true},
		{`{ $.eventType = "UpdateTrail2" }`, docTrail, false},
		{`{ $.sourceIPAddress != 123.123.* }`, docTrail, true},
		{`{ $.sourceIPAddress != 111.111.* }`, docTrail, false},
		{`{ $.arrayKey[0] = "value" }`, docTrail, true},
		{`{ $.arrayKey[1] = "value" }`, docTrail, false},
		{`{ $.objectList[1].id = 2 }`, docTrail, true},
		{`{ $.objectList[0].id = 2 }`, docTrail, false},
		{`{ $.SomeObject IS NULL }`, docTrail, true},
		{`{ $.ThisFlag IS NULL }`, docTrail, false},
		{`{ $.SomeOtherObject NOT EXISTS }`, docTrail, true},
		{`{ $.SomeObject NOT EXISTS }`, docTrail, false},
		{`{ $.ThisFlag IS TRUE }`, docTrail, true},
		{`{ $.ThisFlag IS FALSE }`, docTrail, false},
		{`{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }`, docUsers, true},
		{`{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }`, docUsers, false},
		{`{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }`, docUsers, true},
		{`{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && $.actions[2] = nomatch }`, docUsers, false},
		{`{ $.coordinates[2][0] = 7 }`, docUsers, true},
		// A selector on an array matches neither = nor !=.
		{`{ $.users = 1 }`, `{"users": [1, 2, 3]}`, false},
		{`{ $.users != 1 }`, `{"users": [1, 2, 3]}`, false},
		{`{ $.foo = bar }`, `{"foo": "bar"}`, true},
		{`{ $.foo = baz }`, `{"foo": "bar"}`, false},
		{`{ $.foo = bar || $.foo = baz }`, `{"foo": "baz"}`, true},
		// Wildcards: at the ends only; a '*' inside is literal.
		{`{ $.e = "*Event" }`, `{"e": "PutEvent"}`, true},
		{`{ $.e = "Event*" }`, `{"e": "EventName"}`, true},
		{`{ $.e = "Ev*ent" }`, `{"e": "Evxent"}`, false},
		{`{ $.e = "Ev*ent" }`, `{"e": "Ev*ent"}`, true},
		{`{ $.latency = * }`, `{"latency": 50, "requestType": "GET"}`, true},
		{`{ $.latency = * }`, `{"requestType": "GET"}`, false},
		// Numeric comparisons.
		{`{ $.latency >= 500 }`, `{"latency": 500}`, true},
		{`{ $.latency >= 500 }`, `{"latency": 499.9}`, false},
		{`{ $.numbers[0] < 10e3 }`, `{"numbers": [9999]}`, true},
		{`{ $.numbers[0] < 10e-3 }`, `{"numbers": [0.01]}`, false},
		{`{ $.processes[4].averageRuntime <= 55.5 }`, `{"processes": [0, 1, 2, 3, {"averageRuntime": 55.5}]}`, true},
		{`{ $.errorCode = 400 }`, `{"errorCode": 400.0}`, true},
		{`{ $.errorCode != 500 }`, `{"errorCode": 400}`, true},
		{`{ $.errorCode != 500 }`, `{"errorCode": 500}`, false},
		{`{ $.latency > +1000 }`, `{"latency": 1001}`, true},
		// Regex values.
		{`{ $.message = %bind: address already in use% }`, `{"message": "listen tcp :80: bind: address already in use"}`, true},
		{`{ $.code = %^4[0-9]{2}$% }`, `{"code": "404"}`, true},
		{`{ $.code != %^4[0-9]{2}$% }`, `{"code": "500"}`, true},
		// Not a JSON object: JSON patterns never match.
		{`{ $.a = * }`, `a = 1`, false},
		{`{ $.a = * }`, `{"a": 1} trailing`, false},
	}
	for _, tt := range tests {
		p, err := Parse(tt.pattern)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.pattern, err)
			continue
		}
		if got := p.Match([]byte(tt.message)); got != tt.want {
			t.Errorf("%s on %.40q: got %v, want %v", tt.pattern, tt.message, got, tt.want)
		}
	}
}

func TestMatchTextAWSDocExamples(t *testing.T) {
	lines := []string{"ERROR WARN message", "ERROR message", "WARN message"}
	tests := []struct {
		pattern string
		want    []bool
	}{
		{`ERROR`, []bool{true, true, false}},
		{`?ERROR ?WARN`, []bool{true, true, true}},
		{`ERROR WARN`, []bool{true, false, false}},
		{`ERROR -WARN`, []bool{false, true, false}},
		{`"ERROR message"`, []bool{false, true, false}},
		{``, []bool{true, true, true}},
		{`%^WARN%`, []bool{false, false, true}},
	}
	for _, tt := range tests {
		p, err := Parse(tt.pattern)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.pattern, err)
			continue
		}
		for i, l := range lines {
			if got := p.Match([]byte(l)); got != tt.want[i] {
				t.Errorf("%q on %q: got %v, want %v", tt.pattern, l, got, tt.want[i])
			}
		}
	}
	more := []struct {
		pattern, line string
		want          bool
	}{
		{`ERROR`, "[ERROR] A fatal exception has occurred", true},
		{`ERROR`, "Exiting with ERRORCODE: -1", true},
		{`ERROR -Exiting`, "Exiting with ERRORCODE: -1", false},
		{`ERROR Exception`, "[ERROR] Caught IllegalArgumentException", true},
		{`"Failed to process the request"`, "[ERROR] Unable to continue: Failed to process the request", true},
		{`"Failed to process the request"`, "[ERROR] Failed to process request", false},
		{`error`, "ERROR", false}, // case-sensitive
	}
	for _, tt := range more {
		if got := MustParse(tt.pattern).Match([]byte(tt.line)); got != tt.want {
			t.Errorf("%q on %q: got %v, want %v", tt.pattern, tt.line, got, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		pattern string
		col     int
		msg     string
	}{
		{`{ $.a = "x" `, 13, "missing closing '}'"},
		{`{ $.a == "x" }`, 8, "expected a value"},
		{`{ a = 1 }`, 3, "expected a property selector"},
		{`{ $.a > "x" }`, 9, "needs a number"},
		{`{ $.a = 1 && }`, 14, "expected a property selector"},
		{`{ ($.a = 1 }`, 3, "unclosed '('"},
		{`{ $.a IS MAYBE }`, 7, "expected IS NULL"},
		{`{ $.a = %a(b)% }`, 11, "parentheses are not supported"},
		{`{ $.a = %x% && $.b = %y% && $.c = %z% }`, 35, "more than 2 regexes"},
		{`{ $.a = 1 } x`, 13, "unexpected text after"},
		{`[ip, user`, 10, "missing closing ']'"},
		{`[a, ..., b, ...]`, 13, "only one ... is supported"},
		{`[a = 1 && zz > 2, b]`, 11, `condition on "zz", which names no field`},
		{`[a b]`, 4, "expected ',' or ']'"},
		{`[a, b > x]`, 9, "needs a number"},
		{`ERROR: x`, 6, "must be in double quotes"},
		{`"unterminated`, 1, "unterminated quoted string"},
		{`ERROR %x%`, 7, "must be the whole text pattern"},
		{`%x!%`, 3, "character '!' is not supported"},
		{`? x`, 1, "must be followed by a term"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.pattern)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q): got %v, want a SyntaxError", tt.pattern, err)
			continue
		}
		if se.Offset+1 != tt.col || !strings.Contains(se.Msg, tt.msg) {
			t.Errorf("Parse(%q): got column %d %q, want column %d containing %q", tt.pattern, se.Offset+1, se.Msg, tt.col, tt.msg)
		}
	}
}

func TestMatchSpaceDelimitedAWSDocExamples(t *testing.T) {
	lines := []string{
		`127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534`,
		`127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324`,
		`127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 4355`,
	}
	tests := []struct {
		pattern string
		want    []bool
	}{
		{`[ip, user, username, timestamp, request, status_code, bytes]`, []bool{true, true, true}},
		{`[ip, user, username, timestamp, request, status_code]`, []bool{false, false, false}},
		{`[..., status_code, bytes]`, []bool{true, true, true}},
		{`[ip, user, ..., status_code, bytes]`, []bool{true, true, true}},
		{`[ip, user, ...]`, []bool{true, true, true}},
		{`[ip, user, username, timestamp, request, status_code, bytes > 1000]`, []bool{true, true, true}},
		{`[ip, user, username, timestamp, request, status_code, bytes > 5000]`, []bool{false, true, false}},
		{`[ip, user, username, timestamp, request, status_code = 200, bytes]`, []bool{true, false, true}},
		{`[..., status_code = 5*, bytes]`, []bool{false, true, false}},
		{`[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]`, []bool{false, false, false}},
		{`[..., request = *.gif*, status_code != 500, bytes]`, []bool{true, false, true}},
		{`[ip, ..., timestamp = *13:35*, request, status_code, bytes]`, []bool{false, true, false}},
		{`[ip, user, username, timestamp, request, status_code = 200 && bytes < 2000, bytes]`, []bool{true, false, false}},
	}
	for _, tt := range tests {
		p, err := Parse(tt.pattern)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.pattern, err)
			continue
		}
		for i, l := range lines {
			if got := p.Match([]byte(l)); got != tt.want[i] {
				t.Errorf("%s on line %d: got %v, want %v", tt.pattern, i+1, got, tt.want[i])
			}
		}
	}
	// The documentation's example with a trailing comma: the last field is unnamed.
	l := `127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534`
	if !MustParse(`[..., request=*.html*, status_code=4*,]`).Match([]byte(l)) {
		t.Errorf("[..., request=*.html*, status_code=4*,] does not match %s", l)
	}
	words := []string{"ERROR WARN message", "ERROR message", "WARN message"}
	for _, tt := range []struct {
		pattern string
		want    []bool
	}{
		{`[w1=ERROR, w2]`, []bool{false, true, false}},
		{`[w1=ERROR || w1=WARN, w2]`, []bool{false, true, true}},
		{`[w1=ERROR, ...]`, []bool{true, true, false}},
	} {
		for i, w := range words {
			if got := MustParse(tt.pattern).Match([]byte(w)); got != tt.want[i] {
				t.Errorf("%s on %q: got %v, want %v", tt.pattern, w, got, tt.want[i])
			}
		}
	}
}
