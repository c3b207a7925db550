package alerting

import (
	"strings"
	"testing"
	"time"
)

func TestSilenceMatchAndExpiry(t *testing.T) {
	now := time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)
	s, err := NewSilence([]string{"rule=alb-path-scan", `client_ip=~"203\\.0\\.113\\..*"`}, 2*time.Hour, "pentest", now)
	if err != nil {
		t.Fatal(err)
	}
	set := &Silences{List: []Silence{s}}
	b, err := set.Encode()
	if err != nil {
		t.Fatal(err)
	}
	set, err = DecodeSilences(b) // matchers parsed again from the file
	if err != nil {
		t.Fatal(err)
	}
	hit := &Document{Rule: "alb-path-scan", Group: map[string]string{"client_ip": "203.0.113.7"}}
	miss := &Document{Rule: "alb-path-scan", Group: map[string]string{"client_ip": "198.51.100.1"}}
	tests := []struct {
		name string
		doc  *Document
		at   time.Time
		want string
	}{
		{"matching, active", hit, now.Add(time.Hour), s.ID},
		{"other group", miss, now.Add(time.Hour), ""},
		{"before it starts", hit, now.Add(-time.Second), ""},
		{"at its end", hit, now.Add(2 * time.Hour), ""},
	}
	for _, tc := range tests {
		if got := set.Match(tc.doc, tc.at); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	if err := set.Expire(s.ID[:4], now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := set.Match(hit, now.Add(time.Hour)); got != "" {
		t.Errorf("after expire: got %q, want no silence", got)
	}
	if err := set.Expire(s.ID, now.Add(time.Hour)); err == nil || !strings.Contains(err.Error(), "already ended") {
		t.Errorf("expire twice: got %v, want already ended", err)
	}
}

func TestSilenceBadInput(t *testing.T) {
	now := time.Now()
	for name, tc := range map[string]struct {
		matchers []string
		d        time.Duration
		want     string
	}{
		"no matcher":  {nil, time.Hour, "at least one --matcher"},
		"bad matcher": {[]string{"rule"}, time.Hour, "matcher"},
		"zero for":    {[]string{"rule=x"}, 0, "--for must be positive"},
	} {
		if _, err := NewSilence(tc.matchers, tc.d, "", now); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, tc.want)
		}
	}
	if _, err := DecodeSilences([]byte(`{"silences":[{"id":"a","matchers":["=~("]}]}`)); err == nil {
		t.Error("a silences file with a bad matcher decoded without error")
	}
}
