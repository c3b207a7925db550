// Package ops is an operator command's package: the daemon does not import it.
package ops

import "github.com/aws/aws-sdk-go-v2/service/cloudwatch"

var _ = cloudwatch.PutMetricAlarmInput{}
