package alerting

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Defaults of the Dispatcher's zero-valued fields.
const (
	DefaultMaxAge         = 24 * time.Hour
	DefaultInitialBackoff = time.Second
	DefaultMaxBackoff     = 5 * time.Minute
	DefaultAttemptTimeout = 30 * time.Second
)

// Metrics are plain counters of the delivery path; cmd renders them in the
// Prometheus text format. They are safe for concurrent use.
type Metrics struct {
	Delivered    atomic.Int64 // alerts every notifier acknowledged
	Failed       atomic.Int64 // failed attempts, counted per notifier (retried or permanent)
	DeadLettered atomic.Int64 // alerts moved to the dead-letter directory
	Suppressed   atomic.Int64 // alerts held back by flood control (counted by Flood)
	Digests      atomic.Int64 // digest documents made by flood control (counted by Flood)
	// DeliveryLatency, if set, is called from the dispatcher's goroutine each
	// time a notifier confirms an alert, with the time since the alert
	// entered the outbox (Entry.Queued). Set it before Run.
	DeliveryLatency func(notifier string, latency time.Duration)

	mu        sync.Mutex
	notifiers map[string]NotifierState
}

// NotifierState is one notifier's delivery state, as the dispatcher last
// saw it.
type NotifierState struct {
	Name     string
	Pending  int   // alerts waiting for it (in flight, queued or backing off)
	Failures int64 // failed attempts since the process started
	// Waiting is the start of its current stretch without a successful
	// delivery while alerts are pending for it: the later of its last
	// success and the moment alerts became pending; zero when none are.
	Waiting time.Time
}

// Notifiers returns the state of every notifier the dispatcher has run,
// sorted by name.
func (m *Metrics) Notifiers() []NotifierState {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := slices.Collect(maps.Values(m.notifiers))
	slices.SortFunc(out, func(a, b NotifierState) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Stalled returns the notifiers that have had no successful delivery for
// longer than bound while alerts are pending for them, sorted by name.
func (m *Metrics) Stalled(now time.Time, bound time.Duration) []NotifierState {
	var out []NotifierState
	for _, st := range m.Notifiers() {
		if st.Pending > 0 && now.Sub(st.Waiting) > bound {
			out = append(out, st)
		}
	}
	return out
}

func (m *Metrics) setNotifier(st NotifierState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.notifiers == nil {
		m.notifiers = make(map[string]NotifierState)
	}
	st.Failures = m.notifiers[st.Name].Failures
	m.notifiers[st.Name] = st
}

// delivered reports a notifier's confirmation of an alert queued at
// queued to DeliveryLatency.
func (m *Metrics) delivered(notifier string, queued, now time.Time) {
	if m.DeliveryLatency != nil {
		m.DeliveryLatency(notifier, now.Sub(queued))
	}
}

func (m *Metrics) notifierFailed(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.notifiers == nil {
		m.notifiers = make(map[string]NotifierState)
	}
	st := m.notifiers[name]
	st.Name = name
	st.Failures++
	m.notifiers[name] = st
}

// Dispatcher delivers the alerts of an outbox to every notifier, each from
// its own goroutine with every attempt bounded by AttemptTimeout, retrying
// with capped exponential backoff and full jitter, and dead-lettering an
// alert rejected by a notifier or still pending MaxAge after it was queued
// (docs/delivery.md, "Retries" and "Dead letters").
//
// Set the fields before Run and do not change them afterwards. Run and
// Drain must not run at the same time; Wake may be called from any
// goroutine at any time.
type Dispatcher struct {
	Outbox    Queue
	Notifiers []Notifier     // names must match the Outbox's notifiers
	Log       zerolog.Logger // the zero Logger logs nothing

	MaxAge         time.Duration // 0: DefaultMaxAge; < 0: never dead-letter for age
	InitialBackoff time.Duration // 0: DefaultInitialBackoff
	MaxBackoff     time.Duration // 0: DefaultMaxBackoff
	AttemptTimeout time.Duration // 0: DefaultAttemptTimeout

	Metrics *Metrics       // nil: a new Metrics, set by the first Wake or Run
	Rand    func() float64 // values in [0, 1); nil: math/rand/v2's Float64

	once    sync.Once
	wake    chan struct{}
	running atomic.Bool
}

func (d *Dispatcher) init() {
	d.once.Do(func() {
		d.wake = make(chan struct{}, 1)
		if d.Metrics == nil {
			d.Metrics = new(Metrics)
		}
	})
}

// Wake tells the dispatcher that the outbox has new entries. It never
// blocks, and wakes that arrive before the dispatcher looks coalesce.
func (d *Dispatcher) Wake() {
	d.init()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers alerts until ctx is cancelled, then returns nil. In-flight
// attempts are cancelled; the ones that had already succeeded are
// acknowledged. Call Drain afterwards to deliver what is left.
func (d *Dispatcher) Run(ctx context.Context) error {
	return d.loop(ctx, false)
}

// Drain gives every pending alert one more delivery round, ignoring
// backoff (for shutdown, within the grace period), and returns nil when
// each has had it, or ctx's error if ctx ended first. What is not
// delivered stays in the outbox for the next start.
func (d *Dispatcher) Drain(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return d.loop(ctx, true)
}

func (d *Dispatcher) maxAge() time.Duration { return orDefault(d.MaxAge, DefaultMaxAge) }
func (d *Dispatcher) attemptTimeout() time.Duration {
	return orDefault(d.AttemptTimeout, DefaultAttemptTimeout)
}

func orDefault(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

// backoff returns the delay before the round after attempt failed rounds.
func (d *Dispatcher) backoff(attempts int) time.Duration {
	initial := orDefault(d.InitialBackoff, DefaultInitialBackoff)
	ceiling := orDefault(d.MaxBackoff, DefaultMaxBackoff)
	b := initial
	for i := 1; i < attempts && b < ceiling; i++ {
		b *= 2
	}
	b = min(b, ceiling)
	r := rand.Float64
	if d.Rand != nil {
		r = d.Rand
	}
	return time.Duration(float64(b) * min(max(r(), 0), 1))
}

// retryDelay is the backoff after attempts failed rounds, or the longest
// wait a notifier's receiver asked for (see RetryAfter) when that is
// longer.
func (d *Dispatcher) retryDelay(attempts int, err error) time.Duration {
	return max(d.backoff(attempts), retryAfterOf(err))
}

func (d *Dispatcher) check() error {
	switch {
	case d.Outbox == nil:
		return errors.New("dispatcher: no outbox")
	case len(d.Notifiers) == 0:
		return errors.New("dispatcher: no notifiers")
	}
	var names []string
	for _, n := range d.Notifiers {
		if slices.Contains(names, n.Name()) {
			return fmt.Errorf("dispatcher: notifier %q listed twice", n.Name())
		}
		names = append(names, n.Name())
	}
	want := d.Outbox.Notifiers()
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		return fmt.Errorf("dispatcher: notifiers %v differ from the outbox's %v", names, want)
	}
	return nil
}

// Queue is what a Dispatcher needs of an outbox: the directory *Outbox, or
// the Redis one that replicas share (internal/redisstore), where an entry
// belongs to the replica that queued or adopted it. Both keep their entries
// in a Ledger, which defines what the methods do; a Queue must be safe for
// concurrent use.
type Queue interface {
	// Ack reports whether the alert is complete: acked by every notifier,
	// recorded as delivered and no longer pending.
	Ack(id, notifier string, now time.Time) (complete bool, err error)
	Fail(id string, err error, next time.Time) error
	Reject(id, notifier string, err error) error
	DeadLetter(id, reason string) error
	Lookup(id string) (Entry, bool)
	Pending() []Entry
	Notifiers() []string
}

var _ Queue = (*Outbox)(nil)

type job struct {
	id  string
	doc Document
}

type result struct {
	id, notifier string
	err          error
}

// worker is one notifier's goroutine and the queue the loop feeds it from.
type worker struct {
	n     Notifier
	jobs  chan job // capacity 1; the loop sends only when !busy
	queue []string // alert ids waiting for this notifier, oldest first
	busy  bool
}

func (w *worker) run(ctx context.Context, timeout time.Duration, results chan<- result) {
	for j := range w.jobs {
		actx, cancel := context.WithTimeout(ctx, timeout)
		err := w.n.Notify(actx, &j.doc) // j.doc is this worker's own copy
		cancel()
		results <- result{id: j.id, notifier: w.n.Name(), err: err}
	}
}

// round is one delivery round of an entry: the notifiers it still waits
// for and the failures so far.
type round struct {
	doc      Document
	queued   time.Time // Entry.Queued
	waiting  int
	errs     []error // retryable
	complete bool    // an Ack completed the alert
}

// session is the state of one Run or Drain, owned by its goroutine.
type session struct {
	d        *Dispatcher
	drain    bool
	workers  []*worker
	byName   map[string]*worker
	results  chan result
	busy     int
	rounds   map[string]*round
	tried    map[string]bool // Drain: entries that had their round
	nextScan time.Time       // zero: no timed scan needed
	fails    *failureLog     // per notifier
	writes   *failureLog     // outbox writes (a full or broken disk)
	owed     map[string]*owed
}

// owed is what one notifier has yet to deliver, for Metrics.Notifiers.
type owed struct {
	ids     map[string]bool
	waiting time.Time // see NotifierState.Waiting
}

func (d *Dispatcher) loop(ctx context.Context, drain bool) error {
	if err := d.check(); err != nil {
		return err
	}
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("dispatcher: Run or Drain already running")
	}
	defer d.running.Store(false)
	d.init()
	s := &session{
		d: d, drain: drain,
		byName:  make(map[string]*worker),
		results: make(chan result, len(d.Notifiers)),
		rounds:  make(map[string]*round),
		tried:   make(map[string]bool),
		fails:   newFailureLog(d.Log, "notifier", "delivery failing", "delivery still failing", "delivery recovered"),
		writes:  newFailureLog(d.Log, "store", "outbox write failed", "outbox write still failing", ""),
		owed:    make(map[string]*owed),
	}
	var wg sync.WaitGroup
	for _, n := range d.Notifiers {
		s.owed[n.Name()] = &owed{ids: make(map[string]bool)}
		w := &worker{n: n, jobs: make(chan job, 1)}
		s.workers = append(s.workers, w)
		s.byName[n.Name()] = w
		wg.Go(func() { w.run(ctx, d.attemptTimeout(), s.results) })
	}
	defer func() {
		for _, w := range s.workers {
			close(w.jobs)
		}
		wg.Wait()
	}()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	scan := true
	for {
		if scan {
			s.scan(time.Now())
			scan = false
		}
		s.feed()
		if drain && len(s.rounds) == 0 {
			return nil
		}
		var tick <-chan time.Time
		if !drain && !s.nextScan.IsZero() {
			timer.Reset(time.Until(s.nextScan))
			tick = timer.C
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			s.shutdown()
			if drain {
				return ctx.Err()
			}
			return nil
		case <-d.wake:
			scan = true
		case <-tick:
			scan = true
		case r := <-s.results:
			s.handle(r, time.Now())
		}
		timer.Stop()
	}
}

// later asks for a scan at t.
func (s *session) later(t time.Time) {
	if s.nextScan.IsZero() || t.Before(s.nextScan) {
		s.nextScan = t
	}
}

// scan starts a round for every entry that is due and dead-letters the
// ones past MaxAge.
func (s *session) scan(now time.Time) {
	s.nextScan = time.Time{}
	maxAge := s.d.maxAge()
	pending := s.d.Outbox.Pending()
	s.recount(pending, now)
	for _, e := range pending {
		id := e.Doc.AlertID
		if s.rounds[id] != nil {
			continue
		}
		if maxAge > 0 {
			deadline := e.Queued.Add(maxAge)
			if !now.Before(deadline) {
				s.deadLetter(&e, fmt.Sprintf("not delivered within max age %s after %d attempts; last error: %s", maxAge, e.Attempts, e.LastError))
				continue
			}
			s.later(deadline)
		}
		if s.drain {
			if s.tried[id] {
				continue
			}
			s.tried[id] = true
		} else if e.NextAttempt.After(now) {
			s.later(e.NextAttempt)
			continue
		}
		s.start(&e)
	}
}

// recount sets what each notifier owes from the outbox's pending entries.
func (s *session) recount(pending []Entry, now time.Time) {
	for name, o := range s.owed {
		clear(o.ids)
		for i := range pending {
			e := &pending[i]
			if _, rejected := e.Rejected[name]; !rejected && !slices.Contains(e.Acked, name) {
				o.ids[e.Doc.AlertID] = true
			}
		}
		s.publish(name, o, now)
	}
}

// settled records that notifier has acked (ok) or rejected alert id, or,
// with notifier "", that the alert left the outbox.
func (s *session) settled(notifier, id string, ok bool, now time.Time) {
	for name, o := range s.owed {
		if notifier != "" && name != notifier {
			continue
		}
		delete(o.ids, id)
		if ok {
			o.waiting = now
		}
		s.publish(name, o, now)
	}
}

// publish updates a notifier's NotifierState: its waiting stretch starts
// when alerts become pending for it and ends when none are.
func (s *session) publish(name string, o *owed, now time.Time) {
	switch {
	case len(o.ids) == 0:
		o.waiting = time.Time{}
	case o.waiting.IsZero():
		o.waiting = now
	}
	s.d.Metrics.setNotifier(NotifierState{Name: name, Pending: len(o.ids), Waiting: o.waiting})
}

func (s *session) start(e *Entry) {
	id := e.Doc.AlertID
	r := &round{doc: e.Doc, queued: e.Queued}
	for _, w := range s.workers {
		name := w.n.Name()
		if _, rejected := e.Rejected[name]; rejected || slices.Contains(e.Acked, name) {
			continue
		}
		w.queue = append(w.queue, id)
		r.waiting++
	}
	if r.waiting == 0 { // only rejections left, e.g. from before a restart
		s.deadLetter(e, rejection(e))
		return
	}
	s.rounds[id] = r
}

// feed hands each idle worker its next job.
func (s *session) feed() {
	for _, w := range s.workers {
		if w.busy || len(w.queue) == 0 {
			continue
		}
		id := w.queue[0]
		w.queue = w.queue[1:]
		w.busy = true
		s.busy++
		w.jobs <- job{id: id, doc: s.rounds[id].doc}
	}
}

func (s *session) handle(res result, now time.Time) {
	s.byName[res.notifier].busy = false
	s.busy--
	r := s.rounds[res.id]
	r.waiting--
	o, m := s.d.Outbox, s.d.Metrics
	switch {
	case res.err == nil:
		s.fails.ok(res.notifier, now)
		m.delivered(res.notifier, r.queued, now)
		complete, err := o.Ack(res.id, res.notifier, now)
		r.complete = r.complete || complete
		s.outboxError(err, now)
		s.settled(res.notifier, res.id, true, now)
	case IsPermanent(res.err):
		m.Failed.Add(1)
		m.notifierFailed(res.notifier)
		s.outboxError(o.Reject(res.id, res.notifier, res.err), now)
		s.settled(res.notifier, res.id, false, now)
	default:
		m.Failed.Add(1)
		m.notifierFailed(res.notifier)
		s.fails.fail(res.notifier, errorText(res.err), now)
		r.errs = append(r.errs, fmt.Errorf("%s: %w", res.notifier, res.err))
	}
	if r.waiting == 0 {
		delete(s.rounds, res.id)
		s.settle(res.id, r, now)
	}
}

// settle decides an entry's fate after a round.
func (s *session) settle(id string, r *round, now time.Time) {
	o := s.d.Outbox
	if r.complete {
		s.d.Metrics.Delivered.Add(1)
		s.d.Log.Debug().Str("alert_id", id).Str("rule", r.doc.Rule).Msg("alert delivered")
		return
	}
	e, ok := o.Lookup(id)
	switch {
	case !ok:
		// No longer pending here: another replica finished it or took it
		// over (internal/redisstore).
		s.settled("", id, false, now)
	case len(r.errs) > 0:
		err := errors.Join(r.errs...)
		next := now.Add(s.d.retryDelay(e.Attempts+1, err))
		s.outboxError(o.Fail(id, err, next), now)
		s.later(next)
	default: // every notifier acked or rejected it, at least one rejected
		s.deadLetter(&e, rejection(&e))
	}
}

// rejection is the dead-letter reason of an entry that notifiers rejected.
func rejection(e *Entry) string {
	var parts []string
	for _, n := range slices.Sorted(maps.Keys(e.Rejected)) {
		parts = append(parts, n+": "+e.Rejected[n])
	}
	return "rejected by " + strings.Join(parts, "; ")
}

func (s *session) deadLetter(e *Entry, reason string) {
	err := s.d.Outbox.DeadLetter(e.Doc.AlertID, reason)
	s.settled("", e.Doc.AlertID, false, time.Now())
	s.d.Metrics.DeadLettered.Add(1)
	s.d.Log.Error().Str("alert_id", e.Doc.AlertID).Str("rule", e.Doc.Rule).
		Int("attempts", e.Attempts).Strs("acked", e.Acked).Str("reason", reason).
		Msg("alert dead-lettered")
	s.outboxError(err, time.Now())
}

func (s *session) outboxError(err error, now time.Time) {
	if err != nil {
		s.writes.fail("outbox", errorText(err), now)
	}
}

// shutdown waits for the attempts in flight (their context is cancelled)
// and acknowledges the ones that succeeded anyway; failures caused by the
// cancellation are not counted against the entry.
func (s *session) shutdown() {
	for s.busy > 0 {
		res := <-s.results
		s.busy--
		if res.err != nil {
			continue
		}
		now := time.Now()
		s.d.Metrics.delivered(res.notifier, s.rounds[res.id].queued, now)
		complete, err := s.d.Outbox.Ack(res.id, res.notifier, now)
		s.outboxError(err, now)
		if complete {
			s.d.Metrics.Delivered.Add(1)
		}
	}
}

// failureLog logs a repeating failure when it starts, when its message
// changes (at most once a minute, since messages often carry request ids)
// and when it ends — not on every retry.
type failureLog struct {
	log                       zerolog.Logger
	field                     string // log field naming who fails
	started, still, recovered string // messages; recovered "" logs nothing
	state                     map[string]*failing
}

type failing struct {
	msg           string
	since, logged time.Time
	count         int
}

const failureRelog = time.Minute

func newFailureLog(log zerolog.Logger, field, started, still, recovered string) *failureLog {
	return &failureLog{log: log, field: field, started: started, still: still, recovered: recovered, state: make(map[string]*failing)}
}

func (l *failureLog) fail(who, msg string, now time.Time) {
	f := l.state[who]
	if f == nil {
		l.state[who] = &failing{msg: msg, since: now, logged: now, count: 1}
		l.log.Warn().Str(l.field, who).Str("error", msg).Msg(l.started)
		return
	}
	f.count++
	if msg != f.msg && now.Sub(f.logged) >= failureRelog {
		f.logged = now
		l.log.Warn().Str(l.field, who).Str("error", msg).Int("failures", f.count).Msg(l.still)
	}
	f.msg = msg
}

func (l *failureLog) ok(who string, now time.Time) {
	if f := l.state[who]; f != nil {
		delete(l.state, who)
		if l.recovered != "" {
			l.log.Info().Str(l.field, who).Int("failures", f.count).Dur("after", now.Sub(f.since)).Msg(l.recovered)
		}
	}
}
