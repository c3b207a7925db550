package alerting

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/secwatch/secwatch/internal/state"
)

// Redrive moves dead letter id back into the outbox while it is open: the
// alert starts over (queued at now, no attempts or rejections) except for
// the notifiers that already acked it, and OnDurable is called so the
// dispatcher sends it. It is journalled first with its dead-letter mark,
// as a hand-made move is (docs/delivery.md, "Dead letters"), so a crash
// before the dead letter is removed re-drives it at the next start.
func (o *Outbox) Redrive(id string, now time.Time) error {
	o.mu.Lock()
	if !ValidAlertID(id) || !o.deadIDs[id] {
		o.mu.Unlock()
		return fmt.Errorf("outbox redrive %s: no such dead letter", id)
	}
	b, err := o.dead.Read(id + entrySuffix)
	var e Entry
	if err == nil {
		err = json.Unmarshal(b, &e)
	}
	if err == nil {
		err = o.await(o.enqueue(&op{kind: opRedrive, id: id, dead: b}))
	}
	if err == nil {
		err = o.dead.Remove(id + entrySuffix)
	}
	if err != nil {
		o.mu.Unlock()
		return fmt.Errorf("outbox redrive %s: %w", id, err)
	}
	delete(o.deadIDs, id)
	o.book.Add(&Entry{Doc: e.Doc, Queued: now.UTC(), Acked: e.Acked}, false)
	wake := o.OnDurable
	o.mu.Unlock()
	if wake != nil {
		wake()
	}
	return nil
}

// DropDeadLetter deletes dead letter id for good. The id is still refused
// by Put until the outbox is opened again.
func (o *Outbox) DropDeadLetter(id string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !ValidAlertID(id) || !o.deadIDs[id] {
		return fmt.Errorf("outbox drop %s: no such dead letter", id)
	}
	if err := o.dead.Remove(id + entrySuffix); err != nil {
		return fmt.Errorf("outbox drop %s: %w", id, err)
	}
	return nil
}

// RedriveClosed moves dead letter id back into the outbox directory dir,
// which the caller opened with state.Open (holding its lock: no daemon has
// it open), as an entry file with its dead-letter mark, which the next
// start takes into the journal and sends.
func RedriveClosed(dir *state.Dir, id string) error {
	return withClosed(dir, id, func(d, dead *state.Dir) error {
		b, err := dead.Read(id + entrySuffix)
		if err == nil {
			err = d.Write(id+entrySuffix, b)
		}
		if err == nil {
			err = dead.Remove(id + entrySuffix)
		}
		if err != nil {
			return fmt.Errorf("outbox redrive %s: %w", id, err)
		}
		return nil
	})
}

// DropClosed deletes dead letter id of the outbox directory dir, opened
// as for RedriveClosed.
func DropClosed(dir *state.Dir, id string) error {
	return withClosed(dir, id, func(_, dead *state.Dir) error { return dead.Remove(id + entrySuffix) })
}

func withClosed(d *state.Dir, id string, f func(d, dead *state.Dir) error) error {
	if !ValidAlertID(id) {
		return fmt.Errorf("outbox: invalid alert_id %q", id)
	}
	dead, err := d.Sub(deadLetterDir)
	if err != nil {
		return err
	}
	if _, err := dead.Read(id + entrySuffix); err != nil {
		return fmt.Errorf("outbox: no dead letter %s in %s", id, filepath.Join(d.Path(), deadLetterDir))
	}
	return f(d, dead)
}
