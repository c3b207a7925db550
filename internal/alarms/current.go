package alarms

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// metricsAPI is the part of the CloudWatch client the Reconciler uses.
type metricsAPI interface {
	DescribeAlarms(ctx context.Context, in *cloudwatch.DescribeAlarmsInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.DescribeAlarmsOutput, error)
	PutMetricAlarm(ctx context.Context, in *cloudwatch.PutMetricAlarmInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricAlarmOutput, error)
	DeleteAlarms(ctx context.Context, in *cloudwatch.DeleteAlarmsInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.DeleteAlarmsOutput, error)
	ListTagsForResource(ctx context.Context, in *cloudwatch.ListTagsForResourceInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.ListTagsForResourceOutput, error)
	TagResource(ctx context.Context, in *cloudwatch.TagResourceInput, opts ...func(*cloudwatch.Options)) (*cloudwatch.TagResourceOutput, error)
}

// filtersAPI is the part of the CloudWatch Logs client the Reconciler
// uses.
type filtersAPI interface {
	PutMetricFilter(ctx context.Context, in *cloudwatchlogs.PutMetricFilterInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutMetricFilterOutput, error)
	DescribeMetricFilters(ctx context.Context, in *cloudwatchlogs.DescribeMetricFiltersInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeMetricFiltersOutput, error)
	DeleteMetricFilter(ctx context.Context, in *cloudwatchlogs.DeleteMetricFilterInput, opts ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DeleteMetricFilterOutput, error)
}

var (
	_ metricsAPI = (*cloudwatch.Client)(nil)
	_ filtersAPI = (*cloudwatchlogs.Client)(nil)
)

// liveAlarm is an existing alarm named secwatch-*.
type liveAlarm struct {
	Alarm
	ARN     string
	Managed bool // tagged secwatch:managed with the Reconciler's owner
	// Unsupported names what secwatch does not set but the alarm has
	// (metric math, extended statistics, OK actions): an update that
	// leaves them would not make the alarm what secwatch wants.
	Unsupported []string
}

// current is what exists in the account and region.
type current struct {
	alarms  map[string]*liveAlarm
	filters []Filter // named secwatch-*, on any log group
}

// readCurrent lists the alarms and metric filters named secwatch-*, with
// the alarms' tags.
func (r *Reconciler) readCurrent(ctx context.Context) (*current, error) {
	cur := &current{alarms: map[string]*liveAlarm{}}
	in := &cloudwatch.DescribeAlarmsInput{
		AlarmNamePrefix: aws.String(namePrefix(r.NamePrefix)),
		AlarmTypes:      []cwtypes.AlarmType{cwtypes.AlarmTypeMetricAlarm},
		MaxRecords:      aws.Int32(100),
	}
	for {
		out, err := r.CloudWatch.DescribeAlarms(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("describe alarms: %w", err)
		}
		for _, m := range out.MetricAlarms {
			la := fromSDK(m)
			cur.alarms[la.Name] = la
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	for _, la := range cur.alarms {
		if la.ARN == "" {
			continue
		}
		out, err := r.CloudWatch.ListTagsForResource(ctx, &cloudwatch.ListTagsForResourceInput{ResourceARN: aws.String(la.ARN)})
		if err != nil {
			return nil, fmt.Errorf("list tags of alarm %s: %w", la.Name, err)
		}
		la.Tags = map[string]string{}
		for _, t := range out.Tags {
			k := aws.ToString(t.Key)
			if strings.HasPrefix(k, "secwatch:") {
				la.Tags[k] = aws.ToString(t.Value)
			}
		}
		la.Managed = la.Tags[TagManaged] == owner(r.Owner) && cmp.Or(la.Tags[TagPrefix], DefaultNamePrefix) == cmp.Or(r.NamePrefix, DefaultNamePrefix)
	}
	fin := &cloudwatchlogs.DescribeMetricFiltersInput{}
	for {
		out, err := r.Logs.DescribeMetricFilters(ctx, fin)
		if err != nil {
			return nil, fmt.Errorf("describe metric filters: %w", err)
		}
		for _, f := range out.MetricFilters {
			name := aws.ToString(f.FilterName)
			if la := cur.alarms[name]; la != nil && la.Tags[TagPrefix] != "" && la.Tags[TagPrefix] != cmp.Or(r.NamePrefix, DefaultNamePrefix) {
				continue // another deployment's, whose prefix extends ours
			}
			if strings.HasPrefix(name, namePrefix(r.NamePrefix)) {
				cur.filters = append(cur.filters, filterFromSDK(f))
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		fin.NextToken = out.NextToken
	}
	return cur, nil
}

func fromSDK(m cwtypes.MetricAlarm) *liveAlarm {
	la := &liveAlarm{Alarm: Alarm{
		Name:              aws.ToString(m.AlarmName),
		Description:       aws.ToString(m.AlarmDescription),
		Namespace:         aws.ToString(m.Namespace),
		MetricName:        aws.ToString(m.MetricName),
		Statistic:         string(m.Statistic),
		Period:            aws.ToInt32(m.Period),
		EvaluationPeriods: aws.ToInt32(m.EvaluationPeriods),
		Threshold:         aws.ToFloat64(m.Threshold),
		Comparison:        string(m.ComparisonOperator),
		// CloudWatch's default, which DescribeAlarms may leave out.
		TreatMissingData: "missing",
		ActionsEnabled:   aws.ToBool(m.ActionsEnabled),
		Actions:          slices.Clone(m.AlarmActions),
	}, ARN: aws.ToString(m.AlarmArn)}
	if m.TreatMissingData != nil {
		la.TreatMissingData = *m.TreatMissingData
	}
	for _, d := range m.Dimensions {
		la.Dimensions = append(la.Dimensions, Dimension{Name: aws.ToString(d.Name), Value: aws.ToString(d.Value)})
	}
	if len(m.Metrics) > 0 {
		la.Unsupported = append(la.Unsupported, "metric math")
	}
	if m.ExtendedStatistic != nil {
		la.Unsupported = append(la.Unsupported, "extended statistic "+*m.ExtendedStatistic)
	}
	if len(m.OKActions) > 0 || len(m.InsufficientDataActions) > 0 {
		la.Unsupported = append(la.Unsupported, "OK or insufficient-data actions")
	}
	if m.DatapointsToAlarm != nil && *m.DatapointsToAlarm != la.EvaluationPeriods {
		la.Unsupported = append(la.Unsupported, fmt.Sprintf("datapoints to alarm %d", *m.DatapointsToAlarm))
	}
	return la
}

func filterFromSDK(f logstypes.MetricFilter) Filter {
	out := Filter{
		Name:     aws.ToString(f.FilterName),
		LogGroup: aws.ToString(f.LogGroupName),
		Pattern:  aws.ToString(f.FilterPattern),
	}
	if len(f.MetricTransformations) > 0 {
		t := f.MetricTransformations[0]
		out.Namespace = aws.ToString(t.MetricNamespace)
		out.MetricName = aws.ToString(t.MetricName)
		out.Value = aws.ToString(t.MetricValue)
	}
	return out
}
