package alerting

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/state"
)

// A crash can cut the journal anywhere in its last record: whatever the
// cut, the outbox opens with what the earlier records say, without a
// complaint (that append was never acknowledged), and appends after it.
// The last record is a removal (an ack) or an entry (a Put).
func TestJournalTornLastRecord(t *testing.T) {
	a, b, c := testDoc(1).AlertID, testDoc(2).AlertID, testDoc(3).AlertID
	for _, tc := range []struct {
		name string
		last func(o *Outbox) error // the operation that writes the last record
		want []string              // pending after any cut of it
	}{
		// Only the segment is copied, not the delivered-id record: with
		// its removal record cut, alert 2 is pending again.
		{"removal", func(o *Outbox) error { _, err := o.Ack(b, "stdout", t0); return err }, []string{a, b, c}},
		{"entry", func(o *Outbox) error { _, err := o.Put(testDoc(4), t0); return err }, []string{a, b, c}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "outbox")
			o := openOutbox(t, src, "stdout")
			for n := 1; n <= 3; n++ {
				mustPut(t, o, testDoc(n), t0)
			}
			if err := tc.last(o); err != nil {
				t.Fatal(err)
			}
			o.Close()
			full, err := os.ReadFile(onlySegment(t, src))
			if err != nil {
				t.Fatal(err)
			}
			scan, _ := scanSegment(full)
			lastRec := scan.recs[len(scan.recs)-1]
			if lastRec.off+lastRec.size != int64(len(full)) {
				t.Fatalf("last record %+v does not end the segment of %d bytes", lastRec, len(full))
			}
			for cut := lastRec.off; cut < int64(len(full)); cut++ {
				dir := filepath.Join(t.TempDir(), "outbox")
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, segmentName(1)), full[:cut], 0o600); err != nil {
					t.Fatal(err)
				}
				o := openOutbox(t, dir, "stdout")
				if errs := o.LoadErrors(); len(errs) != 0 {
					t.Errorf("cut at %d: load errors %v", cut, errs)
				}
				if got := ids(o.Pending()); !slices.Equal(got, tc.want) {
					t.Errorf("cut at %d: pending %v, want %v", cut, got, tc.want)
				}
				if k := cut - lastRec.off; k%16 != 0 && cut != int64(len(full))-1 {
					o.Close() // appending after the cut: checked at every 16th
					continue
				}
				mustPut(t, o, testDoc(5), t0)
				o.Close()
				o = openOutbox(t, dir, "stdout")
				if got, want := ids(o.Pending()), append(slices.Clone(tc.want), testDoc(5).AlertID); !slices.Equal(got, want) {
					t.Errorf("cut at %d, then a Put: pending %v after reopening, want %v", cut, got, want)
				}
				o.Close()
			}
		})
	}
}

// A damaged record in the middle of the journal is skipped and reported,
// the records after it load, and the segment is moved aside for people to
// look at.
func TestJournalDamagedRecord(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o := openOutbox(t, dir, "stdout")
	for n := 1; n <= 3; n++ {
		mustPut(t, o, testDoc(n), t0)
	}
	o.Close()
	seg := onlySegment(t, dir)
	b, _ := os.ReadFile(seg)
	i := strings.Index(string(b), testDoc(2).Rule)
	if i < 0 || strings.Count(string(b), testDoc(2).AlertID) != 1 {
		t.Fatal("alert 2 not found once in the journal")
	}
	i = strings.Index(string(b), testDoc(2).AlertID)
	b[i] ^= 0x01
	os.WriteFile(seg, b, 0o600)

	o = openOutbox(t, dir, "stdout")
	if got, want := ids(o.Pending()), []string{testDoc(1).AlertID, testDoc(3).AlertID}; !slices.Equal(got, want) {
		t.Errorf("pending %v, want %v", got, want)
	}
	errs := o.LoadErrors()
	var ce *state.CorruptError
	if len(errs) != 1 || !errors.As(errs[0], &ce) || ce.MovedTo != seg+".corrupt-1" || !strings.Contains(ce.Reason, "damaged bytes") {
		t.Fatalf("load errors %v, want the segment moved aside as damaged", errs)
	}
	o.Close()
	o = openOutbox(t, dir, "stdout")
	if errs := o.LoadErrors(); len(errs) != 0 || len(o.Pending()) != 2 {
		t.Errorf("reopened: %d pending, load errors %v; want 2 and none", len(o.Pending()), errs)
	}
}

// Segments are compacted as alerts are done: the live entries are carried
// to a new segment and the old one removed, so the journal stays about the
// size of what is pending, and what is pending survives.
func TestJournalCompaction(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o := openOutbox(t, dir, "stdout", "sns")
	o.jr.minSize = 4 << 10
	mustPut(t, o, testDoc(0), t0) // stays pending throughout
	if _, err := o.Ack(testDoc(0).AlertID, "stdout", t0); err != nil {
		t.Fatal(err)
	}
	first := o.jr.n
	for n := 1; n <= 300; n++ {
		mustPut(t, o, testDoc(n), t0)
		o.Ack(testDoc(n).AlertID, "stdout", t0)
		o.Ack(testDoc(n).AlertID, "sns", t0)
	}
	if err := o.Sync(); err != nil {
		t.Fatal(err)
	}
	if o.jr.n == first {
		t.Fatal("no compaction after 300 alerts delivered")
	}
	fi, err := os.Stat(onlySegment(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 2*o.jr.minSize {
		t.Errorf("segment of %d bytes, want at most %d", fi.Size(), 2*o.jr.minSize)
	}
	o.Close()
	o = openOutbox(t, dir, "stdout", "sns")
	p := o.Pending()
	if len(p) != 1 || p[0].Doc.AlertID != testDoc(0).AlertID || !slices.Equal(p[0].Acked, []string{"stdout"}) {
		t.Errorf("pending after compactions and reopen: %+v; want alert 0 acked by stdout", p)
	}
}

// An outbox of an earlier version, one file per alert, is migrated at
// open: the entries go into the journal and the files are removed.
func TestJournalMigrateEntryFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	if err := os.CopyFS(dir, os.DirFS("testdata/outbox/v1")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "0123456789abcdef0123456789abcdef.json")
	want, err := ReadPending(dir)
	if err != nil || len(want) != 1 {
		t.Fatalf("ReadPending before the migration: %v, %v; want the entry file", ids(want), err)
	}
	o := openOutbox(t, dir, "stdout", "sns")
	if fileExists(t, file) || len(segmentFiles(t, dir)) != 1 {
		t.Errorf("after open: entry file there %v, segments %v; want the file moved into one segment", fileExists(t, file), segmentFiles(t, dir))
	}
	o.Close()
	o = openOutbox(t, dir, "stdout", "sns")
	got := o.Pending()
	if len(got) != 1 || got[0].Doc.AlertID != want[0].Doc.AlertID || got[0].Attempts != want[0].Attempts ||
		!slices.Equal(got[0].Acked, want[0].Acked) || !got[0].Queued.Equal(want[0].Queued) {
		t.Errorf("pending after migration and reopen: %+v, want %+v", got, want)
	}
}

// A crash after a re-drive was journalled but before its dead letter was
// removed: the next start re-drives it and removes the dead letter.
func TestJournalRedriveInterrupted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "outbox")
	o := openOutbox(t, dir, "stdout", "hook")
	doc := testDoc(1)
	mustPut(t, o, doc, t0)
	o.Ack(doc.AlertID, "stdout", t0)
	if err := o.DeadLetter(doc.AlertID, "rejected by hook"); err != nil {
		t.Fatal(err)
	}
	deadFile := filepath.Join(dir, deadLetterDir, doc.AlertID+".json")
	saved, err := os.ReadFile(deadFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Redrive(doc.AlertID, t0); err != nil {
		t.Fatal(err)
	}
	o.Close()
	if err := os.WriteFile(deadFile, saved, 0o600); err != nil { // as if not yet removed
		t.Fatal(err)
	}
	before := time.Now().UTC()
	o = openOutbox(t, dir, "stdout", "hook")
	p := o.Pending()
	if len(p) != 1 || p[0].Queued.Before(before) || !slices.Equal(p[0].Acked, []string{"stdout"}) || !p[0].DeadLettered.IsZero() {
		t.Fatalf("pending %+v, want the alert re-driven afresh, acked by stdout", p)
	}
	if o.DeadLetters() != 0 || fileExists(t, deadFile) {
		t.Errorf("dead letters %d, file there %v; want the dead letter gone", o.DeadLetters(), fileExists(t, deadFile))
	}
}
