package alarms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

func fiveRules(threshold int, group string) string {
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range 5 {
		fmt.Fprintf(&b, "  - id: r%d\n    match: {event_type: e%d}\n    window: 5m\n    threshold: %d\n    alarm: {filter_pattern: '\"e%d\"', log_group: %s}\n", i, i, threshold, i, group)
	}
	return b.String()
}

func planFor(t *testing.T, f *fakeAWS, text string, prune bool) (*Reconciler, *Plan) {
	t.Helper()
	want, errs := Desired(parseRules(t, text), testSettings)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	r := &Reconciler{CloudWatch: f, Logs: f, Prune: prune}
	p, err := r.Plan(t.Context(), want)
	if err != nil {
		t.Fatal(err)
	}
	return r, p
}

func countsOf(p *Plan) string {
	c, u, d := p.Counts()
	return fmt.Sprintf("%d/%d/%d", c, u, d)
}

func applyPlan(t *testing.T, r *Reconciler, p *Plan) {
	t.Helper()
	if _, err := r.Apply(t.Context(), p); err != nil {
		t.Fatal(err)
	}
}

// TestPlanFollowsEveryPage: with more alarms and filters than fit on a
// page, a plan after apply finds them all and has nothing to do.
func TestPlanFollowsEveryPage(t *testing.T) {
	f := newFakeAWS()
	r, p := planFor(t, f, fiveRules(10, "/g"), false)
	if got := countsOf(p); got != "10/0/0" {
		t.Fatalf("first plan: got %s creates/updates/deletes, want 10/0/0", got)
	}
	applyPlan(t, r, p)
	// Each filter is put before the alarm that watches its metric.
	for i := range 5 {
		fi := strings.Join(f.calls, "\n")
		if a, b := strings.Index(fi, fmt.Sprintf("PutMetricFilter secwatch-r%d ", i)), strings.Index(fi, fmt.Sprintf("PutMetricAlarm secwatch-r%d", i)); a < 0 || b < a {
			t.Errorf("r%d: filter at %d, alarm at %d in calls:\n%s", i, a, b, fi)
		}
	}
	_, p = planFor(t, f, fiveRules(10, "/g"), false)
	if got := countsOf(p); got != "0/0/0" || len(p.Unchanged) != 10 {
		t.Errorf("second plan: got %s and %d unchanged, want 0/0/0 and 10", got, len(p.Unchanged))
	}
}

// TestPlanSeesChangesMadeByHand: an alarm edited outside secwatch is put
// back, and the plan says it was changed outside.
func TestPlanSeesChangesMadeByHand(t *testing.T) {
	f := newFakeAWS()
	r, p := planFor(t, f, fiveRules(10, "/g"), false)
	applyPlan(t, r, p)
	a := f.alarms["secwatch-r3"]
	a.Threshold = aws.Float64(1000)
	a.AlarmActions = nil
	f.alarms["secwatch-r3"] = a
	_, p = planFor(t, f, fiveRules(10, "/g"), false)
	if got := countsOf(p); got != "0/1/0" {
		t.Fatalf("got %s, want 0/1/0", got)
	}
	c := p.Changes[0]
	if c.Name != "secwatch-r3" || c.Reason != "changed outside secwatch since it was applied" || len(c.Fields) != 2 ||
		c.Fields[0] != (FieldChange{"threshold", "1000", "10"}) || c.Fields[1].Field != "alarm_actions" || c.Fields[1].Old != "none" {
		t.Errorf("change: %+v", c)
	}
}

// TestPlanMovesFilterToNewLogGroup: when a rule's log group changes, the
// filter is created on the new group and deleted from the old one (else
// both would feed the metric), and the alarm is only re-tagged.
func TestPlanMovesFilterToNewLogGroup(t *testing.T) {
	f := newFakeAWS()
	r, p := planFor(t, f, fiveRules(10, "/old"), false)
	applyPlan(t, r, p)
	f.calls = nil
	r, p = planFor(t, f, fiveRules(10, "/new"), false)
	if got := countsOf(p); got != "5/5/5" {
		t.Fatalf("got %s, want 5/5/5", got)
	}
	applyPlan(t, r, p)
	calls := strings.Join(f.calls, "\n")
	if strings.Contains(calls, "PutMetricAlarm") || strings.Count(calls, "TagResource") != 5 || strings.Count(calls, "DeleteMetricFilter") != 5 || strings.Contains(calls, "DeleteMetricFilter secwatch-r0 /new") {
		t.Errorf("calls:\n%s", calls)
	}
	for _, mf := range f.filters {
		if aws.ToString(mf.LogGroupName) != "/new" {
			t.Errorf("filter %s left on %s", aws.ToString(mf.FilterName), aws.ToString(mf.LogGroupName))
		}
	}
	if _, p = planFor(t, f, fiveRules(10, "/new"), false); countsOf(p) != "0/0/0" {
		t.Errorf("plan after the move: %s", countsOf(p))
	}
}

// TestPruneLeavesUnownedFilters: a metric filter named like secwatch's but
// without a managed alarm is reported and never deleted.
func TestPruneLeavesUnownedFilters(t *testing.T) {
	f := newFakeAWS()
	f.filters = append(f.filters, logstypes.MetricFilter{
		FilterName: aws.String("secwatch-ghost"), LogGroupName: aws.String("/g"), FilterPattern: aws.String("x"),
		MetricTransformations: []logstypes.MetricTransformation{{MetricName: aws.String("m"), MetricNamespace: aws.String("n"), MetricValue: aws.String("1")}},
	})
	_, p := planFor(t, f, "rules: []\n", true)
	if got := countsOf(p); got != "0/0/0" {
		t.Errorf("got %s, want nothing to do", got)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "metric filter secwatch-ghost on /g has secwatch's name but no managed alarm") {
		t.Errorf("warnings: %q", p.Warnings)
	}
}

// TestPlanJSON: the JSON document carries the changes, fields and a
// summary.
func TestPlanJSON(t *testing.T) {
	f := newFakeAWS()
	_, p := planFor(t, f, fiveRules(10, "/g"), false)
	var b bytes.Buffer
	if err := p.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Changes []struct {
			Action, Kind, Name string
			LogGroup           string `json:"log_group"`
			Fields             []FieldChange
		}
		Summary map[string]int
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Changes) != 10 || doc.Summary["create"] != 10 || doc.Summary["unchanged"] != 0 ||
		doc.Changes[0].Action != "create" || doc.Changes[0].Kind != KindFilter || doc.Changes[0].LogGroup != "/g" || doc.Changes[0].Fields[0].Field != "pattern" {
		t.Errorf("got %d changes, summary %v", len(doc.Changes), doc.Summary)
	}
}
