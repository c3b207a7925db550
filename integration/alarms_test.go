package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/secwatch/secwatch/internal/alarms"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
)

// alarmsFixture is one test's corner of the shared emulator: its own log
// group, topic, metric namespace, owner tag and rule ids.
type alarmsFixture struct {
	cw     *cloudwatch.Client
	logs   *cloudwatchlogs.Client
	sns    *sns.Client
	group  string
	topic  string
	ns     string
	owner  string
	suffix string // appended to rule ids
}

func newAlarmsFixture(t *testing.T) *alarmsFixture {
	t.Helper()
	endpoint := startAlarmShim(t)
	cfg := awsConfig(endpoint)
	f := &alarmsFixture{
		cw:     cloudwatch.NewFromConfig(cfg),
		logs:   cloudwatchlogs.NewFromConfig(cfg),
		sns:    sns.NewFromConfig(cfg),
		group:  "/mcp-tagging/" + uniqueName(t, "alarms"),
		ns:     uniqueName(t, "ns"),
		owner:  uniqueName(t, "owner"),
		suffix: strconv.FormatInt(nameSeq.Add(1), 10),
	}
	ctx := t.Context()
	if _, err := f.logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: &f.group}); err != nil {
		t.Fatal(err)
	}
	out, err := f.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(uniqueName(t, "alarms"))})
	if err != nil {
		t.Fatal(err)
	}
	f.topic = aws.ToString(out.TopicArn)
	return f
}

// id returns a rule id unique to this fixture.
func (f *alarmsFixture) id(base string) string { return base + "-" + f.suffix }

// rules loads a rule file whose text has %s where the fixture's suffix
// goes.
func (f *alarmsFixture) rules(t *testing.T, text string) []*rules.Rule {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "%s", f.suffix)), 0o644); err != nil {
		t.Fatal(err)
	}
	rs, err := rulefile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func (f *alarmsFixture) settings() alarms.Settings {
	return alarms.Settings{TopicARN: f.topic, LogGroup: f.group, Namespace: f.ns, Owner: f.owner}
}

func (f *alarmsFixture) reconciler(prune bool) *alarms.Reconciler {
	return &alarms.Reconciler{CloudWatch: f.cw, Logs: f.logs, Prune: prune, Owner: f.owner}
}

// plan returns the plan for rs and its text.
func (f *alarmsFixture) plan(t *testing.T, rs []*rules.Rule, s alarms.Settings, prune bool) (*alarms.Plan, string) {
	t.Helper()
	want, errs := alarms.Desired(rs, s)
	if len(errs) > 0 {
		t.Fatalf("desired: %v", errs)
	}
	p, err := f.reconciler(prune).Plan(t.Context(), want)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return p, b.String()
}

func (f *alarmsFixture) apply(t *testing.T, rs []*rules.Rule, s alarms.Settings, prune bool) int {
	t.Helper()
	want, errs := alarms.Desired(rs, s)
	if len(errs) > 0 {
		t.Fatalf("desired: %v", errs)
	}
	r := f.reconciler(prune)
	p, err := r.Plan(t.Context(), want)
	if err != nil {
		t.Fatal(err)
	}
	n, err := r.Apply(t.Context(), p)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return n
}

func counts(p *alarms.Plan) string {
	c, u, d := p.Counts()
	return fmt.Sprintf("create %d, update %d, delete %d", c, u, d)
}

// describe returns the named alarms that exist.
func (f *alarmsFixture) describe(t *testing.T, names ...string) map[string]cwtypes.MetricAlarm {
	t.Helper()
	out, err := f.cw.DescribeAlarms(t.Context(), &cloudwatch.DescribeAlarmsInput{AlarmNames: names})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]cwtypes.MetricAlarm{}
	for _, a := range out.MetricAlarms {
		m[aws.ToString(a.AlarmName)] = a
	}
	return m
}

// filters returns the metric filters of the fixture's log group by name.
func (f *alarmsFixture) filters(t *testing.T) map[string]string {
	t.Helper()
	out, err := f.logs.DescribeMetricFilters(t.Context(), &cloudwatchlogs.DescribeMetricFiltersInput{LogGroupName: &f.group})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, mf := range out.MetricFilters {
		m[aws.ToString(mf.FilterName)] = aws.ToString(mf.FilterPattern)
	}
	return m
}

func (f *alarmsFixture) tags(t *testing.T, arn string) map[string]string {
	t.Helper()
	out, err := f.cw.ListTagsForResource(t.Context(), &cloudwatch.ListTagsForResourceInput{ResourceARN: &arn})
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, tg := range out.Tags {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

const twoRules = `rules:
  - id: auth-burst-%s
    title: Authentication failures
    match: {event_type: authentication_failure}
    group_by: [client_ip]
    window: 5m
    threshold: 10
    alarm: {filter_pattern: '{ $.event_type = "authentication_failure" }'}
  - id: cors-%s
    title: CORS violations
    match: {event_type: cors_violation}
    window: 90s
    threshold: 20
    alarm: {filter_pattern: '"cors_violation"', metric_name: CorsViolations}
`

// TestAlarmsPlanOnEmptyEmulator: nothing exists, so the plan creates a
// metric filter and an alarm per rule, and the heartbeat alarm; it says
// that the grouped rule's alarm is an aggregate, and how the 90s window
// became a period.
func TestAlarmsPlanOnEmptyEmulator(t *testing.T) {
	t.Parallel()
	f := newAlarmsFixture(t)
	rs := f.rules(t, twoRules)
	s := f.settings()
	s.Heartbeat = &alarms.Heartbeat{Namespace: f.ns, MetricName: "Heartbeat", Period: 60e9, MissingAfter: 300e9}
	p, text := f.plan(t, rs, s, false)
	if got, want := counts(p), "create 5, update 0, delete 0"; got != want {
		t.Fatalf("got %s, want %s\n%s", got, want, text)
	}
	auth, cors := "secwatch-"+f.id("auth-burst"), "secwatch-"+f.id("cors")
	for _, want := range []string{
		"+ create metric filter " + auth + " on " + f.group,
		`    pattern: { $.event_type = "authentication_failure" }`,
		"+ create alarm " + auth,
		"    threshold: 10",
		"    period: 300s",
		"    treat_missing_data: notBreaching",
		"    alarm_actions: " + f.topic,
		"aggregate alarm: the rule counts per client_ip",
		"+ create metric filter " + cors + " on " + f.group,
		"    metric: " + f.ns + "/CorsViolations",
		"    period: 120s",
		"window 1m30s is alarmed over a period of 2m",
		"+ create alarm secwatch-heartbeat",
		"    treat_missing_data: breaching",
		"    comparison: LessThanThreshold",
		"    evaluation_periods: 5",
		"plan: 5 to create, 0 to update, 0 to delete, 0 unchanged",
	} {
		if !strings.Contains(text, want+"\n") && !strings.Contains(text, want) {
			t.Errorf("plan lacks %q:\n%s", want, text)
		}
	}
	if strings.Count(text, "aggregate alarm") != 1 {
		t.Errorf("the aggregate note should name only the grouped rule:\n%s", text)
	}
}

// TestAlarmsApplyIsIdempotent: apply creates what the plan said, the
// resources in the emulator carry the wanted fields and tags, and a plan
// made afterwards has nothing to do; a second apply changes nothing.
func TestAlarmsApplyIsIdempotent(t *testing.T) {
	t.Parallel()
	f := newAlarmsFixture(t)
	rs := f.rules(t, twoRules)
	s := f.settings()
	if n := f.apply(t, rs, s, false); n != 4 {
		t.Fatalf("first apply made %d changes, want 4", n)
	}
	auth, cors := "secwatch-"+f.id("auth-burst"), "secwatch-"+f.id("cors")
	got := f.describe(t, auth, cors)
	if len(got) != 2 {
		t.Fatalf("got alarms %v, want %s and %s", got, auth, cors)
	}
	a := got[auth]
	if aws.ToFloat64(a.Threshold) != 10 || aws.ToInt32(a.Period) != 300 || a.ComparisonOperator != cwtypes.ComparisonOperatorGreaterThanThreshold ||
		a.Statistic != cwtypes.StatisticSum || aws.ToString(a.TreatMissingData) != "notBreaching" || !slices.Equal(a.AlarmActions, []string{f.topic}) ||
		aws.ToString(a.Namespace) != f.ns || aws.ToString(a.MetricName) != f.id("auth-burst") || len(a.Dimensions) != 0 {
		t.Errorf("alarm %s is not as wanted: %+v", auth, a)
	}
	tg := f.tags(t, aws.ToString(a.AlarmArn))
	if tg[alarms.TagManaged] != f.owner || tg[alarms.TagRule] != f.id("auth-burst") || len(tg[alarms.TagHash]) != 16 {
		t.Errorf("tags of %s: got %v", auth, tg)
	}
	fl := f.filters(t)
	if fl[auth] != `{ $.event_type = "authentication_failure" }` || fl[cors] != `"cors_violation"` {
		t.Errorf("metric filters: got %v", fl)
	}
	p, text := f.plan(t, rs, s, false)
	if got, want := counts(p), "create 0, update 0, delete 0"; got != want {
		t.Fatalf("plan after apply: got %s, want %s\n%s", got, want, text)
	}
	if !strings.Contains(text, "nothing to do: 4 resources as wanted") {
		t.Errorf("plan after apply:\n%s", text)
	}
	if n := f.apply(t, rs, s, false); n != 0 {
		t.Errorf("second apply made %d changes, want 0", n)
	}
}

// TestAlarmsChangedThresholdIsOneUpdate: raising one rule's threshold
// updates exactly that alarm (threshold and hash tag), and the update
// takes.
func TestAlarmsChangedThresholdIsOneUpdate(t *testing.T) {
	t.Parallel()
	f := newAlarmsFixture(t)
	s := f.settings()
	f.apply(t, f.rules(t, twoRules), s, false)
	auth := "secwatch-" + f.id("auth-burst")
	before := f.tags(t, aws.ToString(f.describe(t, auth)[auth].AlarmArn))[alarms.TagHash]

	changed := f.rules(t, strings.Replace(twoRules, "threshold: 10", "threshold: 25", 1))
	p, text := f.plan(t, changed, s, false)
	if got, want := counts(p), "create 0, update 1, delete 0"; got != want {
		t.Fatalf("got %s, want %s\n%s", got, want, text)
	}
	c := p.Changes[0]
	if c.Kind != alarms.KindAlarm || c.Name != auth {
		t.Fatalf("update of %s %s, want alarm %s", c.Kind, c.Name, auth)
	}
	var fields []string
	for _, fc := range c.Fields {
		fields = append(fields, fc.Field)
	}
	if !slices.Equal(fields, []string{"threshold", "tag " + alarms.TagHash}) {
		t.Errorf("changed fields: got %v, want threshold and the hash tag", fields)
	}
	if !strings.Contains(text, "~ update alarm "+auth+"\n    threshold: 10 -> 25\n") {
		t.Errorf("plan text:\n%s", text)
	}
	if n := f.apply(t, changed, s, false); n != 1 {
		t.Fatalf("apply made %d changes, want 1", n)
	}
	a := f.describe(t, auth)[auth]
	if got := aws.ToFloat64(a.Threshold); got != 25 {
		t.Errorf("threshold after apply: got %v, want 25", got)
	}
	if after := f.tags(t, aws.ToString(a.AlarmArn))[alarms.TagHash]; after == before || after == "" {
		t.Errorf("hash tag: %q before, %q after; want a new one", before, after)
	}
	if p, text := f.plan(t, changed, s, false); counts(p) != "create 0, update 0, delete 0" {
		t.Errorf("plan after the update is not empty:\n%s", text)
	}
}

// TestAlarmsPruneDeletesOnlyItsOwn: with one rule removed, plan lists its
// filter and alarm as orphans; --prune deletes exactly those two, and
// foreign alarms stay: one named like secwatch's but untagged, one another
// deployment owns, and an unrelated one.
func TestAlarmsPruneDeletesOnlyItsOwn(t *testing.T) {
	t.Parallel()
	f := newAlarmsFixture(t)
	s := f.settings()
	f.apply(t, f.rules(t, twoRules), s, false)
	ctx := t.Context()
	foreign := []string{"mcp-tagging-auth-failures-" + f.suffix, "secwatch-" + f.id("hand-made"), "secwatch-" + f.id("other-deployment")}
	for i, name := range foreign {
		in := &cloudwatch.PutMetricAlarmInput{
			AlarmName: aws.String(name), Namespace: aws.String(f.ns), MetricName: aws.String("Foreign"),
			Statistic: cwtypes.StatisticSum, Period: aws.Int32(300), EvaluationPeriods: aws.Int32(1),
			Threshold: aws.Float64(10), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
		}
		if i == 2 {
			in.Tags = []cwtypes.Tag{{Key: aws.String(alarms.TagManaged), Value: aws.String("someone-else")}}
		}
		if _, err := f.cw.PutMetricAlarm(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	onlyAuth := f.rules(t, strings.Split(twoRules, "  - id: cors-%s")[0])
	cors := "secwatch-" + f.id("cors")

	p, text := f.plan(t, onlyAuth, s, false)
	if got, want := counts(p), "create 0, update 0, delete 0"; got != want || len(p.Orphans) != 2 {
		t.Fatalf("without --prune: got %s and %d orphans, want %s and 2\n%s", got, len(p.Orphans), want, text)
	}
	p, text = f.plan(t, onlyAuth, s, true)
	if got, want := counts(p), "create 0, update 0, delete 2"; got != want {
		t.Fatalf("with --prune: got %s, want %s\n%s", got, want, text)
	}
	var deleted []string
	for _, c := range p.Changes {
		deleted = append(deleted, c.Kind+" "+c.Name)
	}
	if want := []string{"metric filter " + cors, "alarm " + cors}; !slices.Equal(deleted, want) {
		t.Errorf("deletes: got %v, want %v", deleted, want)
	}
	if n := f.apply(t, onlyAuth, s, true); n != 2 {
		t.Fatalf("prune made %d changes, want 2", n)
	}
	auth := "secwatch-" + f.id("auth-burst")
	left := f.describe(t, append([]string{auth, cors}, foreign...)...)
	if _, ok := left[cors]; ok {
		t.Errorf("%s survived the prune", cors)
	}
	for _, name := range append([]string{auth}, foreign...) {
		if _, ok := left[name]; !ok {
			t.Errorf("%s was deleted by the prune", name)
		}
	}
	fl := f.filters(t)
	if _, ok := fl[cors]; ok {
		t.Errorf("metric filter %s survived the prune", cors)
	}
	if _, ok := fl[auth]; !ok {
		t.Errorf("metric filter %s was deleted", auth)
	}
}

// TestAlarmsRefuseForeignName: a rule whose alarm name is taken by an
// alarm secwatch does not manage makes the plan fail rather than take the
// alarm over.
func TestAlarmsRefuseForeignName(t *testing.T) {
	t.Parallel()
	f := newAlarmsFixture(t)
	name := "secwatch-" + f.id("auth-burst")
	if _, err := f.cw.PutMetricAlarm(t.Context(), &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String(name), Namespace: aws.String(f.ns), MetricName: aws.String("X"),
		Statistic: cwtypes.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1),
		Threshold: aws.Float64(1), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
	}); err != nil {
		t.Fatal(err)
	}
	want, _ := alarms.Desired(f.rules(t, twoRules), f.settings())
	_, err := f.reconciler(true).Plan(t.Context(), want)
	if err == nil || !strings.Contains(err.Error(), name) {
		t.Fatalf("got %v, want a refusal naming %s", err, name)
	}
}

// TestAlarmsAuditMCPDeployment reproduces the MCP server's deployment:
// metrics published with {Environment, FailureType} and {Environment,
// Origin}, alarms watching {Environment}. Both alarms are flagged as never
// firing (and silently OK); an alarm wired right passes, as does a
// secwatch alarm whose metric filter has not matched yet; an alarm whose
// topic was deleted is flagged.
func TestAlarmsAuditMCPDeployment(t *testing.T) {
	t.Parallel()
	f := newAlarmsFixture(t)
	ctx := t.Context()
	env := "prod"
	ns := "mcp-tagging/" + env + "-" + f.suffix
	put := func(metric string, dims ...string) {
		var ds []cwtypes.Dimension
		for i := 0; i < len(dims); i += 2 {
			ds = append(ds, cwtypes.Dimension{Name: aws.String(dims[i]), Value: aws.String(dims[i+1])})
		}
		if _, err := f.cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: &ns, MetricData: []cwtypes.MetricDatum{
			{MetricName: aws.String(metric), Dimensions: ds, Value: aws.Float64(1), Unit: cwtypes.StandardUnitCount},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	put("AuthenticationFailures", "Environment", env, "FailureType", "invalid_key")
	put("AuthenticationFailures", "Environment", env, "FailureType", "missing_header")
	put("CORSViolations", "Environment", env, "Origin", "https://evil.example")
	put("CORSViolations", "Environment", env, "Origin", "https://evil2.example")
	put("Requests", "Environment", env)

	prefix := "mcp-audit-" + f.suffix + "-"
	alarm := func(name, metric string, threshold float64, topic string, dims ...string) {
		in := &cloudwatch.PutMetricAlarmInput{
			AlarmName: aws.String(prefix + name), Namespace: &ns, MetricName: aws.String(metric),
			Statistic: cwtypes.StatisticSum, Period: aws.Int32(300), EvaluationPeriods: aws.Int32(1),
			Threshold: aws.Float64(threshold), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold,
			TreatMissingData: aws.String("notBreaching"), AlarmActions: []string{topic},
		}
		for i := 0; i < len(dims); i += 2 {
			in.Dimensions = append(in.Dimensions, cwtypes.Dimension{Name: aws.String(dims[i]), Value: aws.String(dims[i+1])})
		}
		if _, err := f.cw.PutMetricAlarm(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	alarm("auth-failures", "AuthenticationFailures", 10, f.topic, "Environment", env)
	alarm("cors-violations", "CORSViolations", 20, f.topic, "Environment", env)
	alarm("requests", "Requests", 1000, f.topic, "Environment", env)
	gone, err := f.sns.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(uniqueName(t, "gone"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.sns.DeleteTopic(ctx, &sns.DeleteTopicInput{TopicArn: gone.TopicArn}); err != nil {
		t.Fatal(err)
	}
	alarm("requests-to-nowhere", "Requests", 1000, aws.ToString(gone.TopicArn), "Environment", env)

	// A secwatch alarm just applied: its metric filter has matched
	// nothing, so the metric is not listed, but it will be published.
	rs := f.rules(t, `rules:
  - id: fresh-%s
    match: {event_type: authentication_failure}
    window: 5m
    threshold: 10
    alarm: {filter_pattern: '{ $.event_type = "authentication_failure" }'}
`)
	f.apply(t, rs, f.settings(), false)

	audit := func(prefix string) *alarms.Report {
		a := &alarms.Auditor{CloudWatch: f.cw, Logs: f.logs, SNS: f.sns, AlarmNamePrefix: prefix}
		rep, err := a.Audit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := audit(prefix)
	var text, js bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, fd := range rep.Findings {
		got[strings.TrimPrefix(fd.Alarm, prefix)] = append(got[strings.TrimPrefix(fd.Alarm, prefix)], fd.Problem)
	}
	want := map[string][]string{
		"auth-failures":       {alarms.NeverFires, alarms.SilentOK},
		"cors-violations":     {alarms.NeverFires, alarms.SilentOK},
		"requests-to-nowhere": {alarms.MissingTopic},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("findings: got %v, want %v\n%s", got, want, text.String())
	}
	if rep.Checked != 4 || !slices.Equal(rep.Passed, []string{prefix + "requests"}) {
		t.Errorf("checked %d, passed %v; want 4 and [%srequests]", rep.Checked, rep.Passed, prefix)
	}
	for _, want := range []string{
		"watches " + ns + "/AuthenticationFailures {Environment=prod}, which no metric is published with (published with {Environment, FailureType} in 2 series)",
		"(published with {Environment, Origin} in 2 series)",
		`"problem": "never-fires"`,
	} {
		if !strings.Contains(text.String()+js.String(), want) {
			t.Errorf("report lacks %q:\n%s\n%s", want, text.String(), js.String())
		}
	}
	fresh := audit("secwatch-" + f.id("fresh"))
	if len(fresh.Findings) != 0 || len(fresh.Passed) != 1 {
		t.Errorf("secwatch's own fresh alarm: got findings %v, passed %v; want it to pass", fresh.Findings, fresh.Passed)
	}
}
