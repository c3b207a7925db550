package alarms

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logstypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/secwatch/secwatch/internal/rules"
)

// NeverMatches: a metric filter's pattern matched none of the recent
// events of a log group that has events, so the metric it publishes, and
// every alarm on it, stays silent: a filter written for a shape the log
// group does not hold.
const NeverMatches = "never-matches"

// DefaultLookBack is how far back an audit looks for events a metric
// filter matches when Auditor.LookBack is 0.
const DefaultLookBack = 24 * time.Hour

// Bounds of the FilterLogEvents calls per filter: an event-less page
// (CloudWatch searches in chunks) is followed at most maxFilterPages times,
// and at most maxCountedEvents events of a group are counted.
const (
	maxFilterPages   = 10
	maxCountedEvents = 10_000
)

// deadFilter is a metric filter that matched nothing.
type deadFilter struct {
	filter logstypes.MetricFilter
	detail string
}

// deadFilters runs every filter's pattern over its group's events of the
// look-back (FilterLogEvents) and returns those that match none while the
// group has events. A group that cannot be read is a warning.
func (a *Auditor) deadFilters(ctx context.Context, filters []logstypes.MetricFilter, rep *Report) []deadFilter {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	look := a.LookBack
	if look <= 0 {
		look = DefaultLookBack
	}
	end := now()
	start := end.Add(-look)
	counted := map[string]int{} // group → events in the look-back, -1 when unreadable
	var dead []deadFilter
	for _, f := range filters {
		group, name := aws.ToString(f.LogGroupName), aws.ToString(f.FilterName)
		hits, _, err := a.countEvents(ctx, group, aws.ToString(f.FilterPattern), start, end, 1)
		if err != nil {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("metric filter %s on %s could not be checked against its events: %v", name, group, err))
			continue
		}
		if hits > 0 {
			continue
		}
		n, ok := counted[group]
		more := false
		if !ok {
			if n, more, err = a.countEvents(ctx, group, "", start, end, maxCountedEvents); err != nil {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("log group %s could not be read: %v", group, err))
				n = -1
			}
			counted[group] = n
		}
		if n <= 0 {
			continue // no events to judge by
		}
		of := fmt.Sprint(n)
		if more {
			of = "more than " + of
		}
		dead = append(dead, deadFilter{filter: f, detail: fmt.Sprintf("metric filter %s on %s matched 0 of the %s events of the last %s: pattern %s",
			name, group, of, rules.FormatDuration(look), aws.ToString(f.FilterPattern))})
	}
	return dead
}

// countEvents counts up to limit events of group between start and end
// that pattern matches ("" matches every event); more is true when there
// were more.
func (a *Auditor) countEvents(ctx context.Context, group, pattern string, start, end time.Time, limit int) (n int, more bool, err error) {
	in := &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName: aws.String(group),
		StartTime:    aws.Int64(start.UnixMilli()),
		EndTime:      aws.Int64(end.UnixMilli()),
		Limit:        aws.Int32(int32(min(limit, 10_000))),
	}
	if pattern != "" {
		in.FilterPattern = aws.String(pattern)
	}
	for range maxFilterPages {
		out, err := a.Logs.FilterLogEvents(ctx, in)
		if err != nil {
			return n, false, err
		}
		n += len(out.Events)
		if n >= limit || aws.ToString(out.NextToken) == "" {
			return min(n, limit), n > limit || (n >= limit && aws.ToString(out.NextToken) != ""), nil
		}
		in.NextToken = out.NextToken
	}
	return n, true, nil
}
