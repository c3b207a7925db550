package format

import (
	"strings"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/event"
)

func TestTimeFormat(t *testing.T) {
	ref := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name, format, zone, in string
		want                   string // RFC 3339 in UTC; "" means the value is refused
	}{
		{"default iso", "", "", "2026-03-01T12:00:01Z", "2026-03-01T12:00:01Z"},
		{"iso zoneless in zone", "iso8601", "Europe/Paris", "2026-03-01 12:00:01", "2026-03-01T11:00:01Z"},
		{"iso zoneless in summer", "", "Europe/Paris", "2026-07-01T12:00:01.5", "2026-07-01T10:00:01.5Z"},
		{"iso with zone keeps it", "iso8601", "Europe/Paris", "2026-03-01T12:00:01+05:00", "2026-03-01T07:00:01Z"},
		{"strftime", "%Y-%m-%d %H:%M:%S", "", "2026-03-01 12:00:01", "2026-03-01T12:00:01Z"},
		{"strftime fraction after seconds", "%Y-%m-%d %H:%M:%S", "", "2026-03-01 12:00:01.250", "2026-03-01T12:00:01.25Z"},
		{"strftime %f", "%d.%m.%Y %H:%M:%S,%f", "UTC", "01.03.2026 12:00:01,123456", "2026-03-01T12:00:01.123456Z"},
		{"strftime clf", "%d/%b/%Y:%H:%M:%S %z", "", "10/Oct/2026:13:55:36 -0700", "2026-10-10T20:55:36Z"},
		{"strftime in zone", "%Y%m%d %H%M%S", "America/New_York", "20260110 080000", "2026-01-10T13:00:00Z"},
		{"strftime syslog", "%b %e %H:%M:%S", "", "Mar  1 12:00:01", "2026-03-01T12:00:01Z"},
		{"strftime epoch", "%s", "", "1769627702", "2026-01-28T19:15:02Z"},
		{"go layout", "Jan 2, 2006 at 3:04pm (MST)", "", "Feb 3, 2026 at 4:05pm (UTC)", "2026-02-03T16:05:00Z"},
		{"clf", "clf", "", "10/Oct/2026:13:55:36 +0000", "2026-10-10T13:55:36Z"},
		{"rfc3164", "rfc3164", "", "Mar  1 12:00:01", "2026-03-01T12:00:01Z"},
		{"rfc3164 zero-padded day", "rfc3164", "", "Mar 01 12:00:01", "2026-03-01T12:00:01Z"},
		{"rfc3164 in zone", "rfc3164", "Asia/Tokyo", "Mar  1 12:00:01", "2026-03-01T03:00:01Z"},
		{"rfc5424", "rfc5424", "", "2026-03-01T12:00:01.003+01:00", "2026-03-01T11:00:01.003Z"},
		{"epoch", "epoch", "", "1769627702.5", "2026-01-28T19:15:02.5Z"},
		{"epoch refuses ms", "epoch", "", "1769627702000", ""},
		{"epoch refuses iso", "epoch", "", "2026-03-01T12:00:01Z", ""},
		{"epoch_ms", "epoch_ms", "", "1769627702123", "2026-01-28T19:15:02.123Z"},
		{"epoch_ms refuses text", "epoch_ms", "", "soon", ""},
		{"layout mismatch", "%Y-%m-%d", "", "01/03/2026", ""},
		{"out of range", "%Y-%m-%d", "", "1960-01-01", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, err := newTimeParser(tt.format, tt.zone, ref)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := tp.parse(tt.in, time.Time{})
			if tt.want == "" {
				if ok {
					t.Errorf("parse(%q) = %v, want refused", tt.in, got)
				}
				return
			}
			if !ok || got.Format(time.RFC3339Nano) != tt.want || got.Location() != time.UTC {
				t.Errorf("parse(%q) = %v, %v; want %s in UTC", tt.in, got, ok, tt.want)
			}
		})
	}
}

func TestTimeFormatErrors(t *testing.T) {
	tests := []struct{ format, zone, want string }{
		{"rfc3146", "", `time_format: unknown name "rfc3146" (did you mean "rfc3164"?)`},
		{"EPOCH", "", `time_format: unknown name "EPOCH" (did you mean "epoch"?)`},
		{"yyyy-mm-dd", "", `time_format: "yyyy-mm-dd": has no date or time elements (valid: a Go layout`},
		{"%Y-%m-%d %Q", "", `time_format: "%Y-%m-%d %Q": unknown directive %Q at byte 10`},
		{"%Y-%m-%d 1%H", "", `time_format: "%Y-%m-%d 1%H": literal text " 1" would be read as a date or time element`},
		{"%Y %", "", `time_format: "%Y %": lone % at the end`},
		{"%H:%M:%S%f", "", `time_format: "%H:%M:%S%f": %f must follow '.' or ','`},
		{"%s %H", "", `time_format: "%s %H": %s (epoch seconds) must be the whole format`},
		{"", "Europe/Pariss", `time_zone: unknown zone "Europe/Pariss" (an IANA name like "Europe/Paris", "UTC" or "Local")`},
		{"", "../../etc/passwd", `time_zone: must be an IANA zone name like "Europe/Paris"`},
	}
	for _, tt := range tests {
		_, err := newTimeParser(tt.format, tt.zone, time.Time{})
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("newTimeParser(%q, %q) = %v, want %q…", tt.format, tt.zone, err, tt.want)
		}
	}
}

// Year inference: a log crossing New Year gets increasing years, whether
// the reference is after the log (replay of a file, its mtime) or before
// it; a date more than a day ahead of the reference is last year's.
func TestInferYear(t *testing.T) {
	lines := []string{"Dec 31 23:59:58", "Dec 31 23:59:59", "Jan  1 00:00:01", "Jan  1 00:10:00"}
	want := []string{"2026-12-31T23:59:58Z", "2026-12-31T23:59:59Z", "2027-01-01T00:00:01Z", "2027-01-01T00:10:00Z"}
	for _, ref := range []time.Time{
		time.Date(2027, 1, 1, 0, 15, 0, 0, time.UTC),   // mtime after the last line
		time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), // before the first line
		time.Date(2027, 1, 20, 0, 0, 0, 0, time.UTC),   // weeks later
	} {
		tp, err := newTimeParser("rfc3164", "", ref)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range lines {
			got, ok := tp.parse(l, time.Time{})
			if !ok || got.Format(time.RFC3339) != want[i] {
				t.Errorf("reference %v: parse(%q) = %v, want %s", ref, l, got, want[i])
			}
		}
	}
	tp, _ := newTimeParser("rfc3164", "", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	for _, c := range []struct{ in, want string }{
		{"Feb 28 10:00:00", "2026-02-28T10:00:00Z"}, // before the reference: this year
		{"Mar  1 14:00:00", "2026-03-01T14:00:00Z"}, // within a day ahead (a zone off): this year
		{"Mar  2 10:00:00", "2025-03-02T10:00:00Z"}, // further: last year
	} {
		tp.last, tp.setLast = time.Time{}, false
		if got, _ := tp.parse(c.in, time.Time{}); got.Format(time.RFC3339) != c.want {
			t.Errorf("parse(%q) = %v, want %s", c.in, got, c.want)
		}
	}
	// A caller's fallback time (the CloudWatch timestamp) is the reference.
	tp, _ = newTimeParser("rfc3164", "", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	got, _ := tp.parse("Dec 31 23:59:59", time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC))
	if got.Format(time.RFC3339) != "2026-12-31T23:59:59Z" {
		t.Errorf("with fallback: got %v, want 2026-12-31T23:59:59Z", got)
	}
}

// time_format and time_zone reach the field time of json, logfmt and regex.
func TestTimeFormatOption(t *testing.T) {
	opt := Options{TimeFormat: "%d/%m/%Y %H:%M:%S", TimeZone: "Europe/Paris", TimeField: "when"}
	for format, line := range map[string]string{
		"json":   `{"when":"01/03/2026 12:00:01","a":"b"}`,
		"logfmt": `when="01/03/2026 12:00:01" a=b`,
		"regex":  `01/03/2026 12:00:01 b`,
	} {
		o := opt
		if format == "regex" {
			o.Pattern = `^(?P<when>\S+ \S+) (?P<a>\w+)`
		}
		ev, err := parseLine(mustParser(t, format, o), line, time.Time{})
		if err != nil || !ev.Time.Equal(time.Date(2026, 3, 1, 11, 0, 1, 0, time.UTC)) {
			t.Errorf("%s: time %v, err %v; want 2026-03-01T11:00:01Z", format, ev.Time, err)
		}
	}
	_, err := parseLine(mustParser(t, "json", opt), `{"when":"2026-03-01T12:00:01Z"}`, time.Time{})
	want := `invalid time "2026-03-01T12:00:01Z" in field "when" (time_format "%d/%m/%Y %H:%M:%S")`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
	for format, want := range map[string]string{
		"mcp":    "time_format: not used by format mcp, which knows its time format",
		"clf":    "time_format: not used by format clf, which knows its time format",
		"syslog": "time_format: not used by format syslog, which knows its time format",
	} {
		if _, err := NewParser(format, Options{TimeFormat: "epoch"}); err == nil || err.Error() != want {
			t.Errorf("%s: err = %v, want %s", format, err, want)
		}
	}
	if _, err := NewParser("nginx", Options{TimeZone: "UTC"}); err == nil || err.Error() != "time_zone: not used by format nginx, whose times carry a zone" {
		t.Errorf("nginx time_zone: err = %v", err)
	}
}

var sinkTime time.Time

// BenchmarkTimeFormat is the cost of each kind of time_format on one value.
func BenchmarkTimeFormat(b *testing.B) {
	for _, c := range []struct{ name, format, in string }{
		{"default", "", "2026-01-28T19:15:02.118532Z"},
		{"rfc3164", "rfc3164", "Jan 28 19:15:02"},
		{"strftime", "%Y-%m-%d %H:%M:%S", "2026-01-28 19:15:02"},
	} {
		tp, _ := newTimeParser(c.format, "", time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				sinkTime, _ = tp.parse(c.in, time.Time{})
			}
		})
	}
}

// FuzzTimeFormat: any time_format is refused or gives a parser that never
// panics and never returns a time out of range.
func FuzzTimeFormat(f *testing.F) {
	f.Add("%d/%b/%Y:%H:%M:%S %z", "10/Oct/2026:13:55:36 +0000")
	f.Add("%b %e %H:%M:%S", "Feb 29 12:00:00")
	f.Add("Jan _2 15:04:05.000", "Mar  1 12:00:01.5")
	f.Add("%S.%f", "59.123456789123")
	f.Fuzz(func(t *testing.T, format, value string) {
		tp, err := newTimeParser(format, "", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
		if err != nil {
			return
		}
		if got, ok := tp.parse(value, time.Time{}); ok && !event.InRange(got) {
			t.Errorf("format %q: parse(%q) = %v, out of range", format, value, got)
		}
	})
}
