package alerting

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// PutLater returns before the alert is on disk; no notifier sees it
// (Pending) until the committer has written it, and Sync waits for that.
func TestOutboxPutLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "outbox")
		o := openOutbox(t, dir, "stdout")
		release := make(chan struct{})
		o.beforeCommit = func() { <-release }
		var woken atomic.Int32
		o.OnDurable = func() { woken.Add(1) }

		for n := 1; n <= 3; n++ {
			if ok, err := o.PutLater(testDoc(n), t0.Add(time.Duration(n)*time.Second)); !ok || err != nil {
				t.Fatalf("PutLater(%d) = %v, %v", n, ok, err)
			}
		}
		if ok, _ := o.PutLater(testDoc(2), t0); ok {
			t.Error("PutLater of a queued id = true; want false")
		}
		if _, err := o.Ack(testDoc(1).AlertID, "stdout", t0); err == nil {
			t.Error("Ack of an uncommitted alert succeeded")
		}
		synced := make(chan error)
		go func() { synced <- o.Sync() }()
		synctest.Wait() // the committer and Sync are blocked
		select {
		case err := <-synced:
			t.Fatalf("Sync returned (%v) before the commit", err)
		default:
		}
		if p := o.Pending(); len(p) != 0 || o.Len() != 3 {
			t.Fatalf("before the commit: Pending %v, Len %d; want none pending of 3 queued", ids(p), o.Len())
		}
		if onDisk(t, dir, testDoc(1).AlertID) || woken.Load() != 0 {
			t.Fatal("written or announced before the commit")
		}
		close(release)
		if err := <-synced; err != nil {
			t.Fatal(err)
		}
		p := o.Pending()
		if len(p) != 3 || p[0].Doc.AlertID != testDoc(1).AlertID || p[2].Doc.AlertID != testDoc(3).AlertID {
			t.Fatalf("after Sync: Pending %v; want the three in order", ids(p))
		}
		for n := 1; n <= 3; n++ {
			if !onDisk(t, dir, testDoc(n).AlertID) {
				t.Errorf("alert %d not on disk after Sync", n)
			}
		}
		if woken.Load() == 0 {
			t.Error("OnDurable not called after the commit")
		}
		// Acks go in one batch: journal and removals, on disk after Sync.
		for n := 1; n <= 3; n++ {
			if _, err := o.Ack(testDoc(n).AlertID, "stdout", t0); err != nil {
				t.Fatal(err)
			}
		}
		if err := o.Sync(); err != nil {
			t.Fatal(err)
		}
		for n := 1; n <= 3; n++ {
			if onDisk(t, dir, testDoc(n).AlertID) {
				t.Errorf("alert %d still on disk after its ack was committed", n)
			}
		}
		o.Close()
		o = openOutbox(t, dir, "stdout")
		if o.Len() != 0 {
			t.Errorf("after reopening: %d pending; want 0", o.Len())
		}
		if ok, _ := o.Put(testDoc(2), t0.Add(time.Hour)); ok {
			t.Error("re-fired alert delivered before the restart was queued again")
		}
	})
}

// Close commits what is queued: nothing put is lost by a clean stop.
func TestOutboxCloseCommits(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o := openOutbox(t, dir, "stdout")
	for n := range 50 {
		if ok, err := o.PutLater(testDoc(n), t0); !ok || err != nil {
			t.Fatalf("PutLater(%d) = %v, %v", n, ok, err)
		}
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o = openOutbox(t, dir, "stdout")
	if got := len(o.Pending()); got != 50 {
		t.Errorf("after Close and reopen: %d pending; want 50", got)
	}
}
