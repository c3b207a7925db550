package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/secwatch/secwatch/internal/alerting"
)

// snsFixture is a topic in a fresh emulator with an SQS queue subscribed
// to it (raw message delivery off), and a fault-injecting proxy in front
// of the emulator for the notifier's SNS client.
type snsFixture struct {
	endpoint string
	topicARN string
	queueURL string
	sqs      *sqs.Client
	proxy    *faultProxy
}

func newSNSFixture(t *testing.T, fifo bool) *snsFixture {
	t.Helper()
	ctx := t.Context()
	f := &snsFixture{endpoint: startEmulator(t)}
	cfg := awsConfig(f.endpoint)
	f.sqs = sqs.NewFromConfig(cfg)
	snsc := sns.NewFromConfig(cfg)

	queue, topic := uniqueName(t, "q"), uniqueName(t, "alerts")
	var qattrs, tattrs map[string]string
	if fifo {
		queue, topic = queue+".fifo", topic+".fifo"
		qattrs = map[string]string{"FifoQueue": "true"}
		tattrs = map[string]string{"FifoTopic": "true"}
	}
	q, err := f.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(queue), Attributes: qattrs})
	if err != nil {
		t.Fatal(err)
	}
	f.queueURL = aws.ToString(q.QueueUrl)
	qa, err := f.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatal(err)
	}
	tp, err := snsc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(topic), Attributes: tattrs})
	if err != nil {
		t.Fatal(err)
	}
	f.topicARN = aws.ToString(tp.TopicArn)
	if _, err := snsc.Subscribe(ctx, &sns.SubscribeInput{
		TopicArn: tp.TopicArn, Protocol: aws.String("sqs"),
		Endpoint: aws.String(qa.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]),
	}); err != nil {
		t.Fatal(err)
	}
	f.proxy = newFaultProxy(t, f.endpoint)
	return f
}

// notifier returns an alerting.SNS that talks to the emulator through
// the proxy. The SDK's own retries are off, so that every failure reaches
// the dispatcher.
func (f *snsFixture) notifier() *alerting.SNS {
	c := sns.NewFromConfig(awsConfig(f.proxy.URL), func(o *sns.Options) { o.RetryMaxAttempts = 1 })
	return &alerting.SNS{Client: c, TopicARN: f.topicARN}
}

// envelope is the SNS notification SQS receives without raw delivery.
type envelope struct {
	Type              string
	TopicArn          string
	Subject           string
	Message           string
	MessageAttributes map[string]struct{ Type, Value string }
}

// receive reads and deletes what the queue holds, waiting up to wait
// for the first message.
func (f *snsFixture) receive(t *testing.T, wait time.Duration) []envelope {
	t.Helper()
	var out []envelope
	for {
		r, err := f.sqs.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(f.queueURL), MaxNumberOfMessages: 10,
			WaitTimeSeconds: int32(wait / time.Second), VisibilityTimeout: 30,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			return out
		}
		wait = 0
		for _, m := range r.Messages {
			var e envelope
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &e); err != nil {
				t.Fatalf("SQS body is not an SNS envelope: %v\n%s", err, aws.ToString(m.Body))
			}
			out = append(out, e)
			if _, err := f.sqs.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(f.queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// alertIDs counts the received alerts by the alert_id of their document.
func alertIDs(t *testing.T, envs []envelope) map[string]int {
	t.Helper()
	n := map[string]int{}
	for _, e := range envs {
		var d alerting.Document
		if err := json.Unmarshal([]byte(e.Message), &d); err != nil {
			t.Fatalf("message is not an alert document: %v\n%s", err, e.Message)
		}
		n[d.AlertID]++
	}
	return n
}

func testDoc(n int) alerting.Document {
	return alerting.Document{
		// Not all digits: kumo turns numeric-looking query parameters
		// (MessageDeduplicationId) into numbers, then fails to parse them.
		AlertID:     fmt.Sprintf("a%031x", n),
		Rule:        "mcp-auth-failure-burst",
		Title:       "Repeated authentication failures — one client",
		Severity:    "high",
		Group:       map[string]string{"client_ip": fmt.Sprintf("203.0.113.%d", n)},
		Count:       11,
		Threshold:   10,
		Window:      "5m0s",
		Time:        "2026-01-28T19:15:22Z",
		FirstSeen:   "2026-01-28T19:11:02Z",
		Description: "Eleven failed authentications in five minutes.",
		Samples:     []map[string]string{{"path": "/mcp", "authorization": "[REDACTED]"}},
	}
}

// eventually waits for cond, failing the test after deadline.
func eventually(t *testing.T, deadline time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("after %s: %s", deadline, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSNSPublishToSQS(t *testing.T) {
	t.Parallel()
	f := newSNSFixture(t, false)
	s := f.notifier()
	docs := []alerting.Document{testDoc(1), testDoc(2)}
	docs[1].Group = map[string]string{"path": "/a\x1b[2J\u202e\nFAKE: ok"}
	for i := range docs {
		if err := s.Notify(t.Context(), &docs[i]); err != nil {
			t.Fatal(err)
		}
	}
	envs := f.receive(t, 2*time.Second)
	if len(envs) != len(docs) {
		t.Fatalf("%d messages in the queue, want %d", len(envs), len(docs))
	}
	byID := map[string]envelope{}
	for _, e := range envs {
		var d alerting.Document
		if err := json.Unmarshal([]byte(e.Message), &d); err != nil {
			t.Fatalf("default message is not the alert JSON: %v\n%s", err, e.Message)
		}
		byID[d.AlertID] = e
	}
	for _, tc := range []struct {
		doc     alerting.Document
		subject string
	}{
		{docs[0], "[HIGH] Repeated authentication failures - one client - client_ip=203.0.113.1"},
		{docs[1], "[HIGH] Repeated authentication failures - one client - path=/a FAKE: ok"},
	} {
		e, ok := byID[tc.doc.AlertID]
		if !ok {
			t.Errorf("alert %s not received", tc.doc.AlertID)
			continue
		}
		if e.Type != "Notification" || e.TopicArn != f.topicARN {
			t.Errorf("envelope Type %q TopicArn %q", e.Type, e.TopicArn)
		}
		if e.Subject != tc.subject {
			t.Errorf("Subject = %q, want %q", e.Subject, tc.subject)
		}
		want, _ := json.Marshal(tc.doc)
		if e.Message != string(want) {
			t.Errorf("Message = %s\nwant %s", e.Message, want)
		}
		for name, value := range map[string]string{"severity": "high", "rule": tc.doc.Rule, "alert_id": tc.doc.AlertID} {
			if a := e.MessageAttributes[name]; a.Type != "String" || a.Value != value {
				t.Errorf("attribute %s = %+v, want String %q", name, a, value)
			}
		}
	}
}

// TestSNSFIFO publishes to a FIFO topic with a FIFO queue subscribed.
// kumo's ReceiveMessage does not return the MessageGroupId and
// MessageDeduplicationId system attributes, so they are checked through
// their effect: the FIFO queue refuses a message without a group id (kumo
// then drops it), and drops a second message with the same deduplication
// id.
func TestSNSFIFO(t *testing.T) {
	t.Parallel()
	f := newSNSFixture(t, true)
	s := f.notifier()
	for _, n := range []int{1, 1, 2} { // alert 1 twice, as after a crash before the ack
		d := testDoc(n)
		if err := s.Notify(t.Context(), &d); err != nil {
			t.Fatal(err)
		}
	}
	got := alertIDs(t, f.receive(t, 2*time.Second))
	want := map[string]int{testDoc(1).AlertID: 1, testDoc(2).AlertID: 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("received %v, want %v", got, want)
	}
}

// dispatch runs an outbox and a dispatcher delivering to s until the
// test ends.
func dispatch(t *testing.T, s *alerting.SNS) (*alerting.Outbox, *alerting.Dispatcher) {
	t.Helper()
	o, err := alerting.OpenOutbox(t.TempDir(), []string{s.Name()})
	if err != nil {
		t.Fatal(err)
	}
	d := &alerting.Dispatcher{
		Outbox: o, Notifiers: []alerting.Notifier{s},
		InitialBackoff: 50 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		AttemptTimeout: 500 * time.Millisecond,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		o.Close()
	})
	return o, d
}

func put(t *testing.T, o *alerting.Outbox, d *alerting.Dispatcher, doc alerting.Document) {
	t.Helper()
	if ok, err := o.Put(doc, time.Now()); !ok || err != nil {
		t.Fatalf("Put %s = %v, %v", doc.AlertID, ok, err)
	}
	d.Wake()
}

func TestSNSOutageOutbox(t *testing.T) {
	t.Parallel()
	f := newSNSFixture(t, false)
	f.proxy.set(modeUnreachable)
	o, d := dispatch(t, f.notifier())
	const n = 15
	for i := range n {
		put(t, o, d, testDoc(100+i))
	}
	// Every alert has failed at least once, and each failure kind (503,
	// connection reset, no answer) has been seen.
	eventually(t, 30*time.Second, "not every alert failed while SNS was unreachable", func() bool {
		for _, e := range o.Pending() {
			if e.Attempts == 0 {
				return false
			}
		}
		return o.Len() == n && f.proxy.failed.Load() >= 2*n
	})
	if got := f.receive(t, 0); len(got) != 0 {
		t.Fatalf("%d messages delivered while SNS was unreachable", len(got))
	}
	f.proxy.set(modePass)

	got := map[string]int{}
	eventually(t, 60*time.Second, "alerts not all delivered after SNS came back", func() bool {
		for id, c := range alertIDs(t, f.receive(t, 0)) {
			got[id] += c
		}
		return len(got) == n && o.Len() == 0
	})
	// Everything was published before the outbox emptied: a last look for
	// duplicates.
	for id, c := range alertIDs(t, f.receive(t, time.Second)) {
		got[id] += c
	}
	for i := range n {
		if id := testDoc(100 + i).AlertID; got[id] != 1 {
			t.Errorf("alert %s delivered %d times", id, got[id])
		}
	}
	if m := d.Metrics; m.Delivered.Load() != n || m.DeadLettered.Load() != 0 || m.Failed.Load() < n {
		t.Errorf("metrics: delivered %d, dead-lettered %d, failed %d", m.Delivered.Load(), m.DeadLettered.Load(), m.Failed.Load())
	}
	t.Logf("%d failed requests (503, reset, no answer) before SNS came back", f.proxy.failed.Load())
}

func TestSNSThrottlingRetried(t *testing.T) {
	t.Parallel()
	f := newSNSFixture(t, false)
	f.proxy.throttleNext.Store(4)
	o, d := dispatch(t, f.notifier())
	put(t, o, d, testDoc(1))
	put(t, o, d, testDoc(2))
	got := map[string]int{}
	eventually(t, 30*time.Second, "throttled alerts not delivered", func() bool {
		for id, c := range alertIDs(t, f.receive(t, 0)) {
			got[id] += c
		}
		return len(got) == 2 && o.Len() == 0
	})
	if f.proxy.failed.Load() != 4 || d.Metrics.Failed.Load() != 4 || d.Metrics.DeadLettered.Load() != 0 || o.DeadLetters() != 0 {
		t.Errorf("%d throttled requests, %d failed attempts, %d dead letters; want 4, 4, 0",
			f.proxy.failed.Load(), d.Metrics.Failed.Load(), o.DeadLetters())
	}
}

func TestSNSInvalidParameterDeadLetters(t *testing.T) {
	t.Parallel()
	f := newSNSFixture(t, false)
	f.proxy.set(modeInvalid)
	o, d := dispatch(t, f.notifier())
	put(t, o, d, testDoc(1))
	eventually(t, 30*time.Second, "rejected alert not dead-lettered", func() bool {
		return o.DeadLetters() == 1 && o.Len() == 0
	})
	if f.proxy.failed.Load() != 1 {
		t.Errorf("%d requests for a permanently rejected alert, want 1", f.proxy.failed.Load())
	}
	f.proxy.set(modePass)
	if got := f.receive(t, 0); len(got) != 0 {
		t.Errorf("%d messages delivered", len(got))
	}
}

// Modes of a faultProxy.
const (
	modePass        int32 = iota
	modeUnreachable       // in turn: 503, connection reset, no answer (none reaches the emulator)
	modeInvalid           // 400 InvalidParameter
)

// faultProxy is a reverse proxy to the emulator that can fail requests.
// Failing requests never reach the emulator, so nothing is published
// twice because an answer was lost.
type faultProxy struct {
	URL          string
	mode         atomic.Int32
	throttleNext atomic.Int32 // the next n requests get 400 Throttling
	failed       atomic.Int32 // requests failed so far
	turn         atomic.Int32
	release      chan struct{}
	releaseOnce  sync.Once
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{release: make(chan struct{})}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.throttleNext.Add(-1) >= 0 {
			p.failed.Add(1)
			queryError(w, http.StatusBadRequest, "Throttling", "Rate exceeded")
			return
		}
		switch p.mode.Load() {
		case modeInvalid:
			p.failed.Add(1)
			queryError(w, http.StatusBadRequest, "InvalidParameter", "Invalid parameter: Message")
			return
		case modeUnreachable:
			p.failed.Add(1)
			switch p.turn.Add(1) % 3 {
			case 0:
				http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			case 1:
				reset(w)
			default: // no answer until the client gives up
				select {
				case <-r.Context().Done():
				case <-p.release:
				}
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	p.URL = srv.URL
	t.Cleanup(func() { p.releaseOnce.Do(func() { close(p.release) }); srv.Close() })
	return p
}

func (p *faultProxy) set(mode int32) { p.mode.Store(mode) }

// queryError answers like SNS (AWS query protocol) does with an error.
func queryError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>`, code, msg)
}

// reset closes the client's connection with a TCP reset.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}
