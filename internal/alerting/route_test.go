package alerting

import (
	"context"
	"testing"

	"github.com/secwatch/secwatch/internal/match"
)

// HIGH and CRITICAL go to the pager, everything to the chat notifier.
func TestRouted(t *testing.T) {
	ms, err := match.ParseAll([]string{`severity=~"high|critical"`, `team!=noise`})
	if err != nil {
		t.Fatal(err)
	}
	pager := &fake{name: "pagerduty"}
	chat := &fake{name: "slack"}
	routed := []Notifier{&Routed{Notifier: pager, Match: ms}, &Routed{Notifier: chat}}
	if routed[0].Name() != "pagerduty" {
		t.Errorf("Name() = %q, want the wrapped notifier's", routed[0].Name())
	}
	docs := map[string]func(d *Document){
		"high":           func(d *Document) {},
		"medium":         func(d *Document) { d.Severity = "medium" },
		"critical":       func(d *Document) { d.Severity = "critical" },
		"high but noise": func(d *Document) { d.Labels = map[string]string{"team": "noise"} },
		"group field":    func(d *Document) { d.Group["team"] = "noise" },
	}
	want := map[string]bool{"high": true, "medium": false, "critical": true, "high but noise": false, "group field": false}
	for name, change := range docs {
		d := testDoc(1)
		change(&d)
		before := len(pager.Calls())
		for _, n := range routed {
			if err := n.Notify(context.Background(), &d); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if got := len(pager.Calls()) > before; got != want[name] {
			t.Errorf("%s: paged = %v, want %v", name, got, want[name])
		}
	}
	if got := len(chat.Calls()); got != len(docs) {
		t.Errorf("chat got %d alerts, want all %d", got, len(docs))
	}
}
