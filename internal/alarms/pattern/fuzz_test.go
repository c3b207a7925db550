package pattern_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/secwatch/secwatch/internal/alarms/pattern"
	"github.com/secwatch/secwatch/internal/rulefile"
)

var seedPatterns = []string{
	``, `ERROR`, `?ERROR ?WARN`, `ERROR -WARN`, `"Failed to process the request"`, `%^WARN [0-9]+%`,
	`{ $.eventType = "UpdateTrail" }`, `{ $.sourceIPAddress != 123.123.* }`, `{ $.arrayKey[0] = "value" }`,
	`{ $.objectList[1].id = 2 }`, `{ $.SomeObject IS NULL }`, `{ $.SomeOtherObject NOT EXISTS }`,
	`{ $.ThisFlag IS TRUE }`, `{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }`,
	`{ $.latency > +1000 }`, `{ $.numbers[0] < 10e-3 }`, `{ $.message = %bind: address already in use% }`,
	`{ (($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*")) }`,
	`[ip, user, ..., status_code = 4*, bytes > 1000]`, `{ $.a = "x" `, `{ $.a == 1 }`, `"unterminated`,
}

var seedMessages = []string{
	`{"eventType": "UpdateTrail", "a": [1, {"b": null}], "n": 1e3, "s": "x\"y"}`,
	`ERROR WARN message`, `{}`, `{"a": 1} x`, "", `{"users": [1, 2, 3], "latency": 1001}`,
}

// FuzzParse: Parse never panics, errors are positioned inside the pattern,
// and a parsed pattern evaluates any message without panicking.
func FuzzParse(f *testing.F) {
	for i, p := range seedPatterns {
		f.Add(p, seedMessages[i%len(seedMessages)])
	}
	f.Fuzz(func(t *testing.T, src, msg string) {
		p, err := pattern.Parse(src)
		if err != nil {
			se, ok := err.(*pattern.SyntaxError)
			if !ok {
				t.Fatalf("Parse(%q): error %T is not a *SyntaxError", src, err)
			}
			if se.Offset < 0 || se.Offset > len(src) {
				t.Fatalf("Parse(%q): offset %d outside the pattern", src, se.Offset)
			}
			return
		}
		p.Match([]byte(msg))
		if p.String() != src {
			t.Fatalf("String() = %q, want %q", p.String(), src)
		}
	})
}

var seedMatches = []string{
	`{event_type: authentication_failure, not: {details.method: OPTIONS}}`,
	`{status: {gte: 400, lt: 500}, any: [{a: x}, {b: {exists: false}}]}`,
	`{path: {regex: '^/mcp/[a-z]+$'}, ua: {contains: curl, suffix: '1.0'}}`,
	`{client_ip: {cidr: [10.0.0.0/8]}}`,
	`{ok: true, n: [1, 2.5, -3e2]}`,
}

// FuzzCompile: for any rule file that loads, Compile either names the
// rule in its error or returns a pattern that parses and fits CloudWatch's
// limits. Seeded with the shipped rule packs and a few hand-written matches.
func FuzzCompile(f *testing.F) {
	// One seed per shipped rule (small inputs fuzz faster than whole packs).
	files, _ := filepath.Glob("../../../rules/*.yaml")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil || strings.HasSuffix(name, "_test.yaml") {
			continue
		}
		for _, r := range strings.Split(string(data), "\n  - id: ")[1:] {
			f.Add([]byte("rules:\n  - id: " + r + "\n    alarm: {}\n"))
		}
	}
	for _, m := range seedMatches {
		f.Add([]byte("rules:\n  - id: f\n    window: 5m\n    threshold: 1\n    match: " + m + "\n    alarm: {}\n"))
	}
	f.Add([]byte("rules:\n  - id: f\n    window: 5m\n    threshold: 1\n    match: {message: {contains: ERROR}}\n    alarm: {format: text}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, _ := rulefile.Parse("f.yaml", data)
		for _, r := range rs {
			src, err := pattern.Compile(r)
			if err != nil {
				if !strings.Contains(err.Error(), fmt.Sprintf("rule %q", r.ID)) {
					t.Fatalf("error %v does not name the rule %s", err, r.ID)
				}
				continue
			}
			if len(src) > 1024 {
				t.Fatalf("rule %s: pattern of %d bytes", r.ID, len(src))
			}
			if _, err := pattern.Parse(src); err != nil {
				t.Fatalf("rule %s compiled to %q, which does not parse: %v", r.ID, src, err)
			}
		}
	})
}
