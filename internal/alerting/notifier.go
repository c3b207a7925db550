package alerting

import (
	"context"
	"errors"
)

// Notifier delivers one alert document. cmd supplies the implementations
// (Stdout, SNS).
//
// Notify returns nil once the document is delivered. An error wrapped with
// Permanent is not retried: that notifier gives up on the document, which
// ends in the dead-letter directory. Any other error is retried with
// backoff. Notify must return promptly when ctx is cancelled (the
// dispatcher bounds every attempt with a timeout and cancels at shutdown).
//
// Each notifier gets its own copy of the document: Notify may change its
// scalar fields (Truncated) but must not modify its maps or slices.
// The dispatcher calls a notifier from one goroutine at a time.
type Notifier interface {
	Name() string
	Notify(ctx context.Context, doc *Document) error
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying (a rejected request, an
// invalid topic, a document too large to send). Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
