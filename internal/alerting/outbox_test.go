package alerting

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/state"
)

var t0 = time.Date(2026, 1, 28, 19, 15, 23, 0, time.UTC)

// testDoc returns an alert document with id n (padded to look like the
// engine's hex ids).
func testDoc(n int) Document {
	return Document{
		AlertID:   fmt.Sprintf("%032x", n),
		Rule:      "mcp-auth-failure-burst",
		Title:     "Repeated authentication failures from one client",
		Severity:  "high",
		Group:     map[string]string{"client_ip": fmt.Sprintf("203.0.113.%d", n)},
		Count:     11,
		Threshold: 10,
		Window:    "5m0s",
		Time:      "2026-01-28T19:15:22Z",
		FirstSeen: "2026-01-28T19:11:02Z",
	}
}

func openOutbox(t *testing.T, dir string, notifiers ...string) *Outbox {
	t.Helper()
	o, err := OpenOutbox(dir, notifiers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func mustPut(t *testing.T, o *Outbox, doc Document, now time.Time) {
	t.Helper()
	ok, err := o.Put(doc, now)
	if err != nil || !ok {
		t.Fatalf("Put(%s) = %v, %v; want true, nil", doc.AlertID, ok, err)
	}
}

func fileExists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// onDisk reports whether alert id is pending in the outbox directory dir,
// as a tool reading it beside the daemon finds it.
func onDisk(t *testing.T, dir, id string) bool {
	t.Helper()
	es, err := ReadPending(dir)
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(es, func(e Entry) bool { return e.Doc.AlertID == id })
}

func TestOutboxPutAck(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o := openOutbox(t, dir, "stdout", "sns")
	doc := testDoc(1)

	mustPut(t, o, doc, t0)
	if !onDisk(t, dir, doc.AlertID) {
		t.Fatalf("%s not written by Put", doc.AlertID)
	}
	if ok, err := o.Put(doc, t0); ok || err != nil {
		t.Errorf("second Put of a pending id = %v, %v; want false, nil", ok, err)
	}
	if _, err := o.Ack(doc.AlertID, "stdout", t0); err != nil {
		t.Fatal(err)
	}
	if e, ok := o.Lookup(doc.AlertID); !ok || !slices.Equal(e.Acked, []string{"stdout"}) {
		t.Errorf("after one ack: %+v, %v; want pending with Acked [stdout]", e, ok)
	}
	if _, err := o.Ack(doc.AlertID, "stdout", t0); err != nil { // repeated ack is harmless
		t.Fatal(err)
	}
	if _, err := o.Ack(doc.AlertID, "sns", t0); err != nil {
		t.Fatal(err)
	}
	if err := o.Sync(); err != nil { // an Ack is on disk at the next commit
		t.Fatal(err)
	}
	if o.Len() != 0 || onDisk(t, dir, doc.AlertID) {
		t.Errorf("after every ack: Len %d, on disk %v; want 0, false", o.Len(), onDisk(t, dir, doc.AlertID))
	}
	if ok, err := o.Put(doc, t0.Add(time.Hour)); ok || err != nil {
		t.Errorf("Put of a delivered id = %v, %v; want false, nil", ok, err)
	}
	if _, err := o.Ack(doc.AlertID, "sns", t0); err == nil {
		t.Error("Ack of an id no longer pending succeeded")
	}
}

func TestOutboxErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	if _, err := OpenOutbox(dir, nil); err == nil {
		t.Error("OpenOutbox with no notifiers succeeded")
	}
	if _, err := OpenOutbox(dir, []string{"sns", "sns"}); err == nil {
		t.Error("OpenOutbox with a repeated notifier succeeded")
	}
	o := openOutbox(t, dir, "stdout")
	if _, err := OpenOutbox(dir, []string{"stdout"}); err == nil || !strings.Contains(err.Error(), "is locked") {
		t.Errorf("second OpenOutbox of one directory: %v; want a lock error", err)
	}
	for _, id := range []string{"", "../../etc/passwd", "a/b", "a.json", strings.Repeat("a", 129)} {
		d := testDoc(1)
		d.AlertID = id
		if ok, err := o.Put(d, t0); ok || err == nil {
			t.Errorf("Put with alert_id %q = %v, %v; want an error", id, ok, err)
		}
	}
	mustPut(t, o, testDoc(1), t0)
	if _, err := o.Ack(testDoc(1).AlertID, "email", t0); err == nil {
		t.Error("Ack by an unknown notifier succeeded")
	}
	if err := o.Fail("nope", errors.New("x"), t0); err == nil {
		t.Error("Fail of an unknown id succeeded")
	}
	o.Close()
	if _, err := o.Put(testDoc(2), t0); err == nil {
		t.Error("Put after Close succeeded")
	}
}

// A daemon killed with entries in flight finds them again, with their
// progress, and a re-fired alert it already delivered is not sent twice.
func TestOutboxRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o, err := OpenOutbox(dir, []string{"stdout", "sns"})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := testDoc(1), testDoc(2), testDoc(3)
	mustPut(t, o, a, t0)
	mustPut(t, o, b, t0.Add(time.Second))
	mustPut(t, o, c, t0.Add(2*time.Second))
	o.Ack(a.AlertID, "stdout", t0)
	o.Fail(a.AlertID, errors.New("sns: connection refused"), t0.Add(3*time.Second))
	o.Ack(c.AlertID, "stdout", t0)
	o.Ack(c.AlertID, "sns", t0)
	// Acks reach the disk with the next commit (a crash before it loses
	// the record only, and the alert is delivered again).
	if err := o.Sync(); err != nil {
		t.Fatal(err)
	}
	// "Crash": no Close beyond releasing the lock, nothing flushed.
	o.dir.Close()

	o = openOutbox(t, dir, "stdout", "sns")
	if errs := o.LoadErrors(); len(errs) > 0 {
		t.Errorf("load errors: %v", errs)
	}
	p := o.Pending()
	if len(p) != 2 || p[0].Doc.AlertID != a.AlertID || p[1].Doc.AlertID != b.AlertID {
		t.Fatalf("pending after restart: %v; want a then b", ids(p))
	}
	got := p[0]
	want := Entry{Doc: a, Queued: t0, Attempts: 1, NextAttempt: t0.Add(3 * time.Second), Acked: []string{"stdout"}, LastError: "sns: connection refused"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("entry after restart:\n got %+v\nwant %+v", got, want)
	}
	for _, d := range []Document{a, b, c} {
		if ok, err := o.Put(d, t0.Add(time.Hour)); ok || err != nil {
			t.Errorf("re-fired %s after restart: Put = %v, %v; want false", d.AlertID, ok, err)
		}
	}
}

func ids(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Doc.AlertID)
	}
	return out
}

func TestOutboxDedupHorizon(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o := openOutbox(t, dir, "stdout")
	doc := testDoc(1)
	mustPut(t, o, doc, t0)
	o.Ack(doc.AlertID, "stdout", t0)
	o.Close()

	o = openOutbox(t, dir, "stdout")
	cases := []struct {
		after time.Duration
		want  bool
	}{{time.Hour, false}, {48*time.Hour - time.Nanosecond, false}, {48 * time.Hour, true}}
	for _, tc := range cases {
		if ok, err := o.Put(doc, t0.Add(tc.after)); ok != tc.want || err != nil {
			t.Errorf("Put %v after delivery = %v, %v; want %v", tc.after, ok, err, tc.want)
		}
	}
	o.Close()

	o = openOutbox(t, filepath.Join(t.TempDir(), "outbox2"), "stdout")
	o.DedupHorizon = time.Hour
	mustPut(t, o, doc, t0)
	o.Ack(doc.AlertID, "stdout", t0)
	if ok, _ := o.Put(doc, t0.Add(time.Hour)); !ok {
		t.Error("Put one DedupHorizon after delivery = false, want true")
	}
}

// The delivered-id journal is folded into its snapshot at open and, once
// it holds minCompact records or more, by the commit that appends them;
// ids older than the horizon go.
func TestOutboxCompaction(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o := openOutbox(t, dir, "stdout")
	o.DedupHorizon = time.Hour
	deliver := func(from, to int, at time.Time) {
		for n := from; n < to; n++ {
			if ok, err := o.PutLater(testDoc(n), at); !ok || err != nil {
				t.Fatalf("PutLater(%d) = %v, %v", n, ok, err)
			}
		}
		if err := o.Sync(); err != nil {
			t.Fatal(err)
		}
		for n := from; n < to; n++ {
			if _, err := o.Ack(testDoc(n).AlertID, "stdout", at); err != nil {
				t.Fatal(err)
			}
		}
		if err := o.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	deliver(1, 3, t0)
	if !fileExists(t, filepath.Join(dir, "delivered.log")) {
		t.Fatal("no journal after two deliveries")
	}
	deliver(3, 3+minCompact, t0.Add(2*time.Hour)) // compacts, forgetting 1 and 2
	if fileExists(t, filepath.Join(dir, "delivered.log")) {
		t.Error("journal still there after compaction")
	}
	o.Close()
	o = openOutbox(t, dir, "stdout")
	if o.delivered.known(testDoc(1).AlertID) || o.delivered.known(testDoc(2).AlertID) ||
		!o.delivered.known(testDoc(3).AlertID) || o.delivered.len() != minCompact {
		t.Errorf("after compaction: %d ids remembered, 1 %v, 2 %v, 3 %v; want the %d delivered 2 h later",
			o.delivered.len(), o.delivered.known(testDoc(1).AlertID), o.delivered.known(testDoc(2).AlertID),
			o.delivered.known(testDoc(3).AlertID), minCompact)
	}
}

// writeEntryFile writes e as an entry file of an earlier version (or one
// moved back from dead-letter/) into the outbox directory dir.
func writeEntryFile(t *testing.T, dir string, e Entry) string {
	t.Helper()
	d, err := state.OpenUnlocked(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Write(e.Doc.AlertID+".json", b); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, e.Doc.AlertID+".json")
}

// Corrupt entry files are moved aside and reported; the others load.
func TestOutboxCorruptEntry(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	openOutbox(t, dir, "stdout").Close()
	for n := 1; n <= 3; n++ {
		writeEntryFile(t, dir, Entry{Doc: testDoc(n), Queued: t0})
	}
	bad := filepath.Join(dir, testDoc(2).AlertID+".json")
	b, _ := os.ReadFile(bad)
	b[len(b)-3] ^= 0x20 // one flipped bit in the payload
	os.WriteFile(bad, b, 0o600)
	os.WriteFile(filepath.Join(dir, "not an id.json"), []byte("x"), 0o600)
	// Well framed, but for another id than its name says.
	mismatch := writeEntryFile(t, dir, Entry{Doc: testDoc(9)})
	raw, _ := os.ReadFile(writeEntryFile(t, t.TempDir(), Entry{Doc: testDoc(8)}))
	os.WriteFile(mismatch, raw, 0o600)

	o := openOutbox(t, dir, "stdout")
	if got, want := ids(o.Pending()), []string{testDoc(1).AlertID, testDoc(3).AlertID}; !slices.Equal(got, want) {
		t.Errorf("pending %v, want %v", got, want)
	}
	errs := o.LoadErrors()
	if len(errs) != 3 {
		t.Fatalf("load errors %v, want 3", errs)
	}
	for _, err := range errs {
		if !errors.Is(err, state.ErrCorrupt) {
			t.Errorf("load error %v does not match state.ErrCorrupt", err)
		}
	}
	for _, f := range []string{bad, filepath.Join(dir, "not an id.json"), mismatch} {
		if fileExists(t, f) || !fileExists(t, f+".corrupt-1") {
			t.Errorf("%s not moved aside to .corrupt-1", f)
		}
	}
}

// segmentFiles returns the journal segments in the outbox directory dir.
func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, journalPrefix+"*"+journalSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// onlySegment returns the one journal segment of the outbox directory dir.
func onlySegment(t *testing.T, dir string) string {
	t.Helper()
	m := segmentFiles(t, dir)
	if len(m) != 1 {
		t.Fatalf("journal segments %v, want one", m)
	}
	return m[0]
}

// A crash between recording an outcome (delivered ids, dead-letter file)
// and journalling the removal is finished at the next start.
func TestOutboxInterruptedRemoval(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o := openOutbox(t, dir, "stdout", "sns")
	a, b, c := testDoc(1), testDoc(2), testDoc(3)
	mustPut(t, o, a, t0)
	mustPut(t, o, b, t0)
	mustPut(t, o, c, t0)
	o.Close()
	before, err := os.ReadFile(onlySegment(t, dir))
	if err != nil {
		t.Fatal(err)
	}

	o = openOutbox(t, dir, "stdout", "sns")
	o.Ack(a.AlertID, "stdout", t0)
	o.Ack(a.AlertID, "sns", t0)
	o.DeadLetter(b.AlertID, "test")
	o.Ack(c.AlertID, "stdout", t0)
	o.Close()
	// Put the journal back as if the removal records had not been written.
	seg := onlySegment(t, dir)
	if err := os.WriteFile(seg, before, 0o600); err != nil {
		t.Fatal(err)
	}

	o = openOutbox(t, dir, "stdout", "sns")
	if got := ids(o.Pending()); !slices.Equal(got, []string{c.AlertID}) {
		t.Errorf("pending %v, want only %s", got, c.AlertID)
	}
	o.Close()
	if es, err := ReadPending(dir); err != nil || !slices.Equal(ids(es), []string{c.AlertID}) {
		t.Errorf("journal after the open holds %v (%v), want only %s", ids(es), err, c.AlertID)
	}
}

// An entry whose notifiers all acked, but whose delivery was not recorded
// (the configuration lost a notifier), completes at open.
func TestOutboxNotifierRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o := openOutbox(t, dir, "stdout", "sns")
	mustPut(t, o, testDoc(1), t0)
	o.Ack(testDoc(1).AlertID, "stdout", t0)
	o.Close()
	o = openOutbox(t, dir, "stdout")
	if o.Len() != 0 {
		t.Errorf("Len %d, want 0: stdout, the only notifier left, acked it", o.Len())
	}
	if ok, _ := o.Put(testDoc(1), t0); ok {
		t.Error("Put after completion at open = true, want false")
	}
}

func TestOutboxDeadLetterRedrive(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o := openOutbox(t, dir, "stdout", "sns")
	doc := testDoc(1)
	mustPut(t, o, doc, t0)
	o.Ack(doc.AlertID, "stdout", t0)
	o.Fail(doc.AlertID, errors.New("sns: throttled"), t0.Add(time.Minute))
	o.Reject(doc.AlertID, "sns", Permanent(errors.New("invalid parameter")))
	if err := o.DeadLetter(doc.AlertID, "rejected by sns"); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(dir, "dead-letter", doc.AlertID+".json")
	if o.Len() != 0 || onDisk(t, dir, doc.AlertID) || !fileExists(t, dead) {
		t.Fatalf("after DeadLetter: Len %d; want the file moved to %s", o.Len(), dead)
	}
	if o.DeadLetters() != 1 {
		t.Errorf("DeadLetters() = %d, want 1", o.DeadLetters())
	}
	if ok, _ := o.Put(doc, t0); ok {
		t.Error("Put of a dead-lettered id = true, want false")
	}
	o.Close()

	// Re-drive by hand: move it back and restart.
	if err := os.Rename(dead, filepath.Join(dir, doc.AlertID+".json")); err != nil {
		t.Fatal(err)
	}
	before := time.Now().UTC()
	o = openOutbox(t, dir, "stdout", "sns")
	p := o.Pending()
	if len(p) != 1 {
		t.Fatalf("pending after re-drive: %v", ids(p))
	}
	e := p[0]
	if e.Attempts != 0 || !e.NextAttempt.IsZero() || e.Queued.Before(before) || e.Rejected != nil || !e.DeadLettered.IsZero() {
		t.Errorf("re-driven entry %+v: want attempts, rejections and dead-letter marks reset, queued now", e)
	}
	if !slices.Equal(e.Acked, []string{"stdout"}) {
		t.Errorf("re-driven entry acked %v, want [stdout] kept", e.Acked)
	}
	if o.DeadLetters() != 0 {
		t.Errorf("DeadLetters() = %d after re-drive, want 0", o.DeadLetters())
	}
}

// An outbox written by format v1 (a fixture framed with sha256sum, not by
// this code) loads: the pending entry with its progress, the dead letter,
// and the delivered ids except the one torn by a crash.
func TestOutboxFixtureV1(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	if err := os.CopyFS(dir, os.DirFS("testdata/outbox/v1")); err != nil {
		t.Fatal(err)
	}
	o := openOutbox(t, dir, "stdout", "sns")
	if errs := o.LoadErrors(); len(errs) != 0 {
		t.Errorf("load errors: %v", errs)
	}
	p := o.Pending()
	if len(p) != 1 {
		t.Fatalf("pending %v, want one entry", ids(p))
	}
	e := p[0]
	if e.Doc.AlertID != "0123456789abcdef0123456789abcdef" || e.Doc.Group["client_ip"] != "203.0.113.7" ||
		e.Doc.Samples[0]["authorization"] != "[REDACTED]" || e.Attempts != 2 || !slices.Equal(e.Acked, []string{"stdout"}) ||
		e.LastError != "sns: connection refused" || !e.NextAttempt.Equal(time.Date(2026, 1, 28, 19, 15, 26, 0, time.UTC)) {
		t.Errorf("entry %+v does not match the fixture", e)
	}
	if o.DeadLetters() != 1 {
		t.Errorf("DeadLetters() = %d, want 1", o.DeadLetters())
	}
	now := time.Date(2026, 1, 28, 20, 0, 0, 0, time.UTC)
	for id, want := range map[string]bool{
		strings.Repeat("a", 32):            false, // snapshot
		strings.Repeat("b", 32):            false, // journal
		strings.Repeat("c", 32):            true,  // torn journal record: never counted
		"fedcba9876543210fedcba9876543210": false, // dead letter
	} {
		d := testDoc(0)
		d.AlertID = id
		if ok, err := o.Put(d, now); ok != want || err != nil {
			t.Errorf("Put(%s) = %v, %v; want %v", id, ok, err, want)
		}
	}
}
