package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// fakeSNS records Publish requests and answers with err.
type fakeSNS struct {
	inputs []*sns.PublishInput
	err    error
}

func (f *fakeSNS) Publish(ctx context.Context, in *sns.PublishInput, _ ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.inputs = append(f.inputs, in)
	if f.err != nil {
		return nil, f.err
	}
	return &sns.PublishOutput{MessageId: aws.String("m-1")}, nil
}

// publish runs Notify on doc and returns the request and the decoded
// message.
func publish(t *testing.T, s *SNS, doc Document) (*sns.PublishInput, snsBody) {
	t.Helper()
	f := &fakeSNS{}
	s.Client = f
	if err := s.Notify(context.Background(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(f.inputs) != 1 {
		t.Fatalf("%d Publish calls", len(f.inputs))
	}
	in := f.inputs[0]
	var body snsBody
	if err := json.Unmarshal([]byte(aws.ToString(in.Message)), &body); err != nil {
		t.Fatalf("message is not JSON: %v", err)
	}
	return in, body
}

type snsBody struct {
	Default string `json:"default"`
	Email   string `json:"email"`
}

func (b snsBody) doc(t *testing.T) Document {
	t.Helper()
	var d Document
	if err := json.Unmarshal([]byte(b.Default), &d); err != nil {
		t.Fatalf("default is not an alert document: %v", err)
	}
	return d
}

func snsSize(in *sns.PublishInput) int {
	n := len(aws.ToString(in.Message)) + len(aws.ToString(in.Subject))
	for k, v := range in.MessageAttributes {
		n += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue))
	}
	return n
}

func TestSNSPublishInput(t *testing.T) {
	docs := stdoutDocs()
	s := &SNS{TopicARN: "arn:aws:sns:us-east-1:123456789012:alerts"}
	if s.Name() != "sns" {
		t.Errorf("Name() = %q", s.Name())
	}
	in, body := publish(t, s, docs[0])
	if got := aws.ToString(in.TopicArn); got != s.TopicARN {
		t.Errorf("TopicArn = %q", got)
	}
	if got, want := aws.ToString(in.Subject), "[HIGH] Repeated authentication failures from one client - client_ip=203.0.113.7"; got != want {
		t.Errorf("Subject = %q, want %q", got, want)
	}
	if got := aws.ToString(in.MessageStructure); got != "json" {
		t.Errorf("MessageStructure = %q", got)
	}
	for name, want := range map[string]string{"severity": "high", "rule": "mcp-auth-failure-burst", "alert_id": docs[0].AlertID} {
		a := in.MessageAttributes[name]
		if aws.ToString(a.DataType) != "String" || aws.ToString(a.StringValue) != want {
			t.Errorf("attribute %s = %s %q, want String %q", name, aws.ToString(a.DataType), aws.ToString(a.StringValue), want)
		}
	}
	for k, want := range docs[0].Labels { // rule labels are attributes too
		if got := aws.ToString(in.MessageAttributes[k].StringValue); got != want {
			t.Errorf("label attribute %s = %q, want %q", k, got, want)
		}
	}
	if got, want := len(in.MessageAttributes), 3+len(docs[0].Labels); got != want {
		t.Errorf("%d attributes, want %d", got, want)
	}
	if in.MessageGroupId != nil || in.MessageDeduplicationId != nil {
		t.Error("FIFO fields set on a standard topic")
	}
	want, _ := json.Marshal(docs[0])
	if body.Default != string(want) {
		t.Errorf("default = %s\nwant %s", body.Default, want)
	}
}

func TestSNSFIFO(t *testing.T) {
	d := testDoc(3)
	for _, s := range []*SNS{
		{TopicARN: "arn:aws:sns:us-east-1:123456789012:alerts.fifo"},
		{TopicARN: "arn:aws:sns:us-east-1:123456789012:alerts", FIFO: true},
	} {
		in, _ := publish(t, s, d)
		if g, id := aws.ToString(in.MessageGroupId), aws.ToString(in.MessageDeduplicationId); g != d.Rule || id != d.AlertID {
			t.Errorf("%s: MessageGroupId %q, MessageDeduplicationId %q", s.TopicARN, g, id)
		}
	}
}

func TestSNSSubject(t *testing.T) {
	d := testDoc(1)
	d.Title = "Probe\r\nInjected-Header: x — “quoted” ✓"
	d.Group = map[string]string{"path": "/a\x1b[2J\u202e\nFAKE: ok", "client_ip": "198.51.100.4", "user_agent": strings.Repeat("A", 300)}
	got := Subject(&d)
	if len(got) > 100 {
		t.Errorf("subject of %d characters", len(got))
	}
	for _, r := range got {
		if r < 0x20 || r > 0x7e {
			t.Fatalf("subject %q holds %q", got, r)
		}
	}
	want := `[HIGH] Probe Injected-Header: x - "quoted" ? - client_ip=198.51.100.4 path=/a FAKE: ok user_agent...`
	if got != want {
		t.Errorf("Subject = %q\nwant      %q", got, want)
	}
	d.Severity, d.Group = "", nil
	if got := Subject(&d); !strings.HasPrefix(got, "[ALERT] Probe") || strings.Contains(got, " - client") {
		t.Errorf("Subject without severity or group = %q", got)
	}
}

func TestSNSEmailGolden(t *testing.T) {
	docs := stdoutDocs()
	docs[0].Description = "Eleven failed authentications in five minutes.\nCheck the client."
	docs[0].Runbook = "https://wiki.example/runbooks/mcp-auth"
	docs[0].Samples = append(docs[0].Samples, map[string]string{"path": "/mcp?token=abc123", "ua": "curl\x1b[31m\u202e/8", "api_key": "sk-live-1"})
	var out strings.Builder
	for i, d := range docs {
		_, body := publish(t, &SNS{TopicARN: "arn:aws:sns:us-east-1:123456789012:alerts"}, d)
		fmt.Fprintf(&out, "=== %d\n%s", i, body.Email)
		if strings.ContainsFunc(body.Email, func(r rune) bool { return r != '\n' && (r < 0x20 || r == 0x7f || r == '\u202e') }) {
			t.Errorf("email %d holds a control character: %q", i, body.Email)
		}
	}
	for _, secret := range []string{"abc123", "sk-live-1"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("email shows the secret %q", secret)
		}
	}
	golden(t, "sns/email.golden", []byte(out.String()))
}

func TestSNSTruncation(t *testing.T) {
	defer func(n int) { snsMaxBytes = n }(snsMaxBytes)
	snsMaxBytes = 8 * 1024
	big := func(n int) string { return strings.Repeat("<x\"é", n/5) }
	base := testDoc(4)
	base.Description = "short description"
	base.Samples = []map[string]string{{"msg": big(2500)}, {"msg": big(2500)}, {"msg": big(2500)}}

	// One sample too many: the last is dropped, the others kept.
	in, body := publish(t, &SNS{TopicARN: "t"}, base)
	d := body.doc(t)
	if !d.Truncated || len(d.Samples) == 0 || len(d.Samples) == 3 || d.Description != base.Description {
		t.Errorf("truncated %v, %d samples, description %q", d.Truncated, len(d.Samples), d.Description)
	}
	if n := snsSize(in); n > snsMaxBytes {
		t.Errorf("size %d over %d", n, snsMaxBytes)
	}
	if !strings.Contains(body.Email, "Truncated") {
		t.Error("email does not say it was truncated")
	}

	// A huge description: samples dropped, description cut.
	huge := base
	huge.Description = big(40000)
	in, body = publish(t, &SNS{TopicARN: "t"}, huge)
	d = body.doc(t)
	if !d.Truncated || len(d.Samples) != 0 || !strings.HasSuffix(d.Description, "…") || len(d.Description) < 1000 {
		t.Errorf("truncated %v, %d samples, description of %d bytes", d.Truncated, len(d.Samples), len(d.Description))
	}
	if n := snsSize(in); n > snsMaxBytes {
		t.Errorf("size %d over %d", n, snsMaxBytes)
	}
	if len(base.Samples) != 3 || len(huge.Samples) != 3 || huge.Truncated {
		t.Error("Notify changed the caller's document")
	}

	// Everything huge: every field cut, still fits.
	worst := huge
	worst.Title = big(40000)
	worst.Group = map[string]string{"a": big(40000)}
	in, body = publish(t, &SNS{TopicARN: "t"}, worst)
	if n := snsSize(in); n > snsMaxBytes {
		t.Errorf("size %d over %d", n, snsMaxBytes)
	}
	if d := body.doc(t); d.AlertID != worst.AlertID || !d.Truncated {
		t.Errorf("last resort lost the alert id or the truncated flag: %+v", d)
	}

	// Too many fields to fit even when cut: a permanent error.
	snsMaxBytes = 2000
	worst.Labels = map[string]string{}
	for i := range 20 {
		worst.Labels[fmt.Sprint(i)] = big(2000)
	}
	err := (&SNS{TopicARN: "t", Client: &fakeSNS{}}).Notify(context.Background(), &worst)
	if !IsPermanent(err) {
		t.Errorf("Notify = %v, want a permanent error", err)
	}
}

func TestSNSTruncationRealLimit(t *testing.T) {
	d := testDoc(5)
	d.Samples = []map[string]string{{"msg": strings.Repeat("\x01", 50000)}, {"msg": strings.Repeat("<", 60000)}, {"msg": strings.Repeat("x", 100000)}}
	d.Description = strings.Repeat("\"", 200000)
	in, body := publish(t, &SNS{TopicARN: "t"}, d)
	if n := snsSize(in); n > 256*1024 {
		t.Errorf("size %d over 256 KiB", n)
	}
	if !body.doc(t).Truncated {
		t.Error("not marked truncated")
	}
}

// apiError is an SNS error response as the SDK returns it.
func apiError(code string, status int) error {
	return &smithy.OperationError{ServiceID: "SNS", OperationName: "Publish", Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code, Message: "m"},
		},
		RequestID: "r-1",
	}}
}

func TestSNSErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err       error
		permanent bool
	}{
		{"throttling", apiError("Throttling", 400), false},
		{"throttled", apiError("Throttled", 400), false},
		{"kms throttling", apiError("KMSThrottling", 400), false},
		{"internal", apiError("InternalError", 500), false},
		{"unknown 5xx", apiError("Whatever", 503), false},
		{"429", apiError("", 429), false},
		{"expired token", apiError("ExpiredToken", 403), false},
		{"invalid parameter", &types.InvalidParameterException{Message: aws.String("bad")}, true},
		{"invalid parameter wrapped", apiError("InvalidParameter", 400), true},
		// Fixed by an operator, not by changing the alert: retried.
		{"not found", apiError("NotFound", 404), false},
		{"authorization", apiError("AuthorizationError", 403), false},
		{"access denied", apiError("AccessDenied", 403), false},
		{"invalid credentials", apiError("InvalidClientTokenId", 403), false},
		{"kms disabled", apiError("KMSDisabled", 400), false},
		{"kms not found", &types.KMSNotFoundException{Message: aws.String("no key")}, false},
		{"unknown 4xx", apiError("SomethingNew", 400), false},
		{"too large", apiError("RequestEntityTooLarge", 413), true},
		{"sdk validation", &smithy.OperationError{Err: &smithy.InvalidParamsError{Context: "PublishInput"}}, true},
		{"network", &smithy.OperationError{Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, false},
		{"deadline", fmt.Errorf("op: %w", context.DeadlineExceeded), false},
		{"canceled", context.Canceled, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeSNS{err: tc.err}
			d := testDoc(1)
			err := (&SNS{Client: f, TopicARN: "arn:aws:sns:us-east-1:123456789012:alerts"}).Notify(context.Background(), &d)
			if err == nil || !errors.Is(err, tc.err) {
				t.Fatalf("Notify = %v, want it to wrap %v", err, tc.err)
			}
			if IsPermanent(err) != tc.permanent {
				t.Errorf("IsPermanent(%v) = %v", err, !tc.permanent)
			}
			if !strings.Contains(err.Error(), "sns publish "+d.AlertID+" to arn:aws:sns:us-east-1:123456789012:alerts") {
				t.Errorf("error lacks the operation: %v", err)
			}
		})
	}
}

func TestSNSCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := &fakeSNS{}
	d := testDoc(1)
	if err := (&SNS{Client: f, TopicARN: "t"}).Notify(ctx, &d); !errors.Is(err, context.Canceled) || IsPermanent(err) {
		t.Errorf("Notify = %v", err)
	}
	if len(f.inputs) != 0 {
		t.Error("published after cancel")
	}
}
