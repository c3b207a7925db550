package config

import (
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// TypeS3 is the source type that reads log objects from S3, discovered
// through S3 event notifications on an SQS queue and by listing.
const TypeS3 = "s3"

// S3Source is the configuration of a type s3 source.
type S3Source struct {
	QueueURL  string        // queue_url: the SQS queue of the notifications; "" for listing only
	Bucket    string        // bucket: listed by the reconciler; "" for notifications only
	Prefix    string        // prefix: the reconciler lists Prefix + "yyyy/mm/dd/"
	Reconcile time.Duration // reconcile_interval; default 5m
}

// DefaultS3Reconcile is the default reconcile_interval.
const DefaultS3Reconcile = 5 * time.Minute

var (
	queueURLPattern = regexp.MustCompile(`^https?://[^\s/]+/[0-9]{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?$|^https?://[^\s/]+/[^\s]+$`)
	bucketPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

// s3Key decodes one of the keys of a type s3 source; false means key is
// not one of them.
func (p *parser) s3Key(kv keyVal, s *Source) bool {
	switch kv.name {
	case "queue_url":
		s.S3.QueueURL = p.str(kv)
		if s.S3.QueueURL != "" && !queueURLPattern.MatchString(s.S3.QueueURL) {
			p.errorf(kv.val, kv.path, "must be an SQS queue URL like \"https://sqs.us-east-1.amazonaws.com/123456789012/alb-logs\", got %s", p.got(kv.val))
		}
	case "bucket":
		s.S3.Bucket = p.str(kv)
		if s.S3.Bucket != "" && !bucketPattern.MatchString(s.S3.Bucket) {
			p.errorf(kv.val, kv.path, "must be an S3 bucket name (3 to 63 lowercase letters, digits, '.' and '-'), got %s", p.got(kv.val))
		}
	case "prefix":
		s.S3.Prefix = p.str(kv)
		if strings.HasPrefix(s.S3.Prefix, "/") || (s.S3.Prefix != "" && !strings.HasSuffix(s.S3.Prefix, "/")) {
			p.errorf(kv.val, kv.path, "must not start with '/' and must end with '/' (the date folders follow it), got %s", p.got(kv.val))
		}
	case "reconcile_interval":
		s.S3.Reconcile, _ = p.duration(kv, time.Minute, 24*time.Hour)
	default:
		return false
	}
	return true
}

// s3Defaults checks a type s3 source as a whole and fills in defaults.
func (p *parser) s3Defaults(s *Source, n *yaml.Node, path string) {
	if s.S3.QueueURL == "" && s.S3.Bucket == "" {
		p.required(n, path+".queue_url", "required for type s3 (or bucket, to read by listing only)")
	}
	if s.S3.Reconcile == 0 {
		s.S3.Reconcile = DefaultS3Reconcile
	}
}
