package ingest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// ErrorKind classifies what a source meets while reading (not a bad line:
// a read that could not be done).
type ErrorKind int

// The kinds of read errors, the values of secwatch_source_errors_total's
// kind label.
const (
	// ErrTransient is a network error, a timeout or a 5xx answer: retried
	// with backoff.
	ErrTransient ErrorKind = iota
	// ErrThrottled is a throttling answer: retried with backoff.
	ErrThrottled
	// ErrPermanent needs an operator: access denied, no such log group,
	// directory or file, invalid or missing credentials, a KMS key that
	// cannot be used. Tried again on the next poll.
	ErrPermanent
	numErrorKinds
)

// ErrorKinds lists every ErrorKind, in order.
var ErrorKinds = []ErrorKind{ErrTransient, ErrThrottled, ErrPermanent}

func (k ErrorKind) String() string {
	switch k {
	case ErrThrottled:
		return "throttling"
	case ErrPermanent:
		return "permanent"
	}
	return "transient"
}

// Classify returns the kind of a read error.
func Classify(err error) ErrorKind {
	switch {
	case retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary:
		return ErrThrottled
	case errors.Is(err, errRequestTimeout),
		retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) == aws.TrueTernary:
		return ErrTransient
	}
	return ErrPermanent
}

// ReadError is a read a source could not do, for the operator: what it is,
// where, and what to check. Its text never holds a credential (SDK errors
// carry codes, messages and request ids, never keys).
type ReadError struct {
	Source string
	Where  string // the log group, the path or the pattern
	Kind   ErrorKind
	Err    error
}

func (e *ReadError) Error() string { return e.Where + ": " + e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// Hint says what the operator should check; "" when there is nothing
// specific to say.
func (e *ReadError) Hint() string {
	var api smithy.APIError
	code := ""
	if errors.As(e.Err, &api) {
		code = api.ErrorCode()
	}
	switch {
	case errors.Is(e.Err, os.ErrPermission):
		return "check that the user secwatch runs as may read " + e.Where
	case errors.Is(e.Err, os.ErrNotExist):
		return "check that " + e.Where + " exists (a deleted or unmounted directory)"
	case code == "AccessDeniedException" || code == "AccessDenied":
		return "check that the role secwatch runs with allows logs:FilterLogEvents (and logs:DescribeLogGroups for a prefix) on log group " + e.Where
	case code == "ResourceNotFoundException":
		return "check the log group name " + e.Where + " and the region"
	case strings.Contains(code, "KMS") || strings.Contains(e.Err.Error(), "KMS"):
		return "check that the key policy of the log group's KMS key allows kms:Decrypt to the role secwatch runs with"
	case code == "UnrecognizedClientException" || code == "InvalidSignatureException" || code == "ExpiredTokenException" ||
		strings.Contains(e.Err.Error(), "credential"):
		return "check the AWS credentials secwatch finds (task role, AWS_* environment, shared config)"
	}
	return ""
}

// markRead records a completed read in s at now.
func (s *SourceStats) markRead(now time.Time) { s.LastRead.Store(now.UnixNano()) }

// countError counts a read error of kind k.
func (s *SourceStats) countError(k ErrorKind) { s.Errors[k].Add(1) }

// missingDirs returns the directories of patterns that do not exist (or
// cannot be searched) with the error: a glob over them matches nothing
// without saying why.
func missingDirs(patterns []string) map[string]error {
	var out map[string]error
	for _, p := range patterns {
		dir := filepath.Dir(p)
		if strings.ContainsAny(dir, `*?[\`) {
			continue // a pattern over directories: an empty match may be right
		}
		if _, err := os.Stat(dir); err != nil {
			if out == nil {
				out = map[string]error{}
			}
			out[dir] = err
		}
	}
	return out
}
