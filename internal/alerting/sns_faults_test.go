package alerting

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/rs/zerolog"
)

// Fault injection on the SNS path: the real SNS notifier and dispatcher
// over a hand-written SNS client that fails as scripted. (Wire-level
// behaviour against an emulator is in integration/; this covers the error
// paths an emulator does not produce on demand.)

// scriptedSNS answers Publish with the errors of script in order, then
// succeeds. It counts the messages it accepted.
type scriptedSNS struct {
	mu       sync.Mutex
	script   func(call int) error // nil error: accepted
	calls    int
	accepted []string // alert ids
}

func (s *scriptedSNS) Publish(ctx context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if err := s.script(s.calls); err != nil {
		return nil, err
	}
	s.accepted = append(s.accepted, aws.ToString(in.MessageAttributes["alert_id"].StringValue))
	return &sns.PublishOutput{MessageId: aws.String(fmt.Sprint("m-", s.calls))}, nil
}

func (s *scriptedSNS) stats() (int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, append([]string(nil), s.accepted...)
}

func throttling(n int) error {
	return &smithy.OperationError{ServiceID: "SNS", OperationName: "Publish", Err: &smithy.GenericAPIError{
		Code: "Throttling", Message: fmt.Sprintf("Rate exceeded (request id %04d)", n)}}
}

func serverError(n int) error {
	return &smithy.OperationError{ServiceID: "SNS", OperationName: "Publish", Err: &awshttp.ResponseError{
		RequestID: fmt.Sprintf("req-%04d", n),
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 503}},
			Err: errors.New("service unavailable")}}}
}

func invalidParameter(int) error {
	return &smithy.OperationError{ServiceID: "SNS", OperationName: "Publish", Err: &smithy.GenericAPIError{
		Code: "InvalidParameter", Message: "Invalid parameter: Message too long"}}
}

// snsRig runs a dispatcher with the real SNS notifier over client.
func snsRig(t *testing.T, client *scriptedSNS) (*Outbox, *Dispatcher, *syncBuffer, func()) {
	dir := filepath.Join(t.TempDir(), "outbox")
	ob, err := OpenOutbox(dir, []string{"sns"})
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	d := &Dispatcher{Outbox: ob, Notifiers: []Notifier{&SNS{Client: client, TopicARN: "arn:aws:sns:eu-west-1:123456789012:alerts"}},
		Log: zerolog.New(log), InitialBackoff: time.Second, MaxBackoff: 5 * time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return ob, d, log, func() {
		cancel()
		<-done
		ob.Close()
	}
}

func TestSNSFaults(t *testing.T) {
	tests := []struct {
		name      string
		script    func(call int) error
		calls     int // Publish calls until the alert is settled
		delivered bool
	}{
		{"throttled", func(n int) error {
			if n <= 3 {
				return throttling(n)
			}
			return nil
		}, 4, true},
		{"5xx", func(n int) error {
			if n <= 2 {
				return serverError(n)
			}
			return nil
		}, 3, true},
		{"timeouts", func(n int) error {
			if n <= 2 {
				return &smithy.OperationError{ServiceID: "SNS", OperationName: "Publish", Err: context.DeadlineExceeded}
			}
			return nil
		}, 3, true},
		{"throttling storm", func(n int) error {
			if n <= 200 {
				return throttling(n)
			}
			return nil
		}, 201, true},
		{"throttled then permanent", func(n int) error {
			if n == 1 {
				return throttling(n)
			}
			return invalidParameter(n)
		}, 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				client := &scriptedSNS{script: tt.script}
				ob, d, log, stop := snsRig(t, client)
				defer stop()
				doc := testDoc(1)
				start := time.Now()
				mustPut(t, ob, doc, start)
				d.Wake()
				// Long enough for any backoff schedule above: 201 attempts
				// at most 5 minutes apart.
				for i := 0; i < 24*60 && ob.Len() > 0; i++ {
					time.Sleep(time.Minute)
					synctest.Wait()
				}
				calls, accepted := client.stats()
				if calls != tt.calls {
					t.Errorf("Publish called %d times, want %d", calls, tt.calls)
				}
				if ob.Len() != 0 {
					t.Fatalf("alert still pending after %v", time.Since(start))
				}
				if tt.delivered {
					if len(accepted) != 1 || accepted[0] != doc.AlertID || d.Metrics.Delivered.Load() != 1 {
						t.Errorf("accepted %v, Delivered %d; want the alert once", accepted, d.Metrics.Delivered.Load())
					}
					if got := d.Metrics.Failed.Load(); got != int64(tt.calls-1) {
						t.Errorf("Failed = %d, want %d", got, tt.calls-1)
					}
					if n := strings.Count(log.String(), `"message":"delivery failing"`); n != 1 {
						t.Errorf("\"delivery failing\" logged %d times, want once", n)
					}
					if n := strings.Count(log.String(), `"message":"delivery recovered"`); n != 1 {
						t.Errorf("\"delivery recovered\" logged %d times, want once", n)
					}
					// A changing error (AWS request ids) is logged at most
					// once a minute, not on every retry.
					minutes := int(time.Since(start)/time.Minute) + 1
					if n := strings.Count(log.String(), `"message":"delivery still failing"`); n > minutes {
						t.Errorf("\"delivery still failing\" logged %d times in %d minutes", n, minutes)
					}
				} else {
					if len(accepted) != 0 || d.Metrics.DeadLettered.Load() != 1 {
						t.Errorf("accepted %v, DeadLettered %d; want the alert dead-lettered", accepted, d.Metrics.DeadLettered.Load())
					}
					if !strings.Contains(log.String(), "InvalidParameter") {
						t.Errorf("dead letter logged without its reason:\n%s", log)
					}
				}
				t.Logf("%d Publish calls over %v of backoff", calls, time.Since(start).Round(time.Second))
			})
		})
	}
}
