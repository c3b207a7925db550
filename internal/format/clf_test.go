package format

import (
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/event"
)

const nginxLine = `203.0.113.7 - alice [10/Oct/2026:13:55:36 +0200] "GET /wp-login.php?redirect_to=%2F HTTP/1.1" 401 172 "-" "Mozilla/5.0 \"quoted\" (X11)"`

func TestParseCLF(t *testing.T) {
	tests := []struct {
		name, format, line, time string
		want                     []string
		err                      string
	}{
		{"combined", "clf", nginxLine, "2026-10-10T11:55:36Z", []string{"client_ip", "203.0.113.7", "user", "alice",
			"request", "GET /wp-login.php?redirect_to=%2F HTTP/1.1", "method", "GET", "path", "/wp-login.php",
			"query", "redirect_to=%2F", "protocol", "HTTP/1.1", "status", "401", "bytes", "172",
			"user_agent", `Mozilla/5.0 "quoted" (X11)`}, ""},
		{"common", "clf", `::1 ident - [10/Oct/2026:13:55:36 -0700] "POST /api HTTP/2.0" 200 -`, "2026-10-10T20:55:36Z",
			[]string{"client_ip", "::1", "ident", "ident", "request", "POST /api HTTP/2.0", "method", "POST", "path", "/api",
				"protocol", "HTTP/2.0", "status", "200"}, ""},
		{"garbage request", "nginx", `198.51.100.9 - - [10/Oct/2026:13:55:36 +0000] "\x16\x03\x01\x02\x00\x01" 400 157 "-" "-"`,
			"2026-10-10T13:55:36Z", []string{"client_ip", "198.51.100.9", "request", `\x16\x03\x01\x02\x00\x01`, "status", "400", "bytes", "157"}, ""},
		{"nginx extras", "nginx", `10.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "https://a.example/" "curl/8" "203.0.113.9, 10.0.0.2" 0.004`,
			"2026-10-10T13:55:36Z", []string{"client_ip", "10.0.0.1", "request", "GET / HTTP/1.1", "method", "GET", "path", "/",
				"protocol", "HTTP/1.1", "status", "200", "bytes", "5", "referrer", "https://a.example/", "user_agent", "curl/8",
				"x_forwarded_for", "203.0.113.9, 10.0.0.2", "request_time", "0.004"}, ""},
		{"nginx request_time only", "nginx", `10.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8" 1.250`,
			"2026-10-10T13:55:36Z", []string{"client_ip", "10.0.0.1", "request", "GET / HTTP/1.1", "method", "GET", "path", "/",
				"protocol", "HTTP/1.1", "status", "200", "bytes", "5", "user_agent", "curl/8", "request_time", "1.250"}, ""},
		{"clf refuses extras", "clf", `10.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8" 1.250`,
			"", nil, `unexpected text at byte 78: " 1.250"`},
		{"bad time", "clf", `10.0.0.1 - - [10/Oct/2026:25:55:36 +0000] "GET / HTTP/1.1" 200 5`,
			"", nil, `invalid time at byte 14: "10/Oct/2026:25:55:36 +0000" is not like 10/Oct/2026:13:55:36 +0000`},
		{"no such day", "clf", `10.0.0.1 - - [31/Apr/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 5`,
			"", nil, `invalid time at byte 14: "31/Apr/2026:12:00:00 +0000" is not like 10/Oct/2026:13:55:36 +0000`},
		{"no time", "clf", `10.0.0.1 - - "GET / HTTP/1.1" 200 5`, "", nil, `invalid time at byte 14: want [10/Oct/2026:13:55:36 +0000]`},
		{"unterminated request", "clf", `10.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1 200 5`,
			"", nil, `invalid request at byte 43: unterminated quoted value`},
		{"bad status", "clf", `10.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" OK 5`,
			"", nil, `invalid status at byte 59: want a number, got "OK"`},
		{"truncated", "clf", `10.0.0.1 -`, "", nil, `user missing at byte 11`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := parseLine(mustParser(t, tt.format, Options{}), tt.line, time.Time{})
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Errorf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ev.Time.Format(time.RFC3339Nano); got != tt.time {
				t.Errorf("time = %s, want %s", got, tt.time)
			}
			if d := fieldsDiff(ev.Fields, kv(tt.want...)); d != "" {
				t.Error(d)
			}
		})
	}
}

func BenchmarkParseCLF(b *testing.B) {
	benchParse(b, mustParser(b, "nginx", Options{}), []byte(nginxLine))
}

// benchParse measures p on one line.
func benchParse(b *testing.B, p Parser, line []byte) {
	var ev event.Event
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		ev.Reset()
		if err := p.Parse(line, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzParseText: the syslog, clf and nginx parsers never panic, and a line
// they accept has a time in range.
func FuzzParseText(f *testing.F) {
	for _, s := range []string{nginxLine, "Mar  1 12:00:01 gw sshd[1]: x", `<34>1 2026-03-01T12:00:01Z h a 1 - [x a="\]"] m`,
		`1.2.3.4 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "-" "-" 0.1`, "<191>Dec 31 23:59:59 x"} {
		f.Add(s)
	}
	ref := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, line string) {
		for name, opt := range map[string]Options{
			"syslog": {Reference: ref, Pattern: `(?P<user>\w+) from (?P<client_ip>\S+)`}, "clf": {}, "nginx": {},
		} {
			p := mustParser(t, name, opt)
			ev, err := parseLine(p, line, time.Time{})
			if err == nil && !event.InRange(ev.Time) {
				t.Errorf("%s: accepted %q with time %v", name, line, ev.Time)
			}
		}
	})
}
