package alerting

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/secwatch/secwatch/internal/state"
)

// DefaultDedupMax is how many delivered alert ids the outbox remembers at
// most when no other bound is given. Beyond it the oldest are forgotten
// first (docs/delivery.md, "The delivered-id record").
const DefaultDedupMax = 100_000

const (
	// deliveredMagic opens the binary snapshot of delivered ids. The JSON
	// snapshot of earlier versions opens with '{'.
	deliveredMagic = "secwatch-delivered-ids v2\n"
	// minCompact is the fewest journal records that trigger a compaction.
	minCompact = 1024
	// maxIDLen is the longest id ValidAlertID accepts; the binary record's
	// length byte relies on it.
	maxIDLen = 128
)

// drec is one delivery in the FIFO of a deliveredLog.
type drec struct {
	k [16]byte // the decoded hex id; zero for an id on the string path
	t int64    // when it was delivered, unix nanoseconds
}

// deliveredFS is what a deliveredLog writes with: a *state.Dir, or in
// tests a wrapper that counts or fails.
type deliveredFS interface {
	Append(name string, data []byte) error
	WriteStream(name string, fill func(w io.Writer) error) error
	Remove(name string) error
}

// deliveredLog is the outbox's record of delivered alert ids: which ids
// were delivered within the horizon, at most max of them, so that an alert
// fired again sends nothing twice. In memory it is a FIFO of deliveries,
// oldest first, and a map from each id to the sequence number of its
// latest FIFO record; on disk, the snapshot deliveredSnapshot and the
// journal deliveredJournal (docs/delivery.md, "The delivered-id record").
// It has no lock of its own: the outbox calls it under its mutex.
type deliveredLog struct {
	dir     *state.Dir
	fs      deliveredFS
	horizon time.Duration
	max     int

	// hex maps the ids secwatch makes (32 lowercase hex digits), kept as
	// their 16 bytes, to their live record's sequence number; str the
	// other ids, and strAt back from the number.
	hex map[[16]byte]uint32
	// seqLimit bounds sequence numbers: renumber starts them again from 1
	// before they reach it, so they never wrap around (lowered by tests).
	seqLimit uint32
	str      map[string]uint32 // the sequence numbers of the other ids
	strAt    map[uint32]string // sequence number → id, for the other ids
	q        []drec            // q[head:] is the FIFO, oldest first
	head     int
	base     uint32 // sequence number of q[0], at least 1; see seqLimit
	stale    int    // records in q[head:] that the index no longer points at

	journalN int  // records appended since the last compaction (attempt)
	snapN    int  // records in the last snapshot written
	tornTail bool // the journal may end in a partial record

	nEvicted    int64 // ids forgotten because of max, since open
	compactions int   // snapshots written, since open
	compactedN  int64 // records written to snapshots, since open
	renumbers   int   // renumber calls, since open
}

// openDelivered loads the snapshot (binary or the JSON of earlier
// versions) and the journal from dir, forgets the oldest ids beyond maxIDs
// (none by the horizon: open has no clock; the first add does that), and,
// when there was a journal or an old-format snapshot, folds everything
// into a fresh snapshot so that appends never follow a torn record. Problems got past — corrupt files moved aside
// (matching state.ErrCorrupt), malformed records skipped, a failed
// compaction — are returned in the []error for the caller to log; the
// error is for I/O failures that stop loading. horizon <= 0 means
// DefaultDedupHorizon; maxIDs <= 0 means DefaultDedupMax.
func openDelivered(dir *state.Dir, horizon time.Duration, maxIDs int) (*deliveredLog, []error, error) {
	if horizon <= 0 {
		horizon = DefaultDedupHorizon
	}
	if maxIDs <= 0 {
		maxIDs = DefaultDedupMax
	}
	d := newDeliveredLog(dir, horizon, maxIDs)
	var problems []error
	fold := false
	b, err := dir.Read(deliveredSnapshot)
	switch {
	case errors.Is(err, state.ErrCorrupt):
		problems = append(problems, err)
		fold = true
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, nil, fmt.Errorf("load delivered ids: %w", err)
	default:
		legacy, bad, reason := d.loadSnapshot(b)
		if reason != "" {
			problems = append(problems, dir.Quarantine(deliveredSnapshot, reason))
		} else if bad > 0 {
			problems = append(problems, d.malformed(deliveredSnapshot, bad))
		}
		fold = legacy || reason != "" || bad > 0
		d.forgetBefore(noCut)
	}
	j, err := dir.ReadJournal(deliveredJournal)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, nil, fmt.Errorf("load delivered ids: %w", err)
	default:
		if bad := d.loadJournal(j); bad > 0 {
			problems = append(problems, d.malformed(deliveredJournal, bad))
		}
		d.tornTail = len(j) > 0 && j[len(j)-1] != '\n'
		fold = true
	}
	d.forgetBefore(noCut)
	d.tidy()
	// The journal replays ids an earlier run already evicted and counted.
	d.nEvicted = 0
	if fold {
		if err := d.compact(noCut); err != nil {
			problems = append(problems, err)
		}
	} else {
		d.snapN = d.len()
	}
	return d, problems, nil
}

// newDeliveredLog returns an empty record that writes to dir.
func newDeliveredLog(dir *state.Dir, horizon time.Duration, maxIDs int) *deliveredLog {
	return &deliveredLog{
		dir: dir, fs: dir, horizon: horizon, max: maxIDs,
		hex:   make(map[[16]byte]uint32),
		str:   make(map[string]uint32),
		strAt: make(map[uint32]string),
		base:  1, seqLimit: 1 << 31,
	}
}

// malformed reports bad records skipped in name, which stays in place.
func (d *deliveredLog) malformed(name string, bad int) error {
	return &state.CorruptError{Name: name, Path: filepath.Join(d.dir.Path(), name),
		Reason: fmt.Sprintf("%d malformed records skipped", bad)}
}

// has reports whether id was delivered within the horizon before now.
func (d *deliveredLog) has(id string, now time.Time) bool {
	seq, ok := d.seqOf(id)
	return ok && now.UnixNano()-d.at(seq).t < int64(d.horizon)
}

// seqOf returns the sequence number of id's live record.
func (d *deliveredLog) seqOf(id string) (uint32, bool) {
	if k, isHex := parseHexID(id); isHex {
		seq, ok := d.hex[k]
		return seq, ok
	}
	seq, ok := d.str[id]
	return seq, ok
}

func (d *deliveredLog) at(seq uint32) *drec { return &d.q[seq-d.base] }

// known reports whether id is remembered at all, whatever the horizon:
// whether it was recorded and not yet forgotten.
func (d *deliveredLog) known(id string) bool {
	_, ok := d.seqOf(id)
	return ok
}

// len returns the number of ids remembered. Some may be past the horizon
// until they reach the front of the FIFO; has does not count them.
func (d *deliveredLog) len() int { return len(d.hex) + len(d.str) }

// evicted returns the number of ids forgotten because of max (not the
// horizon) since open, the source of secwatch_outbox_dedup_evicted_total.
// Ids open itself drops are not counted: the journal replays ids an
// earlier run already evicted.
func (d *deliveredLog) evicted() int64 { return d.nEvicted }

// add records ids as delivered at now, like a note of each (but
// forgetting once, after the whole batch), then journals the batch (one append, one fsync) and compact when due. It is note and
// journal in one call, for the outbox's start-up and for tests. An invalid
// id fails the whole batch, which records nothing. When the append fails
// the ids are still remembered in memory (and go into the next snapshot)
// and the error is returned.
func (d *deliveredLog) add(ids []string, now time.Time) error {
	for _, id := range ids {
		if !ValidAlertID(id) {
			return fmt.Errorf("record delivered alerts: invalid alert_id %q", id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	at := make([]time.Time, len(ids))
	t := clampNanos(now)
	for i, id := range ids {
		d.put(id, t)
		at[i] = now
	}
	d.forget(now)
	d.tidy()
	if err := d.journal(ids, at); err != nil {
		return err
	}
	return d.compactIfDue(now)
}

// note records id (valid) as delivered at now, in memory only, and
// forgets ids past the horizon or beyond max, oldest first. The outbox
// notes an id when its last notifier acks it, and journals it with the
// next commit.
func (d *deliveredLog) note(id string, now time.Time) {
	d.put(id, clampNanos(now))
	d.forget(now)
	d.tidy()
}

// journal appends one record per id, delivered at at[i], to the journal
// with one fsync. It touches no memory that note, has or known read, so
// the outbox calls it outside its mutex; compactIfDue afterwards, under
// it, folds the journal into a snapshot when due.
func (d *deliveredLog) journal(ids []string, at []time.Time) error {
	buf := make([]byte, 0, len(ids)*(len(time.RFC3339Nano)+36)+1)
	if d.tornTail {
		// End the partial record a crash or failed append left, so that
		// it alone is lost (and counted) rather than the next record too.
		buf = append(buf, '\n')
	}
	for i, id := range ids {
		buf = time.Unix(0, clampNanos(at[i])).UTC().AppendFormat(buf, time.RFC3339Nano)
		buf = append(append(append(buf, ' '), id...), '\n')
	}
	if err := d.fs.Append(deliveredJournal, buf); err != nil {
		d.tornTail = true
		return fmt.Errorf("record delivered alerts: %w", err)
	}
	d.tornTail = false
	d.journalN += len(ids)
	return nil
}

// compactNow forgets what is due at now, then compacts.
func (d *deliveredLog) compactNow(now time.Time) error {
	return d.compact(clampNanos(now) - int64(d.horizon))
}

// compactIfDue compacts when the journal holds at least as many records
// as the last snapshot, and at least minCompact.
func (d *deliveredLog) compactIfDue(now time.Time) error {
	if d.journalN >= max(minCompact, d.snapN) {
		return d.compactNow(now)
	}
	return nil
}

// compact forgets ids delivered at or before cut (unix nanoseconds) and
// beyond max, writes the remembered ids to a fresh snapshot in delivery
// order and removes the journal. A crash between the two leaves records in
// both files; loading takes the union.
// After a failure the next attempt waits for as many journal records as a
// success would, so a broken disk is not rewritten on every add.
func (d *deliveredLog) compact(cut int64) error {
	d.forgetBefore(cut)
	d.tidy()
	d.journalN = 0
	d.compactions++
	n := 0
	err := d.fs.WriteStream(deliveredSnapshot, func(w io.Writer) error {
		var err error
		n, err = d.writeSnapshot(w)
		return err
	})
	if err == nil {
		d.snapN = n
		d.compactedN += int64(n)
		err = d.fs.Remove(deliveredJournal)
	}
	if err != nil {
		return fmt.Errorf("compact delivered alert ids: %w", err)
	}
	d.tornTail = false
	return nil
}

// put records id as delivered at t (unix nanoseconds) at the back of the
// FIFO. An id already recorded moves to the back and keeps the later of
// the two times.
func (d *deliveredLog) put(id string, t int64) {
	if d.base+uint32(len(d.q)) >= d.seqLimit {
		d.renumber()
	}
	seq := d.base + uint32(len(d.q))
	k, isHex := parseHexID(id)
	if !isHex {
		if old, had := d.str[id]; had {
			t = max(t, d.at(old).t)
			d.stale++
			delete(d.strAt, old)
		}
		d.q = append(d.q, drec{t: t})
		d.str[id] = seq
		d.strAt[seq] = id
		return
	}
	if old, had := d.hex[k]; had {
		t = max(t, d.at(old).t)
		d.stale++
	}
	d.q = append(d.q, drec{k: k, t: t})
	d.hex[k] = seq
}

// merge is put for loading: a record no later than the one already there
// (the same delivery in both snapshot and journal) changes nothing.
func (d *deliveredLog) merge(id string, t int64) {
	if seq, ok := d.seqOf(id); ok && d.at(seq).t >= t {
		return
	}
	d.put(id, t)
}

// live reports whether the FIFO record at sequence number s is its id's
// latest; id is set for an id that is not hex.
func (d *deliveredLog) live(s uint32) (id string, ok bool) {
	if len(d.strAt) > 0 {
		if id, ok := d.strAt[s]; ok {
			return id, true
		}
	}
	seq, ok := d.hex[d.at(s).k]
	return "", ok && seq == s
}

// forget drops, from the front of the FIFO, stale records, ids delivered
// a horizon or more before now, and ids beyond max (counted as evicted).
// An id recorded out of time order (the clock stepped back) waits behind
// newer ones; has already treats it as expired.
func (d *deliveredLog) forget(now time.Time) {
	d.forgetBefore(clampNanos(now) - int64(d.horizon))
}

// clampNanos returns now in unix nanoseconds, brought into 1970..2262 (a
// clock outside it is broken; records keep a time >= 0).
func clampNanos(now time.Time) int64 {
	if n, ok := unixNanos(now); ok {
		return n
	}
	if now.Before(time.Unix(0, 0)) {
		return 0
	}
	return math.MaxInt64
}

// noCut forgets nothing by time.
const noCut = math.MinInt64

// forgetBefore is forget with the horizon's start given in unix
// nanoseconds: ids delivered at or before cut are forgotten.
func (d *deliveredLog) forgetBefore(cut int64) {
	for d.head < len(d.q) {
		s := d.base + uint32(d.head)
		id, ok := d.live(s)
		switch {
		case !ok:
			d.stale--
		case d.q[d.head].t <= cut:
		case d.len() > d.max:
			d.nEvicted++
		default:
			return
		}
		switch {
		case ok && id != "":
			delete(d.strAt, s)
			delete(d.str, id)
		case ok:
			delete(d.hex, d.q[d.head].k)
		}
		d.head++
		if d.head >= minCompact && d.head*2 >= len(d.q) {
			n := copy(d.q, d.q[d.head:])
			d.q = d.q[:n]
			d.base += uint32(d.head)
			d.head = 0
		}
	}
}

// tidy renumbers when stale records outnumber the live ones; each stale
// record is dropped once, so the cost is O(1) per put.
func (d *deliveredLog) tidy() {
	if d.stale >= minCompact && d.stale > d.len() {
		d.renumber()
	}
}

// renumber drops the stale records from the FIFO, numbers the live ones
// again from 1 and rebuilds the index. The FIFO's memory is released when
// it is mostly unused.
func (d *deliveredLog) renumber() {
	d.renumbers++
	// Mark the stale records (times are >= 0) while the old numbers still
	// hold.
	for i := d.head; i < len(d.q); i++ {
		if _, ok := d.live(d.base + uint32(i)); !ok {
			d.q[i].t = -1
		}
	}
	strAt := make(map[uint32]string, len(d.strAt))
	w := 0
	for i := d.head; i < len(d.q); i++ {
		if d.q[i].t < 0 {
			continue
		}
		if id, ok := d.strAt[d.base+uint32(i)]; ok {
			strAt[uint32(1+w)] = id
			d.str[id] = uint32(1 + w)
		}
		d.q[w] = d.q[i]
		w++
	}
	d.q = d.q[:w]
	if cap(d.q) > 4*w+minCompact {
		d.q = slices.Clip(slices.Clone(d.q))
	}
	d.strAt, d.head, d.base, d.stale = strAt, 0, 1, 0
	for i := range d.q {
		if _, isStr := strAt[uint32(1+i)]; !isStr {
			d.hex[d.q[i].k] = uint32(1 + i)
		}
	}
}

// parseHexID returns the 16 bytes of an id of 32 lowercase hex digits, the
// form secwatch's alert ids take.
func parseHexID(id string) (k [16]byte, ok bool) {
	if len(id) != 32 {
		return k, false
	}
	for i := range k {
		hi, ok1 := unhex(id[2*i])
		lo, ok2 := unhex(id[2*i+1])
		if !ok1 || !ok2 {
			return k, false
		}
		k[i] = hi<<4 | lo
	}
	return k, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

const hexDigits = "0123456789abcdef"

// writeSnapshot writes the binary snapshot of the live records in
// delivery order and returns how many it wrote. Each record is one byte L,
// the id (16 bytes when L is 0, else L bytes of text), and the delivery
// time as a big-endian int64 of unix nanoseconds.
func (d *deliveredLog) writeSnapshot(w io.Writer) (int, error) {
	buf := make([]byte, 0, 64<<10)
	buf = append(buf, deliveredMagic...)
	n := 0
	for i := d.head; i < len(d.q); i++ {
		r := &d.q[i]
		id, ok := d.live(d.base + uint32(i))
		switch {
		case !ok:
			continue
		case id != "":
			buf = append(append(buf, byte(len(id))), id...)
		default:
			buf = append(append(buf, 0), r.k[:]...)
		}
		buf = binary.BigEndian.AppendUint64(buf, uint64(r.t))
		n++
		if len(buf) > cap(buf)-(1+maxIDLen+8) {
			if _, err := w.Write(buf); err != nil {
				return n, err
			}
			buf = buf[:0]
		}
	}
	_, err := w.Write(buf)
	return n, err
}

// legacyDelivered is the JSON snapshot written by earlier versions.
type legacyDelivered struct {
	Delivered map[string]time.Time `json:"delivered"`
}

// loadSnapshot reads a snapshot payload in either format. legacy is true
// for the JSON one; bad counts records skipped (invalid id or time);
// reason is set when the payload cannot be decoded, and the file must be
// moved aside. Records read before a decoding error are kept.
func (d *deliveredLog) loadSnapshot(b []byte) (legacy bool, bad int, reason string) {
	rest, ok := bytes.CutPrefix(b, []byte(deliveredMagic))
	if !ok {
		if bytes.HasPrefix(b, []byte("secwatch-delivered-ids ")) {
			line, _, _ := bytes.Cut(b[:min(len(b), 64)], []byte{'\n'})
			return false, 0, fmt.Sprintf("unsupported delivered-ids format %q (written by a newer secwatch?)", line)
		}
		return true, d.loadJSON(b, &reason), reason
	}
	for off := len(deliveredMagic); len(rest) > 0; {
		l := int(rest[0])
		n := l
		if l == 0 {
			n = 16
		}
		if l > maxIDLen || len(rest) < 1+n+8 {
			return false, bad, fmt.Sprintf("undecodable record at byte %d", off)
		}
		idb, t := rest[1:1+n], int64(binary.BigEndian.Uint64(rest[1+n:]))
		var id string
		if l == 0 {
			id = hexString(idb)
		} else {
			id = string(idb)
		}
		if !ValidAlertID(id) || t < 0 {
			bad++
		} else {
			d.merge(id, t)
		}
		rest = rest[1+n+8:]
		off += 1 + n + 8
	}
	return false, bad, ""
}

func hexString(b []byte) string {
	s := make([]byte, 0, 2*len(b))
	for _, c := range b {
		s = append(s, hexDigits[c>>4], hexDigits[c&15])
	}
	return string(s)
}

// loadJSON reads the JSON snapshot of earlier versions. It has no order,
// so ids are put in order of delivery time, then id.
func (d *deliveredLog) loadJSON(b []byte, reason *string) (bad int) {
	var f legacyDelivered
	if err := json.Unmarshal(b, &f); err != nil {
		*reason = "undecodable: " + err.Error()
		return 0
	}
	type rec struct {
		id string
		t  int64
	}
	recs := make([]rec, 0, len(f.Delivered))
	for id, t := range f.Delivered {
		if n, ok := unixNanos(t); ok && ValidAlertID(id) {
			recs = append(recs, rec{id, n})
		} else {
			bad++
		}
	}
	slices.SortFunc(recs, func(a, b rec) int {
		return cmp.Or(cmp.Compare(a.t, b.t), strings.Compare(a.id, b.id))
	})
	// Only the newest max can stay (a snapshot from before the bound).
	for _, r := range recs[max(0, len(recs)-d.max):] {
		d.merge(r.id, r.t)
	}
	return bad
}

// unixNanos returns t in unix nanoseconds when t is between 1970 and the
// end of what int64 nanoseconds hold.
func unixNanos(t time.Time) (int64, bool) {
	if t.Before(time.Unix(0, 0)) || t.After(time.Unix(0, 1<<63-1)) {
		return 0, false
	}
	return t.UnixNano(), true
}

// loadJournal reads the journal's "<RFC 3339 time> <id>\n" records and
// returns how many were malformed. An unterminated last record was torn
// by a crash mid-append and never counted: it is ignored. Empty lines
// (left by ending a torn record) are ignored too.
func (d *deliveredLog) loadJournal(j []byte) (bad int) {
	for len(j) > 0 {
		line, rest, ok := bytes.Cut(j, []byte{'\n'})
		if !ok {
			break
		}
		j = rest
		if len(line) == 0 {
			continue
		}
		ts, id, ok := strings.Cut(string(line), " ")
		t, err := time.Parse(time.RFC3339Nano, ts)
		n, inRange := unixNanos(t)
		if !ok || err != nil || !inRange || !ValidAlertID(id) {
			bad++
			continue
		}
		d.merge(id, n)
	}
	return bad
}

// hasWithin is has with the horizon the outbox holds now (its
// DedupHorizon may be set after open, before the first Put).
func (d *deliveredLog) hasWithin(id string, now time.Time, horizon time.Duration) bool {
	d.horizon = horizon
	return d.has(id, now)
}
