package alerting

import (
	"context"
	"errors"
	"github.com/secwatch/secwatch/internal/testutil"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"
)

// fake is a hand-written notifier: it records each call's time and id and
// answers with behave (nil: success).
type fake struct {
	name   string
	behave func(ctx context.Context, call int, doc *Document) error

	mu    sync.Mutex
	calls []call
}

type call struct {
	at time.Time
	id string
}

func (f *fake) Name() string { return f.name }

func (f *fake) Notify(ctx context.Context, doc *Document) error {
	f.mu.Lock()
	f.calls = append(f.calls, call{time.Now(), doc.AlertID})
	n := len(f.calls)
	f.mu.Unlock()
	if f.behave == nil {
		return nil
	}
	return f.behave(ctx, n, doc)
}

func (f *fake) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// hang blocks until the attempt's context ends, like a notifier whose
// endpoint never answers.
func hang(ctx context.Context, _ int, _ *Document) error {
	<-ctx.Done()
	return ctx.Err()
}

// syncBuffer is the shared goroutine-safe buffer.
type syncBuffer = testutil.Buffer

// rig is an outbox and a running dispatcher inside a synctest bubble.
type rig struct {
	t      *testing.T
	dir    string
	ob     *Outbox
	d      *Dispatcher
	log    *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

func newRig(t *testing.T, notifiers ...*fake) *rig {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "outbox")
	var names []string
	var ns []Notifier
	for _, f := range notifiers {
		names = append(names, f.name)
		ns = append(ns, f)
	}
	ob, err := OpenOutbox(dir, names)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	log := &syncBuffer{}
	return &rig{t: t, dir: dir, ob: ob, log: log, d: &Dispatcher{
		Outbox: ob, Notifiers: ns, Log: zerolog.New(log),
		Rand: func() float64 { return 1 }, // the full backoff, for exact times
	}}
}

func (r *rig) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- r.d.Run(ctx) }()
}

func (r *rig) stop() {
	r.t.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		r.t.Errorf("Run returned %v, want nil", err)
	}
}

func (r *rig) put(doc Document) {
	r.t.Helper()
	mustPut(r.t, r.ob, doc, time.Now())
	r.d.Wake()
}

// offsets returns the call times relative to start.
func offsets(calls []call, start time.Time) []time.Duration {
	var out []time.Duration
	for _, c := range calls {
		out = append(out, c.at.Sub(start))
	}
	return out
}

func TestDispatchDeliversAndRemoves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out syncBuffer
		st := &fake{name: "stdout", behave: func(ctx context.Context, _ int, doc *Document) error {
			return (&Stdout{W: &out}).Notify(ctx, doc)
		}}
		sns := &fake{name: "sns"}
		r := newRig(t, st, sns)
		r.start()
		defer r.stop()
		doc := testDoc(1)
		r.put(doc)
		synctest.Wait()

		if got := out.String(); !strings.Contains(got, `"alert_id":"`+doc.AlertID+`"`) {
			t.Errorf("stdout got %q, want the document", got)
		}
		if len(sns.Calls()) != 1 {
			t.Errorf("sns called %d times, want 1", len(sns.Calls()))
		}
		if r.ob.Len() != 0 || onDisk(t, r.dir, doc.AlertID) {
			t.Errorf("delivered alert still in the outbox")
		}
		if got := r.d.Metrics.Delivered.Load(); got != 1 {
			t.Errorf("Delivered = %d, want 1", got)
		}
		if ok, _ := r.ob.Put(doc, time.Now()); ok {
			t.Error("Put of the delivered id = true, want false")
		}
	})
}

// Retries back off exponentially up to MaxBackoff; the failure is logged
// when it starts and when it ends, not on every retry.
func TestDispatchBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sns := &fake{name: "sns", behave: func(_ context.Context, n int, _ *Document) error {
			if n <= 6 {
				return errors.New("connection refused")
			}
			return nil
		}}
		r := newRig(t, sns)
		r.d.InitialBackoff, r.d.MaxBackoff = time.Second, 8*time.Second
		start := time.Now()
		r.start()
		defer r.stop()
		r.put(testDoc(1))
		time.Sleep(time.Hour)
		synctest.Wait()

		want := []time.Duration{0, 1 * time.Second, 3 * time.Second, 7 * time.Second, 15 * time.Second, 23 * time.Second, 31 * time.Second}
		if got := offsets(sns.Calls(), start); !slices.Equal(got, want) {
			t.Errorf("attempts at %v, want %v", got, want)
		}
		if r.ob.Len() != 0 {
			t.Error("alert not delivered after the failures ended")
		}
		if got := r.d.Metrics.Failed.Load(); got != 6 {
			t.Errorf("Failed = %d, want 6", got)
		}
		log := r.log.String()
		if n := strings.Count(log, `"delivery failing"`); n != 1 {
			t.Errorf("%d \"delivery failing\" lines, want 1:\n%s", n, log)
		}
		if !strings.Contains(log, `"message":"delivery recovered"`) || !strings.Contains(log, `"failures":6`) {
			t.Errorf("no recovery line with the failure count:\n%s", log)
		}
	})
}

// The attempt count and next attempt are persisted while retrying.
func TestDispatchPersistsAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sns := &fake{name: "sns", behave: func(context.Context, int, *Document) error {
			return errors.New("throttled")
		}}
		r := newRig(t, sns)
		start := time.Now()
		r.start()
		r.put(testDoc(1))
		time.Sleep(2 * time.Second) // attempts at 0s and 1s; the next at 3s
		synctest.Wait()
		r.stop()
		r.ob.Close()

		ob := openOutbox(t, r.dir, "sns")
		e, ok := ob.Lookup(testDoc(1).AlertID)
		if !ok || e.Attempts != 2 || !e.NextAttempt.Equal(start.Add(3*time.Second).UTC()) || e.LastError != "sns: throttled" {
			t.Errorf("persisted entry %+v; want 2 attempts, next at +3s, last error \"sns: throttled\"", e)
		}
	})
}

func TestBackoffSequence(t *testing.T) {
	d := &Dispatcher{Rand: func() float64 { return 1 }}
	var got []time.Duration
	for n := 1; n <= 12; n++ {
		got = append(got, d.backoff(n))
	}
	s := time.Second
	want := []time.Duration{s, 2 * s, 4 * s, 8 * s, 16 * s, 32 * s, 64 * s, 128 * s, 256 * s, 300 * s, 300 * s, 300 * s}
	if !slices.Equal(got, want) {
		t.Errorf("defaults: got %v, want %v", got, want)
	}
	d.Rand = func() float64 { return 0.25 }
	if got := d.backoff(3); got != time.Second {
		t.Errorf("jitter 0.25 of 4s: got %v, want 1s", got)
	}
	if got := d.backoff(1 << 20); got != 75*time.Second {
		t.Errorf("huge attempt count: got %v, want 75s (0.25 of the cap)", got)
	}
	d.Rand = nil
	for range 100 {
		if b := d.backoff(4); b < 0 || b >= 8*time.Second {
			t.Fatalf("math/rand jitter gave %v, want [0, 8s)", b)
		}
	}
}

// A permanent error takes the notifier off the alert at once; the alert is
// dead-lettered when the other notifiers are done with it.
func TestDispatchPermanent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sns := &fake{name: "sns", behave: func(context.Context, int, *Document) error {
			return Permanent(errors.New("InvalidParameter: message too long"))
		}}
		flaky := &fake{name: "webhook", behave: func(_ context.Context, n int, _ *Document) error {
			if n == 1 {
				return errors.New("timeout")
			}
			return nil
		}}
		r := newRig(t, sns, flaky)
		r.start()
		defer r.stop()
		doc := testDoc(1)
		r.put(doc)
		synctest.Wait()
		if r.ob.Len() != 1 {
			t.Fatal("dead-lettered while webhook still had to deliver it")
		}
		time.Sleep(time.Minute)
		synctest.Wait()

		if n := len(sns.Calls()); n != 1 {
			t.Errorf("sns called %d times, want 1 (permanent errors are not retried)", n)
		}
		if n := len(flaky.Calls()); n != 2 {
			t.Errorf("webhook called %d times, want 2", n)
		}
		if r.ob.Len() != 0 || !fileExists(t, filepath.Join(r.dir, "dead-letter", doc.AlertID+".json")) {
			t.Fatal("alert not in dead-letter/")
		}
		if got := r.d.Metrics.DeadLettered.Load(); got != 1 {
			t.Errorf("DeadLettered = %d, want 1", got)
		}
		log := r.log.String()
		if !strings.Contains(log, `"message":"alert dead-lettered"`) || !strings.Contains(log, "sns: InvalidParameter: message too long") {
			t.Errorf("dead letter not logged with its reason:\n%s", log)
		}
		if got := r.d.Metrics.Delivered.Load(); got != 0 {
			t.Errorf("Delivered = %d, want 0", got)
		}
	})
}

func TestDispatchMaxAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sns := &fake{name: "sns", behave: func(context.Context, int, *Document) error {
			return errors.New("no route to host")
		}}
		r := newRig(t, sns)
		r.d.MaxAge, r.d.MaxBackoff = 10*time.Second, 4*time.Second
		start := time.Now()
		r.start()
		defer r.stop()
		doc := testDoc(1)
		r.put(doc)
		time.Sleep(10*time.Second - time.Nanosecond)
		synctest.Wait()
		if r.ob.Len() != 1 {
			t.Fatal("dead-lettered before MaxAge")
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if r.ob.Len() != 0 || r.ob.DeadLetters() != 1 {
			t.Fatalf("not dead-lettered at MaxAge: Len %d, DeadLetters %d", r.ob.Len(), r.ob.DeadLetters())
		}
		// Attempts at 0, 1, 3 and 7s; the next (11s) falls after MaxAge.
		want := []time.Duration{0, time.Second, 3 * time.Second, 7 * time.Second}
		if got := offsets(sns.Calls(), start); !slices.Equal(got, want) {
			t.Errorf("attempts at %v, want %v", got, want)
		}
		if !strings.Contains(r.log.String(), "not delivered within max age 10s after 4 attempts; last error: sns: no route to host") {
			t.Errorf("dead letter reason not logged:\n%s", r.log.String())
		}
	})
}

// A notifier that hangs delays neither the other notifier nor later
// alerts, and its attempts end at AttemptTimeout.
func TestDispatchSlowNotifier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stdout := &fake{name: "stdout"}
		sns := &fake{name: "sns", behave: hang}
		r := newRig(t, stdout, sns)
		r.d.AttemptTimeout = 30 * time.Second
		start := time.Now()
		r.start()
		defer r.stop()
		r.put(testDoc(1))
		time.Sleep(time.Second)
		r.put(testDoc(2))
		synctest.Wait()

		want := []call{{start, testDoc(1).AlertID}, {start.Add(time.Second), testDoc(2).AlertID}}
		if got := stdout.Calls(); !slices.Equal(got, want) {
			t.Errorf("stdout calls %v, want %v", got, want)
		}
		for _, id := range []string{testDoc(1).AlertID, testDoc(2).AlertID} {
			if e, _ := r.ob.Lookup(id); !slices.Equal(e.Acked, []string{"stdout"}) {
				t.Errorf("%s acked by %v, want [stdout] while sns hangs", id, e.Acked)
			}
		}
		time.Sleep(29*time.Second - time.Nanosecond)
		synctest.Wait()
		if n := len(sns.Calls()); n != 1 {
			t.Errorf("sns called %d times before its first attempt timed out, want 1", n)
		}
		time.Sleep(time.Nanosecond) // the attempt at 0s times out at 30s
		synctest.Wait()
		if e, _ := r.ob.Lookup(testDoc(1).AlertID); e.Attempts != 1 || !strings.Contains(e.LastError, "deadline exceeded") {
			t.Errorf("after the timeout: %+v; want one failed attempt", e)
		}
		if got := sns.Calls(); len(got) != 2 || got[1].id != testDoc(2).AlertID || !got[1].at.Equal(start.Add(30*time.Second)) {
			t.Errorf("sns calls %v; want the second alert tried at 30s", got)
		}
	})
}

// Put, crash (no Ack), reopen: the alert is pending again and delivered;
// then the engine firing it again sends nothing.
func TestDispatchRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "outbox")
		ob, err := OpenOutbox(dir, []string{"sns"})
		if err != nil {
			t.Fatal(err)
		}
		doc := testDoc(1)
		mustPut(t, ob, doc, time.Now())
		ob.dir.Close() // kill -9: only the lock goes

		ob = openOutbox(t, dir, "sns")
		sns := &fake{name: "sns"}
		d := &Dispatcher{Outbox: ob, Notifiers: []Notifier{sns}, Log: zerolog.Nop()}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		synctest.Wait()
		if got := sns.Calls(); len(got) != 1 || got[0].id != doc.AlertID {
			t.Errorf("after restart sns got %v, want the pending alert", got)
		}
		cancel()
		<-done
		ob.Close()

		ob = openOutbox(t, dir, "sns")
		if ok, err := ob.Put(doc, time.Now()); ok || err != nil {
			t.Errorf("Put of the delivered id after reopen = %v, %v; want false", ok, err)
		}
	})
}

// Drain tries everything once, ignoring backoff, and stops when its
// context ends, leaving what is not delivered in the outbox.
func TestDrain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sns := &fake{name: "sns"}
		r := newRig(t, sns)
		mustPut(t, r.ob, testDoc(1), time.Now())
		mustPut(t, r.ob, testDoc(2), time.Now())
		r.ob.Fail(testDoc(2).AlertID, errors.New("earlier failure"), time.Now().Add(time.Hour))
		if err := r.d.Drain(context.Background()); err != nil {
			t.Fatalf("Drain: %v", err)
		}
		if r.ob.Len() != 0 || len(sns.Calls()) != 2 {
			t.Errorf("after Drain: Len %d, %d calls; want everything delivered at once", r.ob.Len(), len(sns.Calls()))
		}
	})
}

func TestDrainHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sns := &fake{name: "sns", behave: hang}
		r := newRig(t, sns)
		mustPut(t, r.ob, testDoc(1), time.Now())
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := r.d.Drain(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Drain returned %v, want context.DeadlineExceeded", err)
		}
		if took := time.Since(start); took != 5*time.Second {
			t.Errorf("Drain took %v, want the 5s of its context", took)
		}
		e, ok := r.ob.Lookup(testDoc(1).AlertID)
		if !ok || e.Attempts != 0 {
			t.Errorf("entry %+v, %v; want still pending, the cancelled attempt not counted", e, ok)
		}
		if err := r.d.Drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Drain with an ended context returned %v", err)
		}
	})
}

// Run stops on cancel; an attempt that succeeded as the context ended is
// still acknowledged.
func TestRunCancelAcksFinishedAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		sns := &fake{name: "sns", behave: func(ctx context.Context, _ int, _ *Document) error {
			<-release
			return nil // delivered, even though ctx may be done by now
		}}
		r := newRig(t, sns)
		r.start()
		r.put(testDoc(1))
		synctest.Wait()
		r.cancel()
		synctest.Wait()
		close(release)
		if err := <-r.done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if r.ob.Len() != 0 || r.d.Metrics.Delivered.Load() != 1 {
			t.Errorf("Len %d, Delivered %d; want the finished attempt acknowledged", r.ob.Len(), r.d.Metrics.Delivered.Load())
		}
	})
}

func TestDispatcherConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	ob := openOutbox(t, dir, "stdout", "sns")
	cases := map[string][]Notifier{
		"missing":  {&fake{name: "stdout"}},
		"extra":    {&fake{name: "stdout"}, &fake{name: "sns"}, &fake{name: "email"}},
		"repeated": {&fake{name: "stdout"}, &fake{name: "stdout"}},
		"none":     nil,
	}
	for name, ns := range cases {
		d := &Dispatcher{Outbox: ob, Notifiers: ns}
		if err := d.Run(context.Background()); err == nil {
			t.Errorf("%s: Run succeeded", name)
		}
	}
	d := &Dispatcher{}
	for range 3 {
		d.Wake() // before Run, repeatedly: must not block
	}
}

// Wake does not block the caller even while the dispatcher is busy.
func TestWakeNeverBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, &fake{name: "sns", behave: hang})
		r.start()
		defer r.stop()
		for n := range 100 {
			r.put(testDoc(n + 1))
		}
		if r.ob.Len() != 100 {
			t.Errorf("Len %d, want 100", r.ob.Len())
		}
	})
}

// TestDispatchStalledNotifier: a notifier whose attempts hang is reported
// stalled once it has gone longer than the bound without a delivery while
// alerts wait for it, with its pending alerts and failures; the other
// notifier is not; a success ends the stall.
func TestDispatchStalledNotifier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var up atomic.Bool
		stdout := &fake{name: "stdout", behave: func(ctx context.Context, n int, d *Document) error {
			if up.Load() {
				return nil
			}
			return hang(ctx, n, d)
		}}
		sns := &fake{name: "sns"}
		r := newRig(t, stdout, sns)
		r.d.AttemptTimeout = 30 * time.Second
		r.d.MaxBackoff = time.Minute
		r.start()
		defer r.stop()
		start := time.Now()
		for i := range 3 {
			r.put(testDoc(i + 1))
		}
		synctest.Wait()
		const bound = 5 * time.Minute
		m := r.d.Metrics
		if s := m.Stalled(time.Now(), bound); len(s) != 0 {
			t.Errorf("stalled at once: %+v", s)
		}
		time.Sleep(bound)
		synctest.Wait()
		if s := m.Stalled(time.Now(), bound); len(s) != 0 {
			t.Errorf("stalled at the bound: %+v, want none (more than the bound)", s)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		s := m.Stalled(time.Now(), bound)
		if len(s) != 1 || s[0].Name != "stdout" || s[0].Pending != 3 || s[0].Failures < 3 || !s[0].Waiting.Equal(start) {
			t.Fatalf("stalled after the bound: %+v; want stdout with 3 pending and its failures, waiting since the start", s)
		}
		if got := m.Notifiers(); len(got) != 2 || got[0].Name != "sns" || got[0].Pending != 0 || !got[0].Waiting.IsZero() {
			t.Errorf("notifiers: %+v; want sns with nothing pending", got)
		}
		up.Store(true)
		time.Sleep(2 * time.Minute) // past the longest backoff
		synctest.Wait()
		if s := m.Stalled(time.Now(), bound); len(s) != 0 {
			t.Errorf("stalled after recovery: %+v", s)
		}
		if got := m.Notifiers(); got[1].Pending != 0 || !got[1].Waiting.IsZero() {
			t.Errorf("stdout after recovery: %+v; want nothing pending", got[1])
		}
	})
}
