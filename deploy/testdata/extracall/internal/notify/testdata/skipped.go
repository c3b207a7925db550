package skipped

import "github.com/aws/aws-sdk-go-v2/service/sns"

// testdata is not code.
var _ = sns.CreateTopicInput{}
