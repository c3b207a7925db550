package alerting

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/secwatch/secwatch/internal/state"
)

// The outbox journal: pending alerts as records appended to a segment file
// (docs/delivery.md, "The outbox journal").
const (
	journalMagic  = "secwatch-outbox-journal v1\n"
	journalPrefix = "journal-"
	journalSuffix = ".log"
	recHeader     = 8        // big-endian uint32 payload length, uint32 CRC-32C
	maxRecord     = 64 << 20 // longest payload a reader accepts
	// minSegment is the smallest segment that is compacted: a segment is
	// rewritten with only its live records once it is at least this big
	// and at least half of it is dead records.
	minSegment = 8 << 20

	recEntry  byte = 'E' // an entry's JSON: its state from here on
	recRemove byte = 'R' // an alert id: delivered or dead-lettered
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendRecord appends the record of kind and body to buf.
func appendRecord(buf []byte, kind byte, body []byte) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(1+len(body)))
	sum := crc32.Update(crc32.Update(0, castagnoli, []byte{kind}), castagnoli, body)
	buf = binary.BigEndian.AppendUint32(buf, sum)
	return append(append(buf, kind), body...)
}

// jrec is one valid record found in a segment.
type jrec struct {
	kind byte
	body []byte
	off  int64 // where its header starts
	size int64 // header and payload
}

// recordAt returns the record that starts at off in b, if one does:
// complete, of a known kind, and with a matching checksum.
func recordAt(b []byte, off int) (jrec, bool) {
	if len(b)-off < recHeader+1 {
		return jrec{}, false
	}
	n := int(binary.BigEndian.Uint32(b[off:]))
	end := off + recHeader + n
	if n < 1 || n > maxRecord || end > len(b) {
		return jrec{}, false
	}
	p := b[off+recHeader : end]
	if (p[0] != recEntry && p[0] != recRemove) || crc32.Checksum(p, castagnoli) != binary.BigEndian.Uint32(b[off+4:]) {
		return jrec{}, false
	}
	return jrec{kind: p[0], body: p[1:], off: int64(off), size: int64(recHeader + n)}, true
}

// segmentScan is what scanSegment found in a segment.
type segmentScan struct {
	recs []jrec
	// end is where the last valid record ends: a torn tail (a record a
	// crash cut short, never acknowledged) starts there when end < len.
	end int64
	// corrupt describes damaged bytes between valid records, skipped.
	corrupt []string
}

// scanSegment reads the records of segment bytes b. After damaged bytes
// it looks for the next valid record at every following offset; damage
// that no valid record follows is a torn tail and is not reported. ok is
// false when b does not start with journalMagic.
func scanSegment(b []byte) (s segmentScan, ok bool) {
	if !bytes.HasPrefix(b, []byte(journalMagic)) {
		// A crash cannot leave a segment shorter than its magic: each is
		// written whole before its rename.
		return segmentScan{}, false
	}
	off := len(journalMagic)
	s.end = int64(off)
	for off < len(b) {
		if r, ok := recordAt(b, off); ok {
			s.recs = append(s.recs, r)
			off += int(r.size)
			s.end = int64(off)
			continue
		}
		next := off + 1
		for ; next < len(b); next++ {
			if _, ok := recordAt(b, next); ok {
				break
			}
		}
		if next >= len(b) {
			break // torn tail
		}
		s.corrupt = append(s.corrupt, fmt.Sprintf("%d damaged bytes at byte %d skipped", next-off, off))
		off = next
	}
	return s, true
}

// replayed is the pending state a segment's records describe.
type replayed struct {
	entries map[string]*Entry
	spans   map[string]span // where each entry's record is
	bad     []string        // records that decode to no valid entry
}

// replay applies the records of s in order: the last entry record of an
// id is its state, a removal record ends it.
func replay(s segmentScan) replayed {
	r := replayed{entries: make(map[string]*Entry), spans: make(map[string]span)}
	for _, rec := range s.recs {
		if rec.kind == recRemove {
			delete(r.entries, string(rec.body))
			delete(r.spans, string(rec.body))
			continue
		}
		var e Entry
		if err := json.Unmarshal(rec.body, &e); err != nil || !ValidAlertID(e.Doc.AlertID) {
			r.bad = append(r.bad, fmt.Sprintf("undecodable entry record at byte %d", rec.off))
			continue
		}
		r.entries[e.Doc.AlertID] = &e
		r.spans[e.Doc.AlertID] = span{rec.off, rec.size}
	}
	return r
}

// takeFile adds e, read from its entry file, to the entries of a journal:
// a file with a dead-letter mark (moved back to be re-driven) wins over
// the journal's entry, another one (left by an interrupted migration)
// only fills a gap.
func takeFile(entries map[string]*Entry, e *Entry) {
	if entries[e.Doc.AlertID] == nil || !e.DeadLettered.IsZero() {
		entries[e.Doc.AlertID] = e
	}
}

// ReadPending returns the pending alerts of the outbox directory at path,
// in delivery order, for a tool that runs beside a daemon: the entries of
// the newest journal segment (a record being appended is not there yet)
// and of entry files not taken into the journal yet. It takes no lock and
// writes nothing, except that a corrupt entry file is moved aside (as
// state.Dir.Read does). Alerts delivered or dead-lettered by an
// interrupted commit may still be listed.
func ReadPending(path string) ([]Entry, error) {
	d, err := state.OpenUnlocked(path)
	if err != nil {
		return nil, err
	}
	names, err := d.List()
	if err != nil {
		return nil, err
	}
	_, b, err := readSegment(path, names)
	if err != nil {
		return nil, err
	}
	entries := make(map[string]*Entry)
	if s, ok := scanSegment(b); ok {
		entries = replay(s).entries
	}
	for _, name := range names {
		id, ok := strings.CutSuffix(name, entrySuffix)
		if !ok || !ValidAlertID(id) {
			continue
		}
		var e Entry
		if b, err := d.Read(name); err == nil && json.Unmarshal(b, &e) == nil && e.Doc.AlertID == id {
			takeFile(entries, &e)
		}
	}
	out := make([]Entry, 0, len(entries))
	for _, e := range entries {
		out = append(out, *e)
	}
	sortPending(out)
	return out, nil
}

// segmentName is the file name of segment n.
func segmentName(n uint64) string {
	return fmt.Sprintf("%s%016x%s", journalPrefix, n, journalSuffix)
}

// segments returns the numbers of the segment files among names, sorted.
func segments(names []string) []uint64 {
	var ns []uint64
	for _, name := range names {
		h, ok := strings.CutPrefix(name, journalPrefix)
		if h, ok2 := strings.CutSuffix(h, journalSuffix); ok && ok2 && len(h) == 16 {
			if n, err := strconv.ParseUint(h, 16, 64); err == nil {
				ns = append(ns, n)
			}
		}
	}
	slices.Sort(ns)
	return ns
}

// span is where an id's live entry record sits in the current segment.
type span struct{ off, size int64 }

// journal is the segment the outbox appends to and the index of its live
// records. Only the committer uses it once the outbox is open.
type journal struct {
	dir       *state.Dir
	f         *os.File // the current segment; nil before the first
	n         uint64   // its number
	size      int64    // bytes written to it
	live      map[string]span
	liveBytes int64
	minSize   int64 // the smallest segment compacted; if 0, minSegment
	retryAt   int64 // after a failed compaction: the size to try again at
	broken    bool  // a failed append left bytes past size
}

// append writes the records in buf, which hold the given ids at the given
// offsets of buf, at the end of the segment and fsyncs it. Only when that
// succeeds is the index changed. A failed append is cut off again.
func (j *journal) append(buf []byte, recs []batchRec) error {
	switch {
	case j.f == nil: // nothing on disk yet
		if err := j.replace(nil, 0); err != nil {
			return err
		}
	case j.broken:
		if err := j.compact(); err != nil {
			return err
		}
		j.broken = false
	}
	_, err := j.f.WriteAt(buf, j.size)
	if err == nil {
		err = j.f.Sync()
	}
	if err != nil {
		if terr := j.f.Truncate(j.size); terr != nil {
			j.broken = true // the next append starts a new segment
		}
		return fmt.Errorf("append to outbox journal %s: %w", filepath.Join(j.dir.Path(), segmentName(j.n)), err)
	}
	for _, r := range recs {
		if old, ok := j.live[r.id]; ok {
			j.liveBytes -= old.size
			delete(j.live, r.id)
		}
		if r.kind == recEntry {
			j.live[r.id] = span{j.size + int64(r.off), int64(r.size)}
			j.liveBytes += int64(r.size)
		}
	}
	j.size += int64(len(buf))
	return nil
}

// batchRec is one record of an append: its id, kind and place in the
// batch's buffer.
type batchRec struct {
	id        string
	kind      byte
	off, size int
}

// due reports whether the segment should be compacted: it is at least
// minSegment long and its dead records take at least as much as its live
// ones, so each live byte is copied at most once per byte appended.
func (j *journal) due() bool {
	dead := j.size - int64(len(journalMagic)) - j.liveBytes
	least := j.minSize
	if least == 0 {
		least = minSegment
	}
	return j.f != nil && j.size >= max(least, j.retryAt) && dead >= j.liveBytes
}

// compact writes the live records to a new segment and removes the old
// one. After a failure it waits until the segment has doubled.
func (j *journal) compact() error {
	old := make([]byte, j.size)
	if _, err := j.f.ReadAt(old, 0); err != nil {
		j.retryAt = 2 * j.size
		return fmt.Errorf("compact outbox journal: %w", err)
	}
	ids := make([]string, 0, len(j.live))
	for id := range j.live {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int { return int(j.live[a].off - j.live[b].off) })
	recs := make([][]byte, len(ids))
	for i, id := range ids {
		s := j.live[id]
		recs[i] = old[s.off : s.off+s.size]
	}
	if err := j.replaceRaw(ids, recs, 0); err != nil {
		j.retryAt = 2 * j.size
		return fmt.Errorf("compact outbox journal: %w", err)
	}
	j.retryAt = 0
	return nil
}

// replace starts a new segment holding an entry record for each of es,
// in order, and removes the segments before it but segment keep (as
// replaceRaw). The caller makes sure they hold nothing else pending.
func (j *journal) replace(es []*Entry, keep uint64) error {
	ids := make([]string, len(es))
	recs := make([][]byte, len(es))
	for i, e := range es {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("outbox journal: encode %s: %w", e.Doc.AlertID, err)
		}
		ids[i], recs[i] = e.Doc.AlertID, appendRecord(nil, recEntry, b)
	}
	return j.replaceRaw(ids, recs, keep)
}

// replaceRaw writes segment j.n+1 with the records recs (of ids): to a
// temporary file, fsynced, renamed, the directory fsynced. It makes the
// new segment current and removes every older one but segment keep (0:
// none), which the caller moves aside.
func (j *journal) replaceRaw(ids []string, recs [][]byte, keep uint64) error {
	next := j.n + 1
	name := segmentName(next)
	final := filepath.Join(j.dir.Path(), name)
	tmp, err := os.CreateTemp(j.dir.Path(), "."+name+".tmp-*")
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(tmp, 1<<20)
	w.WriteString(journalMagic)
	size := int64(len(journalMagic))
	live := make(map[string]span, len(ids))
	var liveBytes int64
	for i, r := range recs {
		live[ids[i]] = span{size, int64(len(r))}
		liveBytes += int64(len(r))
		size += int64(len(r))
		w.Write(r)
	}
	err = w.Flush()
	if err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		err = os.Rename(tmp.Name(), final)
	}
	if err == nil {
		err = j.dir.SyncDir()
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("write outbox journal %s: %w", final, err)
	}
	if j.f != nil {
		j.f.Close()
	}
	j.f, j.n, j.size, j.live, j.liveBytes = tmp, next, size, live, liveBytes
	// The file stays open under its new name. The older segments are
	// superseded: a crash before they are gone leaves them to the next
	// open, which reads only the newest.
	names, err := j.dir.List()
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range segments(names) {
		switch {
		case m >= next, m == keep:
		default:
			errs = append(errs, j.dir.Remove(segmentName(m)))
		}
	}
	return errors.Join(errs...)
}

// close closes the current segment.
func (j *journal) close() error {
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// readSegment reads the newest segment of the outbox directory at path.
// A segment removed while being looked for (replaced by a compaction) is
// looked for again. n is 0 and the scan empty when there is none.
func readSegment(path string, names []string) (n uint64, b []byte, err error) {
	for range 10 {
		ns := segments(names)
		if len(ns) == 0 {
			return 0, nil, nil
		}
		n = ns[len(ns)-1]
		b, err = os.ReadFile(filepath.Join(path, segmentName(n)))
		if !errors.Is(err, fs.ErrNotExist) {
			return n, b, err
		}
		ents, err := os.ReadDir(path)
		if err != nil {
			return 0, nil, err
		}
		names = names[:0]
		for _, e := range ents {
			names = append(names, e.Name())
		}
	}
	return 0, nil, fmt.Errorf("read outbox journal in %s: segments keep changing", path)
}
