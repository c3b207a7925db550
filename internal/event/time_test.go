package event

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	utc := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return t.UTC()
	}
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-01-28T19:15:02Z", utc("2026-01-28T19:15:02Z"), true},
		{"2026-01-28T19:15:02.117Z", utc("2026-01-28T19:15:02.117Z"), true},
		{"2026-01-28T19:15:02.117000", utc("2026-01-28T19:15:02.117Z"), true}, // naive ISO: UTC
		{"2026-01-28 19:15:02,117", utc("2026-01-28T19:15:02.117Z"), true},    // Python asctime
		{"2026-01-28T21:15:02+02:00", utc("2026-01-28T19:15:02Z"), true},
		{"2026-01-28T14:15:02-0500", utc("2026-01-28T19:15:02Z"), true},
		{"2026-01-28T19:15:02.123456789123Z", utc("2026-01-28T19:15:02.123456789Z"), true},
		{"1769627702.118532", utc("2026-01-28T19:15:02.118532Z"), true}, // epoch seconds, float
		{"1769627702", utc("2026-01-28T19:15:02Z"), true},
		{"1769627702118", utc("2026-01-28T19:15:02.118Z"), true}, // epoch milliseconds
		{"2026-02-30T00:00:00Z", time.Time{}, false},
		{"2026-01-28T24:00:00Z", time.Time{}, false},
		{"2026-01-28T19:15:02.Z", time.Time{}, false},
		{"2026-01-28T19:15:02 junk", time.Time{}, false},
		{"2026-01-28", time.Time{}, false},
		{"", time.Time{}, false},
		{"NaN", time.Time{}, false},
		{"-5", time.Time{}, false},
		{"1e300", time.Time{}, false},
		{"9999-01-01T00:00:00Z", time.Time{}, false}, // beyond MaxTime
		{"1969-12-31T23:59:59Z", time.Time{}, false}, // before MinTime
		{"2024-02-29T00:00:00Z", utc("2024-02-29T00:00:00Z"), true},
		{"2023-02-29T00:00:00Z", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseTime(tt.in)
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
		if ok && got.Location() != time.UTC {
			t.Errorf("ParseTime(%q): location %v, want UTC", tt.in, got.Location())
		}
	}
}

func TestParseTimeAgreesWithTimeParse(t *testing.T) {
	base := time.Date(2026, 1, 28, 19, 15, 2, 0, time.UTC)
	for i := range 5000 {
		want := base.Add(time.Duration(i) * 7919 * time.Millisecond * 1013)
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.000-07:00", "2006-01-02 15:04:05,000"} {
			s := want.In(time.FixedZone("x", (i%25-12)*3600)).Format(layout)
			if layout == "2006-01-02 15:04:05,000" {
				s = want.Format(layout)
			}
			got, ok := ParseTime(s)
			if !ok || !got.Equal(want.Truncate(time.Millisecond)) && !got.Equal(want) {
				t.Fatalf("ParseTime(%q) = %v, %v; want %v", s, got, ok, want)
			}
		}
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		ok   bool
	}{
		{"401", 401, true}, {"401.0", 401, true}, {"-3.5", -3.5, true}, {"1e3", 1000, true},
		{"+7", 7, true}, {".5", 0.5, true}, {"5.", 5, true}, {"4.01E2", 401, true}, {"1e-3", 0.001, true},
		{"", 0, false}, {"NaN", 0, false}, {"Inf", 0, false}, {"0x1F", 0, false}, {"12abc", 0, false},
		// ParseFloat takes these; none is a decimal number.
		{"+Inf", 0, false}, {"-inf", 0, false}, {"+NaN", 0, false}, {"-Infinity", 0, false},
		{"0x1Fp0", 0, false}, {"0x_1p0", 0, false}, {"1_000", 0, false},
		{".", 0, false}, {"-", 0, false}, {"1e", 0, false}, {"1e+", 0, false}, {"e5", 0, false},
		{" 401", 0, false}, {"401 ", 0, false}, {"1e400", 0, false},
	}
	for _, tt := range tests {
		got, ok := Number(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("Number(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestEventFields(t *testing.T) {
	var e Event
	e.Add("a", "1")
	e.Set("b", "2")
	e.Set("a", "3")
	if v, ok := e.Get("a"); !ok || v != "3" {
		t.Errorf("Get(a) = %q, %v; want 3", v, ok)
	}
	if _, ok := e.Get("c"); ok {
		t.Error("Get(c) found an absent field")
	}
	c := e.Clone()
	c.Set("a", "changed")
	if v, _ := e.Get("a"); v != "3" {
		t.Errorf("Clone shares fields: original a = %q", v)
	}
	e.Reset()
	if len(e.Fields) != 0 || !e.Time.IsZero() {
		t.Errorf("Reset left %v", e)
	}
}
