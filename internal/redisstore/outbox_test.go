package redisstore

import (
	"context"
	"errors"
	"github.com/secwatch/secwatch/internal/alerting"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/secwatch/secwatch/internal/testutil"
	"github.com/secwatch/secwatch/internal/testutil/redisserver"
)

// These tests run against a real redis-server on a free loopback port.

const lease = 300 * time.Millisecond

func newStore(t *testing.T, addr, replica string) *Store {
	t.Helper()
	s, err := Open(Options{Addr: addr, Replica: replica, Lease: lease, KeyPrefix: "t:"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newOutbox(t *testing.T, s *Store) *Outbox {
	t.Helper()
	o, err := OpenOutbox(context.Background(), s, []string{"stdout", "sns"})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func doc(id string) alerting.Document {
	return alerting.Document{AlertID: id, Rule: "auth-burst", Group: map[string]string{"client_ip": "203.0.113.7"}, Count: 11}
}

// waitUntil polls cond every 20ms for up to 10s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func TestClaimIsTakenOnce(t *testing.T) {
	srv := redisserver.Start(t)
	a := newOutbox(t, newStore(t, srv.Addr, "a"))
	b := newOutbox(t, newStore(t, srv.Addr, "b"))
	now := time.Now()

	if ok, err := a.Put(doc("x1"), now); !ok || err != nil {
		t.Fatalf("a.Put: got %v, %v, want true, nil", ok, err)
	}
	if ok, err := b.Put(doc("x1"), now); ok || err != nil {
		t.Fatalf("b.Put of a claimed alert: got %v, %v, want false, nil", ok, err)
	}
	if ok, _ := a.Put(doc("x1"), now); ok {
		t.Fatal("a.Put twice: got true")
	}
	if got := b.Len(); got != 0 {
		t.Fatalf("b pending: got %d, want 0", got)
	}
	for _, n := range []string{"stdout", "sns"} {
		if _, err := a.Ack("x1", n, now); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.Len(); got != 0 {
		t.Fatalf("a pending after every ack: got %d, want 0", got)
	}
	// A third replica that fires it later finds it delivered.
	c := newOutbox(t, newStore(t, srv.Addr, "c"))
	if ok, err := c.Put(doc("x1"), now); ok || err != nil {
		t.Fatalf("c.Put of a delivered alert: got %v, %v, want false, nil", ok, err)
	}
	n, err := a.s.client.HLen(context.Background(), "t:outbox").Result()
	if err != nil || n != 0 {
		t.Fatalf("outbox hash after delivery: got %d, %v, want 0", n, err)
	}
}

func TestStoppedReplicaIsAdopted(t *testing.T) {
	srv := redisserver.Start(t)
	sa := newStore(t, srv.Addr, "a")
	a := newOutbox(t, sa)
	ctx, crash := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx, zerolog.Nop(), Hooks{}); close(done) }()
	now := time.Now()
	if ok, err := a.Put(doc("x2"), now); !ok || err != nil {
		t.Fatalf("a.Put: %v, %v", ok, err)
	}
	if _, err := a.Ack("x2", "stdout", now); err != nil {
		t.Fatal(err)
	}
	if err := a.Fail("x2", errors.New("sns: connection refused"), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "a's heartbeat", func() bool {
		n, _ := sa.client.Exists(context.Background(), "t:replica:a").Result()
		return n == 1
	})
	crash() // a stops beating without releasing anything, as after kill -9
	<-done

	b := newOutbox(t, newStore(t, srv.Addr, "b"))
	adopted := make(chan struct{}, 1)
	b.Start(zerolog.Nop(), Hooks{Adopted: func() { adopted <- struct{}{} }})
	defer b.Close()
	select {
	case <-adopted:
	case <-time.After(10 * time.Second):
		t.Fatal("b did not adopt a's entry")
	}
	e, ok := b.Lookup("x2")
	if !ok {
		t.Fatal("adopted entry not pending in b")
	}
	if len(e.Acked) != 1 || e.Acked[0] != "stdout" || e.Attempts != 1 {
		t.Errorf("adopted entry: acked %v attempts %d, want [stdout] and 1", e.Acked, e.Attempts)
	}
	if _, err := b.Ack("x2", "sns", now); err != nil {
		t.Fatal(err)
	}
	if b.Len() != 0 || b.Adopted() != 1 {
		t.Errorf("b: pending %d adopted %d, want 0 and 1", b.Len(), b.Adopted())
	}
	n, err := sa.client.HLen(context.Background(), "t:outbox").Result()
	if err != nil || n != 0 {
		t.Errorf("outbox hash after b delivered: got %d, %v, want 0", n, err)
	}
}

func TestRedisDownFailsOpenAndResyncs(t *testing.T) {
	srv := redisserver.Start(t)
	s := newStore(t, srv.Addr, "a")
	a := newOutbox(t, s)
	lost := make(chan struct{}, 1)
	a.Start(zerolog.Nop(), Hooks{Lost: func() {
		select {
		case lost <- struct{}{}:
		default:
		}
	}})
	defer a.Close()
	now := time.Now()
	if ok, err := a.Put(doc("before"), now); !ok || err != nil {
		t.Fatalf("Put: %v, %v", ok, err)
	}

	srv.Stop()
	ok, err := a.Put(doc("during"), now)
	if !ok || err == nil {
		t.Fatalf("Put with redis down: got %v, %v, want true and an error", ok, err)
	}
	if a.Len() != 2 || a.Unsynced() == 0 || s.Errors() == 0 || s.Up() {
		t.Fatalf("with redis down: pending %d unsynced %d errors %d up %v", a.Len(), a.Unsynced(), s.Errors(), s.Up())
	}
	// Delivered while down: recorded once redis is back.
	for _, n := range []string{"stdout", "sns"} {
		if _, err := a.Ack("during", n, now); err != nil {
			t.Fatalf("ack with redis down: %v", err)
		}
	}

	srv.Restart() // empty: no persistence
	waitUntil(t, "the resync", func() bool { return s.Up() && a.Unsynced() == 0 })
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("the lost hook was not called after redis restarted empty")
	}
	ctx := context.Background()
	waitUntil(t, "the pending entry written again", func() bool {
		owner, _ := s.client.HGet(ctx, "t:owner", "before").Result()
		return owner == "a"
	})
	if v, err := s.client.Get(ctx, "t:alert:during").Result(); err != nil || v != "done" {
		t.Errorf("claim of the alert delivered while down: got %q, %v, want \"done\"", v, err)
	}
	b := newOutbox(t, newStore(t, srv.Addr, "b"))
	for _, id := range []string{"before", "during"} {
		if ok, err := b.Put(doc(id), now); ok || err != nil {
			t.Errorf("b.Put(%s) after resync: got %v, %v, want false, nil", id, ok, err)
		}
	}
}

func TestCheckpoints(t *testing.T) {
	srv := redisserver.Start(t)
	a, b := newStore(t, srv.Addr, "a"), newStore(t, srv.Addr, "b")
	ctx := context.Background()
	if err := a.SaveCheckpoint(ctx, []byte(`{"seq":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := b.SaveCheckpoint(ctx, []byte(`{"seq":2}`)); err != nil {
		t.Fatal(err)
	}
	got, err := newStore(t, srv.Addr, "c").Checkpoints(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || string(got["a"]) != `{"seq":1}` || string(got["b"]) != `{"seq":2}` {
		t.Errorf("checkpoints: got %q", got)
	}
}

// TestPasswordNeverShown uses a Redis that requires a password: with the
// right one everything works; with a wrong one calls fail, and neither the
// errors nor the log show the password.
func TestPasswordNeverShown(t *testing.T) {
	const password = "pa55-Redis-s3cret"
	srv := redisserver.Start(t, "--requirepass", password)
	var log testutil.Buffer
	for _, tc := range []struct {
		name, password string
		ok             bool
	}{{"right", password, true}, {"wrong", password + "-old", false}, {"none", "", false}} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(Options{Addr: srv.Addr, Password: tc.password, Replica: tc.name, Lease: lease, KeyPrefix: "t:",
				Log: zerolog.New(&log).Level(zerolog.DebugLevel)})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			o := newOutbox(t, s)
			ok, err := o.Put(doc("p-"+tc.name), time.Now())
			if !ok || (err == nil) != tc.ok {
				t.Fatalf("Put: got %v, %v; want true and error=%v", ok, err, !tc.ok)
			}
			perr := s.Ping(context.Background())
			if (perr == nil) != tc.ok {
				t.Fatalf("Ping: got %v", perr)
			}
			for _, e := range []error{err, perr} {
				if e != nil && strings.Contains(e.Error(), "pa55") {
					t.Errorf("error shows the password: %v", e)
				}
			}
		})
	}
	if strings.Contains(log.String(), "pa55") {
		t.Errorf("log shows the password:\n%s", log.String())
	}
}
