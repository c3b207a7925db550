package rules

import (
	"encoding/binary"
	"fmt"

	"github.com/secwatch/secwatch/internal/event"
)

// The binary snapshot encoding: the same state as Snapshot, written
// straight from the engine (AppendSnapshot), several times smaller than its
// JSON. docs/snapshot.md gives the grammar and why each part is shaped so.
// Every count is checked against the bytes left before anything is
// allocated, so a corrupt or hostile snapshot is an error, never a panic.

// binaryMagic opens a binary snapshot; binaryFormat is its format version.
const (
	binaryMagic  = "SWES"
	binaryFormat = 2
	// maxNames bounds the field names an encoder remembers.
	maxNames = 4096
)

const (
	flagFired = 1 << iota
	flagCool
	flagLast
	flagTimes
	flagVals
	flagSteps
	flagSamples
)

// IsBinarySnapshot reports whether b starts like a binary snapshot.
func IsBinarySnapshot(b []byte) bool {
	return len(b) >= len(binaryMagic) && string(b[:len(binaryMagic)]) == binaryMagic
}

type snapEncoder struct {
	b      []byte
	names  map[string]uint64
	now    int64 // group times are written relative to it
	red    *redactor
	format byte // binaryFormat; an older one in tests of the decoder
}

// pow10 are the time units a group's timestamps can be written in.
var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9}

// timeUnit returns the largest k such that 10^k divides every ts.
func timeUnit(ts []int64) int {
	k := len(pow10) - 1
	for _, t := range ts {
		for k > 0 && t%pow10[k] != 0 {
			k--
		}
		if k == 0 {
			break
		}
	}
	return k
}

func (w *snapEncoder) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *snapEncoder) varint(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *snapEncoder) str(s string) {
	w.uvarint(uint64(len(s)))
	w.b = append(w.b, s...)
}

// name writes a field name, by reference when it was written before.
func (w *snapEncoder) name(s []byte) {
	if i, ok := w.names[string(s)]; ok {
		w.uvarint(i + 2)
		return
	}
	if len(w.names) >= maxNames {
		w.uvarint(0)
	} else {
		w.names[string(s)] = uint64(len(w.names))
		w.uvarint(1)
	}
	w.uvarint(uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *snapEncoder) nameString(s string) {
	if i, ok := w.names[s]; ok {
		w.uvarint(i + 2)
		return
	}
	if len(w.names) >= maxNames {
		w.uvarint(0)
	} else {
		w.names[s] = uint64(len(w.names))
		w.uvarint(1)
	}
	w.str(s)
}

func (w *snapEncoder) header(now, clock int64, seq uint64, nrules int) {
	w.b = append(w.b, binaryMagic...)
	if w.format == 0 {
		w.format = binaryFormat
	}
	w.b = append(w.b, w.format)
	w.now = now
	w.varint(now)
	w.varint(clock)
	w.uvarint(seq)
	w.uvarint(uint64(nrules))
}

func (w *snapEncoder) rule(id, hash string, st *RuleStats, ruleNow int64, ngroups int) {
	w.str(id)
	w.str(hash)
	for _, v := range [...]int64{st.Matched, st.Ungrouped, st.Late, st.Evicted, st.Dropped, st.Alerts} {
		w.varint(v)
	}
	if w.format >= 2 {
		w.varint(ruleNow - w.now)
	}
	w.uvarint(uint64(ngroups))
}

func (w *snapEncoder) groupHead(fields []event.Field, t int64, fired bool, coolUntil, last int64, times []int64, vals, steps, samples bool) {
	w.uvarint(uint64(len(fields)))
	for _, f := range fields {
		w.nameString(f.Key)
		w.str(f.Value)
	}
	w.varint(t - w.now)
	var flags byte
	if fired {
		flags |= flagFired
	}
	if coolUntil != 0 {
		flags |= flagCool
	}
	if last != 0 {
		flags |= flagLast
	}
	if len(times) > 0 {
		flags |= flagTimes
	}
	if vals {
		flags |= flagVals
	}
	if steps {
		flags |= flagSteps
	}
	if samples {
		flags |= flagSamples
	}
	w.b = append(w.b, flags)
	if coolUntil != 0 {
		w.varint(coolUntil)
	}
	if last != 0 {
		w.varint(last)
	}
	if len(times) > 0 {
		w.uvarint(uint64(len(times)))
		k := timeUnit(times)
		if t%pow10[k] != 0 {
			k = 0 // the first delta is from t
		}
		w.b = append(w.b, byte(k))
		prev, u := t, pow10[k]
		for _, ts := range times {
			w.varint((ts - prev) / u)
			prev = ts
		}
	}
}

// AppendSnapshot appends the engine's state, in the binary encoding, to
// dst and returns the extended slice: Capture, then AppendTo, in one go.
// Call it on the goroutine that owns the engine. A daemon that must not
// stop the engine for the encoding captures on that goroutine and encodes
// on another. DecodeSnapshot(AppendSnapshot(nil)) equals Snapshot().
func (e *Engine) AppendSnapshot(dst []byte) []byte {
	var img Image
	e.Capture(&img)
	return img.AppendTo(dst)
}

// EncodeSnapshot appends s in the binary encoding to dst. It is the
// encoding AppendSnapshot writes from a live engine, for a Snapshot value
// (a converted JSON checkpoint, tests).
func EncodeSnapshot(dst []byte, s *Snapshot) []byte {
	return encodeSnapshot(dst, s, binaryFormat)
}

func encodeSnapshot(dst []byte, s *Snapshot, format byte) []byte {
	w := &snapEncoder{b: dst, names: map[string]uint64{}, format: format, red: newRedactor()}
	w.header(s.Now, s.Clock, s.Seq, len(s.Rules))
	for i := range s.Rules {
		r := &s.Rules[i]
		ruleNow := s.Now
		if r.Now != nil {
			ruleNow = *r.Now
		}
		w.rule(r.ID, r.Hash, &r.Stats, ruleNow, len(r.Groups))
		for j := range r.Groups {
			gs := &r.Groups[j]
			w.groupHead(sealFields(w.red, r.Hash, gs.Group), gs.T, gs.Fired, gs.CoolUntil, gs.Last, gs.Times, gs.Vals != nil, len(gs.Steps) > 0, len(gs.Samples) > 0)
			if gs.Vals != nil {
				dict := map[string]uint64{}
				var order []string
				for _, v := range gs.Vals {
					// The distinct field's name is not in a Snapshot:
					// values are sealed by what they hold.
					v = sealValue(w.red, r.Hash, "", v, false)
					if _, ok := dict[v]; !ok {
						dict[v] = uint64(len(order))
						order = append(order, v)
					}
				}
				w.uvarint(uint64(len(order)))
				for _, v := range order {
					w.nameString(v)
				}
				w.uvarint(uint64(len(gs.Vals)))
				for _, v := range gs.Vals {
					w.uvarint(dict[sealValue(w.red, r.Hash, "", v, false)])
				}
			}
			if len(gs.Steps) > 0 {
				w.uvarint(uint64(len(gs.Steps)))
				prevTs, prevSeq := gs.T, uint64(0)
				for _, st := range gs.Steps {
					w.uvarint(uint64(len(st)))
					for _, se := range st {
						w.varint(se[0] - prevTs)
						w.varint(int64(uint64(se[1]) - prevSeq))
						prevTs, prevSeq = se[0], uint64(se[1])
					}
				}
			}
			if len(gs.Samples) > 0 {
				w.uvarint(uint64(len(gs.Samples)))
				for _, smp := range gs.Samples {
					w.varint(smp.Time - gs.T)
					w.uvarint(uint64(len(smp.Fields)))
					for _, f := range smp.Fields {
						w.nameString(f.Key)
						w.nameString(w.red.value(f.Key, f.Value, false))
					}
				}
			}
		}
	}
	return w.b
}

// snapDecoder reads a binary snapshot. The first problem sticks: later
// reads return zeros, and counts read after it are 0, so loops end.
type snapDecoder struct {
	b     []byte
	off   int
	names []string
	now   int64
	err   error
}

func (r *snapDecoder) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("engine snapshot: byte %d: %s", r.off, fmt.Sprintf(format, args...))
	}
}

func (r *snapDecoder) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		if n == 0 {
			r.fail("truncated")
		} else {
			r.fail("varint overflows 64 bits")
		}
		return 0
	}
	r.off += n
	return v
}

// varint reads a zig-zag signed varint, as binary.AppendVarint writes it.
func (r *snapDecoder) varint() int64 {
	u := r.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

func (r *snapDecoder) byte1() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail("truncated")
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

// count reads a count of items each at least min bytes long and checks it
// against the bytes left.
func (r *snapDecoder) count(what string, min int) int {
	at := r.off
	n := r.uvarint()
	if r.err != nil {
		return 0
	}
	if left := uint64(len(r.b) - r.off); n > left/uint64(min) {
		r.off = at
		r.fail("%s count %d exceeds the %d bytes left", what, n, left)
		return 0
	}
	return int(n)
}

func (r *snapDecoder) str() string {
	n := r.count("string length", 1)
	if r.err != nil {
		return ""
	}
	s := string(r.b[r.off : r.off+n])
	r.off += n
	return s
}

func (r *snapDecoder) name() string {
	at := r.off
	tag := r.uvarint()
	switch {
	case r.err != nil:
		return ""
	case tag == 0:
		return r.str()
	case tag == 1:
		s := r.str()
		if r.err == nil {
			r.names = append(r.names, s)
		}
		return s
	case tag-2 < uint64(len(r.names)):
		return r.names[tag-2]
	default:
		r.off = at
		r.fail("field name reference %d, only %d names so far", tag-2, len(r.names))
		return ""
	}
}

func (r *snapDecoder) fields() []event.Field { return r.fieldList(r.str) }

// sampleFields reads a sample's fields, whose values are names too (an
// event type, a method, a message recurs from group to group).
func (r *snapDecoder) sampleFields() []event.Field { return r.fieldList(r.name) }

// fieldList reads a count, then that many fields: a name, and a value read
// by value.
func (r *snapDecoder) fieldList(value func() string) []event.Field {
	n := r.count("field", 2)
	if n == 0 {
		return nil
	}
	fs := make([]event.Field, n)
	for i := range fs {
		fs[i].Key = r.name()
		fs[i].Value = value()
	}
	return fs
}

// DecodeSnapshot decodes a binary snapshot (AppendSnapshot,
// EncodeSnapshot). Any malformed, truncated or trailing input is an error
// naming the byte offset.
func DecodeSnapshot(b []byte) (*Snapshot, error) {
	if !IsBinarySnapshot(b) {
		return nil, fmt.Errorf("engine snapshot: not a binary snapshot")
	}
	r := &snapDecoder{b: b, off: len(binaryMagic)}
	format := r.byte1()
	if r.err == nil && (format < 1 || format > binaryFormat) {
		r.off--
		r.fail("format version %d, want 1 to %d", format, binaryFormat)
	}
	s := &Snapshot{Version: SnapshotVersion}
	s.Now = r.varint()
	r.now = s.Now
	s.Clock = r.varint()
	s.Seq = r.uvarint()
	nrules := r.count("rule", 8)
	if nrules > 0 {
		s.Rules = make([]RuleSnapshot, 0, nrules)
	}
	for range nrules {
		if r.err != nil {
			break
		}
		var rs RuleSnapshot
		rs.ID = r.str()
		rs.Hash = r.str()
		rs.Stats.Rule = rs.ID
		for _, p := range [...]*int64{&rs.Stats.Matched, &rs.Stats.Ungrouped, &rs.Stats.Late, &rs.Stats.Evicted, &rs.Stats.Dropped, &rs.Stats.Alerts} {
			*p = r.varint()
		}
		if format >= 2 {
			now := s.Now + r.varint()
			rs.Now = &now
		}
		ng := r.count("group", 3)
		if ng > 0 {
			rs.Groups = make([]GroupSnapshot, 0, ng)
		}
		for range ng {
			if r.err != nil {
				break
			}
			rs.Groups = append(rs.Groups, r.group())
		}
		s.Rules = append(s.Rules, rs)
	}
	if r.err == nil && r.off != len(b) {
		r.fail("%d bytes of trailing data", len(b)-r.off)
	}
	if r.err != nil {
		return nil, r.err
	}
	return s, nil
}

func (r *snapDecoder) group() GroupSnapshot {
	var gs GroupSnapshot
	gs.Group = r.fields()
	gs.T = r.now + r.varint()
	at := r.off
	flags := r.byte1()
	if flags&^(flagFired|flagCool|flagLast|flagTimes|flagVals|flagSteps|flagSamples) != 0 {
		r.off = at
		r.fail("unknown group flags %#x", flags)
		return gs
	}
	gs.Fired = flags&flagFired != 0
	if flags&flagCool != 0 {
		gs.CoolUntil = r.varint()
	}
	if flags&flagLast != 0 {
		gs.Last = r.varint()
	}
	if flags&flagTimes != 0 {
		n := r.count("timestamp", 1)
		at := r.off
		k := r.byte1()
		if r.err == nil && int(k) >= len(pow10) {
			r.off = at
			r.fail("time unit 10^%d ns", k)
		}
		if r.err != nil {
			return gs
		}
		if n > 0 {
			gs.Times = make([]int64, n)
		}
		prev, u := gs.T, pow10[k]
		for i := range n {
			prev += r.varint() * u
			gs.Times[i] = prev
		}
	}
	if flags&flagVals != 0 {
		nd := r.count("distinct value", 1)
		dict := make([]string, nd)
		for i := range dict {
			dict[i] = r.name()
		}
		n := r.count("distinct entry", 1)
		gs.Vals = make([]string, n)
		for i := range gs.Vals {
			at := r.off
			j := r.uvarint()
			if r.err == nil && j >= uint64(nd) {
				r.off = at
				r.fail("distinct value index %d of %d", j, nd)
			}
			if r.err != nil {
				return gs
			}
			gs.Vals[i] = dict[j]
		}
		if r.err == nil && len(gs.Vals) != len(gs.Times) {
			r.fail("%d distinct values for %d timestamps", len(gs.Vals), len(gs.Times))
		}
	}
	if flags&flagSteps != 0 {
		ns := r.count("step", 1)
		prevTs, prevSeq := gs.T, uint64(0)
		for range ns {
			n := r.count("step event", 2)
			var evs [][2]int64
			for range n {
				prevTs += r.varint()
				prevSeq += uint64(r.varint())
				evs = append(evs, [2]int64{prevTs, int64(prevSeq)})
			}
			gs.Steps = append(gs.Steps, evs)
		}
	}
	if flags&flagSamples != 0 {
		n := r.count("sample", 2)
		for range n {
			t := gs.T + r.varint()
			gs.Samples = append(gs.Samples, SampleSnapshot{Time: t, Fields: r.sampleFields()})
		}
	}
	return gs
}
