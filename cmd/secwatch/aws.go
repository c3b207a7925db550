package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go/logging"
	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/config"
)

// awsConfig loads the default credential chain (an ECS task role in
// production) with region from the configuration when it names one. It is
// built once; every SDK client comes from it.
func awsConfig(ctx context.Context, region string) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws configuration: %w", err)
	}
	return cfg, nil
}

// snsNotifier builds the SNS notifier when alerts.sns names a topic.
func snsNotifier(ctx context.Context, c config.SNS, base config.AWS, log zerolog.Logger) (alerting.Notifier, error) {
	if c.TopicARN == "" {
		return nil, nil
	}
	region := c.Region
	if region == "" {
		region = base.Region
	}
	cfg, err := awsConfig(ctx, region)
	if err != nil {
		return nil, err
	}
	cfg.Logger = sdkLogger{log}
	endpoint := c.Endpoint
	if endpoint == "" {
		endpoint = base.Endpoint
	}
	client := sns.NewFromConfig(cfg, func(o *sns.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	return &alerting.SNS{Client: client, TopicARN: c.TopicARN, FIFO: c.FIFO, Format: c.Format}, nil
}

// logsClients builds one CloudWatch Logs client per region and endpoint,
// on first use.
func logsClients(ctx context.Context, base config.AWS, log zerolog.Logger) func(config.Source) (*cloudwatchlogs.Client, error) {
	clients := map[[2]string]*cloudwatchlogs.Client{}
	return func(sc config.Source) (*cloudwatchlogs.Client, error) {
		region, endpoint := sc.Region, sc.Endpoint
		if region == "" {
			region = base.Region
		}
		if endpoint == "" {
			endpoint = base.Endpoint
		}
		k := [2]string{region, endpoint}
		if c, ok := clients[k]; ok {
			return c, nil
		}
		cfg, err := awsConfig(ctx, region)
		if err != nil {
			return nil, err
		}
		cfg.Logger = sdkLogger{log}
		c := cloudwatchlogs.NewFromConfig(cfg, func(o *cloudwatchlogs.Options) {
			if endpoint != "" {
				o.BaseEndpoint = aws.String(endpoint)
			}
		})
		clients[k] = c
		return c, nil
	}
}

// sdkLogger passes the AWS SDK's own log lines (retry and clock-skew
// warnings, deprecations) to zerolog, so that the log stays one JSON
// stream.
type sdkLogger struct{ log zerolog.Logger }

var _ logging.Logger = sdkLogger{}

func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	ev := l.log.Debug()
	if c == logging.Warn {
		ev = l.log.Warn()
	}
	ev.Str("component", "aws-sdk").Msgf(format, v...)
}
