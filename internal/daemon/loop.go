package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/alerting"
	"github.com/secwatch/secwatch/internal/ingest"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
	"github.com/secwatch/secwatch/internal/yamldiag"
)

// engineLoop is the state the engine goroutine owns.
type engineLoop struct {
	d         *Daemon
	log       zerolog.Logger
	store     backend
	engine    *rules.Engine
	flood     *alerting.Flood
	outbox    outbox
	cursors   map[string]map[string]any // an ingest.Cursor, or the JSON it was restored from
	seq       uint64
	metrics   *metrics
	rulePaths []string
	dirty     bool

	// Periodic checkpoints are written off the engine goroutine.
	writes sync.WaitGroup // the writer goroutine, while one runs
	ckMu   sync.Mutex
	ckNext *checkpoint // the newest snapshot not yet written
	ckBusy bool
	ckImg  *rules.Image // the engine image, when free (ckOut false)
	ckOut  bool         // the image is held by a checkpoint not yet encoded
	ckBuf  []byte       // a written checkpoint's encoding buffer, for the next one
	retry  atomic.Bool  // a write failed: write again at the next tick
	// A periodic checkpoint whose engine image is still being copied
	// (copy-on-write, between events: rules.Engine.BeginCapture).
	capturing *checkpoint

	hard hardening  // eviction alerts, far-future events (hardening.go)
	self selfAlerts // alerts about secwatch itself (selfalert.go)
	mute *silencer  // nil: no silences
}

// run observes records until the channel closes, then writes the final
// checkpoint. Only the close of records ends it: the sources' context is
// what stops them.
func (l *engineLoop) run(records <-chan ingest.Record, reload, sighup <-chan struct{}) error {
	cfg := l.d.Config
	tick := time.NewTicker(cfg.Engine.Tick)
	defer tick.Stop()
	ckTick := time.NewTicker(cfg.CheckpointInterval)
	defer ckTick.Stop()
	l.metrics.engine.beat(time.Now())
	l.hard.start(l.engine)
	for {
		// While a capture is in progress, idle moments copy more of it.
		var idle <-chan struct{}
		if l.capturing != nil {
			idle = closedChan
		}
		select {
		case rec, ok := <-records:
			if done, err := l.record(&rec, ok); done {
				return err
			}
		case <-idle:
			select {
			case rec, ok := <-records: // lines first
				if done, err := l.record(&rec, ok); done {
					return err
				}
			default:
				l.captureStep(captureIdleStep)
			}
		case now := <-tick.C:
			if !l.d.Once {
				l.emit(l.engine.Advance(now))
			}
			l.flush(now)
			l.metrics.setRules(l.engine.Stats())
			l.metrics.engine.beat(now)
		case <-ckTick.C:
			if l.dirty || l.retry.Swap(false) {
				l.checkpointAsync()
			}
		case <-reload:
			l.reload("rule files changed")
		case <-sighup:
			l.reload("SIGHUP")
		}
	}
}

// closedChan is always ready.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Groups copied per step of a capture in progress: after each record, and
// when no record is waiting. A group costs 0.5–1 µs to copy out of a large
// state, so a step after a record costs a few µs, and an idle one about
// 0.1 ms, the time the engine then makes a line arriving wait at most.
const (
	captureRecordStep = 8
	captureIdleStep   = 128
)

// record handles what the records channel gave: a record, or its close
// (ok false), which ends the loop with the final checkpoint (done).
func (l *engineLoop) record(rec *ingest.Record, ok bool) (done bool, err error) {
	if !ok {
		if l.d.Once {
			// A scheduled run is the only chance absent rules get to
			// notice silence up to now.
			l.emit(l.engine.Advance(time.Now()))
		}
		l.self.final = true
		l.flush(time.Now())
		l.metrics.setRules(l.engine.Stats())
		err := l.checkpoint()
		if err != nil {
			l.selfAlerts(time.Now()) // the state cannot be written: say so before the drain
		}
		return true, err
	}
	l.observe(rec)
	if l.capturing != nil {
		l.captureStep(captureRecordStep)
	}
	return false, nil
}

// captureStep copies n more groups of the capture in progress, and hands
// its checkpoint to the writer once the copy is complete.
func (l *engineLoop) captureStep(n int) {
	if l.capturing == nil || !l.engine.CaptureStep(n) {
		return
	}
	ck := l.capturing
	l.capturing = nil
	l.queue(ck)
}

// observe feeds a record's event to the engine and stores its cursor.
// Records arrive in read order, so a stored cursor never runs ahead of what
// the engine has seen. A Progress record only moves a cursor; a Done record
// forgets a file that was rotated away or deleted and read to its end.
func (l *engineLoop) observe(rec *ingest.Record) {
	l.dirty = true
	if !rec.Progress && !rec.Done {
		// The engine first: a checkpoint below must never hold a cursor
		// past an event the engine has not counted.
		l.metrics.events.Add(1)
		l.emit(l.engine.Observe(&rec.Event))
	}
	if rec.Cursor == nil {
		return
	}
	c := l.cursors[rec.Source]
	if c == nil {
		c = map[string]any{}
		l.cursors[rec.Source] = c
	}
	key := rec.Cursor.CursorKey()
	_, known := c[key]
	if rec.Done {
		delete(c, key)
	} else {
		c[key] = rec.Cursor
	}
	// An S3 object's cursor comes and goes with every object: the queue
	// message it came from is what survives a crash, not a path.
	if _, object := rec.Cursor.(ingest.S3Cursor); (known == rec.Done || rec.Reset) && !object {
		// A file appeared or went away (start, rotation), or was
		// truncated: checkpoint now, not at the next interval, so that a
		// crash before then cannot forget a file that has since been
		// renamed out of the source's paths, nor the window state of
		// lines that can no longer be read again.
		if err := l.checkpoint(); err != nil {
			l.log.Error().Err(err).Msg("checkpoint failed; will retry")
		}
	}
}

// emit passes alerts through flood control into the outbox, which makes
// each durable before it wakes the dispatcher.
func (l *engineLoop) emit(alerts []rules.Alert) {
	if len(alerts) == 0 {
		return
	}
	l.dirty = true
	for i := range alerts {
		a := &alerts[i]
		if l.flood.Admit(a) {
			l.put(alerting.NewDocument(a))
		}
	}
}

func (l *engineLoop) flush(now time.Time) {
	for _, doc := range l.flood.Flush(now) {
		l.put(doc)
	}
	l.evictionAlerts(now)
	l.selfAlerts(now)
}

// put queues one document without waiting for the outbox to make it
// durable: the outbox wakes the dispatcher once it has (dirBackend.start,
// redisBackend.start), and a checkpoint waits for it (saveCheckpoint). The
// outbox counts what it queued and what it refused as the same firing.
func (l *engineLoop) put(doc alerting.Document) {
	if l.mute.mute(&doc, time.Now()) {
		return
	}
	if _, err := l.outbox.PutLater(doc, time.Now()); err != nil {
		l.log.Error().Err(err).Str("alert_id", doc.AlertID).Str("rule", doc.Rule).Msg("alert refused by the outbox")
	}
}

// snapshot captures everything a checkpoint holds, the engine's state into
// img (takeImage), whose checkpoint it becomes. It runs on the engine
// goroutine and shares nothing the engine goes on changing.
func (l *engineLoop) snapshot(img *rules.Image, buf []byte) (*checkpoint, error) {
	flood, err := l.flood.MarshalJSON()
	if err != nil {
		return nil, err
	}
	// Cursors are values the sources do not change: encoded here, they
	// cost no I/O.
	cursors := make(map[string]map[string]json.RawMessage, len(l.cursors))
	for s, cs := range l.cursors {
		enc := make(map[string]json.RawMessage, len(cs))
		for k, c := range cs {
			b, err := json.Marshal(c)
			if err != nil {
				return nil, fmt.Errorf("cursor %s of source %s: %w", k, s, err)
			}
			enc[k] = b
		}
		cursors[s] = enc
	}
	l.seq++
	l.dirty = false
	// A copy only, and copy-on-write: the rest of it is made between the
	// next events (captureStep), or at once by FinishCapture. The encoding
	// is the writer's.
	l.engine.BeginCapture(img)
	return &checkpoint{Seq: l.seq, Saved: time.Now().UTC(), image: img, engine: buf, Cursors: cursors, Flood: flood}, nil
}

// takeImage returns the engine image to capture into and a buffer for its
// encoding: those of a checkpoint still waiting to be written, which the
// new one replaces, or the free ones. There is one image, reused from
// checkpoint to checkpoint (it costs about the state's size); ok is false
// while the writer encodes it.
func (l *engineLoop) takeImage() (img *rules.Image, buf []byte, ok bool) {
	l.ckMu.Lock()
	defer l.ckMu.Unlock()
	if w := l.ckNext; w != nil {
		l.ckNext = nil
		return w.image, w.engine, true
	}
	if l.ckOut {
		return nil, nil, false
	}
	img, buf = l.ckImg, l.ckBuf
	if img == nil {
		img = new(rules.Image)
	}
	l.ckImg, l.ckBuf, l.ckOut = nil, nil, true
	return img, buf, true
}

// give takes back the image (nil: none) and a buffer for the next
// snapshot.
func (l *engineLoop) give(img *rules.Image, buf []byte) {
	l.ckMu.Lock()
	if img != nil {
		l.ckImg, l.ckOut = img, false
	}
	if cap(buf) > cap(l.ckBuf) {
		l.ckBuf = buf
	}
	l.ckMu.Unlock()
}

// checkpoint writes a checkpoint now and waits for it (at shutdown, and
// when the set of files changes), after any write still in flight.
func (l *engineLoop) checkpoint() error {
	if ck := l.capturing; ck != nil {
		// This one supersedes it: its image is free again.
		l.engine.FinishCapture()
		l.capturing = nil
		l.give(ck.image, ck.engine)
	}
	img, buf, ok := l.takeImage()
	if !ok {
		l.writes.Wait() // the writer hands the image back before it ends
		img, buf, _ = l.takeImage()
	}
	ck, err := l.snapshot(img, buf)
	if err != nil {
		l.give(img, buf)
		return err
	}
	l.engine.FinishCapture()
	l.writes.Wait()
	err = l.write(ck)
	l.give(nil, ck.engine)
	return err
}

// checkpointAsync takes the snapshot (a copy) on the engine goroutine and
// leaves encoding and the fsynced write to another goroutine, so that the engine
// keeps observing meanwhile. Writes never overlap and happen in order; a
// snapshot taken while one is in flight replaces any older one waiting.
func (l *engineLoop) checkpointAsync() {
	if l.capturing != nil {
		// The last one is still being copied: the next tick takes this one.
		l.retry.Store(true)
		return
	}
	img, buf, ok := l.takeImage()
	if !ok {
		// The writer is encoding the last one: the next tick takes this one.
		l.retry.Store(true)
		return
	}
	ck, err := l.snapshot(img, buf)
	if err != nil { // before any capture began
		l.give(img, buf)
		l.log.Error().Err(err).Msg("checkpoint failed; will retry")
		l.retry.Store(true)
		return
	}
	l.capturing = ck
	l.captureStep(captureRecordStep)
}

// queue hands a snapshot whose copy is complete to the writer goroutine.
func (l *engineLoop) queue(ck *checkpoint) {
	l.ckMu.Lock()
	l.ckNext = ck // takeImage took any older one waiting
	if l.ckBusy {
		l.ckMu.Unlock()
		return
	}
	l.ckBusy = true
	l.writes.Add(1)
	l.ckMu.Unlock()
	go func() {
		defer l.writes.Done()
		for {
			l.ckMu.Lock()
			next := l.ckNext
			l.ckNext = nil
			if next == nil {
				l.ckBusy = false
				l.ckMu.Unlock()
				return
			}
			l.ckMu.Unlock()
			if err := l.write(next); err != nil {
				l.log.Error().Err(err).Msg("checkpoint failed; will retry")
				l.retry.Store(true)
			}
			l.give(nil, next.engine)
		}
	}()
}

func (l *engineLoop) write(ck *checkpoint) error {
	// Encoded before the write waits for the outbox and the disk, so that
	// the image is free for the next snapshot meanwhile.
	if img := ck.encodeEngine(); img != nil {
		l.give(img, nil)
	}
	if err := l.store.saveCheckpoint(ck); err != nil {
		l.metrics.checkpointFailures.Add(1)
		l.metrics.state.failed(err, time.Now())
		return err
	}
	l.metrics.state.saved()
	l.metrics.checkpoints.Add(1)
	l.metrics.lastCheckpoint.Store(time.Now().UnixNano())
	l.d.checkpointSaved(ck)
	return nil
}

// reload loads the rule files again. An invalid edit keeps the running
// rules and logs every problem with its position; a valid one replaces the
// rules, keeping the windows of those whose definition did not change.
func (l *engineLoop) reload(why string) {
	rs, err := rulefile.Load(l.rulePaths...)
	if err != nil {
		var list yamldiag.ErrorList
		if errors.As(err, &list) {
			for _, e := range list {
				l.log.Error().Str("problem", e.Error()).Msg("rule reload rejected")
			}
		} else {
			l.log.Error().Err(err).Msg("rule reload rejected")
		}
		l.metrics.reloadFailures.Add(1)
		return
	}
	if running := len(l.engine.Rules()); len(rs) == 0 && running > 0 {
		// No rules at all is far likelier a file caught between its
		// truncation and its new content (`rulegen > rules.yaml`) than a
		// wish to detect nothing, and taking it would drop every window:
		// the rules that come back with the content would start afresh.
		l.log.Error().Int("running", running).
			Str("problem", "no rules in the rule files (empty or still being written?); to remove every rule, restart").
			Msg("rule reload rejected")
		l.metrics.reloadFailures.Add(1)
		return
	}
	kept, started := l.engine.Replace(rs)
	l.metrics.reloads.Add(1)
	l.metrics.setRules(l.engine.Stats())
	l.log.Info().Str("trigger", why).Strs("kept", kept).Strs("started", started).Msg("rules reloaded")
}
