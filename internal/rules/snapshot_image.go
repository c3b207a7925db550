package rules

import (
	"cmp"
	"slices"
	"unsafe"

	"github.com/secwatch/secwatch/internal/event"
)

// Image is an engine's state copied out at one instant (Capture), so that
// the binary snapshot can be encoded from it (AppendTo) while the engine
// goes on. Capture only copies: the work of an encoding (sealing and
// redacting values, varints, the name table) is AppendTo's. The zero value
// is an empty image; Capture reuses its memory from capture to capture.
//
// An image shares with the engine only strings, which never change; it
// holds no pointer into the engine's groups. Capture must run on the
// goroutine that owns the engine; AppendTo may run on any goroutine, but
// not at the same time as a Capture into the same image.
type Image struct {
	now, clock int64
	seq        uint64
	rules      []imageRule
	groups     []imageGroup // in the order they were copied, not list order
	order      []int32      // AppendTo's scratch: groups in list order

	// The groups' variable parts, appended in group order and read back
	// in the same order by AppendTo.
	strs  []string // field names of group keys, distinct values
	bytes []byte   // group key values, sample buffers
	ints  []int64  // counted times, step events (ts, seq), sample times
	u32s  []uint32 // key value lengths, distinct ids, step lengths, sample field counts and lengths
}

type imageRule struct {
	id, hash, distinct string
	stats              RuleStats
	now                int64
	groups             int // its groups in Image.groups
}

type imageGroup struct {
	t, coolUntil, last int64
	fired, dist        bool
	fields, times      int32
	vals, ids          int32
	steps, samples     int32
	// Where the group is: its rule (index) and its place in the rule's
	// list (capture.go), and where its variable parts start.
	rule               int32
	ord                uint64
	str, byt, i64, u32 int
}

// Capture copies the engine's state into img, replacing what it held, at
// once: BeginCapture and FinishCapture in one call. It allocates only while
// img's memory grows.
func (e *Engine) Capture(img *Image) {
	e.BeginCapture(img)
	e.FinishCapture()
}

// group appends g's state. Key values and samples are copied byte for
// byte: a group's key and sample buffers are reused (setKey, sampleSlot.set).
func (img *Image) group(g *group, rule int32, ord uint64) {
	ig := imageGroup{t: g.t, coolUntil: g.coolUntil, last: g.last, fired: g.fired, dist: g.dist != nil,
		rule: rule, ord: ord, str: len(img.strs), byt: len(img.bytes), i64: len(img.ints), u32: len(img.u32s)}
	ig.fields = int32(len(g.fields))
	for _, f := range g.fields {
		img.strs = append(img.strs, f.Key)
		img.u32s = append(img.u32s, uint32(len(f.Value)))
		img.bytes = append(img.bytes, f.Value...)
	}
	times := g.times[g.head:]
	ig.times = int32(len(times))
	img.ints = append(img.ints, times...)
	if d := g.dist; d != nil {
		ig.vals = int32(len(d.vs))
		for _, v := range d.vs {
			img.strs = append(img.strs, v.v) // a free slot is "" and never referenced
		}
		ids := d.ids[g.head:]
		ig.ids = int32(len(ids))
		for _, i := range ids {
			img.u32s = append(img.u32s, uint32(i))
		}
	}
	ig.steps = int32(len(g.steps))
	for _, st := range g.steps {
		img.u32s = append(img.u32s, uint32(len(st)))
		for _, se := range st {
			img.ints = append(img.ints, se.ts, int64(se.seq))
		}
	}
	if r := g.samples; r != nil && r.n > 0 {
		ig.samples = int32(r.n)
		for i := range int(r.n) {
			s := &r.slots[(int(r.start)+i)%MaxSamples]
			img.ints = append(img.ints, s.t.UnixNano())
			img.u32s = append(img.u32s, uint32(len(s.lens)))
			img.u32s = append(img.u32s, s.lens...)
			img.bytes = append(img.bytes, s.buf...)
		}
	}
	img.groups = append(img.groups, ig)
}

// imageReader reads a group's variable parts back in the order Capture
// appended them, from where they start.
type imageReader struct {
	img                *Image
	str, byt, i64, u32 int
}

// next returns the n items of s from *at on and moves *at past them.
func next[T any](s []T, at *int, n int) []T {
	out := s[*at : *at+n]
	*at += n
	return out
}

func (r *imageReader) strings(n int32) []string { return next(r.img.strs, &r.str, int(n)) }
func (r *imageReader) int64s(n int32) []int64   { return next(r.img.ints, &r.i64, int(n)) }
func (r *imageReader) uint32s(n int32) []uint32 { return next(r.img.u32s, &r.u32, int(n)) }
func (r *imageReader) bytes(n uint32) []byte    { return next(r.img.bytes, &r.byt, int(n)) }

// AppendTo appends the image in the binary snapshot encoding to dst and
// returns the extended slice: the bytes AppendSnapshot would have written
// at the instant of the capture's beginning. It must not run while a
// capture into img is in progress.
func (img *Image) AppendTo(dst []byte) []byte {
	w := &snapEncoder{b: dst, names: map[string]uint64{}, red: newRedactor()}
	w.header(img.now, img.clock, img.seq, len(img.rules))
	r := &imageReader{img: img}
	var fields []event.Field
	order := img.listOrder()
	for i := range img.rules {
		ir := &img.rules[i]
		w.rule(ir.id, ir.hash, &ir.stats, ir.now, ir.groups)
		for _, j := range order[:ir.groups] {
			fields = r.group(w, ir, &img.groups[j], fields[:0])
		}
		order = order[ir.groups:]
	}
	return w.b
}

// listOrder returns the image's groups by rule, then in list order. A
// capture that ran to its end at once copied them in that order already.
func (img *Image) listOrder() []int32 {
	order := img.order[:0]
	for i := range img.groups {
		order = append(order, int32(i))
	}
	img.order = order
	before := func(a, b int32) int {
		ga, gb := &img.groups[a], &img.groups[b]
		if c := cmp.Compare(ga.rule, gb.rule); c != 0 {
			return c
		}
		return cmp.Compare(ga.ord, gb.ord)
	}
	if !slices.IsSortedFunc(order, before) {
		slices.SortFunc(order, before)
	}
	return order
}

// group writes one group as appendBinary used to from the engine: sealed
// group and distinct values, redacted samples (snapshot_seal.go). fields
// is scratch memory, returned for reuse.
func (r *imageReader) group(w *snapEncoder, ir *imageRule, ig *imageGroup, fields []event.Field) []event.Field {
	r.str, r.byt, r.i64, r.u32 = ig.str, ig.byt, ig.i64, ig.u32
	for _, k := range r.strings(ig.fields) {
		n := r.uint32s(1)[0]
		// The value is only read while this group is written (str copies
		// it; the redactor and the name table keep clones): no copy here.
		fields = append(fields, event.Field{Key: k, Value: unsafeString(r.bytes(n))})
	}
	times := r.int64s(ig.times)
	w.groupHead(sealFields(w.red, ir.hash, fields), ig.t, ig.fired, ig.coolUntil, ig.last, times, ig.dist, ig.steps > 0, ig.samples > 0)
	if ig.dist {
		vals := r.strings(ig.vals)
		w.uvarint(uint64(len(vals)))
		for _, v := range vals {
			w.nameString(sealValue(w.red, ir.hash, ir.distinct, v, false))
		}
		ids := r.uint32s(ig.ids)
		w.uvarint(uint64(len(ids)))
		for _, i := range ids {
			w.uvarint(uint64(i))
		}
	}
	if ig.steps > 0 {
		w.uvarint(uint64(ig.steps))
		prevTs, prevSeq := ig.t, uint64(0)
		for _, n := range r.uint32s(ig.steps) {
			w.uvarint(uint64(n))
			evs := r.int64s(2 * int32(n))
			for k := 0; k < len(evs); k += 2 {
				ts, seq := evs[k], uint64(evs[k+1])
				w.varint(ts - prevTs)
				w.varint(int64(seq - prevSeq))
				prevTs, prevSeq = ts, seq
			}
		}
	}
	if ig.samples > 0 {
		w.uvarint(uint64(ig.samples))
		for range ig.samples {
			w.varint(r.int64s(1)[0] - ig.t)
			lens := r.uint32s(int32(r.uint32s(1)[0]))
			w.uvarint(uint64(len(lens) / 2))
			for j := 0; j+1 < len(lens); j += 2 {
				k, v := r.bytes(lens[j]), r.bytes(lens[j+1])
				w.name(k)
				w.nameString(w.red.valueBytes(k, v))
			}
		}
	}
	return fields
}

func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
