package main

import (
	"cmp"
	"context"
	"github.com/rs/zerolog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/secwatch/secwatch/internal/config"
	"github.com/secwatch/secwatch/internal/daemon"
)

// s3Clients builds the S3 and SQS clients of each type s3 source, one pair
// per region and endpoint, on first use. With an endpoint (an emulator, a
// VPC endpoint URL) S3 is addressed by path, not by virtual host.
func s3Clients(ctx context.Context, base config.AWS, log zerolog.Logger) func(config.Source) (daemon.S3Clients, error) {
	clients := map[[2]string]daemon.S3Clients{}
	return func(sc config.Source) (daemon.S3Clients, error) {
		region, endpoint := cmp.Or(sc.Region, base.Region), cmp.Or(sc.Endpoint, base.Endpoint)
		k := [2]string{region, endpoint}
		if c, ok := clients[k]; ok {
			return c, nil
		}
		cfg, err := awsConfig(ctx, region)
		if err != nil {
			return daemon.S3Clients{}, err
		}
		cfg.Logger = sdkLogger{log} // the SDK's own lines in the one JSON log
		c := daemon.S3Clients{
			S3: s3.NewFromConfig(cfg, func(o *s3.Options) {
				if endpoint != "" {
					o.BaseEndpoint = aws.String(endpoint)
					o.UsePathStyle = true
				}
			}),
			SQS: sqs.NewFromConfig(cfg, func(o *sqs.Options) {
				if endpoint != "" {
					o.BaseEndpoint = aws.String(endpoint)
				}
			}),
		}
		clients[k] = c
		return c, nil
	}
}
