package redisstore

import (
	"context"
	"errors"
	"fmt"
	"github.com/secwatch/secwatch/internal/alerting"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/testutil/redisserver"
)

func TestPutLaterIsClaimedBySync(t *testing.T) {
	srv := redisserver.Start(t)
	s := newStore(t, srv.Addr, "a")
	a := newOutbox(t, s)
	var woken atomic.Int64
	a.OnClaimed = func() { woken.Add(1) }
	a.OnError = func(err error) { t.Errorf("OnError: %v", err) }
	now := time.Now()
	for _, id := range []string{"l1", "l2", "l3"} {
		if ok, err := a.PutLater(doc(id), now); !ok || err != nil {
			t.Fatalf("PutLater(%s): got %v, %v, want true, nil", id, ok, err)
		}
	}
	if ok, err := a.PutLater(doc("bad id"), now); ok || err == nil {
		t.Fatalf("PutLater of an invalid id: got %v, %v, want false and an error", ok, err)
	}
	if err := a.Sync(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range a.Pending() {
		got = append(got, e.Doc.AlertID)
	}
	if fmt.Sprint(got) != "[l1 l2 l3]" {
		t.Fatalf("pending after Sync: got %v, want [l1 l2 l3]", got)
	}
	owners, err := s.client.HGetAll(context.Background(), "t:owner").Result()
	if err != nil || len(owners) != 3 || owners["l1"] != "a" {
		t.Fatalf("owners in redis after Sync: got %v, %v", owners, err)
	}
	if woken.Load() == 0 {
		t.Error("OnClaimed was not called")
	}
	// The same ids again: pending here, so duplicates, decided by the
	// claimer.
	for _, id := range []string{"l1", "l2"} {
		a.PutLater(doc(id), now)
	}
	if err := a.Sync(); err != nil {
		t.Fatal(err)
	}
	if a.Queued() != 3 || a.Duplicates() != 2 || a.Len() != 3 || a.Unsynced() != 0 {
		t.Fatalf("claimed %d duplicates %d pending %d unsynced %d, want 3 2 3 0", a.Queued(), a.Duplicates(), a.Len(), a.Unsynced())
	}

	// Close claims whatever is still queued before it returns.
	const n = 100
	for i := range n {
		a.PutLater(doc(fmt.Sprintf("c%03d", i)), now)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.PutLater(doc("late"), now); ok || err == nil {
		t.Fatalf("PutLater after Close: got %v, %v, want false and an error", ok, err)
	}
	if h, err := s.client.HLen(context.Background(), "t:outbox").Result(); err != nil || h != 3+n {
		t.Fatalf("outbox hash after Close: got %d, %v, want %d", h, err, 3+n)
	}
}

func TestPutLaterTwoReplicasOneOwner(t *testing.T) {
	srv := redisserver.Start(t)
	a := newOutbox(t, newStore(t, srv.Addr, "a"))
	b := newOutbox(t, newStore(t, srv.Addr, "b"))
	defer a.Close()
	defer b.Close()
	const n = 200
	now := time.Now()
	var wg sync.WaitGroup
	for _, o := range []*Outbox{a, b} {
		wg.Go(func() {
			for i := range n {
				if ok, err := o.PutLater(doc(fmt.Sprintf("d%03d", i)), now); !ok || err != nil {
					t.Errorf("PutLater %d: got %v, %v", i, ok, err)
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(a.Sync(), b.Sync()); err != nil {
		t.Fatal(err)
	}
	owned := map[string]int{}
	for _, o := range []*Outbox{a, b} {
		for _, e := range o.Pending() {
			owned[e.Doc.AlertID]++
		}
	}
	for i := range n {
		if id := fmt.Sprintf("d%03d", i); owned[id] != 1 {
			t.Errorf("alert %s is pending on %d replicas, want 1", id, owned[id])
		}
	}
	if c, d := a.Queued()+b.Queued(), a.Duplicates()+b.Duplicates(); c != n || d != n {
		t.Errorf("claimed %d, duplicates %d over both replicas, want %d and %d", c, d, n, n)
	}
}

func TestPutLaterRedisDown(t *testing.T) {
	srv := redisserver.Start(t)
	s := newStore(t, srv.Addr, "a")
	a := newOutbox(t, s)
	defer a.Close()
	var reported atomic.Int64
	a.OnError = func(error) { reported.Add(1) }
	now := time.Now()
	if ok, err := a.PutLater(doc("up"), now); !ok || err != nil {
		t.Fatalf("PutLater: %v, %v", ok, err)
	}
	if err := a.Sync(); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	if ok, err := a.PutLater(doc("down"), now); !ok || err != nil {
		t.Fatalf("PutLater with redis down: got %v, %v, want true, nil (it does no I/O)", ok, err)
	}
	if err := a.Sync(); err == nil {
		t.Fatal("Sync with redis down: got no error")
	}
	if reported.Load() == 0 {
		t.Error("OnError was not called for the failed claim")
	}
	e, ok := a.Lookup("down")
	if !ok || a.Unclaimed() != 1 || a.Unsynced() == 0 || s.Up() {
		t.Fatalf("with redis down: pending %v unclaimed %d unsynced %d up %v", ok, a.Unclaimed(), a.Unsynced(), s.Up())
	}
	if e.Doc.AlertID != "down" {
		t.Fatalf("lookup: got %+v", e)
	}
	// Delivered from memory while Redis is down.
	for _, n := range []string{"stdout", "sns"} {
		if _, err := a.Ack("down", n, now); err != nil {
			t.Fatalf("ack with redis down: %v", err)
		}
	}
	if a.Len() != 1 {
		t.Fatalf("pending after delivering the alert queued while down: got %d, want 1", a.Len())
	}

	// Redis back, empty (no script loaded): the claimer loads it.
	srv.Restart()
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.PutLater(doc("back"), now); !ok || err != nil {
		t.Fatalf("PutLater after restart: %v, %v", ok, err)
	}
	if err := a.Sync(); err != nil {
		t.Fatalf("Sync after restart: %v", err)
	}
	if owner, err := s.client.HGet(context.Background(), "t:owner", "back").Result(); err != nil || owner != "a" {
		t.Fatalf("owner of an alert claimed after restart: got %q, %v", owner, err)
	}
}

// The Redis outbox refuses the alert ids the directory outbox refuses
// (alerting.ValidAlertID), whether put now or later.
func TestOutboxRefusesInvalidIDs(t *testing.T) {
	srv := redisserver.Start(t)
	o := newOutbox(t, newStore(t, srv.Addr, "a"))
	for _, id := range []string{"", "../../etc/passwd", "a/b", "a.json", "a b", strings.Repeat("a", 129)} {
		doc := alerting.Document{AlertID: id, Rule: "r"}
		if ok, err := o.Put(doc, time.Now()); ok || err == nil {
			t.Errorf("Put(%q) = %v, %v; want an error", id, ok, err)
		}
		if ok, err := o.PutLater(doc, time.Now()); ok || err == nil {
			t.Errorf("PutLater(%q) = %v, %v; want an error", id, ok, err)
		}
	}
	if err := o.Sync(); err != nil || o.Len() != 0 {
		t.Errorf("after refused puts: Sync %v, Len %d; want nil and 0", err, o.Len())
	}
}
