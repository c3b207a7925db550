package ingest

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/secwatch/secwatch/internal/format"
)

// s3API is the part of the S3 client the S3 source calls.
type s3API interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// sqsAPI is the part of the SQS client the S3 source calls.
type sqsAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
}

var (
	_ s3API  = (*s3.Client)(nil)
	_ sqsAPI = (*sqs.Client)(nil)
)

// Defaults of the S3 source.
const (
	DefaultS3Reconcile  = 5 * time.Minute
	DefaultS3Visibility = 5 * time.Minute
	DefaultS3Retention  = 72 * time.Hour
	DefaultS3MaxLedger  = 100_000
	s3BackoffMin        = 200 * time.Millisecond
	s3BackoffMax        = time.Minute
	s3StopBudget        = 5 * time.Second // for the deletes and releases of a stopping source
	s3PollWait          = 5 * time.Second // an SQS long poll's wait
	s3PollSlack         = 10 * time.Second
)

// S3 reads log objects (gzip or plain, told apart by their first bytes)
// that S3 event notifications announce on an SQS queue, and objects of
// today's and yesterday's date prefixes that a listing finds and no
// notification announced.
//
// Each line is counted exactly once across crashes. An object's records
// carry an S3Cursor with the number of its lines read; its last record
// (Progress) marks it Done. The daemon stores these cursors in its
// checkpoint with the engine's state, so the checkpoint is the object
// ledger: after a crash a Done object is skipped, and an object read in
// part is read again from its start with the lines the checkpoint already
// holds skipped. A queue message is deleted only after every object it
// announces is Done in a saved checkpoint (Saved); until then its
// visibility is extended.
type S3 struct {
	Name      string
	S3        s3API
	SQS       sqsAPI // nil: no queue, the reconciler alone finds objects
	QueueURL  string
	Bucket    string // listed by the reconciler ("" for none)
	Prefix    string // the reconciler lists Prefix + "yyyy/mm/dd/"
	NewParser func() (format.Parser, error)
	// Cursors are the objects of the last checkpoint: Done ones form the
	// ledger, others are resumed after their Line.
	Cursors      []S3Cursor
	MaxLineBytes int
	MaxFuture    time.Duration
	// Reconcile is the listing interval; 0 means DefaultS3Reconcile.
	Reconcile time.Duration
	// Visibility is the visibility timeout asked for on receive and
	// renewed at half of it; 0 means DefaultS3Visibility.
	Visibility time.Duration
	// Retention is how long the ledger remembers an object; 0 means
	// DefaultS3Retention. It must exceed the two days the reconciler lists.
	Retention time.Duration
	// MaxLedger bounds the ledger; the oldest entries go first. 0 means
	// DefaultS3MaxLedger.
	MaxLedger int
	Stats     *SourceStats
	S3Stats   *S3Stats
	Bad       func(pos Position, reason string)
	Now       func() time.Time // nil: time.Now

	saved  atomic.Pointer[map[string]json.RawMessage]
	wakeMu sync.Mutex
	wake   chan struct{}
}

// S3Stats are the S3 source's own counters, updated atomically.
type S3Stats struct {
	Objects    atomic.Int64 // objects read to their end
	NotFound   atomic.Int64 // objects gone (404) before they were read
	Rejected   atomic.Int64 // queue messages that could not be understood, deleted
	Finds      atomic.Int64 // objects the reconciler found that no notification announced
	Retries    atomic.Int64 // requests retried after throttling, 5xx or a broken read
	Errors     atomic.Int64 // other request failures (receive, delete, visibility, list)
	Deleted    atomic.Int64 // queue messages deleted: their objects checkpointed, or none to read
	Ledger     atomic.Int64 // objects in the ledger
	OldestWait atomic.Int64 // age in nanoseconds of the oldest message not yet deleted
}

// S3Cursor is the ledger entry of one object.
type S3Cursor struct {
	Key  string    `json:"key"`  // the object's ledger key: bucket/key@version-or-etag
	Line int       `json:"line"` // lines read and counted
	Done bool      `json:"done,omitempty"`
	At   time.Time `json:"at"` // when the object was first read
}

// CursorKey returns c.Key.
func (c S3Cursor) CursorKey() string { return c.Key }

// Saved tells the source which of its cursors a checkpoint that was just
// written holds. The daemon calls it after each checkpoint is saved; it
// does not block.
func (s *S3) Saved(cursors map[string]json.RawMessage) {
	s.saved.Store(&cursors)
	s.wakeMu.Lock()
	ch := s.wake
	s.wakeMu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// s3Message is a queue message not yet deleted.
type s3Message struct {
	receipt  string
	keys     []string
	received time.Time
}

// s3Run is the state of one Run, shared by its goroutines under mu.
type s3Run struct {
	s      *S3
	now    func() time.Time
	stats  *S3Stats
	mu     sync.Mutex
	ledger map[string]time.Time // Done in a saved checkpoint, by ledger key
	read   map[string]time.Time // read to the end, not yet saved
	queued map[string]bool      // waiting to be read, or being read
	resume map[string]int       // lines a checkpoint already holds
	msgs   map[string]*s3Message
}

// Run reads objects until ctx is done.
func (s *S3) Run(ctx context.Context, out chan<- Record) error {
	if s.NewParser == nil {
		return errors.New("no parser")
	}
	if s.S3 == nil {
		return errors.New("no S3 client")
	}
	r := &s3Run{s: s, now: s.Now, stats: s.S3Stats, ledger: map[string]time.Time{}, read: map[string]time.Time{},
		queued: map[string]bool{}, resume: map[string]int{}, msgs: map[string]*s3Message{}}
	if r.now == nil {
		r.now = time.Now
	}
	if r.stats == nil {
		r.stats = new(S3Stats)
	}
	for _, c := range s.Cursors {
		if c.Done {
			r.ledger[c.Key] = c.At
		} else {
			r.resume[c.Key] = c.Line
		}
	}
	r.stats.Ledger.Store(int64(len(r.ledger)))
	wake := make(chan struct{}, 1)
	s.wakeMu.Lock()
	s.wake = wake
	s.wakeMu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan s3Object, 256)
	var wg sync.WaitGroup
	if s.SQS != nil && s.QueueURL != "" {
		wg.Add(2)
		go func() { defer wg.Done(); r.poll(ctx, work) }()
		go func() { defer wg.Done(); r.keep(ctx, wake) }()
	}
	if s.Bucket != "" {
		wg.Add(1)
		go func() { defer wg.Done(); r.reconcile(ctx, work) }()
	}
	err := r.readLoop(ctx, out, work)
	cancel()
	wg.Wait()
	if s.SQS != nil && s.QueueURL != "" {
		r.finish()
	}
	return err
}

// finish runs when the source stops, within 5 s: it deletes the messages
// whose objects the last saved checkpoint holds (a delete the stop
// interrupted included), and makes the rest visible again at once, so that
// the next start need not wait out their visibility timeout. Their objects
// are in the final checkpoint or read again from it.
func (r *s3Run) finish() {
	ctx, cancel := context.WithTimeout(context.Background(), s3StopBudget)
	defer cancel()
	r.settle(ctx)
	r.release(ctx)
}

// release makes the messages not yet deleted visible again. Ten messages a
// request (SQS's batch limit), so that hundreds in flight are released
// within the time a stopping daemon has.
func (r *s3Run) release(ctx context.Context) {
	for batch := range slices.Chunk(r.receipts(), 10) {
		if ctx.Err() != nil {
			return
		}
		entries := make([]sqstypes.ChangeMessageVisibilityBatchRequestEntry, len(batch))
		for i, rh := range batch {
			entries[i] = sqstypes.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(rh), VisibilityTimeout: 0,
			}
		}
		res, err := r.s.SQS.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{
			QueueUrl: aws.String(r.s.QueueURL), Entries: entries,
		})
		if err != nil || len(res.Failed) > 0 {
			// Those messages come back after their visibility timeout.
			r.stats.Errors.Add(1)
		}
	}
}

func (r *s3Run) visibility() time.Duration {
	if r.s.Visibility > 0 {
		return r.s.Visibility
	}
	return DefaultS3Visibility
}

// claim marks o as queued unless it is known; true means the caller must
// hand it to the reader.
func (r *s3Run) claim(key string) bool {
	if _, ok := r.ledger[key]; ok {
		return false
	}
	if _, ok := r.read[key]; ok {
		return false
	}
	if r.queued[key] {
		return false
	}
	r.queued[key] = true
	return true
}

// poll long-polls the queue and hands the objects of each message to the
// reader.
func (r *s3Run) poll(ctx context.Context, work chan<- s3Object) {
	s := r.s
	backoff := s3BackoffMin
	for ctx.Err() == nil {
		// A long poll is never cancelled: SQS may still hand messages to a
		// connection its client gave up, and those stay invisible for the
		// visibility timeout. A stopping source waits for the poll in
		// flight (at most s3PollWait) and releases what it brought.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s3PollWait+s3PollSlack)
		res, err := s.SQS.ReceiveMessage(rctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(s.QueueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: int32(s3PollWait / time.Second),
			VisibilityTimeout: int32(r.visibility() / time.Second),
		})
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			r.stats.Errors.Add(1)
			r.bad(s.QueueURL, "receive: "+err.Error())
			if !sleep(ctx, jitter(backoff)) {
				return
			}
			backoff = min(2*backoff, s3BackoffMax)
			continue
		}
		backoff = s3BackoffMin
		// Every message is held before any object is handed on, so that a
		// stop met on the way releases them all.
		var todo []s3Object
		for _, m := range res.Messages {
			id, receipt := aws.ToString(m.MessageId), aws.ToString(m.ReceiptHandle)
			objs, err := parseNotification([]byte(aws.ToString(m.Body)))
			if err != nil {
				// Never understood, so never retried: counted, reported
				// and held with no object, so deleted as soon as it is
				// settled (a dead-letter queue keeps nothing useful).
				r.stats.Rejected.Add(1)
				r.bad(s.QueueURL, "message "+id+": "+err.Error())
				objs = nil
			}
			r.mu.Lock()
			msg := r.msgs[id]
			if msg == nil {
				msg = &s3Message{received: r.now()}
				for _, o := range objs {
					msg.keys = append(msg.keys, o.ledgerKey())
				}
				r.msgs[id] = msg
			}
			msg.receipt = receipt
			for _, o := range objs {
				if r.claim(o.ledgerKey()) {
					todo = append(todo, o)
				}
			}
			r.mu.Unlock()
		}
		for _, o := range todo {
			select {
			case work <- o:
			case <-ctx.Done():
				return
			}
		}
		r.settle(ctx)
	}
}

// keep extends the visibility of messages not yet deleted, and deletes
// those whose objects a saved checkpoint holds.
func (r *s3Run) keep(ctx context.Context, wake <-chan struct{}) {
	tick := time.NewTicker(r.visibility() / 2)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
			r.settle(ctx)
		case <-tick.C:
			for _, rh := range r.receipts() {
				_, err := r.s.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
					QueueUrl: aws.String(r.s.QueueURL), ReceiptHandle: aws.String(rh),
					VisibilityTimeout: int32(r.visibility() / time.Second),
				})
				if err != nil && ctx.Err() == nil {
					r.stats.Errors.Add(1)
				}
			}
		}
	}
}

// receipts returns the receipt handles of the messages not yet deleted.
func (r *s3Run) receipts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var rhs []string
	for _, m := range r.msgs {
		rhs = append(rhs, m.receipt)
	}
	return rhs
}

// settle takes in the cursors of the last saved checkpoint and deletes the
// messages whose objects are all Done in it.
func (r *s3Run) settle(ctx context.Context) {
	if p := r.s.saved.Swap(nil); p != nil {
		r.mu.Lock()
		for _, raw := range *p {
			var c S3Cursor
			if json.Unmarshal(raw, &c) == nil && c.Done {
				r.ledger[c.Key] = c.At
				delete(r.read, c.Key)
			}
		}
		r.stats.Ledger.Store(int64(len(r.ledger)))
		r.mu.Unlock()
	}
	var del []heldMessage
	var oldest time.Time
	r.mu.Lock()
	for id, m := range r.msgs {
		if !slices.ContainsFunc(m.keys, func(k string) bool { _, ok := r.ledger[k]; return !ok }) {
			del = append(del, heldMessage{id, m})
			delete(r.msgs, id)
		} else if oldest.IsZero() || m.received.Before(oldest) {
			oldest = m.received
		}
	}
	r.mu.Unlock()
	if oldest.IsZero() {
		r.stats.OldestWait.Store(0)
	} else {
		r.stats.OldestWait.Store(int64(r.now().Sub(oldest)))
	}
	for batch := range slices.Chunk(del, 10) {
		failed := r.deleteBatch(ctx, batch)
		if len(failed) == 0 || ctx.Err() == nil {
			// A delete that failed while running: the message comes back
			// after its visibility timeout and is deleted then, as its
			// objects are in the ledger.
			continue
		}
		// The stop interrupted the deletes: the messages are held again,
		// for the stopping source to delete or release.
		r.mu.Lock()
		for _, h := range failed {
			if r.msgs[h.id] == nil {
				r.msgs[h.id] = h.m
			}
		}
		r.mu.Unlock()
	}
}

// heldMessage is a message taken out of s3Run.msgs to be deleted.
type heldMessage struct {
	id string
	m  *s3Message
}

// deleteBatch deletes the messages of batch (at most ten) and returns those
// whose delete failed.
func (r *s3Run) deleteBatch(ctx context.Context, batch []heldMessage) (failed []heldMessage) {
	if ctx.Err() != nil {
		return batch
	}
	entries := make([]sqstypes.DeleteMessageBatchRequestEntry, len(batch))
	for i, h := range batch {
		entries[i] = sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h.m.receipt)}
	}
	res, err := r.s.SQS.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(r.s.QueueURL), Entries: entries})
	if err != nil {
		if ctx.Err() == nil {
			r.stats.Errors.Add(1)
			r.bad(r.s.QueueURL, "delete: "+err.Error())
		}
		return batch
	}
	for _, f := range res.Failed {
		i, err := strconv.Atoi(aws.ToString(f.Id))
		if err != nil || i < 0 || i >= len(batch) {
			continue
		}
		failed = append(failed, batch[i])
		r.stats.Errors.Add(1)
		r.bad(r.s.QueueURL, "delete message "+batch[i].id+": "+aws.ToString(f.Code)+" "+aws.ToString(f.Message))
	}
	r.stats.Deleted.Add(int64(len(batch) - len(failed)))
	return failed
}

// reconcile lists today's and yesterday's date prefixes (UTC) at start and
// every Reconcile, and hands the reader the objects no notification
// announced. Each listing starts at the prefix's beginning: ALB keys of a
// late node sort before keys already seen, so resuming after the highest
// key seen would skip them. StartAfter pages through a listing.
func (r *s3Run) reconcile(ctx context.Context, work chan<- s3Object) {
	every := r.s.Reconcile
	if every <= 0 {
		every = DefaultS3Reconcile
	}
	for {
		now := r.now().UTC()
		for _, day := range []time.Time{now.AddDate(0, 0, -1), now} {
			if !r.list(ctx, work, r.s.Prefix+day.Format("2006/01/02/")) {
				return
			}
		}
		if !sleep(ctx, every) {
			return
		}
	}
}

// list reads one prefix; false means ctx is done.
func (r *s3Run) list(ctx context.Context, work chan<- s3Object, prefix string) bool {
	s := r.s
	after := ""
	for {
		in := &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(prefix)}
		if after != "" {
			in.StartAfter = aws.String(after)
		}
		var res *s3.ListObjectsV2Output
		err := r.retry(ctx, func() error {
			var err error
			res, err = s.S3.ListObjectsV2(ctx, in)
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			r.stats.Errors.Add(1)
			r.bad("s3://"+s.Bucket+"/"+prefix, "list: "+err.Error())
			return true
		}
		for _, o := range res.Contents {
			obj := s3Object{Bucket: s.Bucket, Key: aws.ToString(o.Key), ETag: trimQuotes(aws.ToString(o.ETag))}
			after = obj.Key
			r.mu.Lock()
			ok := r.claim(obj.ledgerKey())
			r.mu.Unlock()
			if !ok {
				continue
			}
			r.stats.Finds.Add(1)
			select {
			case work <- obj:
			case <-ctx.Done():
				return false
			}
		}
		if !aws.ToBool(res.IsTruncated) || len(res.Contents) == 0 {
			return true
		}
	}
}

// readLoop reads the objects handed to it, one at a time, and prunes the
// ledger.
func (r *s3Run) readLoop(ctx context.Context, out chan<- Record, work <-chan s3Object) error {
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	if !r.prune(ctx, out) {
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-prune.C:
			if !r.prune(ctx, out) {
				return nil
			}
		case o := <-work:
			if !r.readObject(ctx, out, o) {
				return nil
			}
		}
	}
}

// prune forgets ledger entries older than Retention and the oldest beyond
// MaxLedger; false means ctx is done.
func (r *s3Run) prune(ctx context.Context, out chan<- Record) bool {
	keep, maxN := r.s.Retention, r.s.MaxLedger
	if keep <= 0 {
		keep = DefaultS3Retention
	}
	if maxN <= 0 {
		maxN = DefaultS3MaxLedger
	}
	cut := r.now().Add(-keep)
	type entry struct {
		key string
		at  time.Time
	}
	r.mu.Lock()
	var all []entry
	for k, at := range r.ledger {
		all = append(all, entry{k, at})
	}
	r.mu.Unlock()
	slices.SortFunc(all, func(a, b entry) int { return a.at.Compare(b.at) })
	var gone []string
	for i, e := range all {
		if e.at.Before(cut) || len(all)-i > maxN {
			gone = append(gone, e.key)
		}
	}
	for _, k := range gone {
		if !send(ctx, out, Record{Source: r.s.Name, Cursor: S3Cursor{Key: k, Done: true}, Progress: true, Done: true}) {
			return false
		}
		r.mu.Lock()
		delete(r.ledger, k)
		r.mu.Unlock()
	}
	r.stats.Ledger.Store(int64(len(r.ledger)))
	return true
}

// readObject reads o from its start, sending the events of the lines the
// checkpoint does not hold yet, then its Done cursor. Throttling, 5xx and
// broken reads are retried with backoff; an object that is gone (404) is
// counted, reported and marked Done. false means ctx is done.
func (r *s3Run) readObject(ctx context.Context, out chan<- Record, o s3Object) bool {
	key := o.ledgerKey()
	r.mu.Lock()
	skip := r.resume[key]
	r.mu.Unlock()
	at := r.now().UTC()
	lines, err := 0, error(nil)
	backoff := s3BackoffMin
	for {
		lines, err = r.readOnce(ctx, out, o, key, skip, at)
		if err == nil || errors.Is(err, errStopped) || ctx.Err() != nil {
			break
		}
		if isNotFound(err) {
			r.stats.NotFound.Add(1)
			r.bad(o.url(), "object gone before it was read: "+err.Error())
			err = nil
			break
		}
		// Lines sent so far are in the daemon's hands: the next try
		// resumes after them.
		skip = max(skip, lines)
		r.stats.Retries.Add(1)
		r.bad(o.url(), "read: "+err.Error()+"; retrying")
		if !sleep(ctx, jitter(backoff)) {
			return false
		}
		backoff = min(2*backoff, s3BackoffMax)
	}
	if err != nil {
		return false
	}
	if !send(ctx, out, Record{Source: r.s.Name, Cursor: S3Cursor{Key: key, Line: max(lines, skip), Done: true, At: at}, Progress: true}) {
		return false
	}
	r.stats.Objects.Add(1)
	r.mu.Lock()
	delete(r.queued, key)
	delete(r.resume, key)
	r.read[key] = at
	r.mu.Unlock()
	return true
}

// readOnce reads o once, skipping its first skip lines. lines is the
// number of the last line whose event was sent.
func (r *s3Run) readOnce(ctx context.Context, out chan<- Record, o s3Object, key string, skip int, at time.Time) (lines int, err error) {
	s := r.s
	in := &s3.GetObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key)}
	if o.VersionID != "" {
		in.VersionId = aws.String(o.VersionID)
	}
	var res *s3.GetObjectOutput
	if err := r.retry(ctx, func() error {
		var err error
		res, err = s.S3.GetObject(ctx, in)
		return err
	}); err != nil {
		return 0, err
	}
	defer res.Body.Close()
	dec, err := Decoding{Source: s.Name, NewParser: s.NewParser, MaxLineBytes: s.MaxLineBytes,
		MaxFuture: s.MaxFuture, Stats: s.Stats, Bad: s.Bad, Now: s.Now}.newDecoder()
	if err != nil {
		return 0, fmt.Errorf("parser: %w", err)
	}
	body := bufio.NewReader(res.Body)
	var src io.Reader = body
	if magic, _ := body.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(body)
		if err != nil {
			return 0, fmt.Errorf("gzip: %w", err)
		}
		src = gz
	}
	rd := NewReader(src, o.url())
	rd.MaxLineBytes = s.MaxLineBytes
	var lag lagTracker
	defer func() { lag.flush(dec.stats, r.now()) }()
	for {
		line, pos, err := rd.Next()
		if err == io.EOF {
			return lines, nil
		}
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) {
				return lines, err
			}
			if le.Pos.Line > skip {
				dec.reject(le, le.Pos)
			}
			continue
		}
		if pos.Line <= skip {
			continue
		}
		ev := dec.line(line, pos)
		if ev == nil {
			continue
		}
		lag.see(ev.Time)
		if !send(ctx, out, Record{Event: ev.Clone(), Source: s.Name, Cursor: S3Cursor{Key: key, Line: pos.Line, At: at}}) {
			return lines, errStopped
		}
		lines = pos.Line
	}
}

// retry calls do until it succeeds, fails for good or ctx is done,
// retrying throttling and transient errors with backoff.
func (r *s3Run) retry(ctx context.Context, do func() error) error {
	backoff := s3BackoffMin
	for {
		err := do()
		if err == nil || ctx.Err() != nil {
			return err
		}
		throttled := retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) == aws.TrueTernary
		if !throttled && retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) != aws.TrueTernary {
			return err
		}
		if throttled && r.s.Stats != nil {
			r.s.Stats.Throttled.Add(1)
		}
		r.stats.Retries.Add(1)
		if !sleep(ctx, jitter(backoff)) {
			return ctx.Err()
		}
		backoff = min(2*backoff, s3BackoffMax)
	}
}

func (r *s3Run) bad(where, msg string) {
	if r.s.Bad != nil {
		r.s.Bad(Position{File: where}, msg)
	}
}

// isNotFound reports a 404 or NoSuchKey.
func isNotFound(err error) bool {
	var nsk *s3types.NoSuchKey
	if errors.As(err, &nsk) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "NoSuchKey" || ae.ErrorCode() == "NotFound") {
		return true
	}
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() == 404
}

func trimQuotes(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// jitter returns a wait in [d/2, d].
func jitter(d time.Duration) time.Duration { return d/2 + rand.N(d/2+1) }

// sleep waits d; false means ctx was done first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
