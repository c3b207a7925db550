package alerting

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/secwatch/secwatch/internal/redact"
)

// maxRetryAfter caps the wait a server can ask for with Retry-After, so
// that a hostile or broken endpoint cannot park alerts for days.
const maxRetryAfter = time.Hour

type retryAfterError struct {
	err  error
	wait time.Duration
}

func (e *retryAfterError) Error() string { return e.err.Error() }
func (e *retryAfterError) Unwrap() error { return e.err }

// RetryAfter marks a retryable err with the wait the receiver asked for
// (an HTTP Retry-After): the dispatcher does not retry sooner. A wait of
// zero or less, or a nil err, leaves err as it is.
func RetryAfter(err error, wait time.Duration) error {
	if err == nil || wait <= 0 {
		return err
	}
	return &retryAfterError{err, min(wait, maxRetryAfter)}
}

// retryAfterOf returns the longest wait asked for by err or an error it
// wraps (errors.Join of several notifiers' errors included), or 0.
func retryAfterOf(err error) time.Duration {
	var longest time.Duration
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *retryAfterError:
			longest = max(longest, e.wait)
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return longest
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP
// date (RFC 9110), relative to now; 0 when absent or invalid.
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil {
		if n < 0 {
			return 0
		}
		return min(time.Duration(n)*time.Second, maxRetryAfter)
	}
	if t, err := http.ParseTime(h); err == nil {
		return min(max(t.Sub(now), 0), maxRetryAfter)
	}
	return 0
}

// maxErrorBody is how much of a refusal's body an error message quotes.
const maxErrorBody = 200

// postJSON POSTs body to target with the given headers and classifies the
// answer for the dispatcher: a 2xx is delivered (its body is returned,
// up to 64 KiB); 408, 429 and 5xx are retryable, honouring Retry-After;
// any other status is Permanent; network errors and timeouts are
// retryable. what names the notifier in errors, which never contain the
// target's path, query or user info (they often hold a token).
func postJSON(ctx context.Context, client *http.Client, what, target string, body []byte, header http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, Permanent(fmt.Errorf("%s: %s", what, redactURLError(err, target)))
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", what, redactURLError(err, target))
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return answer, nil
	}
	err = fmt.Errorf("%s: POST %s: %s: %s", what, SafeURL(target), resp.Status, redact.Sanitize(string(answer), maxErrorBody))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode >= 500:
		return nil, RetryAfter(err, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()))
	default:
		return nil, Permanent(err)
	}
}

// SafeURL renders a URL for logs and errors: scheme and host only, since
// the path, query and user info of a webhook URL are often its secret.
func SafeURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// redactURLError renders err with every occurrence of target replaced by
// its safe form (net/http quotes the whole URL in its errors).
func redactURLError(err error, target string) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		msg := ue.Op + " " + SafeURL(target) + ": " + ue.Err.Error()
		if ue.Timeout() {
			msg += " (timeout)"
		}
		return strings.ReplaceAll(msg, target, SafeURL(target))
	}
	return strings.ReplaceAll(err.Error(), target, SafeURL(target))
}
