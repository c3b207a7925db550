package notify

import "github.com/aws/aws-sdk-go-v2/service/sns"

// Calls in tests are not the daemon's.
var _ = sns.DeleteTopicInput{}
