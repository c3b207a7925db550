package alerting

import (
	"fmt"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
)

// TestNewDocumentRedactsSamples: a secret-named field of a sample the
// engine kept is redacted in the alert document (moved here from the
// engine's TestSamples with the document).
func TestNewDocumentRedactsSamples(t *testing.T) {
	rs, err := rulefile.Parse("r.yaml", []byte(`rules:
  - id: r
    match: {type: fail}
    group_by: [ip]
    window: 10s
    threshold: 4
`))
	if err != nil {
		t.Fatal(err)
	}
	e := rules.NewEngine(rs)
	var got []rules.Alert
	for i := range 5 {
		ev := event.Event{Time: time.Unix(int64(i), 0).UTC(), Fields: []event.Field{
			{Key: "type", Value: "fail"}, {Key: "ip", Value: "a"}, {Key: "n", Value: fmt.Sprint(i)},
			{Key: "authorization", Value: "Bearer-xyz"},
		}}
		got = append(got, e.Observe(&ev)...)
	}
	if len(got) != 1 {
		t.Fatalf("got %d alerts, want 1", len(got))
	}
	doc := NewDocument(&got[0])
	if len(doc.Samples) == 0 {
		t.Fatal("document without samples")
	}
	if v := doc.Samples[0]["authorization"]; v != "[REDACTED]" {
		t.Errorf("sample authorization: got %q, want it redacted", v)
	}
	if doc.AlertID != got[0].ID || doc.Rule != "r" || doc.Count != 5 {
		t.Errorf("document: id %s rule %s count %d; want the alert's id %s, r, 5", doc.AlertID, doc.Rule, doc.Count, got[0].ID)
	}
}
