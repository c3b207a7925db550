package format

import (
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/event"
)

func TestNewParser(t *testing.T) {
	tests := []struct {
		name    string
		format  string
		opt     Options
		wantErr string
	}{
		{"default is json", "", Options{}, ""},
		{"json", "json", Options{TimeField: "when"}, ""},
		{"logfmt", "logfmt", Options{}, ""},
		{"regex", "regex", Options{Pattern: `(?P<a>\w+)`}, ""},
		{"mcp", "mcp", Options{}, ""},
		{"alb", "alb", Options{}, ""},
		{"unknown", "xml", Options{}, `unknown format "xml" (valid: json, logfmt, regex, syslog, clf, nginx, mcp, alb)`},
		{"format names are exact", "JSON", Options{}, `unknown format "JSON" (valid: json, logfmt, regex, syslog, clf, nginx, mcp, alb)`},
		{"regex without pattern", "regex", Options{}, "pattern: required for format regex"},
		{"regex bad pattern", "regex", Options{Pattern: `(?P<a>`}, "pattern: error parsing regexp: missing closing ): `(?P<a>`"},
		{"regex without named group", "regex", Options{Pattern: `(\w+)`}, "pattern: has no named groups (?P<name>…)"},
		{"pattern on json", "json", Options{Pattern: `x`}, "pattern: only valid with formats regex and syslog"},
		{"pattern on mcp", "mcp", Options{Pattern: `x`}, "pattern: only valid with formats regex and syslog"},
		{"time_field on mcp", "mcp", Options{TimeField: "t"}, "time_field: not used by format mcp"},
		{"time_field on alb", "alb", Options{TimeField: "t"}, "time_field: not used by format alb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewParser(tt.format, tt.opt)
			if tt.wantErr == "" {
				if err != nil || p == nil {
					t.Fatalf("NewParser: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// Every format gives ErrEmptyLine for blank lines, which callers skip.
func TestParseEmptyLine(t *testing.T) {
	opts := map[string]Options{"regex": {Pattern: `(?P<a>.*)`}}
	for _, f := range Formats {
		p := mustParser(t, f, opts[f])
		for _, line := range []string{"", "   ", "\r", " \t \r"} {
			var ev event.Event
			if err := p.Parse([]byte(line), &ev); err != ErrEmptyLine {
				t.Errorf("%s: Parse(%q) = %v, want ErrEmptyLine", f, line, err)
			}
		}
	}
}

func TestParseLogfmt(t *testing.T) {
	tests := []struct {
		name string
		line string
		want []event.Field
		err  string
	}{
		{"pairs", `time=2026-01-28T19:15:02Z level=warn msg=hello n=3`,
			kv("time", "2026-01-28T19:15:02Z", "level", "warn", "msg", "hello", "n", "3"), ""},
		{"quoted with escapes", `ts=1769627702 msg="quoted \"value\" with\ttab\\ and \u00e9" x="plain"`,
			kv("ts", "1769627702", "msg", "quoted \"value\" with\ttab\\ and é", "x", "plain"), ""},
		{"bare key is true", `ts=1769627702 debug user=bob`,
			kv("ts", "1769627702", "debug", "true", "user", "bob"), ""},
		{"empty value is present", `ts=1769627702 a= b=""`,
			kv("ts", "1769627702", "a", "", "b", ""), ""},
		{"first wins", `ts=1769627702 a=1 a=2`, kv("ts", "1769627702", "a", "1"), ""},
		{"extra spaces and CR", "  ts=1769627702   a=1  \r", kv("ts", "1769627702", "a", "1"), ""},
		{"value with equals", `ts=1769627702 q=a=b`, kv("ts", "1769627702", "q", "a=b"), ""},
		{"unterminated quote", `ts=1769627702 msg="open`, nil, "invalid logfmt at byte 18: unterminated quoted value"},
		{"missing key", `ts=1769627702 =x`, nil, "invalid logfmt at byte 14: expected key"},
		{"quote in key", `ts=1769627702 a"b=1`, nil, "invalid logfmt at byte 15: quote in key"},
		{"junk after quote", `ts=1769627702 a="x"y`, nil, "invalid logfmt at byte 19: expected space after quoted value"},
		{"invalid time", `ts=never`, nil, `invalid time "never" in field "ts"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := parseLine(mustParser(t, "logfmt", Options{}), tt.line, time.Time{})
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d := fieldsDiff(ev.Fields, tt.want); d != "" {
				t.Errorf("fields differ:%s", d)
			}
			if !ev.Time.Equal(ts) {
				t.Errorf("time = %v, want %v", ev.Time, ts)
			}
		})
	}
}

func TestParseRegex(t *testing.T) {
	const pattern = `^(?P<time>\S+ \S+) \[(?P<level>\w+)\] (?:user=(?P<user>\w*) )?(?P<msg>.*)$`
	tests := []struct {
		name      string
		pattern   string
		timeField string
		line      string
		want      []event.Field
		err       string
	}{
		{"named groups in order", pattern, "", `2026-01-28 19:15:02,000 [WARN] user=bob failed login`,
			kv("time", "2026-01-28 19:15:02,000", "level", "WARN", "user", "bob", "msg", "failed login"), ""},
		{"unmatched group omitted", pattern, "", `2026-01-28 19:15:02,000 [WARN] failed login`,
			kv("time", "2026-01-28 19:15:02,000", "level", "WARN", "msg", "failed login"), ""},
		{"empty group omitted", pattern, "", `2026-01-28 19:15:02,000 [WARN] user= failed login`,
			kv("time", "2026-01-28 19:15:02,000", "level", "WARN", "msg", "failed login"), ""},
		{"no match", pattern, "", `garbage`, nil, "line does not match pattern"},
		{"unanchored pattern finds a match; no time: fallback", `ip=(?P<ip>[0-9.]+)`, "", `x ip=10.0.0.1 y`, kv("ip", "10.0.0.1"), ""},
		{"time_field", `at=(?P<at>\d+) (?P<rest>.*)`, "at", `at=1769627702 hello`,
			kv("at", "1769627702", "rest", "hello"), ""},
		{"invalid time", `(?P<time>\w+)`, "", `never`, nil, `invalid time "never" in field "time"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParser(t, "regex", Options{Pattern: tt.pattern, TimeField: tt.timeField})
			fallback := mustTime("2030-01-01T00:00:00Z")
			ev, err := parseLine(p, tt.line, fallback)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d := fieldsDiff(ev.Fields, tt.want); d != "" {
				t.Errorf("fields differ:%s", d)
			}
			wantTime := ts
			if _, ok := ev.Get("ip"); ok {
				wantTime = fallback
			}
			if !ev.Time.Equal(wantTime) {
				t.Errorf("time = %v, want %v", ev.Time, wantTime)
			}
		})
	}
}

// The regex sees the line as written (minus the CR), so an anchored pattern
// can match leading white space.
func TestParseRegexKeepsLeadingSpace(t *testing.T) {
	p := mustParser(t, "regex", Options{Pattern: `^\t(?P<v>\S+)$`})
	ev, err := parseLine(p, "\tx\r", ts)
	if err != nil {
		t.Fatal(err)
	}
	if d := fieldsDiff(ev.Fields, kv("v", "x")); d != "" {
		t.Errorf("fields differ:%s", d)
	}
}
