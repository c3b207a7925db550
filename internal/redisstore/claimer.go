package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/secwatch/secwatch/internal/alerting"
)

// maxClaimBatch bounds the claims sent in one pipeline, so that one batch
// fits well within its deadline even over a slow link.
const maxClaimBatch = 512

// claimQueue is the claimer's queue: alerts PutLater queued and the
// claimer has not applied yet. It has its own mutex, never held across
// I/O, so that PutLater does not wait for an ack that holds o.mu across a
// Redis round trip.
type claimQueue struct {
	mu      sync.Mutex
	cond    *sync.Cond // broadcast after each batch is applied
	queue   []claim
	ids     map[string]bool // alert ids queued or being claimed
	queued  uint64          // number of the last alert queued
	done    uint64          // number of the last alert applied
	errs    []error         // failed claims since the last Sync
	running bool            // a claimer goroutine is running
	closed  bool
}

type claim struct {
	doc alerting.Document
	now time.Time
}

// PutLater queues doc for the claimer and returns at once, without I/O
// and without o.mu. It returns false (and counts a duplicate) when the
// same id is already queued for the claimer; whether the alert is already
// pending here, was seen, or is claimed by another replica is decided by
// the claimer, which counts it in Claimed or Duplicates. The alert becomes
// visible to Pending when its claim is won (or failed: then it is kept in
// memory without a claim), and OnClaimed is called.
func (o *Outbox) PutLater(doc alerting.Document, now time.Time) (bool, error) {
	id := doc.AlertID
	if !alerting.ValidAlertID(id) {
		return false, fmt.Errorf("outbox put: invalid alert_id %q", id)
	}
	q := &o.cq
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.closed:
		return false, fmt.Errorf("outbox put %s: outbox closed", id)
	case q.ids[id]:
		o.book.Duplicate()
		return false, nil
	}
	if q.ids == nil {
		q.ids = map[string]bool{}
		q.cond = sync.NewCond(&q.mu)
	}
	q.ids[id] = true
	q.queue = append(q.queue, claim{doc, now})
	q.queued++
	if !q.running {
		q.running = true
		go o.claimLoop()
	}
	return true, nil
}

// Sync waits until every alert queued by PutLater before it is claimed or
// kept in memory, and returns the claim errors since the last Sync (each
// was also passed to OnError).
func (o *Outbox) Sync() error {
	q := &o.cq
	q.mu.Lock()
	defer q.mu.Unlock()
	for upto := q.queued; q.done < upto; {
		q.cond.Wait()
	}
	err := errors.Join(q.errs...)
	q.errs = nil
	return err
}

// closeClaims refuses further PutLater calls and waits for the claimer to
// empty the queue.
func (o *Outbox) closeClaims() {
	q := &o.cq
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	for q.running {
		q.cond.Wait()
	}
}

// claimLoop is the claimer goroutine: it takes the whole queue, claims it,
// and ends when the queue is empty.
func (o *Outbox) claimLoop() {
	q := &o.cq
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.running = false
			q.cond.Broadcast()
			q.mu.Unlock()
			return
		}
		batch := q.queue
		if len(batch) > maxClaimBatch {
			batch = batch[:maxClaimBatch:maxClaimBatch]
		}
		q.queue = q.queue[len(batch):]
		q.mu.Unlock()

		added, err := o.claimBatch(batch)
		// Before the batch counts as done, so that a Sync that returns
		// the error finds it reported too.
		if err != nil && o.OnError != nil {
			o.OnError(err)
		}

		q.mu.Lock()
		for _, c := range batch {
			delete(q.ids, c.doc.AlertID)
		}
		q.done += uint64(len(batch))
		if err != nil {
			q.errs = append(q.errs, err)
		}
		q.cond.Broadcast()
		q.mu.Unlock()
		if added && o.OnClaimed != nil {
			o.OnClaimed()
		}
	}
}

// claimBatch runs the claim script for each alert of batch in one
// pipeline and applies the results as Put does. It reports whether any
// alert was queued here, and one error for the alerts kept in memory
// without a claim.
func (o *Outbox) claimBatch(batch []claim) (bool, error) {
	// Drop what this replica already has or saw.
	o.mu.Lock()
	todo := make([]*alerting.Entry, 0, len(batch))
	for _, c := range batch {
		id := c.doc.AlertID
		if o.book.Has(id) || o.seenWithin(id, c.now) {
			o.book.Duplicate()
			continue
		}
		todo = append(todo, &alerting.Entry{Doc: c.doc, Queued: c.now.UTC()})
	}
	o.mu.Unlock()
	if len(todo) == 0 {
		return false, nil
	}

	won, cause := o.claimPipeline(todo)

	o.mu.Lock()
	defer o.mu.Unlock()
	added := false
	var failed []string
	for i, e := range todo {
		id := e.Doc.AlertID
		if o.book.Has(id) {
			// Adopted or Put meanwhile: it is already queued here.
			o.book.Duplicate()
			continue
		}
		switch {
		case won != nil && won[i] == 1:
			o.book.Add(e, true)
			added = true
		case won != nil && won[i] == 0:
			o.seen[id] = e.Queued
			o.book.Duplicate()
		default:
			o.book.Add(e, true)
			o.dirty[id] = true
			o.unclaimed.Add(1)
			added = true
			failed = append(failed, id)
		}
	}
	if len(failed) == 0 {
		return added, nil
	}
	if cause == nil {
		cause = errors.New("no answer")
	}
	ids := strings.Join(failed[:min(len(failed), 5)], ", ")
	if len(failed) > 5 {
		ids += ", …"
	}
	return added, fmt.Errorf("outbox put of %d alert(s) %s (queued in memory without a cross-replica claim): %w", len(failed), ids, cause)
}

// claimPipeline sends the claims of todo in one pipeline. won[i] is 1 when
// todo[i] was claimed here, 0 when another replica has it, and -1 when
// Redis did not answer for it; won is nil, with the error, when Redis is
// known down or the pipeline failed as a whole.
func (o *Outbox) claimPipeline(todo []*alerting.Entry) ([]int, error) {
	if !o.s.Up() {
		return nil, errors.New("redis marked unreachable")
	}
	args := make([][]byte, len(todo))
	for i, e := range todo {
		b, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		args[i] = b
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*opTimeout)
	defer cancel()
	run := func() ([]*redis.Cmd, error) {
		cmds := make([]*redis.Cmd, len(todo))
		_, err := o.s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, e := range todo {
				id := e.Doc.AlertID
				cmds[i] = saveScript.EvalSha(ctx, p, []string{o.s.key("alert:", id), o.s.key("outbox"), o.s.key("owner")},
					o.s.replica, args[i], o.horizon().Milliseconds(), id)
			}
			return nil
		})
		return cmds, err
	}
	cmds, err := run()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		// A restarted Redis lost the script: load it and send again
		// (nothing ran: every EVALSHA of the batch failed alike).
		if err = o.s.note("load script", saveScript.Load(ctx, o.s.client).Err()); err != nil {
			return nil, err
		}
		cmds, err = run()
	}
	won := make([]int, len(todo))
	var first error
	for i, c := range cmds {
		n, cerr := c.Int()
		switch {
		case cerr != nil:
			won[i] = -1
			if first == nil {
				first = cerr
			}
		case n == 1:
			won[i] = 1
		}
	}
	if nerr := o.s.note("claim alerts", first); nerr != nil {
		first = nerr
	}
	return won, first
}
