package format

import (
	"strings"
	"testing"
	"time"
)

func TestParseSyslog(t *testing.T) {
	ref := time.Date(2026, 3, 12, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name, line, time string
		want             []string // key, value pairs
		err              string
	}{
		{"rfc 3164 file line", "Mar  1 12:00:01 web-1 sshd[123]: Failed password for root from 203.0.113.7 port 22 ssh2",
			"2026-03-01T12:00:01Z", []string{"host", "web-1", "program", "sshd", "pid", "123",
				"message", "Failed password for root from 203.0.113.7 port 22 ssh2"}, ""},
		{"tag without pid", "Mar 11 02:03:04 gw CRON: (root) CMD (run-parts)",
			"2026-03-11T02:03:04Z", []string{"host", "gw", "program", "CRON", "message", "(root) CMD (run-parts)"}, ""},
		{"no host", "Mar  1 12:00:01 kernel: oops",
			"2026-03-01T12:00:01Z", []string{"program", "kernel", "message", "oops"}, ""},
		{"no tag", "Mar  1 12:00:01 gw last message repeated 3 times",
			"2026-03-01T12:00:01Z", []string{"host", "gw", "message", "last message repeated 3 times"}, ""},
		{"with pri", "<38>Mar  1 12:00:01 gw sshd[9]: hi",
			"2026-03-01T12:00:01Z", []string{"facility", "auth", "severity", "info", "host", "gw", "program", "sshd", "pid", "9", "message", "hi"}, ""},
		{"rsyslog iso time", "2026-03-01T12:00:01.123456+01:00 gw sshd[9]: hi",
			"2026-03-01T11:00:01.123456Z", []string{"host", "gw", "program", "sshd", "pid", "9", "message", "hi"}, ""},
		{"rfc 5424", `<165>1 2026-03-01T12:00:01.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="App\"lication"][x@1 a="]\]"] An application event`,
			"2026-03-01T12:00:01.003Z", []string{"facility", "local4", "severity", "notice", "host", "mymachine.example.com",
				"program", "evntslog", "msgid", "ID47", "exampleSDID@32473.iut", "3", "exampleSDID@32473.eventSource", `App"lication`,
				"x@1.a", "]]", "message", "An application event"}, ""},
		{"rfc 5424 nil values", "<34>1 2026-03-01T12:00:01Z host su - - - \ufeff'su root' failed",
			"2026-03-01T12:00:01Z", []string{"facility", "auth", "severity", "crit", "host", "host", "program", "su", "message", "'su root' failed"}, ""},
		{"not syslog", "hello world", "", nil, `not a syslog line at byte 1: want a time like "Mar  1 12:00:01" or <PRI>`},
		{"bad time", "Mar 41 12:00:01 gw x: y", "", nil, `invalid syslog time "Mar 41 12:00:01" at byte 1`},
		{"bad pri", "<999>Mar  1 12:00:01 gw x: y", "", nil, "invalid syslog priority 999 at byte 1: want 0 to 191"},
		{"short 5424", "<34>1 2026-03-01T12:00:01Z host", "", nil, "invalid rfc 5424 header at byte 33: want TIME HOST APP PROCID MSGID"},
		{"bad sd", `<34>1 2026-03-01T12:00:01Z h a - - [id x="1 msg`, "", nil, "invalid rfc 5424 structured data at byte 36: unterminated parameter value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := parseLine(mustParser(t, "syslog", Options{Reference: ref}), tt.line, time.Time{})
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

// With a pattern, the message's named groups become fields; syslog fields
// stay; a message that does not match adds nothing and is no error.
func TestParseSyslogPattern(t *testing.T) {
	p := mustParser(t, "syslog", Options{TimeZone: "Europe/Paris", Reference: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC),
		Pattern: `^Failed password for (?:invalid user )?(?P<user>\S+) from (?P<client_ip>\S+)|^(?P<host>x)`})
	ev, err := parseLine(p, "Mar  1 12:00:01 gw sshd[5]: Failed password for invalid user admin from 198.51.100.4 port 4 ssh2", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := ev.Get("user"); u != "admin" {
		t.Errorf("user = %q, want admin", u)
	}
	if ip, _ := ev.Get("client_ip"); ip != "198.51.100.4" {
		t.Errorf("client_ip = %q, want 198.51.100.4", ip)
	}
	if want := time.Date(2026, 3, 1, 11, 0, 1, 0, time.UTC); !ev.Time.Equal(want) {
		t.Errorf("time = %v, want %v (time_zone Europe/Paris)", ev.Time, want)
	}
	ev, err = parseLine(p, "Mar  1 12:00:02 gw sshd[5]: Connection closed", time.Time{})
	if err != nil || len(ev.Fields) != 4 {
		t.Errorf("unmatched message: fields %v, err %v; want the 4 syslog fields", ev.Fields, err)
	}
	if _, err := NewParser("syslog", Options{Pattern: `(\d+)`}); err == nil || !strings.Contains(err.Error(), "pattern: has no named groups") {
		t.Errorf("pattern without groups: err = %v", err)
	}
}

func BenchmarkParseSyslog(b *testing.B) {
	p, _ := NewParser("syslog", Options{Reference: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)})
	line := []byte("Mar  1 12:00:01 web-1 sshd[123]: Failed password for root from 203.0.113.7 port 22 ssh2")
	benchParse(b, p, line)
}
