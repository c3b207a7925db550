package ingest

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/secwatch/secwatch/internal/format"
)

// fakeSQS is a queue with SQS's behaviour on the two paths a stopping
// source meets (for unit tests of those error paths; the integration tests
// run the real SDK against the emulator):
//   - A long poll whose client gave up stays open on SQS's side until its
//     wait ends, and a message sent meanwhile is handed to that dead
//     connection: it stays in flight, and nobody has its receipt handle
//     (aws-sdk-go-v2 issue 2068 and aws-sdk-java-v2 issue 1395 describe it).
//   - A delete the client cancels has not happened.
type fakeSQS struct {
	mu       sync.Mutex
	visible  []sqstypes.Message
	inflight map[string]string // receipt handle -> message id
	orphans  int               // messages handed to a dead long poll
	dead     []time.Time       // when each abandoned long poll ends
	deleted  map[string]bool   // message ids
	released map[string]bool   // message ids made visible again
	waiters  []chan struct{}
	receipts int
	// blockDeletes makes that many DeleteMessageBatch calls wait until
	// their context is done.
	blockDeletes int
}

func newFakeSQS() *fakeSQS {
	return &fakeSQS{inflight: map[string]string{}, deleted: map[string]bool{}, released: map[string]bool{}}
}

func (f *fakeSQS) send(id, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	for i, end := range f.dead {
		if now.Before(end) {
			f.dead = append(f.dead[:i], f.dead[i+1:]...)
			f.receipts++
			f.inflight["lost-"+strconv.Itoa(f.receipts)] = id
			f.orphans++
			return
		}
	}
	f.visible = append(f.visible, sqstypes.Message{MessageId: aws.String(id), Body: aws.String(body)})
	for _, w := range f.waiters {
		close(w)
	}
	f.waiters = nil
}

func (f *fakeSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	end := time.Now().Add(time.Duration(in.WaitTimeSeconds) * time.Second)
	for {
		f.mu.Lock()
		if len(f.visible) > 0 {
			n := min(len(f.visible), int(max(in.MaxNumberOfMessages, 1)))
			out := &sqs.ReceiveMessageOutput{}
			for _, m := range f.visible[:n] {
				f.receipts++
				rh := "rh-" + strconv.Itoa(f.receipts)
				f.inflight[rh] = aws.ToString(m.MessageId)
				m.ReceiptHandle = aws.String(rh)
				out.Messages = append(out.Messages, m)
			}
			f.visible = f.visible[n:]
			f.mu.Unlock()
			return out, nil
		}
		w := make(chan struct{})
		f.waiters = append(f.waiters, w)
		f.mu.Unlock()
		select {
		case <-w:
		case <-time.After(time.Until(end)):
			return &sqs.ReceiveMessageOutput{}, nil
		case <-ctx.Done():
			f.mu.Lock()
			f.dead = append(f.dead, end)
			f.mu.Unlock()
			return nil, ctx.Err()
		}
	}
}

func (f *fakeSQS) delete(rh string) bool {
	id, ok := f.inflight[rh]
	if ok {
		delete(f.inflight, rh)
		f.deleted[id] = true
	}
	return ok
}

func (f *fakeSQS) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	f.mu.Lock()
	block := f.blockDeletes > 0
	if block {
		f.blockDeletes--
	}
	f.mu.Unlock()
	if block {
		<-ctx.Done()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &sqs.DeleteMessageBatchOutput{}
	for _, e := range in.Entries {
		if f.delete(aws.ToString(e.ReceiptHandle)) {
			out.Successful = append(out.Successful, sqstypes.DeleteMessageBatchResultEntry{Id: e.Id})
		} else {
			out.Failed = append(out.Failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("ReceiptHandleIsInvalid"), SenderFault: true})
		}
	}
	return out, nil
}

func (f *fakeSQS) ChangeMessageVisibility(ctx context.Context, _ *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	return &sqs.ChangeMessageVisibilityOutput{}, ctx.Err()
}

func (f *fakeSQS) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := &sqs.ChangeMessageVisibilityBatchOutput{}
	for _, e := range in.Entries {
		id, ok := f.inflight[aws.ToString(e.ReceiptHandle)]
		if !ok || e.VisibilityTimeout != 0 {
			out.Failed = append(out.Failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("ReceiptHandleIsInvalid"), SenderFault: true})
			continue
		}
		delete(f.inflight, aws.ToString(e.ReceiptHandle))
		f.released[id] = true
		f.visible = append(f.visible, sqstypes.Message{MessageId: aws.String(id)})
	}
	return out, nil
}

// stuck returns the messages in flight: neither deleted nor released, so
// invisible until their visibility timeout ends.
func (f *fakeSQS) stuck() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.inflight)
}

// TestS3StopKeepsLongPoll: a stop does not abandon the long poll in flight.
// A message that arrives while the poll waits is received, and the stopping
// source makes it visible again, instead of leaving it in flight, unseen,
// for the visibility timeout.
func TestS3StopKeepsLongPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newFakeSQS()
		src := &S3{
			Name: "alb", S3: &fakeS3{gets: map[string]int{}}, SQS: q, QueueURL: "q",
			NewParser: func() (format.Parser, error) { return format.NewParser("json", format.Options{}) },
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- src.Run(ctx, make(chan Record)) }()
		synctest.Wait() // the poll waits for a message
		cancel()
		synctest.Wait()
		q.send("m1", s3Notification("logs", "p/a.gz", "e1"))
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if q.orphans != 0 || q.stuck() != 0 {
			t.Errorf("%d messages handed to an abandoned long poll, %d in flight: want none", q.orphans, q.stuck())
		}
		if !q.released["m1"] {
			t.Errorf("the message the last poll received was not made visible again")
		}
	})
}

// TestS3StopFinishesDeletes: a delete the stop interrupts is done by the
// stopping source, instead of leaving a message whose object is in the
// ledger in flight for the visibility timeout.
func TestS3StopFinishesDeletes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newFakeSQS()
		q.blockDeletes = 1
		obj := s3Object{Bucket: "logs", Key: "p/a.gz", ETag: "e1"}
		s3f := &fakeS3{objects: map[string][]byte{"p/a.gz": gz(`{"time":"2026-12-07T10:00:01Z","n":1}` + "\n")}, gets: map[string]int{}}
		src := &S3{
			Name: "alb", S3: s3f, SQS: q, QueueURL: "q",
			NewParser: func() (format.Parser, error) { return format.NewParser("json", format.Options{}) },
		}
		q.send("m1", s3Notification("logs", obj.Key, obj.ETag))
		ctx, cancel := context.WithCancel(t.Context())
		out := make(chan Record)
		done := make(chan error)
		go func() { done <- src.Run(ctx, out) }()
		var last S3Cursor
		for !last.Done {
			last = (<-out).Cursor.(S3Cursor)
		}
		raw, _ := json.Marshal(last)
		src.Saved(map[string]json.RawMessage{last.Key: raw})
		synctest.Wait() // the delete hangs
		if q.deleted["m1"] {
			t.Fatal("the delete did not hang")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !q.deleted["m1"] || q.stuck() != 0 {
			t.Errorf("deleted %v, %d in flight: want m1 deleted and none in flight", q.deleted, q.stuck())
		}
	})
}

// s3Notification is an S3 event notification of one object.
func s3Notification(bucket, key, etag string) string {
	b, _ := json.Marshal(map[string]any{"Records": []any{map[string]any{
		"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
		"s3": map[string]any{"bucket": map[string]any{"name": bucket}, "object": map[string]any{"key": key, "eTag": etag}},
	}}})
	return string(b)
}
