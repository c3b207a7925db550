// Command tool imports both; its own calls count as the daemon's, its imports do not.
package main

import (
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	_ "example.com/fixture/internal/daemon"
	_ "example.com/fixture/internal/ops"
)

var _ *cwl.DescribeLogStreamsInput

func main() {}
