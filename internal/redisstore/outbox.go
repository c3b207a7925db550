package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/alerting"
)

// Outbox is the outbox replicas share through a Store: a Ledger of the
// entries this replica owns (queued or adopted), each change written to
// Redis before the method returns when Redis is up, and kept in memory,
// marked, for Run to write once Redis answers again when it is not (an alert
// queued then is delivered without a claim, by every replica that fires it).
// PutLater hands the alert to the claimer (claimer.go), which claims in
// pipelines and then shows what it won to Pending and calls OnClaimed; Sync
// waits for it (docs/scaling.md, "Round trips").
//
// All methods are safe for concurrent use. Run must be running for
// adoption, heartbeats and re-syncs; Close stops it.
type Outbox struct {
	// DedupHorizon is how long a claim (and a delivered id) is kept. If 0,
	// alerting.DefaultDedupHorizon is used. Set it before the first Put.
	DedupHorizon time.Duration
	// OnClaimed, if set, is called by the claimer after it queued alerts
	// PutLater handed it (the daemon wakes the dispatcher). OnError, if
	// set, is called with each failed claim (the alerts are kept in memory
	// without a claim). Set them before the first PutLater.
	OnClaimed func()
	OnError   func(error)

	s *Store

	mu        sync.Mutex
	book      *alerting.Ledger     // the pending entries this replica owns
	dirty     map[string]bool      // owned entries whose state Redis lacks
	gone      map[string]goneOp    // finished here, not yet recorded in Redis
	seen      map[string]time.Time // delivered, dead or claimed by another replica
	deadCount int

	adopted   atomic.Int64 // entries adopted from stopped replicas
	unclaimed atomic.Int64 // alerts queued without a claim (Redis down)
	cq        claimQueue   // PutLater's queue (claimer.go)
	stop      context.CancelFunc
	done      chan struct{}
}

type goneOp struct {
	state string // "done" or "dead"
	dead  []byte // the dead-letter entry
}

// OpenOutbox returns the shared outbox of s. notifiers are the names that
// must each ack an alert (the same on every replica). When Redis is
// unreachable it still returns an Outbox; the dead-letter count then starts
// at 0.
func OpenOutbox(ctx context.Context, s *Store, notifiers []string) (*Outbox, error) {
	book, err := alerting.NewLedger(notifiers)
	if err != nil {
		return nil, err
	}
	o := &Outbox{
		s: s, book: book, dirty: map[string]bool{},
		gone: map[string]goneOp{}, seen: map[string]time.Time{},
	}
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	n, err := s.client.HLen(cctx, s.key("dead")).Result()
	if s.note("open outbox", err) == nil {
		o.deadCount = int(n)
	}
	return o, nil
}

func (o *Outbox) horizon() time.Duration {
	if o.DedupHorizon > 0 {
		return o.DedupHorizon
	}
	return alerting.DefaultDedupHorizon
}

// save writes e's state to Redis. It returns false when another replica
// owns e or its claim, and an error when Redis did not answer; o.mu is
// held.
func (o *Outbox) save(e *alerting.Entry) (bool, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return false, err
	}
	id := e.Doc.AlertID
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	n, err := saveScript.Run(ctx, o.s.client, []string{o.s.key("alert:", id), o.s.key("outbox"), o.s.key("owner")},
		o.s.replica, b, o.horizon().Milliseconds(), id).Int()
	if err := o.s.note("save alert", err); err != nil {
		return false, err
	}
	return n == 1, nil
}

// Put queues doc. It returns false when the alert is already pending here,
// was delivered or dead-lettered within the horizon, or is claimed by
// another replica. When Redis cannot be reached it queues the alert in
// memory without a claim and returns true and the error.
func (o *Outbox) Put(doc alerting.Document, now time.Time) (bool, error) {
	id := doc.AlertID
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.book.CheckPut(id); err != nil {
		return false, err
	}
	if o.book.Has(id) || o.seenWithin(id, now) {
		o.book.Duplicate()
		return false, nil
	}
	e := &alerting.Entry{Doc: doc, Queued: now.UTC()}
	cause := errors.New("redis marked unreachable")
	if o.s.Up() {
		ok, err := o.save(e)
		if err == nil {
			if !ok {
				o.seen[id] = now
				o.book.Duplicate()
				return false, nil
			}
			o.book.Add(e, true)
			return true, nil
		}
		cause = err
	}
	o.book.Add(e, true)
	o.dirty[id] = true
	o.unclaimed.Add(1)
	return true, fmt.Errorf("outbox put %s (queued in memory without a cross-replica claim): %w", id, cause)
}

// seenWithin reports whether id was delivered, dead-lettered or claimed
// elsewhere within the dedup horizon before now; o.mu is held.
func (o *Outbox) seenWithin(id string, now time.Time) bool {
	t, ok := o.seen[id]
	return ok && now.Sub(t) < o.horizon()
}

// persist writes the changed entry e to Redis (or marks it for Run);
// o.mu is held.
func (o *Outbox) persist(op string, e *alerting.Entry) error {
	id := e.Doc.AlertID
	if !o.s.Up() {
		o.dirty[id] = true
		return nil
	}
	ok, err := o.save(e)
	switch {
	case err != nil:
		o.dirty[id] = true
		return fmt.Errorf("outbox %s %s (kept in memory): %w", op, id, err)
	case !ok:
		// Another replica adopted it while this one was cut off: it
		// delivers it from here on.
		o.book.Remove(id)
		o.seen[id] = time.Now()
	default:
		delete(o.dirty, id)
	}
	return nil
}

// finish drops id here and records it in Redis (or marks it for Run).
func (o *Outbox) finish(id string, g goneOp, now time.Time) error {
	o.book.Remove(id)
	delete(o.dirty, id)
	o.seen[id] = now
	if !o.s.Up() {
		o.gone[id] = g
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	err := o.finishCmd(ctx, o.s.client, id, g).Err()
	if err := o.s.note("finish alert", err); err != nil {
		o.gone[id] = g
		return fmt.Errorf("outbox finish %s (recorded in memory): %w", id, err)
	}
	return nil
}

func (o *Outbox) finishCmd(ctx context.Context, c redis.Scripter, id string, g goneOp) *redis.Cmd {
	return finishScript.Run(ctx, c, []string{o.s.key("alert:", id), o.s.key("outbox"), o.s.key("owner"), o.s.key("dead")},
		id, g.state, o.horizon().Milliseconds(), g.dead)
}

// Ack records that notifier delivered alert id, and reports whether that
// completed it (recorded as delivered in Redis, or marked for Run).
func (o *Outbox) Ack(id, notifier string, now time.Time) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, complete, err := o.book.Ack(id, notifier)
	switch {
	case err != nil:
		return false, err
	case complete:
		return true, o.finish(id, goneOp{state: "done"}, now)
	}
	return false, o.persist("ack", e)
}

// Fail records a failed delivery round.
func (o *Outbox) Fail(id string, err error, next time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, err := o.book.Fail(id, err, next)
	if err != nil {
		return err
	}
	return o.persist("fail", e)
}

// Reject records a permanent refusal by notifier.
func (o *Outbox) Reject(id, notifier string, err error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, err := o.book.Reject(id, notifier, err)
	if err != nil {
		return err
	}
	return o.persist("reject", e)
}

// DeadLetter moves alert id to the shared dead-letter hash.
func (o *Outbox) DeadLetter(id, reason string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	e, err := o.book.DeadLetter(id, reason, now)
	if err != nil {
		return err
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	o.deadCount++
	return o.finish(id, goneOp{state: "dead", dead: b}, now)
}

// Lookup returns a copy of the pending entry id.
func (o *Outbox) Lookup(id string) (alerting.Entry, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.book.Lookup(id)
}

// Pending returns copies of the entries this replica owns, in delivery
// order (alerting.Ledger.Pending).
func (o *Outbox) Pending() []alerting.Entry {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.book.Pending()
}

// Len returns the number of pending alerts this replica owns.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.book.Len()
}

// DeadLetters returns the dead letters in Redis at the last heartbeat
// plus those this replica has made since.
func (o *Outbox) DeadLetters() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.deadCount
}

// Notifiers returns the names of the notifiers that must ack each alert.
func (o *Outbox) Notifiers() []string { return o.book.Notifiers() }

// Unsynced returns the number of changes Redis has not got yet. A
// checkpoint must not be stored while it is not 0: a replacement resuming
// from it would not fire again an alert that only this process holds.
func (o *Outbox) Unsynced() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.dirty) + len(o.gone)
}

// Adopted returns the number of entries adopted from stopped replicas.
func (o *Outbox) Adopted() int64 { return o.adopted.Load() }

// Unclaimed returns the number of alerts queued while Redis was
// unreachable (delivered without the cross-replica claim).
func (o *Outbox) Unclaimed() int64 { return o.unclaimed.Load() }

// Queued returns the number of alerts this replica queued (by Put or
// PutLater, claimed or kept without a claim).
func (o *Outbox) Queued() int64 { return o.book.Queued() }

// Duplicates returns the number of alerts Put or PutLater refused: already
// pending here, delivered within the horizon, or claimed by another
// replica.
func (o *Outbox) Duplicates() int64 { return o.book.Duplicates() }

// Hooks are called by Run from its goroutine.
type Hooks struct {
	Adopted func() // entries were adopted: wake the dispatcher
	Lost    func() // Redis lost this replica's state: checkpoint again soon
}

// Run beats the heartbeat every lease/3, adopting the pending alerts of
// replicas whose lease expired and writing what Redis missed, until ctx
// ends. It logs Redis becoming unreachable and reachable again (not every
// failed call). Close stops a Run started with Start.
func (o *Outbox) Run(ctx context.Context, log zerolog.Logger, h Hooks) {
	r := &runner{o: o, log: log, h: h}
	r.beat(ctx)
	r.loop(ctx)
}

// Start beats once — so that this replica's heartbeat exists before it
// queues anything, and no other replica takes its first alerts for a dead
// replica's — then runs the rest of Run on its own goroutine until Close.
func (o *Outbox) Start(log zerolog.Logger, h Hooks) {
	ctx, cancel := context.WithCancel(context.Background())
	o.stop, o.done = cancel, make(chan struct{})
	r := &runner{o: o, log: log, h: h}
	r.beat(ctx)
	go func() { defer close(o.done); r.loop(ctx) }()
}

// runner is the state of Run, owned by its goroutine.
type runner struct {
	o         *Outbox
	log       zerolog.Logger
	h         Hooks
	beaten    bool
	downSince time.Time
}

func (r *runner) loop(ctx context.Context) {
	tick := time.NewTicker(r.o.s.lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		r.beat(ctx)
	}
}

func (r *runner) beat(ctx context.Context) {
	err := r.o.beat(ctx, &r.beaten, r.h)
	switch {
	case err != nil && r.downSince.IsZero():
		r.downSince = time.Now()
		r.log.Error().Str("error", err.Error()).Msg("redis unreachable; alerts are queued in memory and delivered without cross-replica de-duplication")
	case err == nil && !r.downSince.IsZero():
		r.log.Info().Dur("after", time.Since(r.downSince)).Int64("unclaimed_alerts", r.o.unclaimed.Load()).Msg("redis reachable again")
		r.downSince = time.Time{}
	}
}

// beat is one heartbeat: renew, adopt, re-sync.
func (o *Outbox) beat(ctx context.Context, beaten *bool, h Hooks) error {
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	res, err := beatScript.Run(cctx, o.s.client, []string{o.s.key("replica:", o.s.replica), o.s.key("owner"), o.s.key("outbox")},
		o.s.replica, o.s.lease.Milliseconds(), o.s.prefix, o.horizon().Milliseconds()).Slice()
	if err := o.s.note("heartbeat", err); err != nil {
		return err
	}
	lost := *beaten && len(res) > 0 && res[0] == int64(0)
	*beaten = true
	var adopted []*alerting.Entry
	for _, r := range res[1:] {
		s, _ := r.(string)
		var e alerting.Entry
		if json.Unmarshal([]byte(s), &e) == nil && e.Doc.AlertID != "" {
			adopted = append(adopted, &e)
		}
	}
	o.mu.Lock()
	if lost {
		// Redis restarted without our state (or we stalled past the
		// lease): write every entry we hold again.
		for _, id := range o.book.IDs() {
			o.dirty[id] = true
		}
	}
	n := 0
	for _, e := range adopted {
		id := e.Doc.AlertID
		if !o.book.Has(id) && o.gone[id].state == "" {
			o.book.Add(e, false)
			n++
		}
	}
	o.mu.Unlock()
	o.adopted.Add(int64(n))
	if err := o.sync(ctx); err != nil {
		return err
	}
	if n > 0 && h.Adopted != nil {
		h.Adopted()
	}
	if lost && h.Lost != nil {
		h.Lost()
	}
	o.prune(time.Now())
	// The commands re-drive and drop dead letters: count them afresh.
	hctx, cancel2 := context.WithTimeout(ctx, opTimeout)
	defer cancel2()
	if n, err := o.s.client.HLen(hctx, o.s.key("dead")).Result(); err == nil {
		o.mu.Lock()
		o.deadCount = int(n)
		o.mu.Unlock()
	}
	return nil
}

// sync writes what Redis missed, in one pipeline.
func (o *Outbox) sync(ctx context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.dirty) == 0 && len(o.gone) == 0 {
		return nil
	}
	// Scripts may be missing from a restarted Redis: load them first, so
	// that EVALSHA in the pipeline finds them.
	cctx, cancel := context.WithTimeout(ctx, 2*opTimeout)
	defer cancel()
	for _, sc := range []*redis.Script{saveScript, finishScript} {
		if err := o.s.note("load script", sc.Load(cctx, o.s.client).Err()); err != nil {
			return err
		}
	}
	pipe := o.s.client.Pipeline()
	type saved struct {
		id  string
		cmd *redis.Cmd
	}
	var saves []saved
	for id := range o.dirty {
		e := o.book.Entry(id)
		if e == nil {
			delete(o.dirty, id)
			continue
		}
		b, err := json.Marshal(e)
		if err != nil {
			continue
		}
		saves = append(saves, saved{id, saveScript.EvalSha(cctx, pipe, []string{o.s.key("alert:", id), o.s.key("outbox"), o.s.key("owner")},
			o.s.replica, b, o.horizon().Milliseconds(), id)})
	}
	var gone []string
	for id, g := range o.gone {
		gone = append(gone, id)
		finishScript.EvalSha(cctx, pipe, []string{o.s.key("alert:", id), o.s.key("outbox"), o.s.key("owner"), o.s.key("dead")},
			id, g.state, o.horizon().Milliseconds(), g.dead)
	}
	if _, err := pipe.Exec(cctx); err != nil {
		return o.s.note("sync", err)
	}
	for _, s := range saves {
		delete(o.dirty, s.id)
		if n, _ := s.cmd.Int(); n == 0 {
			// Claimed elsewhere meanwhile (by a replica that could reach
			// Redis): that replica delivers it.
			o.book.Remove(s.id)
			o.seen[s.id] = time.Now()
		}
	}
	for _, id := range gone {
		delete(o.gone, id)
	}
	return nil
}

func (o *Outbox) prune(now time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for id, t := range o.seen {
		if now.Sub(t) >= o.horizon() {
			delete(o.seen, id)
		}
	}
}

// Close claims (or keeps in memory) what PutLater queued, stops Run,
// writes what Redis missed (for at most a few seconds) and removes this replica's heartbeat, so that the live replicas adopt
// whatever is still pending at once instead of after the lease.
func (o *Outbox) Close() error {
	o.closeClaims()
	o.mu.Lock()
	if o.book.Closed() {
		o.mu.Unlock()
		return nil
	}
	o.book.Close()
	o.mu.Unlock()
	if o.stop != nil {
		o.stop()
		<-o.done
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*opTimeout)
	defer cancel()
	err := o.sync(ctx)
	o.mu.Lock()
	left := len(o.dirty) + len(o.gone)
	o.mu.Unlock()
	if left == 0 {
		err = errors.Join(err, o.s.note("release", o.s.client.Del(ctx, o.s.key("replica:", o.s.replica)).Err()))
	}
	return err
}
