package alerting

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/secwatch/secwatch/internal/redact"
	"github.com/secwatch/secwatch/internal/rules"
	"github.com/secwatch/secwatch/internal/state"
)

// DefaultDedupHorizon is how long an Outbox remembers delivered alert ids
// when DedupHorizon is 0.
const DefaultDedupHorizon = 48 * time.Hour

// Files of the outbox directory (see docs/delivery.md).
const (
	entrySuffix       = ".json"         // <alert_id>.json: one pending alert
	deliveredSnapshot = "delivered"     // framed JSON: delivered ids and when
	deliveredJournal  = "delivered.log" // appended "<time> <id>\n" since the snapshot
	deadLetterDir     = "dead-letter"   // <alert_id>.json: given up, kept for people
	maxErrorText      = 1000            // bytes of an error kept in an entry
)

// Entry is one pending alert and its delivery progress, as stored in
// <outbox>/<alert_id>.json.
type Entry struct {
	Doc rules.Document `json:"doc"`
	// Queued is when Put stored it (wall clock); MaxAge counts from here.
	Queued time.Time `json:"queued"`
	// Attempts counts delivery rounds that ended with a retryable failure.
	Attempts    int       `json:"attempts,omitempty"`
	NextAttempt time.Time `json:"next_attempt,omitzero"` // zero: at once
	// Acked lists the notifiers that delivered it; Rejected maps those that
	// refused it with a permanent error to that error.
	Acked     []string          `json:"acked,omitempty"`
	Rejected  map[string]string `json:"rejected,omitempty"`
	LastError string            `json:"last_error,omitempty"` // of the last failed round`
	// DeadLettered and DeadLetterReason are set in dead-letter files. An
	// entry carrying them in the outbox directory was moved back by hand
	// to be re-driven.
	DeadLettered     time.Time `json:"dead_lettered,omitzero"`
	DeadLetterReason string    `json:"dead_letter_reason,omitempty"`
}

func (e *Entry) clone() Entry {
	c := *e
	c.Acked = slices.Clone(e.Acked)
	c.Rejected = maps.Clone(e.Rejected)
	return c
}

// Outbox is the durable at-least-once queue of alert documents (design
// section 8) in one directory of the state directory, normally
// <state_dir>/outbox:
//
//	<alert_id>.json        a pending alert (a framed state file holding an Entry)
//	delivered, delivered.log  ids delivered within the dedup horizon
//	dead-letter/<alert_id>.json  alerts given up on; secwatch never deletes them
//	*.corrupt-<n>          files that failed verification, moved aside
//
// Every change is written (fsynced) before the method returns. When a write
// fails the in-memory queue is changed anyway, so alerts keep flowing while
// the process lives, and the method returns the error.
//
// Put is meant for the engine goroutine and the other methods for the
// dispatcher goroutine; all methods are safe for concurrent use (one mutex
// guards the queue, and is held across the fsync of Put, so no notifier
// sees an alert before it is on disk).
type Outbox struct {
	// DedupHorizon is how long a delivered alert_id is remembered, so that
	// Put of the same id sends nothing twice. If 0, DefaultDedupHorizon is
	// used. Set it before the first Put.
	DedupHorizon time.Duration

	mu         sync.Mutex
	dir, dead  *state.Dir
	notifiers  []string
	entries    map[string]*Entry
	delivered  map[string]time.Time
	deadIDs    map[string]bool
	journalN   int
	loadErrors []error
	closed     bool
}

var errNotPending = errors.New("no such pending alert")

// compactEvery is the number of journal records between compactions of
// the delivered ids (a variable for tests).
var compactEvery = 1024

// OpenOutbox opens (creating as needed) the outbox in dir and loads the
// pending alerts. notifiers names the notifiers that must each
// acknowledge an alert before it counts as delivered. Problems that do not
// stop loading — corrupt files moved aside, a failed write — are returned
// by LoadErrors for the caller to log. OpenOutbox locks dir (see
// state.Open) until Close.
func OpenOutbox(dir string, notifiers []string) (*Outbox, error) {
	if len(notifiers) == 0 {
		return nil, errors.New("open outbox: no notifiers")
	}
	for i, n := range notifiers {
		if n == "" || slices.Contains(notifiers[:i], n) {
			return nil, fmt.Errorf("open outbox: notifier name %q empty or repeated", n)
		}
	}
	d, err := state.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open outbox: %w", err)
	}
	o := &Outbox{
		dir:       d,
		notifiers: slices.Clone(notifiers),
		entries:   make(map[string]*Entry),
		delivered: make(map[string]time.Time),
		deadIDs:   make(map[string]bool),
	}
	if err := o.load(time.Now().UTC()); err != nil {
		d.Close()
		return nil, fmt.Errorf("open outbox %s: %w", dir, err)
	}
	return o, nil
}

func (o *Outbox) load(now time.Time) error {
	var err error
	if o.dead, err = o.dir.Sub(deadLetterDir); err != nil {
		return err
	}
	if err := o.loadDelivered(); err != nil {
		return err
	}
	names, err := o.dead.List()
	if err != nil {
		return err
	}
	for _, n := range names {
		if id, ok := strings.CutSuffix(n, entrySuffix); ok {
			o.deadIDs[id] = true
		}
	}
	if names, err = o.dir.List(); err != nil {
		return err
	}
	for _, n := range names {
		if id, ok := strings.CutSuffix(n, entrySuffix); ok {
			if err := o.loadEntry(id, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadEntry reads one pending alert. Only I/O errors other than corruption
// are returned; everything else goes to loadErrors.
func (o *Outbox) loadEntry(id string, now time.Time) error {
	name := id + entrySuffix
	b, err := o.dir.Read(name)
	if errors.Is(err, state.ErrCorrupt) {
		o.loadErrors = append(o.loadErrors, err)
		return nil
	} else if err != nil {
		return err
	}
	var e Entry
	switch err := json.Unmarshal(b, &e); {
	case !validID(id):
		o.loadErrors = append(o.loadErrors, o.dir.Quarantine(name, "file name is not an alert id"))
		return nil
	case err != nil:
		o.loadErrors = append(o.loadErrors, o.dir.Quarantine(name, "undecodable entry: "+err.Error()))
		return nil
	case e.Doc.AlertID != id:
		o.loadErrors = append(o.loadErrors, o.dir.Quarantine(name, fmt.Sprintf("alert_id %q does not match the file name", e.Doc.AlertID)))
		return nil
	}
	switch {
	case !o.delivered[id].IsZero() || (e.DeadLettered.IsZero() && o.deadIDs[id]):
		// A crash between recording the outcome and removing the file.
		o.note(o.dir.Remove(name))
		return nil
	case !e.DeadLettered.IsZero():
		// Moved back from dead-letter/ by hand: a fresh start, except
		// for the notifiers that already delivered it.
		e = Entry{Doc: e.Doc, Queued: now, Acked: e.Acked}
		o.note(o.write(&e))
	}
	o.entries[id] = &e
	if o.complete(&e) {
		o.note(o.finish(&e, now))
	}
	return nil
}

func (o *Outbox) note(err error) {
	if err != nil {
		o.loadErrors = append(o.loadErrors, err)
	}
}

// deliveredFile is the snapshot's payload.
type deliveredFile struct {
	Delivered map[string]time.Time `json:"delivered"`
}

// loadDelivered reads the snapshot and the journal, then folds the journal
// into a new snapshot, so that appends never follow a torn record.
func (o *Outbox) loadDelivered() error {
	b, err := o.dir.Read(deliveredSnapshot)
	switch {
	case errors.Is(err, state.ErrCorrupt):
		o.loadErrors = append(o.loadErrors, err)
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		var f deliveredFile
		if err := json.Unmarshal(b, &f); err != nil {
			o.loadErrors = append(o.loadErrors, o.dir.Quarantine(deliveredSnapshot, "undecodable: "+err.Error()))
		}
		for id, t := range f.Delivered {
			o.delivered[id] = t
		}
	}
	j, err := o.dir.ReadJournal(deliveredJournal)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	bad := 0
	for len(j) > 0 {
		line, rest, ok := bytes.Cut(j, []byte{'\n'})
		if !ok {
			break // torn by a crash mid-append: that record never counted
		}
		j = rest
		ts, id, ok := strings.Cut(string(line), " ")
		t, err := time.Parse(time.RFC3339Nano, ts)
		if !ok || err != nil || !validID(id) {
			bad++
			continue
		}
		if t.After(o.delivered[id]) {
			o.delivered[id] = t
		}
	}
	if bad > 0 {
		o.loadErrors = append(o.loadErrors, &state.CorruptError{Name: deliveredJournal, Path: filepath.Join(o.dir.Path(), deliveredJournal),
			Reason: fmt.Sprintf("%d malformed records skipped", bad)})
	}
	o.note(o.compact(time.Time{}))
	return nil
}

// compact writes the delivered ids to the snapshot, forgetting those older
// than the horizon at now (zero now: forget none), and empties the journal.
func (o *Outbox) compact(now time.Time) error {
	if !now.IsZero() {
		for id, t := range o.delivered {
			if now.Sub(t) >= o.horizon() {
				delete(o.delivered, id)
			}
		}
	}
	b, err := json.Marshal(deliveredFile{Delivered: o.delivered})
	if err != nil {
		return err
	}
	if err := o.dir.Write(deliveredSnapshot, b); err != nil {
		return err
	}
	// A crash here leaves records in both files; loading takes the union.
	if err := o.dir.Remove(deliveredJournal); err != nil {
		return err
	}
	o.journalN = 0
	return nil
}

func (o *Outbox) horizon() time.Duration {
	if o.DedupHorizon > 0 {
		return o.DedupHorizon
	}
	return DefaultDedupHorizon
}

// validID accepts the alert ids secwatch makes (hex digests) and other
// ids that are safe as file names.
func validID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// write persists e in the outbox directory.
func (o *Outbox) write(e *Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return o.dir.Write(e.Doc.AlertID+entrySuffix, b)
}

// complete reports whether every configured notifier acked e.
func (o *Outbox) complete(e *Entry) bool {
	for _, n := range o.notifiers {
		if !slices.Contains(e.Acked, n) {
			return false
		}
	}
	return true
}

// finish records e as delivered and removes it.
func (o *Outbox) finish(e *Entry, now time.Time) error {
	id := e.Doc.AlertID
	delete(o.entries, id)
	o.delivered[id] = now
	rec := fmt.Appendf(nil, "%s %s\n", now.UTC().Format(time.RFC3339Nano), id)
	if err := o.dir.Append(deliveredJournal, rec); err != nil {
		// Keep the file, with every ack, so the next start finishes it.
		o.write(e)
		return err
	}
	o.journalN++
	if err := o.dir.Remove(id + entrySuffix); err != nil {
		return err
	}
	if o.journalN >= compactEvery {
		return o.compact(now)
	}
	return nil
}

// Put stores doc durably before returning true. It returns false, writing
// nothing, when an alert with the same alert_id is pending, was delivered
// within the dedup horizon before now, or is in the dead-letter directory:
// that is how a restarted daemon that fires an alert again sends nothing
// twice. If the write fails, the alert is still queued in memory and Put
// returns true and the error. An alert_id that is not a safe file name
// ([A-Za-z0-9_-], at most 128 bytes) is refused with an error.
func (o *Outbox) Put(doc rules.Document, now time.Time) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	id := doc.AlertID
	switch {
	case o.closed:
		return false, fmt.Errorf("outbox put %s: outbox closed", id)
	case !validID(id):
		return false, fmt.Errorf("outbox put: invalid alert_id %q", id)
	case o.entries[id] != nil, o.deadIDs[id]:
		return false, nil
	}
	if t, ok := o.delivered[id]; ok && now.Sub(t) < o.horizon() {
		return false, nil
	}
	e := &Entry{Doc: doc, Queued: now.UTC()}
	o.entries[id] = e
	if err := o.write(e); err != nil {
		return true, fmt.Errorf("outbox put %s (queued in memory only): %w", id, err)
	}
	return true, nil
}

// entry returns the pending entry id; o.mu must be held.
func (o *Outbox) entry(op, id string) (*Entry, error) {
	e := o.entries[id]
	if o.closed {
		return nil, fmt.Errorf("outbox %s %s: outbox closed", op, id)
	}
	if e == nil {
		return nil, fmt.Errorf("outbox %s %s: %w", op, id, errNotPending)
	}
	return e, nil
}

func (o *Outbox) known(op, notifier string) error {
	if !slices.Contains(o.notifiers, notifier) {
		return fmt.Errorf("outbox %s: unknown notifier %q", op, notifier)
	}
	return nil
}

// Ack records that notifier delivered alert id. When every notifier has,
// the id is recorded as delivered and the entry removed.
func (o *Outbox) Ack(id, notifier string, now time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, err := o.entry("ack", id)
	if err != nil {
		return err
	}
	if err := o.known("ack", notifier); err != nil {
		return err
	}
	if !slices.Contains(e.Acked, notifier) {
		e.Acked = append(e.Acked, notifier)
	}
	if o.complete(e) {
		err = o.finish(e, now)
	} else {
		err = o.write(e)
	}
	if err != nil {
		return fmt.Errorf("outbox ack %s: %w", id, err)
	}
	return nil
}

// Fail records a delivery round that failed with err: one more attempt,
// the next one not before next.
func (o *Outbox) Fail(id string, err error, next time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, lerr := o.entry("fail", id)
	if lerr != nil {
		return lerr
	}
	e.Attempts++
	e.NextAttempt = next.UTC()
	e.LastError = errorText(err)
	if err := o.write(e); err != nil {
		return fmt.Errorf("outbox fail %s: %w", id, err)
	}
	return nil
}

// Reject records that notifier refused alert id with a permanent error:
// it will not be tried again for that notifier. The dispatcher
// dead-letters an entry once each notifier has acked or rejected it.
func (o *Outbox) Reject(id, notifier string, err error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, lerr := o.entry("reject", id)
	if lerr != nil {
		return lerr
	}
	if lerr := o.known("reject", notifier); lerr != nil {
		return lerr
	}
	if e.Rejected == nil {
		e.Rejected = make(map[string]string)
	}
	e.Rejected[notifier] = errorText(err)
	if err := o.write(e); err != nil {
		return fmt.Errorf("outbox reject %s: %w", id, err)
	}
	return nil
}

// DeadLetter moves alert id, with reason, to the dead-letter directory,
// where secwatch keeps it for good. Later Puts of the id return false.
// Moving the file back into the outbox directory re-drives it at the
// next start (docs/delivery.md).
func (o *Outbox) DeadLetter(id, reason string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	e, err := o.entry("dead-letter", id)
	if err != nil {
		return err
	}
	delete(o.entries, id)
	o.deadIDs[id] = true
	e.DeadLettered = time.Now().UTC()
	e.DeadLetterReason = reason
	b, err := json.Marshal(e)
	if err == nil {
		err = o.dead.Write(id+entrySuffix, b)
	}
	if err == nil {
		// A crash before this Remove leaves both files; loading drops
		// the outbox copy.
		err = o.dir.Remove(id + entrySuffix)
	}
	if err != nil {
		return fmt.Errorf("outbox dead-letter %s: %w", id, err)
	}
	return nil
}

// Lookup returns a copy of the pending entry id.
func (o *Outbox) Lookup(id string) (Entry, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if e := o.entries[id]; e != nil {
		return e.clone(), true
	}
	return Entry{}, false
}

// Pending returns copies of the pending entries, sorted by Queued, then
// alert id. The documents' maps are shared and must not be modified.
func (o *Outbox) Pending() []Entry {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Entry, 0, len(o.entries))
	for _, e := range o.entries {
		out = append(out, e.clone())
	}
	SortEntries(out)
	return out
}

// SortEntries sorts entries in delivery order: oldest first, ties by alert
// id, so every outbox implementation hands them out alike.
func SortEntries(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int {
		if c := a.Queued.Compare(b.Queued); c != 0 {
			return c
		}
		return strings.Compare(a.Doc.AlertID, b.Doc.AlertID)
	})
}

// Len returns the number of pending alerts.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.entries)
}

// DeadLetters returns the number of alerts in the dead-letter directory
// (found at open plus dead-lettered since). It only grows, so it can back
// a gauge that an operator alarms on.
func (o *Outbox) DeadLetters() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.deadIDs)
}

// Notifiers returns the names of the notifiers that must ack each alert.
func (o *Outbox) Notifiers() []string { return slices.Clone(o.notifiers) }

// LoadErrors returns the problems OpenOutbox met and got past: corrupt
// files moved aside (each matching state.ErrCorrupt) and failed writes.
func (o *Outbox) LoadErrors() []error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.loadErrors)
}

// Close releases the outbox directory. Pending alerts stay on disk for the
// next OpenOutbox.
func (o *Outbox) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	o.closed = true
	return o.dir.Close()
}

// errorText is an error's message made safe to store and log: credentials
// masked, control characters removed, cut.
func errorText(err error) string {
	if err == nil {
		return ""
	}
	return redact.Sanitize(redact.Text(err.Error()), maxErrorText)
}
