package daemon

import (
	"fmt"
	"github.com/secwatch/secwatch/internal/alerting"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// The engine queues alerts without waiting for their fsync (PutLater); a
// checkpoint saved after them must not be on disk before they are, or a
// crash right after it would lose them: the checkpoint says their groups
// fired. With 200 alerts queued just before, a saveCheckpoint that did not
// wait for the outbox would return long before the last one is written.
func TestCheckpointWaitsForOutbox(t *testing.T) {
	b := &dirBackend{dir: openState(t), log: zerolog.Nop()}
	const n = 200
	q := queueThenCheckpoint(t, b, n)
	defer q.Close()
	stored, err := alerting.ReadPending(filepath.Join(b.dir.Path(), "outbox"))
	if err != nil {
		t.Fatal(err)
	}
	missing := n - len(stored)
	if missing > 0 {
		t.Errorf("%d of %d alerts queued before the checkpoint were not on disk when it was saved", missing, n)
	}
}

// queueThenCheckpoint opens b's outbox, queues n alerts (ids %032x of
// 0..n-1) with PutLater and saves a checkpoint right after. The caller
// checks the alerts were stored by then, and closes the outbox.
func queueThenCheckpoint(t *testing.T, b backend, n int) outbox {
	t.Helper()
	q, _, err := b.openOutbox([]string{"stdout"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		doc := alerting.Document{AlertID: fmt.Sprintf("%032x", i), Rule: "r", Time: "2026-01-28T19:15:22Z"}
		if ok, err := q.PutLater(doc, time.Now()); !ok || err != nil {
			t.Fatalf("PutLater %d = %v, %v", i, ok, err)
		}
	}
	if err := b.saveCheckpoint(&checkpoint{Seq: 1, Saved: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return q
}
