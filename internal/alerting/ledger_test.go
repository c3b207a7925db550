package alerting

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestLedgerLifecycle steps one entry through the lifecycle both stores
// share: Ack says when the alert is complete, and the errors name the
// operation and the alert.
func TestLedgerLifecycle(t *testing.T) {
	l, err := NewLedger([]string{"stdout", "sns"})
	if err != nil {
		t.Fatal(err)
	}
	id := testDoc(1).AlertID
	l.Add(&Entry{Doc: testDoc(1), Queued: t0}, true)
	if _, complete, err := l.Ack(id, "stdout"); err != nil || complete {
		t.Fatalf("first ack: complete %v, err %v; want false, nil", complete, err)
	}
	if _, _, err := l.Ack(id, "email"); err == nil || !strings.Contains(err.Error(), `unknown notifier "email"`) {
		t.Errorf("ack by an unknown notifier: got %v", err)
	}
	e, err := l.Fail(id, errors.New("token=abc123 refused"), t0.Add(time.Minute))
	if err != nil || e.Attempts != 1 || strings.Contains(e.LastError, "abc123") {
		t.Errorf("fail: attempts %d, last error %q, err %v; want 1, the token masked, nil", e.Attempts, e.LastError, err)
	}
	if _, complete, err := l.Ack(id, "sns"); err != nil || !complete {
		t.Fatalf("last ack: complete %v, err %v; want true, nil", complete, err)
	}
	if _, ok := l.Lookup(id); ok || l.Len() != 0 {
		t.Errorf("after the last ack: still pending (Len %d)", l.Len())
	}
	if _, _, err := l.Ack(id, "sns"); !errors.Is(err, errNotPending) {
		t.Errorf("ack of a delivered alert: got %v, want %v", err, errNotPending)
	}
	l.Add(&Entry{Doc: testDoc(2), Queued: t0}, true)
	dead, err := l.DeadLetter(testDoc(2).AlertID, "rejected", t0)
	if err != nil || dead.DeadLetterReason != "rejected" || !dead.DeadLettered.Equal(t0) || l.Has(testDoc(2).AlertID) {
		t.Errorf("dead-letter: %+v, %v; want it stamped and no longer pending", dead, err)
	}
	l.Duplicate()
	if l.Queued() != 2 || l.Duplicates() != 1 {
		t.Errorf("counts: queued %d, duplicates %d; want 2 and 1", l.Queued(), l.Duplicates())
	}
	l.Close()
	if err := l.CheckPut(testDoc(3).AlertID); err == nil || !strings.Contains(err.Error(), "outbox closed") {
		t.Errorf("put after close: got %v", err)
	}
}
