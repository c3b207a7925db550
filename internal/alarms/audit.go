package alarms

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"
)

// auditMetricsAPI is the part of the CloudWatch client the Auditor uses.
type auditMetricsAPI interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
	ListMetrics(ctx context.Context, in *cloudwatch.ListMetricsInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.ListMetricsOutput, error)
}

// auditFiltersAPI is the part of the CloudWatch Logs client the Auditor
// uses.
type auditFiltersAPI interface {
	DescribeMetricFilters(ctx context.Context, in *cloudwatchlogs.DescribeMetricFiltersInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeMetricFiltersOutput, error)
	FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// topicsAPI is the part of the SNS client the Auditor uses.
type topicsAPI interface {
	GetTopicAttributes(ctx context.Context, in *sns.GetTopicAttributesInput, opts ...func(*sns.Options)) (*sns.GetTopicAttributesOutput, error)
}

var (
	_ auditMetricsAPI = (*cloudwatch.Client)(nil)
	_ auditFiltersAPI = (*cloudwatchlogs.Client)(nil)
	_ topicsAPI       = (*sns.Client)(nil)
)

// Problems an audit reports.
const (
	// NeverFires: no metric is published with exactly the namespace, name
	// and dimension set the alarm watches, and no metric filter would
	// publish one, so the alarm cannot leave OK or INSUFFICIENT_DATA.
	NeverFires = "never-fires"
	// SilentOK: the alarm treats missing data as notBreaching and its
	// metric is never published, so it shows a reassuring OK forever
	// instead of INSUFFICIENT_DATA.
	SilentOK = "silent-ok"
	// NoActions: the alarm notifies nobody when it fires.
	NoActions = "no-actions"
	// ActionsDisabled: the alarm has actions but they are switched off.
	ActionsDisabled = "actions-disabled"
	// MissingTopic: an action names an SNS topic that does not exist.
	MissingTopic = "missing-topic"
	// AlarmsOnNothing: the alarm's metric is never published and missing
	// data is breaching, so it is in ALARM for that alone (a heartbeat
	// alarm whose watcher is down, or one wired to the wrong metric).
	AlarmsOnNothing = "alarms-on-nothing"
)

// Auditor inspects the alarms of one account and region. CloudWatch is
// required; Logs (metric filters, which publish metrics only once a log
// event matches, and whether their patterns match the events) and SNS
// (topic existence) may be nil, and then those checks are skipped and the
// report says so.
type Auditor struct {
	CloudWatch auditMetricsAPI
	Logs       auditFiltersAPI
	SNS        topicsAPI
	// AlarmNamePrefix limits the audit to alarms whose names start with
	// it, and the pattern check to the filters feeding them; "" audits
	// every metric alarm and every metric filter.
	AlarmNamePrefix string
	// LookBack is how far back a filter's pattern is run over its log
	// group's events; 0 means DefaultLookBack.
	LookBack time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Finding is one problem of one alarm.
type Finding struct {
	Alarm string `json:"alarm"` // "" for a metric filter no audited alarm watches
	// Filter names the metric filter of a never-matches finding.
	Filter  string `json:"filter,omitempty"`
	Problem string `json:"problem"`
	Detail  string `json:"detail"`
}

// Report is the result of an audit.
type Report struct {
	Checked  int       `json:"alarms_checked"`
	Findings []Finding `json:"findings"`
	// Passed names the alarms without findings.
	Passed []string `json:"passed"`
	// Warnings are checks that could not be made (a topic that could not
	// be read, a client not given).
	Warnings []string `json:"warnings"`
}

// metricKey identifies a metric stream: CloudWatch treats every distinct
// dimension set (names and values) as a different metric.
type metricKey struct{ ns, name string }

// Audit reads every metric alarm (DescribeAlarms, every page), the
// metrics they watch (ListMetrics, which lists metrics with data in the
// last two weeks) and the metric filters of the region, and reports what
// cannot work.
func (a *Auditor) Audit(ctx context.Context) (*Report, error) {
	rep := &Report{Findings: []Finding{}, Passed: []string{}, Warnings: []string{}}
	var alarms []cwtypes.MetricAlarm
	in := &cloudwatch.DescribeAlarmsInput{AlarmTypes: []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm}, MaxRecords: aws.Int32(100)}
	if a.AlarmNamePrefix != "" {
		in.AlarmNamePrefix = aws.String(a.AlarmNamePrefix)
	}
	for {
		out, err := a.CloudWatch.DescribeAlarms(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("describe alarms: %w", err)
		}
		alarms = append(alarms, out.MetricAlarms...)
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	rep.Checked = len(alarms)

	fed, filters, err := a.filterMetrics(ctx, rep)
	if err != nil {
		return nil, err
	}
	dead := map[metricKey][]deadFilter{}
	if a.Logs != nil {
		for _, d := range a.deadFilters(ctx, a.filtersToCheck(filters, alarms), rep) {
			for _, t := range d.filter.MetricTransformations {
				k := metricKey{aws.ToString(t.MetricNamespace), aws.ToString(t.MetricName)}
				dead[k] = append(dead[k], d)
			}
		}
	}
	watchedByAudited := map[*deadFilter]bool{}
	published := map[metricKey][]map[string]string{}
	topics := map[string]error{}
	for _, m := range alarms {
		name := aws.ToString(m.AlarmName)
		before := len(rep.Findings)
		add := func(problem, format string, args ...any) {
			rep.Findings = append(rep.Findings, Finding{Alarm: name, Problem: problem, Detail: fmt.Sprintf(format, args...)})
		}
		watched := watchedMetrics(m)
		unpublished := 0
		for _, w := range watched {
			k := metricKey{w.ns, w.name}
			sets, ok := published[k]
			if !ok {
				if sets, err = a.listMetrics(ctx, k); err != nil {
					return nil, err
				}
				published[k] = sets
			}
			for i := range dead[k] {
				d := &dead[k][i]
				add(NeverMatches, "%s", d.detail)
				rep.Findings[len(rep.Findings)-1].Filter = aws.ToString(d.filter.FilterName)
				watchedByAudited[d] = true
			}
			if hasSet(sets, w.dims) || fedBy(fed[k], w.dims) {
				continue
			}
			unpublished++
			if aws.ToString(m.TreatMissingData) == breaching {
				add(AlarmsOnNothing, "watches %s %s, which no metric is published with%s; missing data is breaching, so it alarms on the absence alone", k.ns+"/"+k.name, fmtDims(w.dims), publishedHint(sets, fed[k]))
				continue
			}
			add(NeverFires, "watches %s %s, which no metric is published with%s", k.ns+"/"+k.name, fmtDims(w.dims), publishedHint(sets, fed[k]))
		}
		if unpublished > 0 && aws.ToString(m.TreatMissingData) == notBreaching {
			add(SilentOK, "missing data is notBreaching, so it shows OK while nothing is published")
		}
		switch {
		case len(m.AlarmActions) == 0:
			add(NoActions, "it notifies nobody when it fires")
		case !aws.ToBool(m.ActionsEnabled):
			add(ActionsDisabled, "its actions are disabled")
		}
		for _, arn := range m.AlarmActions {
			if !isTopicARN(arn) {
				continue
			}
			if a.SNS == nil {
				continue
			}
			err, seen := topics[arn]
			if !seen {
				_, err = a.SNS.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: aws.String(arn)})
				topics[arn] = err
				if err != nil && !isNotFound(err) {
					rep.Warnings = append(rep.Warnings, fmt.Sprintf("topic %s could not be checked: %v", arn, err))
				}
			}
			if err != nil && isNotFound(err) {
				add(MissingTopic, "action %s names a topic that does not exist", arn)
			}
		}
		if len(rep.Findings) == before {
			rep.Passed = append(rep.Passed, name)
		}
	}
	if a.AlarmNamePrefix == "" {
		for k := range dead {
			for i := range dead[k] {
				if d := &dead[k][i]; !watchedByAudited[d] {
					rep.Findings = append(rep.Findings, Finding{Filter: aws.ToString(d.filter.FilterName), Problem: NeverMatches, Detail: d.detail})
				}
			}
		}
	}
	if a.SNS == nil {
		rep.Warnings = append(rep.Warnings, "SNS topics were not checked")
	}
	slices.SortStableFunc(rep.Findings, func(x, y Finding) int {
		return cmp.Or(cmp.Compare(x.Alarm, y.Alarm), cmp.Compare(x.Filter, y.Filter))
	})
	slices.Sort(rep.Passed)
	return rep, nil
}

type watchedMetric struct {
	ns, name string
	dims     map[string]string
}

// watchedMetrics returns the metrics an alarm reads: its own, or those of
// its metric-math queries.
func watchedMetrics(m cwtypes.MetricAlarm) []watchedMetric {
	conv := func(ns, name *string, ds []cwtypes.Dimension) watchedMetric {
		w := watchedMetric{ns: aws.ToString(ns), name: aws.ToString(name), dims: map[string]string{}}
		for _, d := range ds {
			w.dims[aws.ToString(d.Name)] = aws.ToString(d.Value)
		}
		return w
	}
	if m.MetricName != nil {
		return []watchedMetric{conv(m.Namespace, m.MetricName, m.Dimensions)}
	}
	var out []watchedMetric
	for _, q := range m.Metrics {
		if q.MetricStat != nil && q.MetricStat.Metric != nil {
			mm := q.MetricStat.Metric
			out = append(out, conv(mm.Namespace, mm.MetricName, mm.Dimensions))
		}
	}
	return out
}

// listMetrics returns the dimension sets published for a metric name.
// ListMetrics' Dimensions filter matches metrics that have at least the
// given dimensions, so the exact comparison happens here.
func (a *Auditor) listMetrics(ctx context.Context, k metricKey) ([]map[string]string, error) {
	var sets []map[string]string
	in := &cloudwatch.ListMetricsInput{Namespace: aws.String(k.ns), MetricName: aws.String(k.name)}
	for {
		out, err := a.CloudWatch.ListMetrics(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list metrics %s/%s: %w", k.ns, k.name, err)
		}
		for _, m := range out.Metrics {
			if aws.ToString(m.Namespace) != k.ns || aws.ToString(m.MetricName) != k.name {
				continue
			}
			set := map[string]string{}
			for _, d := range m.Dimensions {
				set[aws.ToString(d.Name)] = aws.ToString(d.Value)
			}
			sets = append(sets, set)
		}
		if aws.ToString(out.NextToken) == "" {
			return sets, nil
		}
		in.NextToken = out.NextToken
	}
}

// filterMetrics returns, per metric, the dimension-name sets that metric
// filters publish it with: a metric filter publishes only once a log
// event matches, so a fresh secwatch alarm's metric is not listed yet.
func (a *Auditor) filterMetrics(ctx context.Context, rep *Report) (map[metricKey][][]string, []logstypes.MetricFilter, error) {
	fed := map[metricKey][][]string{}
	if a.Logs == nil {
		rep.Warnings = append(rep.Warnings, "metric filters were not read: alarms on metrics that only a metric filter publishes are reported as never firing, and no filter pattern was checked")
		return fed, nil, nil
	}
	var all []logstypes.MetricFilter
	in := &cloudwatchlogs.DescribeMetricFiltersInput{}
	for {
		out, err := a.Logs.DescribeMetricFilters(ctx, in)
		if err != nil {
			return nil, nil, fmt.Errorf("describe metric filters: %w", err)
		}
		all = append(all, out.MetricFilters...)
		for _, f := range out.MetricFilters {
			for _, t := range f.MetricTransformations {
				k := metricKey{aws.ToString(t.MetricNamespace), aws.ToString(t.MetricName)}
				fed[k] = append(fed[k], slices.Sorted(maps.Keys(t.Dimensions)))
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return fed, all, nil
		}
		in.NextToken = out.NextToken
	}
}

// filtersToCheck returns the filters whose patterns the audit runs: every
// one, or with AlarmNamePrefix those feeding an audited alarm.
func (a *Auditor) filtersToCheck(filters []logstypes.MetricFilter, audited []cwtypes.MetricAlarm) []logstypes.MetricFilter {
	if a.AlarmNamePrefix == "" {
		return filters
	}
	watched := map[metricKey]bool{}
	for _, m := range audited {
		for _, w := range watchedMetrics(m) {
			watched[metricKey{w.ns, w.name}] = true
		}
	}
	return slices.DeleteFunc(slices.Clone(filters), func(f logstypes.MetricFilter) bool {
		return !slices.ContainsFunc(f.MetricTransformations, func(t logstypes.MetricTransformation) bool {
			return watched[metricKey{aws.ToString(t.MetricNamespace), aws.ToString(t.MetricName)}]
		})
	})
}

func hasSet(sets []map[string]string, want map[string]string) bool {
	return slices.ContainsFunc(sets, func(s map[string]string) bool { return maps.Equal(s, want) })
}

// fedBy reports whether a metric filter publishes the metric with exactly
// the alarm's dimension names (their values come from the log events).
func fedBy(nameSets [][]string, want map[string]string) bool {
	names := slices.Sorted(maps.Keys(want))
	return slices.ContainsFunc(nameSets, func(s []string) bool { return slices.Equal(s, names) })
}

func fmtDims(d map[string]string) string {
	if len(d) == 0 {
		return "with no dimensions"
	}
	var s []string
	for _, k := range slices.Sorted(maps.Keys(d)) {
		s = append(s, k+"="+d[k])
	}
	return "{" + strings.Join(s, ", ") + "}"
}

// publishedHint says what is published instead: the dimension-name sets,
// with how many distinct series each has (a large count is unbounded
// cardinality, such as an attacker-controlled origin as a dimension).
func publishedHint(sets []map[string]string, fed [][]string) string {
	if len(sets) == 0 && len(fed) == 0 {
		return " (nothing is published under that name in the last two weeks)"
	}
	count := map[string]int{}
	for _, s := range sets {
		count[nameSet(slices.Sorted(maps.Keys(s)))]++
	}
	for _, f := range fed {
		count[nameSet(f)+" (metric filter)"] += 0
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(count)) {
		if n := count[k]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s in %d series", k, n))
		} else {
			parts = append(parts, k)
		}
	}
	return " (published with " + strings.Join(parts, "; ") + ")"
}

func nameSet(names []string) string {
	if len(names) == 0 {
		return "no dimensions"
	}
	return "{" + strings.Join(names, ", ") + "}"
}

func isTopicARN(arn string) bool {
	parts := strings.SplitN(arn, ":", 6)
	return len(parts) == 6 && parts[0] == "arn" && parts[2] == "sns"
}

func isNotFound(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "NotFound" || ae.ErrorCode() == "NotFoundException")
}

// WriteText writes the report as a table, one row per finding, then the
// alarms that passed and a summary.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	ew := &errWriter{w: tw}
	if len(r.Findings) > 0 {
		ew.printf("ALARM\tPROBLEM\tDETAIL\n")
		for _, f := range r.Findings {
			ew.printf("%s\t%s\t%s\n", cmp.Or(f.Alarm, "(no alarm)"), f.Problem, f.Detail)
		}
	}
	if ew.err == nil {
		ew.err = tw.Flush()
	}
	ew.w = w
	for _, p := range r.Passed {
		ew.printf("ok: %s\n", p)
	}
	for _, wn := range r.Warnings {
		ew.printf("warning: %s\n", wn)
	}
	bad := map[string]bool{}
	for _, f := range r.Findings {
		bad[f.Alarm] = true
	}
	ew.printf("%d alarms checked, %d with problems, %d findings\n", r.Checked, len(bad), len(r.Findings))
	return ew.err
}

// WriteJSON writes the report as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
