package alerting

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/secwatch/secwatch/internal/redact"
)

// Ledger is the lifecycle of an outbox's pending entries, written once for
// every store: the directory Outbox and the Redis one (internal/redisstore)
// each keep one and make its changes durable their own way (docs/delivery.md,
// "One lifecycle, two stores"). It decides what Put, Ack, Fail, Reject and
// DeadLetter do to an entry and the errors they return; it does no I/O.
//
// A Ledger is not safe for concurrent use: its owner calls it with its own
// lock held. The counters are atomic and may be read at any time.
type Ledger struct {
	notifiers []string
	entries   map[string]*Entry
	// order holds the entries in delivery order once Pending has sorted
	// it, and entries no longer pending until it drops them: Pending is
	// called on every wake of the dispatcher, and during a storm must not
	// sort thousands of entries each time.
	order  []*Entry
	closed bool

	queued     atomic.Int64 // alerts queued (Put, PutLater, a won claim)
	duplicates atomic.Int64 // alerts refused as the same firing
}

var errNotPending = errors.New("no such pending alert")

// NewLedger returns an empty Ledger whose entries each need an ack from
// every one of notifiers. It fails when notifiers is empty or names one
// twice or an empty name.
func NewLedger(notifiers []string) (*Ledger, error) {
	if len(notifiers) == 0 {
		return nil, errors.New("open outbox: no notifiers")
	}
	for i, n := range notifiers {
		if n == "" || slices.Contains(notifiers[:i], n) {
			return nil, fmt.Errorf("open outbox: notifier name %q empty or repeated", n)
		}
	}
	return &Ledger{notifiers: slices.Clone(notifiers), entries: make(map[string]*Entry)}, nil
}

// Notifiers returns the names of the notifiers that must ack each alert.
func (l *Ledger) Notifiers() []string { return slices.Clone(l.notifiers) }

// CheckPut returns the error of a Put of id that cannot be queued at all:
// the outbox is closed, or id is not a ValidAlertID. It then counts
// nothing.
func (l *Ledger) CheckPut(id string) error {
	switch {
	case l.closed:
		return fmt.Errorf("outbox put %s: outbox closed", id)
	case !ValidAlertID(id):
		return fmt.Errorf("outbox put: invalid alert_id %q", id)
	}
	return nil
}

// Has reports whether id is pending here, committed or not.
func (l *Ledger) Has(id string) bool { return l.entries[id] != nil }

// Entry returns the pending entry id itself (nil if none), for the store
// to write; the store must not change it.
func (l *Ledger) Entry(id string) *Entry { return l.entries[id] }

// IDs returns the ids of the pending entries, in no order.
func (l *Ledger) IDs() []string {
	ids := make([]string, 0, len(l.entries))
	for id := range l.entries {
		ids = append(ids, id)
	}
	return ids
}

// Add makes e pending (replacing any entry of its id) and counts it as
// queued when queued is true (an adopted entry is not).
func (l *Ledger) Add(e *Entry, queued bool) {
	l.entries[e.Doc.AlertID] = e
	l.order = append(l.order, e)
	if len(l.order) > 2*len(l.entries)+1024 {
		l.prune()
	}
	if queued {
		l.queued.Add(1)
	}
}

// Duplicate counts an alert refused as one already pending, delivered,
// dead-lettered or claimed elsewhere.
func (l *Ledger) Duplicate() { l.duplicates.Add(1) }

// Remove forgets the pending entry id (delivered or dead-lettered by
// another replica).
func (l *Ledger) Remove(id string) { delete(l.entries, id) }

// Queued returns the number of alerts queued since the Ledger was made.
func (l *Ledger) Queued() int64 { return l.queued.Load() }

// Duplicates returns the number of alerts refused as the same firing.
func (l *Ledger) Duplicates() int64 { return l.duplicates.Load() }

// Close makes every later call fail with "outbox closed".
func (l *Ledger) Close() { l.closed = true }

// Closed reports whether Close was called.
func (l *Ledger) Closed() bool { return l.closed }

// pending returns the committed pending entry id, or the error of op.
func (l *Ledger) pending(op, id string) (*Entry, error) {
	e := l.entries[id]
	if l.closed {
		return nil, fmt.Errorf("outbox %s %s: outbox closed", op, id)
	}
	if e == nil || e.held {
		return nil, fmt.Errorf("outbox %s %s: %w", op, id, errNotPending)
	}
	return e, nil
}

func (l *Ledger) notifier(op, name string) error {
	if !slices.Contains(l.notifiers, name) {
		return fmt.Errorf("outbox %s: unknown notifier %q", op, name)
	}
	return nil
}

// Complete reports whether every notifier acked e.
func (l *Ledger) Complete(e *Entry) bool {
	for _, n := range l.notifiers {
		if !slices.Contains(e.Acked, n) {
			return false
		}
	}
	return true
}

// Ack records that notifier delivered alert id and returns the entry.
// When every notifier has, complete is true and the entry is no longer
// pending: the store records it as delivered.
func (l *Ledger) Ack(id, notifier string) (e *Entry, complete bool, err error) {
	if e, err = l.pending("ack", id); err != nil {
		return nil, false, err
	}
	if err := l.notifier("ack", notifier); err != nil {
		return nil, false, err
	}
	if !slices.Contains(e.Acked, notifier) {
		e.Acked = append(e.Acked, notifier)
	}
	if l.Complete(e) {
		delete(l.entries, id)
		return e, true, nil
	}
	return e, false, nil
}

// Fail records a delivery round that failed with err: one more attempt,
// the next one not before next. It returns the entry for the store to
// write.
func (l *Ledger) Fail(id string, err error, next time.Time) (*Entry, error) {
	e, lerr := l.pending("fail", id)
	if lerr != nil {
		return nil, lerr
	}
	e.Attempts++
	e.NextAttempt = next.UTC()
	e.LastError = errorText(err)
	return e, nil
}

// Reject records that notifier refused alert id with the permanent error
// err, and returns the entry for the store to write.
func (l *Ledger) Reject(id, notifier string, err error) (*Entry, error) {
	e, lerr := l.pending("reject", id)
	if lerr != nil {
		return nil, lerr
	}
	if lerr := l.notifier("reject", notifier); lerr != nil {
		return nil, lerr
	}
	if e.Rejected == nil {
		e.Rejected = make(map[string]string)
	}
	e.Rejected[notifier] = errorText(err)
	return e, nil
}

// DeadLetter takes alert id out of the pending entries and returns it
// marked dead-lettered at now for reason, for the store to keep.
func (l *Ledger) DeadLetter(id, reason string, now time.Time) (*Entry, error) {
	e, err := l.pending("dead-letter", id)
	if err != nil {
		return nil, err
	}
	delete(l.entries, id)
	e.DeadLettered = now.UTC()
	e.DeadLetterReason = reason
	return e, nil
}

// Lookup returns a copy of the pending entry id.
func (l *Ledger) Lookup(id string) (Entry, bool) {
	if e := l.entries[id]; e != nil {
		return e.Clone(), true
	}
	return Entry{}, false
}

// Pending returns copies of the committed pending entries in delivery
// order: oldest Queued first, ties by alert id. The documents' maps are
// shared and must not be modified.
func (l *Ledger) Pending() []Entry {
	l.prune()
	if !slices.IsSortedFunc(l.order, comparePending) {
		slices.SortFunc(l.order, comparePending)
	}
	out := make([]Entry, 0, len(l.order))
	for _, e := range l.order {
		if !e.held {
			out = append(out, e.Clone())
		}
	}
	return out
}

// prune drops from l.order the entries no longer pending.
func (l *Ledger) prune() {
	live := l.order[:0]
	for _, e := range l.order {
		if l.entries[e.Doc.AlertID] == e {
			live = append(live, e)
		}
	}
	clear(l.order[len(live):])
	l.order = live
}

// sortPending sorts es in delivery order: oldest Queued first, ties by
// alert id.
func sortPending(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int { return comparePending(&a, &b) })
}

func comparePending(a, b *Entry) int {
	if c := a.Queued.Compare(b.Queued); c != 0 {
		return c
	}
	return strings.Compare(a.Doc.AlertID, b.Doc.AlertID)
}

// Len returns the number of pending entries, committed or not.
func (l *Ledger) Len() int { return len(l.entries) }

// errorText is an error's message made safe to store and log: credentials
// masked, control characters removed, cut.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	return redact.Sanitize(redact.Text(err.Error()), maxErrorText)
}
