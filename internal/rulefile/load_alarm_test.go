package rulefile

import (
	"strings"
	"testing"
)

func TestAlarmFormat(t *testing.T) {
	const head = "rules:\n  - id: r\n    window: 5m\n    threshold: 1\n    match: {a: b}\n"
	for _, f := range []string{"json", "text"} {
		rs, err := Parse("r.yaml", []byte(head+"    alarm: {format: "+f+"}\n"))
		if err != nil {
			t.Fatalf("format %s: %v", f, err)
		}
		if got := rs[0].Alarm.Format; got != f {
			t.Errorf("Alarm.Format = %q, want %q", got, f)
		}
	}
	rs, err := Parse("r.yaml", []byte(head+"    alarm: {}\n"))
	if err != nil || rs[0].Alarm.Format != "" {
		t.Fatalf("alarm: {}: got %v, format %q; want no error and an empty format", err, rs[0].Alarm.Format)
	}
	_, err = Parse("r.yaml", []byte(head+"    alarm: {format: xml}\n"))
	want := `r.yaml:6:21: rule "r": alarm.format: must be one of json, text, got "xml"`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want %s", err, want)
	}
	// The format changes the filter, so it changes the rule's hash.
	a, _ := Parse("r.yaml", []byte(head+"    alarm: {format: json}\n"))
	b, _ := Parse("r.yaml", []byte(head+"    alarm: {format: text}\n"))
	if a[0].Hash == b[0].Hash {
		t.Error("rules differing only in alarm.format have the same hash")
	}
}
