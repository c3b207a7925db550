package alerting

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/secwatch/secwatch/internal/state"
)

// DefaultDedupHorizon is how long an Outbox remembers delivered alert ids
// when DedupHorizon is 0.
const DefaultDedupHorizon = 48 * time.Hour

// Files of the outbox directory (see docs/delivery.md).
const (
	entrySuffix       = ".json"         // <alert_id>.json: an entry file, taken into the journal at open
	deliveredSnapshot = "delivered"     // framed JSON: delivered ids and when
	deliveredJournal  = "delivered.log" // appended "<time> <id>\n" since the snapshot
	deadLetterDir     = "dead-letter"   // <alert_id>.json: given up, kept for people
	maxErrorText      = 1000            // bytes of an error kept in an entry
)

// Entry is one pending alert and its delivery progress, as stored in
// <outbox>/<alert_id>.json.
type Entry struct {
	Doc Document `json:"doc"`
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

	held bool // queued by PutLater, not yet committed: no notifier sees it
}

// Clone returns a copy of e that shares no slice or map with it (the
// document's maps are shared: they are never modified).
func (e *Entry) Clone() Entry {
	c := *e
	c.Acked = slices.Clone(e.Acked)
	c.Rejected = maps.Clone(e.Rejected)
	return c
}

// Outbox is the durable at-least-once queue of alert documents in one
// directory, normally <state_dir>/outbox: the directory store of a Ledger
// (docs/delivery.md, "The outbox on disk" and "One lifecycle, two stores").
// One goroutine, the committer, appends every change to the journal in
// group commits (one fsync a batch; "The outbox journal"). PutLater and Ack return at once and are committed with the next batch
// (a PutLater alert stays hidden from Pending until then); Sync waits for
// everything queued before it; Put, Fail, Reject and DeadLetter wait for
// their own commit. A failed write leaves the change in memory, so alerts
// keep flowing; the error goes to the waiting caller, or to OnError and the
// next Sync. All methods are safe for concurrent use; no file is written
// under the mutex except at open, by Redrive and DropDeadLetter, and at
// compaction of the delivered ids.
type Outbox struct {
	// DedupHorizon is how long a delivered alert_id is remembered, so that
	// Put of the same id sends nothing twice. If 0, DefaultDedupHorizon is
	// used. Set it before the first Put.
	DedupHorizon time.Duration
	// OnDurable, if set, is called after a commit that made alerts queued
	// by PutLater visible to Pending (the daemon wakes the dispatcher).
	OnDurable func()
	// OnError, if set, is called with each failed write of a change
	// nobody waits for (PutLater, Ack). The change stays in memory.
	OnError func(error)

	mu         sync.Mutex
	committed  *sync.Cond // broadcast after each commit
	dir, dead  *state.Dir
	jr         *journal // the committer's, once open
	book       *Ledger
	delivered  *deliveredLog
	deadIDs    map[string]bool
	loadErrors []error

	// The committer's queue: changes since its last batch, numbered.
	ops       []*op
	queued    uint64 // number of the last change queued
	done      uint64 // number of the last change committed
	asyncErrs []error
	running   bool // a committer goroutine is running

	beforeCommit func() // tests: called by the committer before each batch
}

// op is one queued change of the outbox directory.
type op struct {
	seq  uint64
	kind opKind
	id   string
	at   time.Time // opFinish: when it was delivered
	dead []byte    // opDead, opRedrive: the dead-letter file's payload
	wait bool      // someone waits for err
	err  error     // set by the commit
}

type opKind uint8

const (
	opWrite   opKind = iota // journal the entry as it is at commit time
	opFinish                // record as delivered, journal its removal
	opDead                  // write to dead-letter/, journal its removal
	opRedrive               // journal the dead letter in dead
)

// OpenOutbox opens (creating as needed) the outbox in dir, loads the
// pending alerts and starts the committer. notifiers names the notifiers
// that must each acknowledge an alert before it counts as delivered.
// Problems that do not stop loading — corrupt files moved aside, a failed
// write — are returned by LoadErrors for the caller to log. OpenOutbox
// locks dir (see state.Open) until Close.
func OpenOutbox(dir string, notifiers []string) (*Outbox, error) {
	book, err := NewLedger(notifiers)
	if err != nil {
		return nil, err
	}
	d, err := state.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open outbox: %w", err)
	}
	o := &Outbox{dir: d, book: book, deadIDs: make(map[string]bool)}
	o.committed = sync.NewCond(&o.mu)
	if err := o.load(time.Now().UTC()); err != nil {
		d.Close()
		return nil, fmt.Errorf("open outbox %s: %w", dir, err)
	}
	return o, nil
}

// load reads the delivered ids, the dead letters, the journal's newest
// segment and the entry files, settles what they say, and writes what is
// pending to a fresh segment (docs/delivery.md, "The outbox journal").
func (o *Outbox) load(now time.Time) error {
	var err error
	if o.dead, err = o.dir.Sub(deadLetterDir); err != nil {
		return err
	}
	var problems []error
	if o.delivered, problems, err = openDelivered(o.dir, 0, 0); err != nil {
		return err
	}
	o.loadErrors = append(o.loadErrors, problems...)
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
	o.jr = &journal{dir: o.dir, live: make(map[string]span)}
	n, b, err := readSegment(o.dir.Path(), names)
	if err != nil {
		return err
	}
	o.jr.n = n // the next segment is numbered after it
	scan, isJournal := scanSegment(b)
	rp := replay(scan)
	if n > 0 && !isJournal {
		o.note(o.dir.Quarantine(segmentName(n), "not an outbox journal segment"))
		n = 0
	}
	// Entry files: written by earlier versions, or moved back from
	// dead-letter/ by hand or by a tool.
	var imported []string
	for _, name := range names {
		if id, ok := strings.CutSuffix(name, entrySuffix); ok {
			e, err := o.loadEntry(id)
			if err != nil {
				return err
			}
			if e != nil {
				takeFile(rp.entries, e)
				imported = append(imported, name)
			}
		}
	}
	kept := o.settle(rp.entries, now)
	if n == 0 && len(imported) == 0 {
		return nil
	}
	damaged := append(scan.corrupt, rp.bad...)
	keep := uint64(0)
	if len(damaged) > 0 {
		keep = n
	}
	if err := o.jr.replace(kept, keep); err != nil {
		// Go on appending to the segment there is, without its torn tail.
		o.note(err)
		return o.keepSegment(n, scan, rp, damaged)
	}
	if len(damaged) > 0 {
		o.note(o.dir.Quarantine(segmentName(n), strings.Join(damaged, "; ")))
	}
	_, err = o.dir.Commit(nil, imported)
	o.note(err)
	return nil
}

// settle decides what becomes of each entry found at open and returns
// those to keep in the journal, in delivery order: the pending ones, and
// the complete ones when their delivery could not be recorded.
func (o *Outbox) settle(found map[string]*Entry, now time.Time) []*Entry {
	var finished []string
	var done []*Entry
	for id, e := range found {
		switch {
		case o.delivered.known(id) || (e.DeadLettered.IsZero() && o.deadIDs[id]):
			// A crash between recording the outcome and the journal's
			// removal record.
			continue
		case !e.DeadLettered.IsZero():
			// Moved back from dead-letter/: a fresh start, except for the
			// notifiers that already delivered it. A dead letter still
			// there was being re-driven when a crash came.
			*e = Entry{Doc: e.Doc, Queued: now, Acked: e.Acked}
			if o.deadIDs[id] {
				o.note(o.dead.Remove(id + entrySuffix))
				delete(o.deadIDs, id)
			}
		}
		if o.book.Complete(e) {
			finished = append(finished, id)
			done = append(done, e)
			continue
		}
		o.book.Add(e, false)
	}
	var kept []*Entry
	// Entries every notifier acked before a crash: delivered, now recorded.
	if err := o.delivered.add(finished, now); err != nil {
		o.note(err)
		kept = done // kept pending on disk: the next start finishes them
	}
	for _, id := range o.book.IDs() {
		kept = append(kept, o.book.Entry(id))
	}
	slices.SortFunc(kept, comparePending)
	return kept
}

// keepSegment makes segment n, as scanned, the current one after a failed
// rewrite at open: its torn tail is cut off and its damage reported.
func (o *Outbox) keepSegment(n uint64, scan segmentScan, rp replayed, damaged []string) error {
	if n == 0 {
		return nil // the first append makes one
	}
	f, err := os.OpenFile(filepath.Join(o.dir.Path(), segmentName(n)), os.O_RDWR, 0)
	if err != nil {
		return err
	}
	o.jr.f, o.jr.size, o.jr.live = f, scan.end, rp.spans
	for _, s := range rp.spans {
		o.jr.liveBytes += s.size
	}
	o.jr.broken = f.Truncate(scan.end) != nil
	if len(damaged) > 0 {
		o.note(&state.CorruptError{Name: segmentName(n), Path: f.Name(), Reason: strings.Join(damaged, "; ")})
	}
	return nil
}

// loadEntry reads the entry file of id. It returns nil when the file is
// unusable (moved aside and reported in loadErrors); only I/O errors other
// than corruption are returned.
func (o *Outbox) loadEntry(id string) (*Entry, error) {
	name := id + entrySuffix
	b, err := o.dir.Read(name)
	if errors.Is(err, state.ErrCorrupt) {
		o.loadErrors = append(o.loadErrors, err)
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var e Entry
	switch err := json.Unmarshal(b, &e); {
	case !ValidAlertID(id):
		o.loadErrors = append(o.loadErrors, o.dir.Quarantine(name, "file name is not an alert id"))
		return nil, nil
	case err != nil:
		o.loadErrors = append(o.loadErrors, o.dir.Quarantine(name, "undecodable entry: "+err.Error()))
		return nil, nil
	case e.Doc.AlertID != id:
		o.loadErrors = append(o.loadErrors, o.dir.Quarantine(name, fmt.Sprintf("alert_id %q does not match the file name", e.Doc.AlertID)))
		return nil, nil
	}
	return &e, nil
}

func (o *Outbox) note(err error) {
	if err != nil {
		o.loadErrors = append(o.loadErrors, err)
	}
}

func (o *Outbox) horizon() time.Duration {
	if o.DedupHorizon > 0 {
		return o.DedupHorizon
	}
	return DefaultDedupHorizon
}

// ValidAlertID accepts the alert ids secwatch makes (hex digests) and
// other ids that are safe as file names: [A-Za-z0-9_-], 1 to 128 bytes.
// Every outbox (this one and the Redis one) refuses the others.
func ValidAlertID(id string) bool {
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

// enqueue queues a change for the committer; o.mu must be held.
func (o *Outbox) enqueue(p *op) *op {
	o.queued++
	p.seq = o.queued
	o.ops = append(o.ops, p)
	if !o.running {
		o.running = true
		go o.commitLoop()
	}
	return p
}

// await waits, with o.mu held, for the commit of p and returns its error.
func (o *Outbox) await(p *op) error {
	p.wait = true
	for o.done < p.seq {
		o.committed.Wait()
	}
	return p.err
}

// Put stores doc durably before returning true. It returns false, writing
// nothing, when an alert with the same alert_id is pending, was delivered
// within the dedup horizon before now, or is in the dead-letter directory:
// that is how a restarted daemon that fires an alert again sends nothing
// twice. If the write fails, the alert is still queued in memory and Put
// returns true and the error. An alert_id that is not a safe file name
// ([A-Za-z0-9_-], at most 128 bytes) is refused with an error.
func (o *Outbox) Put(doc Document, now time.Time) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p, err := o.put(doc, now)
	if p == nil {
		return false, err
	}
	if err := o.await(p); err != nil {
		return true, fmt.Errorf("outbox put %s (queued in memory only): %w", doc.AlertID, err)
	}
	return true, nil
}

// PutLater is Put without the wait: it returns once doc is queued, and
// the committer makes it durable, then visible to Pending, within
// milliseconds. Sync waits for that. A failed write is passed to OnError;
// the alert stays queued in memory.
func (o *Outbox) PutLater(doc Document, now time.Time) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p, err := o.put(doc, now)
	return p != nil, err
}

// put queues doc unless it is known; o.mu must be held.
func (o *Outbox) put(doc Document, now time.Time) (*op, error) {
	id := doc.AlertID
	if err := o.book.CheckPut(id); err != nil {
		return nil, err
	}
	if o.book.Has(id) || o.deadIDs[id] || o.delivered.hasWithin(id, now, o.horizon()) {
		o.book.Duplicate()
		return nil, nil
	}
	o.book.Add(&Entry{Doc: doc, Queued: now.UTC(), held: true}, true)
	return o.enqueue(&op{kind: opWrite, id: id}), nil
}

// Sync waits until every change queued before it is committed. It returns
// the failed writes of changes nobody waited for (PutLater, Ack) since the
// previous Sync.
func (o *Outbox) Sync() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for upto := o.queued; o.done < upto; {
		o.committed.Wait()
	}
	err := errors.Join(o.asyncErrs...)
	o.asyncErrs = nil
	return err
}

// commitLoop is the committer: started by the first change queued, it
// commits batches until the queue is empty, then ends. Changes queued
// while it writes form the next batch: that is the group commit.
func (o *Outbox) commitLoop() {
	for {
		o.commit()
		o.mu.Lock()
		if len(o.ops) == 0 {
			o.running = false
			o.committed.Broadcast()
			o.mu.Unlock()
			return
		}
		o.mu.Unlock()
	}
}

// commit writes one batch: every change queued so far, appended to the
// journal with one fsync.
func (o *Outbox) commit() {
	if o.beforeCommit != nil {
		o.beforeCommit()
	}
	o.mu.Lock()
	ops := o.ops
	o.ops = nil
	if len(ops) == 0 {
		o.mu.Unlock()
		return
	}
	upto := ops[len(ops)-1].seq
	// The last change of each id decides what its record becomes.
	last := make(map[string]*op, len(ops))
	for _, p := range ops {
		last[p.id] = p
	}
	var writes, finishes, deads []*op
	var entries []Entry // copies of the entries of writes (nil: opRedrive)
	var finished []string
	var finishedAt []time.Time
	for _, p := range ops {
		if last[p.id] != p {
			continue
		}
		switch p.kind {
		case opWrite:
			e := o.book.Entry(p.id)
			if e == nil { // finished or dead-lettered since: a later op
				continue
			}
			writes, entries = append(writes, p), append(entries, e.Clone())
		case opRedrive:
			writes, entries = append(writes, p), append(entries, Entry{})
		case opFinish:
			finished = append(finished, p.id)
			finishedAt = append(finishedAt, p.at)
			finishes = append(finishes, p)
		case opDead:
			deads = append(deads, p)
		}
	}
	o.mu.Unlock()

	// Encoded outside the lock too, from the copies.
	b := batch{buf: make([]byte, 0, len(writes)*1024)}
	for i, p := range writes {
		body := p.dead
		if p.kind == opWrite {
			var err error
			if body, err = json.Marshal(&entries[i]); err != nil {
				p.err = err
				continue
			}
		}
		b.add(p.id, recEntry, body)
	}

	// Outside the lock: the engine's PutLater never waits for a disk.
	// The delivery records and dead-letter files come before the removal
	// records they allow (a crash in between leaves entries that the next
	// start drops); when they fail, the entries stay, so the next start
	// finishes them.
	var journalErr error
	if len(finished) > 0 {
		if journalErr = o.delivered.journal(finished, finishedAt); journalErr == nil {
			for _, id := range finished {
				b.add(id, recRemove, []byte(id))
			}
		}
	}
	for _, p := range deads {
		if p.err = o.dead.Write(p.id+entrySuffix, p.dead); p.err == nil {
			b.add(p.id, recRemove, []byte(p.id))
		}
	}
	var appendErr, compactErr error
	if len(b.buf) > 0 {
		appendErr = o.jr.append(b.buf, b.recs)
	}
	if appendErr == nil && o.jr.due() {
		compactErr = o.jr.compact()
	}

	o.mu.Lock()
	var failed []error
	released := false
	for _, p := range writes {
		if p.err == nil {
			p.err = appendErr
		}
		if e := o.book.Entry(p.id); e != nil && e.held {
			e.held = false // durable, or failed and delivered from memory
			released = true
		}
	}
	for _, p := range finishes {
		p.err = errors.Join(journalErr, appendErr)
	}
	for _, p := range deads {
		if p.err == nil {
			p.err = appendErr
		}
	}
	for _, p := range ops {
		if last[p.id] != p && p.kind == opWrite {
			p.err = last[p.id].err
		}
		if p.err != nil && !p.wait {
			failed = append(failed, fmt.Errorf("outbox commit %s: %w", p.id, p.err))
		}
	}
	if compactErr != nil {
		failed = append(failed, fmt.Errorf("outbox: %w", compactErr))
	}
	if len(finished) > 0 && journalErr == nil {
		// Amortized: rarely writes, and then under the lock.
		if err := o.delivered.compactIfDue(finishedAt[len(finishedAt)-1]); err != nil {
			failed = append(failed, fmt.Errorf("outbox: compact delivered ids: %w", err))
		}
	}
	o.asyncErrs = append(o.asyncErrs, failed...)
	if len(o.asyncErrs) > 100 { // keep the first and the latest
		o.asyncErrs = append(o.asyncErrs[:1], o.asyncErrs[len(o.asyncErrs)-99:]...)
	}
	o.mu.Unlock()
	// The callbacks run before Sync returns for this batch (outside the
	// lock: OnDurable wakes the dispatcher, which takes it), so that a
	// Sync that returned has had its failures reported and its alerts
	// announced.
	if o.OnError != nil {
		for _, err := range failed {
			o.OnError(err)
		}
	}
	if released && o.OnDurable != nil {
		o.OnDurable()
	}
	o.mu.Lock()
	o.done = upto
	o.committed.Broadcast()
	o.mu.Unlock()
}

// batch is the records of one commit, appended with one write.
type batch struct {
	buf  []byte
	recs []batchRec
}

func (b *batch) add(id string, kind byte, body []byte) {
	off := len(b.buf)
	b.buf = appendRecord(b.buf, kind, body)
	b.recs = append(b.recs, batchRec{id: id, kind: kind, off: off, size: len(b.buf) - off})
}

// Ack records that notifier delivered alert id, and reports whether the
// alert is complete: every notifier has delivered it, so it is recorded as
// delivered and no longer pending. The change is in memory at once and on
// disk at the next commit.
func (o *Outbox) Ack(id, notifier string, now time.Time) (complete bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, complete, err = o.book.Ack(id, notifier)
	switch {
	case err != nil:
		return false, err
	case complete:
		o.delivered.note(id, now)
		o.enqueue(&op{kind: opFinish, id: id, at: now})
	default:
		o.enqueue(&op{kind: opWrite, id: id})
	}
	return complete, nil
}

// Fail records a delivery round that failed with err: one more attempt,
// the next one not before next.
func (o *Outbox) Fail(id string, err error, next time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, err := o.book.Fail(id, err, next); err != nil {
		return err
	}
	return o.write("fail", id)
}

// Reject records that notifier refused alert id with a permanent error:
// it will not be tried again for that notifier. The dispatcher
// dead-letters an entry once each notifier has acked or rejected it.
func (o *Outbox) Reject(id, notifier string, err error) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, err := o.book.Reject(id, notifier, err); err != nil {
		return err
	}
	return o.write("reject", id)
}

// write commits the entry id as it is and waits; o.mu must be held.
func (o *Outbox) write(what, id string) error {
	if err := o.await(o.enqueue(&op{kind: opWrite, id: id})); err != nil {
		return fmt.Errorf("outbox %s %s: %w", what, id, err)
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
	e, err := o.book.DeadLetter(id, reason, time.Now())
	if err != nil {
		return err
	}
	o.deadIDs[id] = true
	b, err := json.Marshal(e)
	if err == nil {
		// A crash between the dead-letter write and the removal leaves
		// both files; loading drops the outbox copy.
		err = o.await(o.enqueue(&op{kind: opDead, id: id, dead: b}))
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
	return o.book.Lookup(id)
}

// Pending returns copies of the pending entries that are committed (an
// alert queued by PutLater shows once it is on disk), in delivery order
// (Ledger.Pending).
func (o *Outbox) Pending() []Entry {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.book.Pending()
}

// Len returns the number of pending alerts, committed or not.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.book.Len()
}

// Queued returns the number of alerts Put and PutLater queued since open;
// Duplicates the number they refused as already pending, delivered within
// the dedup horizon or dead-lettered.
func (o *Outbox) Queued() int64     { return o.book.Queued() }
func (o *Outbox) Duplicates() int64 { return o.book.Duplicates() }

// DeadLetters returns the number of alerts in the dead-letter directory
// (found at open plus dead-lettered since). It only grows, so it can back
// a gauge that an operator alarms on.
func (o *Outbox) DeadLetters() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.deadIDs)
}

// DedupRecord returns the number of delivered ids remembered and the
// number forgotten, since open, because the record was full.
func (o *Outbox) DedupRecord() (ids int, evicted int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.delivered.len(), o.delivered.evicted()
}

// Notifiers returns the names of the notifiers that must ack each alert.
func (o *Outbox) Notifiers() []string { return o.book.Notifiers() }

// LoadErrors returns the problems OpenOutbox met and got past: corrupt
// files moved aside (each matching state.ErrCorrupt) and failed writes.
func (o *Outbox) LoadErrors() []error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.loadErrors)
}

// Close commits what is queued and releases the outbox directory.
// Pending alerts stay on disk for the next OpenOutbox.
func (o *Outbox) Close() error {
	o.mu.Lock()
	if o.book.Closed() {
		o.mu.Unlock()
		return nil
	}
	o.book.Close() // nothing is queued from here on
	for o.running {
		o.committed.Wait()
	}
	o.mu.Unlock()
	return errors.Join(o.jr.close(), o.dir.Close())
}
