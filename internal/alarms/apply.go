package alarms

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

// Apply makes the changes of p in order and returns how many it made. It
// stops at the first failure: what was done stays done, and the next plan
// shows what is left. Applying a plan twice is harmless (every call is a
// put or a delete by name), but a plan should be made just before it is
// applied.
func (r *Reconciler) Apply(ctx context.Context, p *Plan) (done int, err error) {
	for _, c := range p.Changes {
		if err := r.apply(ctx, c); err != nil {
			return done, fmt.Errorf("%s %s %s: %w", c.Action, c.Kind, c.Name, err)
		}
		done++
	}
	return done, nil
}

func (r *Reconciler) apply(ctx context.Context, c Change) error {
	switch {
	case c.Kind == KindFilter && c.Action == Delete:
		_, err := r.Logs.DeleteMetricFilter(ctx, &cloudwatchlogs.DeleteMetricFilterInput{
			FilterName: aws.String(c.Name), LogGroupName: aws.String(c.filter.LogGroup),
		})
		return err
	case c.Kind == KindFilter:
		f := c.filter
		_, err := r.Logs.PutMetricFilter(ctx, &cloudwatchlogs.PutMetricFilterInput{
			FilterName:    aws.String(f.Name),
			LogGroupName:  aws.String(f.LogGroup),
			FilterPattern: aws.String(f.Pattern),
			MetricTransformations: []logstypes.MetricTransformation{{
				MetricNamespace: aws.String(f.Namespace),
				MetricName:      aws.String(f.MetricName),
				MetricValue:     aws.String(f.Value),
			}},
		})
		return err
	case c.Action == Delete:
		_, err := r.CloudWatch.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{c.Name}})
		return err
	}
	a := c.alarm
	if !c.tagsOnly {
		in := &cloudwatch.PutMetricAlarmInput{
			AlarmName:          aws.String(a.Name),
			AlarmDescription:   aws.String(a.Description),
			Namespace:          aws.String(a.Namespace),
			MetricName:         aws.String(a.MetricName),
			Statistic:          cwtypes.Statistic(a.Statistic),
			Period:             aws.Int32(a.Period),
			EvaluationPeriods:  aws.Int32(a.EvaluationPeriods),
			Threshold:          aws.Float64(a.Threshold),
			ComparisonOperator: cwtypes.ComparisonOperator(a.Comparison),
			TreatMissingData:   aws.String(a.TreatMissingData),
			ActionsEnabled:     aws.Bool(a.ActionsEnabled),
			AlarmActions:       a.Actions,
			Tags:               tags(a.Tags),
		}
		for _, d := range a.Dimensions {
			in.Dimensions = append(in.Dimensions, cwtypes.Dimension{Name: aws.String(d.Name), Value: aws.String(d.Value)})
		}
		if _, err := r.CloudWatch.PutMetricAlarm(ctx, in); err != nil {
			return err
		}
		if c.Action == Create {
			return nil // PutMetricAlarm tags a new alarm
		}
	}
	// PutMetricAlarm ignores Tags when the alarm exists.
	arn := c.arn
	if arn == "" {
		return fmt.Errorf("no ARN to tag")
	}
	_, err := r.CloudWatch.TagResource(ctx, &cloudwatch.TagResourceInput{ResourceARN: aws.String(arn), Tags: tags(a.Tags)})
	return err
}

func tags(m map[string]string) []cwtypes.Tag {
	var out []cwtypes.Tag
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, cwtypes.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}
