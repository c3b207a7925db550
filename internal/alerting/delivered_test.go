package alerting

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/state"
)

var dt0 = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// hexID returns the i-th alert id of the form secwatch makes.
func hexID(i int) string { return fmt.Sprintf("%032x", i) }

// stateDir opens a fresh state directory for the test.
func stateDir(t testing.TB) *state.Dir {
	t.Helper()
	d, err := state.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// mustOpenDelivered opens the record in dir and fails on any problem.
func mustOpenDelivered(t testing.TB, dir *state.Dir, horizon time.Duration, maxIDs int) *deliveredLog {
	t.Helper()
	d, problems, err := openDelivered(dir, horizon, maxIDs)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Fatalf("open: unexpected problems %v", problems)
	}
	return d
}

func mustAdd(t testing.TB, d *deliveredLog, now time.Time, ids ...string) {
	t.Helper()
	if err := d.add(ids, now); err != nil {
		t.Fatal(err)
	}
}

// wantIDs checks which of ids the record has at now.
func wantIDs(t *testing.T, d *deliveredLog, now time.Time, has, hasNot []string) {
	t.Helper()
	for _, id := range has {
		if !d.has(id, now) {
			t.Errorf("has(%s, %s) = false, want true", id, now.Format(time.RFC3339Nano))
		}
	}
	for _, id := range hasNot {
		if d.has(id, now) {
			t.Errorf("has(%s, %s) = true, want false", id, now.Format(time.RFC3339Nano))
		}
	}
}

// recordingFS counts the record's writes; it can fail appends and, with
// discard set, drop every write instead of going to disk.
type recordingFS struct {
	*state.Dir
	appends, snapshots int
	appendErr          error
	partial            []byte // written before appendErr is returned
	discard            bool
}

func (r *recordingFS) Append(name string, data []byte) error {
	r.appends++
	if r.appendErr != nil {
		if r.partial != nil {
			if err := r.Dir.Append(name, r.partial); err != nil {
				return err
			}
		}
		return r.appendErr
	}
	if r.discard {
		return nil
	}
	return r.Dir.Append(name, data)
}

func (r *recordingFS) WriteStream(name string, fill func(io.Writer) error) error {
	r.snapshots++
	if r.discard {
		return fill(io.Discard)
	}
	return r.Dir.WriteStream(name, fill)
}

func TestDeliveredHorizon(t *testing.T) {
	dir := stateDir(t)
	d := mustOpenDelivered(t, dir, time.Hour, 100)
	a, s := hexID(1), "digest-Rule_1"
	mustAdd(t, d, dt0, a, s)
	wantIDs(t, d, dt0.Add(time.Hour-time.Nanosecond), []string{a, s}, []string{hexID(2), "digest-rule_1"})
	wantIDs(t, d, dt0.Add(time.Hour), nil, []string{a, s})
	if !d.known(a) || d.len() != 2 {
		t.Fatalf("before the next add: known(a) = %v, len = %d; want true, 2", d.known(a), d.len())
	}
	b := hexID(2)
	mustAdd(t, d, dt0.Add(time.Hour), b)
	if d.known(a) || d.known(s) || d.len() != 1 {
		t.Errorf("after an add a horizon later: known(a) = %v, known(s) = %v, len = %d; want false, false, 1", d.known(a), d.known(s), d.len())
	}
	if d.evicted() != 0 {
		t.Errorf("evicted = %d, want 0 (the horizon is not eviction)", d.evicted())
	}
	wantIDs(t, d, dt0.Add(time.Hour), []string{b}, nil)
	// A clock that stepped back: the record stays until the horizon
	// passes its own time.
	c := hexID(3)
	mustAdd(t, d, dt0.Add(-time.Minute), c)
	wantIDs(t, d, dt0.Add(time.Hour-time.Minute-time.Nanosecond), []string{c}, nil)
	wantIDs(t, d, dt0.Add(time.Hour-time.Minute), nil, []string{c})
}

func TestDeliveredMaxEvictionOrder(t *testing.T) {
	dir := stateDir(t)
	d := mustOpenDelivered(t, dir, time.Hour, 3)
	a, b, c, e, f := hexID(0xa), "bravo-2", hexID(0xc), hexID(0xe), "foxtrot_6"
	mustAdd(t, d, dt0, a, b, c)
	mustAdd(t, d, dt0.Add(time.Second), e) // a goes
	now := dt0.Add(2 * time.Second)
	wantIDs(t, d, now, []string{b, c, e}, []string{a})
	if d.evicted() != 1 {
		t.Errorf("evicted = %d, want 1", d.evicted())
	}
	mustAdd(t, d, now, b) // delivered again: b moves behind e
	if d.len() != 3 || d.evicted() != 1 {
		t.Errorf("after b again: len = %d, evicted = %d; want 3, 1", d.len(), d.evicted())
	}
	mustAdd(t, d, dt0.Add(3*time.Second), f) // c goes, not b
	now = dt0.Add(3 * time.Second)
	wantIDs(t, d, now, []string{e, b, f}, []string{a, c})
	if d.evicted() != 2 {
		t.Errorf("evicted = %d, want 2", d.evicted())
	}
	// A batch larger than max keeps its newest ids.
	g, h, i, j := hexID(0x10), hexID(0x11), hexID(0x12), hexID(0x13)
	mustAdd(t, d, now, g, h, i, j)
	wantIDs(t, d, now, []string{h, i, j}, []string{e, b, f, g})
	if d.evicted() != 6 {
		t.Errorf("evicted = %d, want 6", d.evicted())
	}

	// Reopening keeps the delivery order: with max 2, h goes.
	d2, problems, err := openDelivered(dir, time.Hour, 2)
	if err != nil || len(problems) > 0 {
		t.Fatalf("reopen: %v %v", err, problems)
	}
	wantIDs(t, d2, now, []string{i, j}, []string{h})
	if d2.evicted() != 0 {
		t.Errorf("reopened with max 2: evicted = %d, want 0 (open counts none)", d2.evicted())
	}
}

func TestDeliveredBatchIsOneAppend(t *testing.T) {
	dir := stateDir(t)
	d := mustOpenDelivered(t, dir, 0, 0)
	rec := &recordingFS{Dir: dir}
	d.fs = rec
	ids := []string{hexID(1), hexID(2), "other-id", hexID(3), hexID(4)}
	mustAdd(t, d, dt0, ids...)
	if rec.appends != 1 {
		t.Errorf("appends = %d for a batch of %d, want 1", rec.appends, len(ids))
	}
	j, err := dir.ReadJournal(deliveredJournal)
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&want, "2026-11-26T00:00:00Z %s\n", id)
	}
	if string(j) != want.String() {
		t.Errorf("journal:\n%s\nwant:\n%s", j, want.String())
	}
	if err := d.add(nil, dt0); err != nil || rec.appends != 1 {
		t.Errorf("empty add: err %v, appends %d; want nil, 1", err, rec.appends)
	}
}

func TestDeliveredInvalidIDRecordsNothing(t *testing.T) {
	dir := stateDir(t)
	d := mustOpenDelivered(t, dir, 0, 0)
	rec := &recordingFS{Dir: dir}
	d.fs = rec
	err := d.add([]string{hexID(1), "not an id"}, dt0)
	if err == nil || !strings.Contains(err.Error(), `"not an id"`) {
		t.Fatalf("err = %v, want one naming the invalid id", err)
	}
	if rec.appends != 0 || d.len() != 0 {
		t.Errorf("appends = %d, len = %d; want 0, 0", rec.appends, d.len())
	}
}

// snapshotPayload returns the framed snapshot's payload.
func snapshotPayload(t *testing.T, dir *state.Dir) []byte {
	t.Helper()
	b, err := dir.Read(deliveredSnapshot)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func journalExists(dir *state.Dir) bool {
	_, err := os.Stat(filepath.Join(dir.Path(), deliveredJournal))
	return err == nil
}

func TestDeliveredReopen(t *testing.T) {
	ids := []string{hexID(1), "custom-id", hexID(2)}
	h := time.Hour
	// Each case fills dir, then the test reopens it and checks the ids
	// with their times: ids[i] delivered at dt0+i seconds.
	cases := []struct {
		name string
		fill func(t *testing.T, dir *state.Dir)
	}{
		{"journal only", func(t *testing.T, dir *state.Dir) {
			d := mustOpenDelivered(t, dir, h, 0)
			for i, id := range ids {
				mustAdd(t, d, dt0.Add(time.Duration(i)*time.Second), id)
			}
			if _, err := os.Stat(filepath.Join(dir.Path(), deliveredSnapshot)); err == nil {
				t.Fatal("snapshot written before any compaction")
			}
		}},
		{"after compaction", func(t *testing.T, dir *state.Dir) {
			d := mustOpenDelivered(t, dir, h, 0)
			for i, id := range ids {
				mustAdd(t, d, dt0.Add(time.Duration(i)*time.Second), id)
			}
			if err := d.compactNow(dt0.Add(2 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if journalExists(dir) {
				t.Fatal("journal left after compaction")
			}
		}},
		{"torn journal tail", func(t *testing.T, dir *state.Dir) {
			d := mustOpenDelivered(t, dir, h, 0)
			for i, id := range ids {
				mustAdd(t, d, dt0.Add(time.Duration(i)*time.Second), id)
			}
			if err := dir.Append(deliveredJournal, []byte("2026-11-26T00:00:03Z "+hexID(9)[:20])); err != nil {
				t.Fatal(err)
			}
		}},
		{"crash between snapshot and journal removal", func(t *testing.T, dir *state.Dir) {
			d := mustOpenDelivered(t, dir, h, 0)
			for i, id := range ids {
				mustAdd(t, d, dt0.Add(time.Duration(i)*time.Second), id)
			}
			j, err := dir.ReadJournal(deliveredJournal)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.compactNow(dt0.Add(2 * time.Second)); err != nil {
				t.Fatal(err)
			}
			if err := dir.Append(deliveredJournal, j); err != nil {
				t.Fatal(err)
			}
		}},
		{"old JSON snapshot and a journal", func(t *testing.T, dir *state.Dir) {
			snap := fmt.Sprintf(`{"delivered":{%q:"2026-11-26T00:00:02Z",%q:"2026-11-26T00:00:00Z",%q:"2026-11-26T01:00:01+01:00"}}`,
				ids[2], ids[0], ids[1])
			if err := dir.Write(deliveredSnapshot, []byte(snap)); err != nil {
				t.Fatal(err)
			}
			// The journal repeats ids[0] with its time, as after a crash
			// between the old snapshot's write and the journal's removal.
			if err := dir.Append(deliveredJournal, []byte("2026-11-26T00:00:00Z "+ids[0]+"\n")); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := stateDir(t)
			c.fill(t, dir)
			d := mustOpenDelivered(t, dir, h, 0)
			if d.len() != len(ids) {
				t.Errorf("len = %d, want %d", d.len(), len(ids))
			}
			for i, id := range ids {
				at := dt0.Add(time.Duration(i) * time.Second)
				wantIDs(t, d, at.Add(h-time.Nanosecond), []string{id}, nil)
				wantIDs(t, d, at.Add(h), nil, []string{id})
			}
			if journalExists(dir) {
				t.Error("journal not folded into the snapshot at open")
			}
			if p := snapshotPayload(t, dir); !bytes.HasPrefix(p, []byte(deliveredMagic)) {
				t.Errorf("snapshot payload starts %q, want the binary format", p[:min(len(p), 30)])
			}
			// Delivery order survives: with max 1 only the newest stays.
			d1 := mustOpenDelivered(t, dir, h, 1)
			wantIDs(t, d1, dt0, ids[2:], ids[:2])
		})
	}
}

func TestDeliveredMalformedRecordsCounted(t *testing.T) {
	dir := stateDir(t)
	snap := fmt.Sprintf(`{"delivered":{%q:"2026-11-26T00:00:00Z","bad id":"2026-11-26T00:00:00Z"}}`, hexID(1))
	if err := dir.Write(deliveredSnapshot, []byte(snap)); err != nil {
		t.Fatal(err)
	}
	j := "2026-11-26T00:00:01Z " + hexID(2) + "\n" +
		"yesterday " + hexID(3) + "\n" +
		"2026-11-26T00:00:02Z\n" +
		"2026-11-26T00:00:03Z " + hexID(4) + "\n"
	if err := dir.Append(deliveredJournal, []byte(j)); err != nil {
		t.Fatal(err)
	}
	d, problems, err := openDelivered(dir, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range problems {
		var ce *state.CorruptError
		if !errors.As(p, &ce) {
			t.Fatalf("problem %v is not a *state.CorruptError", p)
		}
		got = append(got, ce.Name+": "+ce.Reason)
	}
	want := []string{"delivered: 1 malformed records skipped", "delivered.log: 2 malformed records skipped"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("problems = %q, want %q", got, want)
	}
	wantIDs(t, d, dt0.Add(3*time.Second), []string{hexID(1), hexID(2), hexID(4)}, []string{hexID(3), "bad id"})
}

func TestDeliveredCorruptSnapshot(t *testing.T) {
	cases := []struct {
		name, reason string
		write        func(dir *state.Dir) error
	}{
		{"checksum", "checksum mismatch", func(dir *state.Dir) error {
			body := "secwatch-state v1 " + strings.Repeat("0", 64) + " 3\nabc"
			return os.WriteFile(filepath.Join(dir.Path(), deliveredSnapshot), []byte(body), 0o600)
		}},
		{"undecodable JSON", "undecodable: ", func(dir *state.Dir) error {
			return dir.Write(deliveredSnapshot, []byte(`{"delivered":[1,2]}`))
		}},
		{"truncated binary record", "undecodable record at byte 51", func(dir *state.Dir) error {
			rec := append([]byte{0}, make([]byte, 16+8)...)
			return dir.Write(deliveredSnapshot, append(append([]byte(deliveredMagic), rec...), 5, 'a', 'b'))
		}},
		{"newer format", `unsupported delivered-ids format "secwatch-delivered-ids v9"`, func(dir *state.Dir) error {
			return dir.Write(deliveredSnapshot, []byte("secwatch-delivered-ids v9\n\x00"))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := stateDir(t)
			if err := c.write(dir); err != nil {
				t.Fatal(err)
			}
			if err := dir.Append(deliveredJournal, []byte("2026-11-26T00:00:00Z "+hexID(7)+"\n")); err != nil {
				t.Fatal(err)
			}
			d, problems, err := openDelivered(dir, time.Hour, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) != 1 || !errors.Is(problems[0], state.ErrCorrupt) || !strings.Contains(problems[0].Error(), c.reason) {
				t.Fatalf("problems = %v, want one corrupt-file error with %q", problems, c.reason)
			}
			if _, err := os.Stat(filepath.Join(dir.Path(), deliveredSnapshot+".corrupt-1")); err != nil {
				t.Errorf("corrupt snapshot not moved aside: %v", err)
			}
			// The journal still counts, and a fresh snapshot holds it.
			wantIDs(t, d, dt0, []string{hexID(7)}, nil)
			if p := snapshotPayload(t, dir); !bytes.HasPrefix(p, []byte(deliveredMagic)) {
				t.Errorf("no fresh snapshot after quarantine: %q", p)
			}
		})
	}
}

func TestDeliveredFailedAppend(t *testing.T) {
	dir := stateDir(t)
	d := mustOpenDelivered(t, dir, time.Hour, 0)
	rec := &recordingFS{Dir: dir, appendErr: errors.New("disk full"), partial: []byte("2026-11-26T00:0")}
	d.fs = rec
	if err := d.add([]string{hexID(1)}, dt0); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("add: err = %v, want the append's", err)
	}
	// Remembered in memory while the process lives.
	wantIDs(t, d, dt0, []string{hexID(1)}, nil)
	rec.appendErr = nil
	mustAdd(t, d, dt0.Add(time.Second), hexID(2))
	// The partial record is ended, so only it is lost, not hexID(2).
	d2, problems, err := openDelivered(dir, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) != 1 || !strings.Contains(problems[0].Error(), "1 malformed records skipped") {
		t.Errorf("problems = %v, want the one partial record", problems)
	}
	wantIDs(t, d2, dt0.Add(time.Second), []string{hexID(2)}, []string{hexID(1)})
}

func TestDeliveredRedeliveredIDStaysBounded(t *testing.T) {
	dir := stateDir(t)
	d := mustOpenDelivered(t, dir, time.Hour, 0)
	d.fs = &recordingFS{Dir: dir, discard: true}
	a, b := hexID(1), "string-path"
	for i := range 5000 {
		mustAdd(t, d, dt0.Add(time.Duration(i)*time.Millisecond), a, b)
	}
	if d.len() != 2 {
		t.Errorf("len = %d, want 2", d.len())
	}
	if n := len(d.q) - d.head; n > 2*minCompact+2 {
		t.Errorf("FIFO holds %d records for 2 ids, want at most %d", n, 2*minCompact+2)
	}
	last := dt0.Add(4999 * time.Millisecond)
	wantIDs(t, d, last.Add(time.Hour-time.Nanosecond), []string{a, b}, nil)
	wantIDs(t, d, last.Add(time.Hour), nil, []string{a, b})
	if d.evicted() != 0 {
		t.Errorf("evicted = %d, want 0", d.evicted())
	}
}

func TestDeliveredCompactionAmortized(t *testing.T) {
	const n = 100_000
	cases := []struct {
		name  string
		max   int
		batch int
		// wantMax bounds the compactions: every minCompact records with a
		// tiny max; with a growing record, each snapshot at least doubles.
		wantMax int
	}{
		{"tiny max", 16, 4, n/minCompact + 1},
		{"growing", 1 << 30, 20, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := stateDir(t)
			d := mustOpenDelivered(t, dir, 1000*time.Hour, c.max)
			rec := &recordingFS{Dir: dir, discard: true}
			d.fs = rec
			ids := make([]string, c.batch)
			for i := 0; i < n; i += c.batch {
				for k := range ids {
					ids[k] = hexID(i + k)
				}
				mustAdd(t, d, dt0.Add(time.Duration(i)*time.Millisecond), ids...)
			}
			t.Logf("%d ids: %d compactions writing %d records in all (%.2f per id), %d live",
				n, d.compactions, d.compactedN, float64(d.compactedN)/n, d.len())
			if d.compactions < 1 || d.compactions > c.wantMax {
				t.Errorf("compactions = %d, want 1..%d", d.compactions, c.wantMax)
			}
			if rec.snapshots != d.compactions {
				t.Errorf("snapshots written = %d, compactions counted = %d", rec.snapshots, d.compactions)
			}
			if d.compactedN > 2*n {
				t.Errorf("compactions wrote %d records for %d ids, want at most %d", d.compactedN, n, 2*n)
			}
		})
	}
}

// heapBytes returns the live heap after garbage collection.
func heapBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// bytesPerID measures the heap that n delivered ids take in the old
// map[string]time.Time (its keys own their bytes, as the outbox's did)
// and in a deliveredLog.
func bytesPerID(n int) (old, new float64) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = hexID(i * 7919)
	}
	return oldBytesPerID(ids), newBytesPerID(ids)
}

func oldBytesPerID(ids []string) float64 {
	base := heapBytes()
	m := make(map[string]time.Time)
	for i, id := range ids {
		m[strings.Clone(id)] = dt0.Add(time.Duration(i) * time.Millisecond)
	}
	used := heapBytes() - base
	runtime.KeepAlive(m)
	return float64(used) / float64(len(ids))
}

func newBytesPerID(ids []string) float64 {
	base := heapBytes()
	d := newDeliveredLog(nil, DefaultDedupHorizon, len(ids))
	for i, id := range ids {
		d.put(id, dt0.Add(time.Duration(i)*time.Millisecond).UnixNano())
	}
	used := heapBytes() - base
	runtime.KeepAlive(d)
	return float64(used) / float64(len(ids))
}

func TestDeliveredMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap of 100,000 ids")
	}
	old, new := bytesPerID(100_000)
	t.Logf("100,000 hex ids: map[string]time.Time %.1f B/id, deliveredLog %.1f B/id", old, new)
	if new > old/1.5 {
		t.Errorf("deliveredLog takes %.1f B/id, the old map %.1f: want at most two thirds", new, old)
	}
}

// BenchmarkDeliveredAdd adds ids to a record holding DefaultDedupMax live
// ids, so each add also evicts. "disk" fsyncs each batch's journal append
// (and the snapshots) to the state directory; "mem" drops the writes to
// show the CPU cost alone.
func BenchmarkDeliveredAdd(b *testing.B) {
	const live = DefaultDedupMax
	ids := make([]string, 2*live)
	for i := range ids {
		ids[i] = hexID(i * 7919)
	}
	for _, c := range []struct {
		name  string
		batch int
		disk  bool
	}{{"disk/batch=1", 1, true}, {"disk/batch=64", 64, true}, {"mem/batch=64", 64, false}} {
		b.Run(c.name, func(b *testing.B) {
			dir := stateDir(b)
			base := heapBytes()
			d := mustOpenDelivered(b, dir, DefaultDedupHorizon, live)
			for i, id := range ids[:live] {
				d.put(id, dt0.Add(time.Duration(i)*time.Microsecond).UnixNano())
			}
			heap := float64(heapBytes()-base) / live
			if err := d.compactNow(dt0.Add(time.Second)); err != nil {
				b.Fatal(err)
			}
			if !c.disk {
				d.fs = &recordingFS{Dir: dir, discard: true}
			}
			now, next, rounds := dt0.Add(time.Second), live, 0
			for b.Loop() {
				rounds++
				batch := make([]string, c.batch)
				for k := range batch {
					batch[k] = ids[next%len(ids)]
					next++
				}
				now = now.Add(time.Microsecond)
				if err := d.add(batch, now); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(rounds*c.batch), "ns/id")
			b.ReportMetric(heap, "heap-B/id")
			if d.len() != live {
				b.Fatalf("len = %d, want %d", d.len(), live)
			}
		})
	}
}

// TestDeliveredModel checks the record against a plain ordered list over
// random batches from a small pool of ids (so ids are often delivered
// again), a clock that sometimes steps back, a small max, and sequence
// numbers that must be renumbered often.
func TestDeliveredModel(t *testing.T) {
	const (
		horizon = 100 * time.Second
		maxIDs  = 50
	)
	rng := rand.New(rand.NewPCG(1, 2))
	pool := make([]string, 200)
	for i := range pool {
		if i%5 == 0 {
			pool[i] = fmt.Sprintf("id-%d", i)
		} else {
			pool[i] = hexID(rng.IntN(1 << 30))
		}
	}
	type rec struct {
		id string
		t  int64
	}
	var model []rec // oldest first
	var evicted int64
	dir := stateDir(t)
	d := mustOpenDelivered(t, dir, horizon, maxIDs)
	d.fs = &recordingFS{Dir: dir, discard: true}
	d.seqLimit = 3000
	now := dt0
	for round := range 6000 {
		now = now.Add(time.Duration(rng.IntN(3000)-1000) * time.Millisecond)
		batch := make([]string, 1+rng.IntN(4))
		for i := range batch {
			batch[i] = pool[rng.IntN(len(pool))]
		}
		mustAdd(t, d, now, batch...)
		for _, id := range batch {
			r := rec{id, now.UnixNano()}
			if i := slices.IndexFunc(model, func(r rec) bool { return r.id == id }); i >= 0 {
				r.t = max(r.t, model[i].t)
				model = slices.Delete(model, i, i+1)
			}
			model = append(model, r)
		}
		for len(model) > 0 {
			if model[0].t > now.UnixNano()-int64(horizon) {
				if len(model) <= maxIDs {
					break
				}
				evicted++
			}
			model = model[1:]
		}
		if d.len() != len(model) || d.evicted() != evicted {
			t.Fatalf("round %d: len %d, evicted %d; model %d, %d", round, d.len(), d.evicted(), len(model), evicted)
		}
		// Often just inside or past the horizon of recent deliveries.
		at := now.Add(horizon - time.Duration(rng.IntN(3000))*time.Millisecond)
		if rng.IntN(2) == 0 {
			at = now.Add(time.Duration(rng.IntN(100)) * time.Second)
		}
		for range 20 {
			id := pool[rng.IntN(len(pool))]
			i := slices.IndexFunc(model, func(r rec) bool { return r.id == id })
			want := i >= 0 && at.UnixNano()-model[i].t < int64(horizon)
			if got := d.has(id, at); got != want {
				t.Fatalf("round %d: has(%s) = %v, model says %v", round, id, got, want)
			}
			if got := d.known(id); got != (i >= 0) {
				t.Fatalf("round %d: known(%s) = %v, model says %v", round, id, got, i >= 0)
			}
		}
	}
	if d.renumbers == 0 {
		t.Error("sequence numbers never renumbered: seqLimit not exercised")
	}
}

// BenchmarkDeliveredAddOld is the comparison for BenchmarkDeliveredAdd's
// "mem" case: the outbox's earlier record, a map[string]time.Time
// marshalled whole to JSON every 1,024 ids, holding 100,000 live ids (one
// forgotten for each added), without its disk writes.
func BenchmarkDeliveredAddOld(b *testing.B) {
	const live = DefaultDedupMax
	ids := make([]string, 2*live)
	for i := range ids {
		ids[i] = hexID(i * 7919)
	}
	heap := oldBytesPerID(ids[:live])
	m := make(map[string]time.Time)
	for i, id := range ids[:live] {
		m[id] = dt0.Add(time.Duration(i) * time.Microsecond)
	}
	now, next, journalN := dt0.Add(time.Second), live, 0
	for b.Loop() {
		id := ids[next%len(ids)]
		delete(m, ids[(next-live)%len(ids)])
		next++
		now = now.Add(time.Microsecond)
		m[id] = now
		_ = fmt.Appendf(nil, "%s %s\n", now.UTC().Format(time.RFC3339Nano), id)
		if journalN++; journalN >= 1024 {
			p, err := json.Marshal(legacyDelivered{Delivered: m})
			if err != nil {
				b.Fatal(err)
			}
			io.Discard.Write(p)
			journalN = 0
		}
	}
	b.ReportMetric(heap, "heap-B/id")
}

func TestDeliveredOldSnapshotOverMax(t *testing.T) {
	dir := stateDir(t)
	var b strings.Builder
	b.WriteString(`{"delivered":{`)
	for i := range 6 {
		if i > 0 {
			b.WriteByte(',')
		}
		// Written out of time order: ids[i] was delivered at dt0+(5-i)s.
		fmt.Fprintf(&b, "%q:%q", hexID(i), dt0.Add(time.Duration(5-i)*time.Second).Format(time.RFC3339))
	}
	b.WriteString(`}}`)
	if err := dir.Write(deliveredSnapshot, []byte(b.String())); err != nil {
		t.Fatal(err)
	}
	d := mustOpenDelivered(t, dir, time.Hour, 2)
	wantIDs(t, d, dt0, []string{hexID(0), hexID(1)}, []string{hexID(2), hexID(3), hexID(4), hexID(5)})
	if d.len() != 2 || d.evicted() != 0 {
		t.Errorf("len = %d, evicted = %d; want 2, 0", d.len(), d.evicted())
	}
	// hexID(1) is the older of the two: the next delivery evicts it.
	mustAdd(t, d, dt0.Add(10*time.Second), hexID(9))
	wantIDs(t, d, dt0.Add(10*time.Second), []string{hexID(0), hexID(9)}, []string{hexID(1)})
}
