// Package notify makes the calls the real daemon makes, plus one more.
package notify

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

type logsAPI interface {
	FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

func publish(ctx context.Context, c *sns.Client) error {
	_, err := c.Publish(ctx, &sns.PublishInput{})
	return err
}

func groups(c *cloudwatchlogs.Client) {
	_ = cloudwatchlogs.NewDescribeLogGroupsPaginator(c, nil)
}

// The call added without a permission.
func events(ctx context.Context, c *cloudwatchlogs.Client) error {
	_, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{})
	return err
}
