package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/testutil/redisserver"
)

// Concurrent updates of the silences document each keep the others'.
func TestUpdateSilencesConcurrently(t *testing.T) {
	srv := redisserver.Start(t)
	s := newStore(t, srv.Addr, "cli")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			errs <- s.UpdateSilences(context.Background(), func(old []byte) ([]byte, error) {
				var list []string
				if len(old) > 0 {
					if err := json.Unmarshal(old, &list); err != nil {
						return nil, err
					}
				}
				return json.Marshal(append(list, fmt.Sprint(i)))
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	b, err := s.Silences(context.Background())
	var list []string
	if err == nil {
		err = json.Unmarshal(b, &list)
	}
	if err != nil || len(list) != 8 {
		t.Fatalf("silences after 8 updates: got %s (%v), want 8 entries", b, err)
	}
	refused := errors.New("refused")
	if err := s.UpdateSilences(context.Background(), func([]byte) ([]byte, error) { return nil, refused }); err != refused {
		t.Fatalf("a refused change: got %v, want %v", err, refused)
	}
	if b2, _ := s.Silences(context.Background()); string(b2) != string(b) {
		t.Fatalf("a refused change wrote %s", b2)
	}
}

// A silenced alert is kept once across replicas, and no replica queues
// the same firing afterwards.
func TestKeepSilencedOnce(t *testing.T) {
	srv := redisserver.Start(t)
	a := newOutbox(t, newStore(t, srv.Addr, "a"))
	b := newOutbox(t, newStore(t, srv.Addr, "b"))
	if ok, err := a.KeepSilenced("s1", []byte(`{"doc":{"alert_id":"s1"}}`)); !ok || err != nil {
		t.Fatalf("a keeps s1: got %v, %v, want true, nil", ok, err)
	}
	if ok, err := b.KeepSilenced("s1", []byte(`{"doc":{"alert_id":"s1"}}`)); ok || err != nil {
		t.Fatalf("b keeps s1 again: got %v, %v, want false, nil", ok, err)
	}
	if ok, err := b.Put(doc("s1"), time.Now()); ok || err != nil {
		t.Fatalf("b queues the silenced s1: got %v, %v, want false, nil", ok, err)
	}
	// Queued before the silence: not kept, the replica that queued it
	// delivers it.
	a.Put(doc("q1"), time.Now())
	if ok, err := b.KeepSilenced("q1", []byte(`{"doc":{"alert_id":"q1"}}`)); ok || err != nil {
		t.Fatalf("b keeps the queued q1: got %v, %v, want false, nil", ok, err)
	}
	kept, err := a.s.Entries(context.Background(), KindSilenced)
	if err != nil || len(kept) != 1 || kept["s1"] == nil {
		t.Fatalf("silenced entries: got %v (%v), want s1 only", kept, err)
	}
}

// A re-driven dead letter is adopted by exactly one running replica,
// keeping the acks it had; dropping removes for good.
func TestRedriveDeadLetterOnce(t *testing.T) {
	srv := redisserver.Start(t)
	a := newOutbox(t, newStore(t, srv.Addr, "a"))
	b := newOutbox(t, newStore(t, srv.Addr, "b"))
	now := time.Now()
	for _, id := range []string{"d1", "d2"} {
		if ok, err := a.Put(doc(id), now); !ok || err != nil {
			t.Fatalf("Put %s: got %v, %v", id, ok, err)
		}
		a.Ack(id, "stdout", now)
		if err := a.DeadLetter(id, "sns: 400"); err != nil {
			t.Fatal(err)
		}
	}
	cli := newStore(t, srv.Addr, "cli")
	if err := cli.Redrive(context.Background(), KindPending, "d1", now); err == nil {
		t.Fatal("redrive of a pending kind: got nil error")
	}
	if err := cli.Redrive(context.Background(), KindDead, "d1", now); err != nil {
		t.Fatal(err)
	}
	if err := cli.Redrive(context.Background(), KindDead, "d1", now); err == nil {
		t.Fatal("second redrive of d1: got nil error")
	}
	if err := cli.Drop(context.Background(), KindDead, "d2"); err != nil {
		t.Fatal(err)
	}
	if err := cli.Drop(context.Background(), KindDead, "d2"); err == nil {
		t.Fatal("second drop of d2: got nil error")
	}
	a.Start(zerolog.Nop(), Hooks{})
	b.Start(zerolog.Nop(), Hooks{})
	defer a.Close()
	defer b.Close()
	waitUntil(t, "d1 adopted", func() bool { return a.Len()+b.Len() == 1 })
	// More heartbeats of both: nobody adopts it a second time.
	for range 3 {
		for _, o := range []*Outbox{a, b} {
			beaten := true
			if err := o.beat(context.Background(), &beaten, Hooks{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := a.Adopted() + b.Adopted(); got != 1 || a.Len()+b.Len() != 1 {
		t.Fatalf("adoptions: got %d, pending %d, want 1 and 1", got, a.Len()+b.Len())
	}
	o := a
	if b.Len() == 1 {
		o = b
	}
	e, ok := o.Lookup("d1")
	if !ok || !slices.Contains(e.Acked, "stdout") || e.DeadLettered.After(time.Time{}) {
		t.Fatalf("re-driven entry: got %+v, want d1 acked by stdout, not dead-lettered", e)
	}
	dead, _ := cli.Entries(context.Background(), KindDead)
	if len(dead) != 0 {
		t.Fatalf("dead letters left: %v", dead)
	}
	waitUntil(t, "the dead-letter gauge", func() bool { return a.DeadLetters() == 0 && b.DeadLetters() == 0 })
}
