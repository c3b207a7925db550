package alarms

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/secwatch/secwatch/internal/alarms/pattern"
)

// fakeAWS is an in-memory CloudWatch, CloudWatch Logs and SNS that pages
// every list two items at a time, so that a caller that does not follow
// next tokens misses something.
type fakeAWS struct {
	alarms  map[string]cwtypes.MetricAlarm
	tags    map[string]map[string]string // by ARN
	filters []logstypes.MetricFilter
	metrics []cwtypes.Metric
	topics  map[string]bool
	events  map[string][]string // log group → messages, all within any look-back
	calls   []string
}

func newFakeAWS() *fakeAWS {
	return &fakeAWS{alarms: map[string]cwtypes.MetricAlarm{}, tags: map[string]map[string]string{}, topics: map[string]bool{}, events: map[string][]string{}}
}

const pageSize = 2

func page[T any](all []T, token *string) ([]T, *string) {
	from, _ := strconv.Atoi(aws.ToString(token))
	to := min(from+pageSize, len(all))
	if to < len(all) {
		return all[from:to], aws.String(strconv.Itoa(to))
	}
	return all[from:to], nil
}

func (f *fakeAWS) DescribeAlarms(_ context.Context, in *cloudwatch.DescribeAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error) {
	f.calls = append(f.calls, "DescribeAlarms")
	var all []cwtypes.MetricAlarm
	for _, name := range slices.Sorted(maps.Keys(f.alarms)) {
		if p := aws.ToString(in.AlarmNamePrefix); len(name) >= len(p) && name[:len(p)] == p {
			all = append(all, f.alarms[name])
		}
	}
	out, next := page(all, in.NextToken)
	return &cloudwatch.DescribeAlarmsOutput{MetricAlarms: out, NextToken: next}, nil
}

func (f *fakeAWS) PutMetricAlarm(_ context.Context, in *cloudwatch.PutMetricAlarmInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricAlarmOutput, error) {
	name := aws.ToString(in.AlarmName)
	f.calls = append(f.calls, "PutMetricAlarm "+name)
	arn := "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:" + name
	_, existed := f.alarms[name]
	f.alarms[name] = cwtypes.MetricAlarm{
		AlarmName: in.AlarmName, AlarmArn: aws.String(arn), AlarmDescription: in.AlarmDescription,
		Namespace: in.Namespace, MetricName: in.MetricName, Dimensions: in.Dimensions, Statistic: in.Statistic,
		Period: in.Period, EvaluationPeriods: in.EvaluationPeriods, Threshold: in.Threshold,
		ComparisonOperator: in.ComparisonOperator, TreatMissingData: in.TreatMissingData,
		ActionsEnabled: in.ActionsEnabled, AlarmActions: in.AlarmActions,
	}
	if !existed { // like AWS: tags only on create
		f.tags[arn] = map[string]string{}
		for _, t := range in.Tags {
			f.tags[arn][aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return &cloudwatch.PutMetricAlarmOutput{}, nil
}

func (f *fakeAWS) DeleteAlarms(_ context.Context, in *cloudwatch.DeleteAlarmsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.DeleteAlarmsOutput, error) {
	for _, n := range in.AlarmNames {
		f.calls = append(f.calls, "DeleteAlarms "+n)
		delete(f.alarms, n)
	}
	return &cloudwatch.DeleteAlarmsOutput{}, nil
}

func (f *fakeAWS) ListTagsForResource(_ context.Context, in *cloudwatch.ListTagsForResourceInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.ListTagsForResourceOutput, error) {
	var out []cwtypes.Tag
	for k, v := range f.tags[aws.ToString(in.ResourceARN)] {
		out = append(out, cwtypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return &cloudwatch.ListTagsForResourceOutput{Tags: out}, nil
}

func (f *fakeAWS) TagResource(_ context.Context, in *cloudwatch.TagResourceInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.TagResourceOutput, error) {
	arn := aws.ToString(in.ResourceARN)
	f.calls = append(f.calls, "TagResource "+arn)
	if f.tags[arn] == nil {
		f.tags[arn] = map[string]string{}
	}
	for _, t := range in.Tags {
		f.tags[arn][aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return &cloudwatch.TagResourceOutput{}, nil
}

func (f *fakeAWS) ListMetrics(_ context.Context, in *cloudwatch.ListMetricsInput, _ ...func(*cloudwatch.Options)) (*cloudwatch.ListMetricsOutput, error) {
	var all []cwtypes.Metric
	for _, m := range f.metrics {
		if aws.ToString(m.Namespace) == aws.ToString(in.Namespace) && aws.ToString(m.MetricName) == aws.ToString(in.MetricName) {
			all = append(all, m)
		}
	}
	out, next := page(all, in.NextToken)
	return &cloudwatch.ListMetricsOutput{Metrics: out, NextToken: next}, nil
}

func (f *fakeAWS) PutMetricFilter(_ context.Context, in *cloudwatchlogs.PutMetricFilterInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutMetricFilterOutput, error) {
	f.calls = append(f.calls, "PutMetricFilter "+aws.ToString(in.FilterName)+" "+aws.ToString(in.LogGroupName))
	mf := logstypes.MetricFilter{FilterName: in.FilterName, LogGroupName: in.LogGroupName, FilterPattern: in.FilterPattern, MetricTransformations: in.MetricTransformations}
	for i, old := range f.filters {
		if aws.ToString(old.FilterName) == aws.ToString(in.FilterName) && aws.ToString(old.LogGroupName) == aws.ToString(in.LogGroupName) {
			f.filters[i] = mf
			return &cloudwatchlogs.PutMetricFilterOutput{}, nil
		}
	}
	f.filters = append(f.filters, mf)
	return &cloudwatchlogs.PutMetricFilterOutput{}, nil
}

func (f *fakeAWS) DescribeMetricFilters(_ context.Context, in *cloudwatchlogs.DescribeMetricFiltersInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeMetricFiltersOutput, error) {
	out, next := page(f.filters, in.NextToken)
	return &cloudwatchlogs.DescribeMetricFiltersOutput{MetricFilters: out, NextToken: next}, nil
}

func (f *fakeAWS) DeleteMetricFilter(_ context.Context, in *cloudwatchlogs.DeleteMetricFilterInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DeleteMetricFilterOutput, error) {
	f.calls = append(f.calls, "DeleteMetricFilter "+aws.ToString(in.FilterName)+" "+aws.ToString(in.LogGroupName))
	for i, old := range f.filters {
		if aws.ToString(old.FilterName) == aws.ToString(in.FilterName) && aws.ToString(old.LogGroupName) == aws.ToString(in.LogGroupName) {
			f.filters = slices.Delete(f.filters, i, i+1)
			return &cloudwatchlogs.DeleteMetricFilterOutput{}, nil
		}
	}
	return nil, errors.New("ResourceNotFoundException")
}

// FilterLogEvents matches with the pattern package and pages like
// CloudWatch at its worst: one event at most per page, and an empty page
// with a next token before every event.
func (f *fakeAWS) FilterLogEvents(_ context.Context, in *cloudwatchlogs.FilterLogEventsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	group := aws.ToString(in.LogGroupName)
	f.calls = append(f.calls, "FilterLogEvents "+group+" "+aws.ToString(in.FilterPattern))
	evs, ok := f.events[group]
	if !ok {
		return nil, &smithy.GenericAPIError{Code: "ResourceNotFoundException", Message: "The specified log group does not exist."}
	}
	p, err := pattern.Parse(aws.ToString(in.FilterPattern))
	if err != nil {
		return nil, &smithy.GenericAPIError{Code: "InvalidParameterException", Message: err.Error()}
	}
	var all []string
	for _, m := range evs {
		if p.Match([]byte(m)) {
			all = append(all, m)
		}
	}
	// Page i is empty when even, event (i-1)/2 when odd.
	i, _ := strconv.Atoi(aws.ToString(in.NextToken))
	out := &cloudwatchlogs.FilterLogEventsOutput{}
	if i%2 == 1 {
		out.Events = []logstypes.FilteredLogEvent{{Message: aws.String(all[(i-1)/2])}}
	}
	if i+1 < 2*len(all) {
		out.NextToken = aws.String(strconv.Itoa(i + 1))
	}
	return out, nil
}

func (f *fakeAWS) GetTopicAttributes(_ context.Context, in *sns.GetTopicAttributesInput, _ ...func(*sns.Options)) (*sns.GetTopicAttributesOutput, error) {
	arn := aws.ToString(in.TopicArn)
	if ok, known := f.topics[arn]; known && ok {
		return &sns.GetTopicAttributesOutput{}, nil
	} else if known {
		return nil, &smithy.GenericAPIError{Code: "AuthorizationError", Message: "not allowed"}
	}
	return nil, &smithy.GenericAPIError{Code: "NotFound", Message: "Topic does not exist"}
}
