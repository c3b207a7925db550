package alerting

import (
	"errors"
	"testing"
)

// A dead letter re-driven while the outbox is open is pending again,
// keeps the notifiers that acked it, and stays pending after a reopen
// (the file was written before the dead letter was removed).
func TestOutboxRedrive(t *testing.T) {
	dir := t.TempDir()
	o := openOutbox(t, dir, "stdout", "hook")
	doc := testDoc(1)
	mustPut(t, o, doc, t0)
	if _, err := o.Ack(doc.AlertID, "stdout", t0); err != nil {
		t.Fatal(err)
	}
	if err := o.Reject(doc.AlertID, "hook", Permanent(errors.New("400 bad request"))); err != nil {
		t.Fatal(err)
	}
	if err := o.DeadLetter(doc.AlertID, "rejected by hook"); err != nil {
		t.Fatal(err)
	}
	if err := o.Redrive(testDoc(2).AlertID, t0); err == nil {
		t.Error("Redrive of an id that is no dead letter: got nil, want an error")
	}
	if err := o.Redrive(doc.AlertID, t0); err != nil {
		t.Fatal(err)
	}
	e, ok := o.Lookup(doc.AlertID)
	if !ok || len(e.Acked) != 1 || e.Acked[0] != "stdout" || len(e.Rejected) != 0 {
		t.Fatalf("after redrive: got %+v, %v; want pending, acked by stdout only, no rejection", e, ok)
	}
	o.Close()

	o2 := openOutbox(t, dir, "stdout", "hook")
	if got := len(o2.Pending()); got != 1 {
		t.Errorf("pending after reopen: got %d, want 1", got)
	}
	if got := o2.DeadLetters(); got != 0 {
		t.Errorf("dead letters after reopen: got %d, want 0", got)
	}
}
