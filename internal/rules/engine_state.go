package rules

import (
	"strings"
	"time"
	"unsafe"

	"github.com/secwatch/secwatch/internal/event"
)

// Compact per-group state: the distinct values of a distinct rule and the
// sample events of a group close to firing. Both reuse their memory from
// event to event, so that observing a matching event allocates nothing
// once a group is warm (see BenchmarkObserve).

// distinctLinear is the number of distinct values below which a set is
// searched linearly; above it a map indexes the values. Thresholds are
// small (5 or 20 distinct paths), so most sets never build the map.
const distinctLinear = 16

// distinctSet is a distinct rule's window state for one group: the value
// of each counted entry (ids, parallel to the group's times, 4 bytes an
// entry) and, per value, one owned copy and the number of entries that
// hold it. Slots of values that left the window are reused. A set never
// keeps a reference into an event: an event's values are substrings of the
// whole line, and keeping one would pin the line.
type distinctSet struct {
	ids  []int32       // slot of each times entry
	vs   []distinctVal // slots; n == 0 marks a free one
	free []int32
	live int
	idx  map[string]int32 // value → slot, only beyond distinctLinear values
	// sealed counts slots restored with a sealed value (snapshot_seal.go).
	sealed int
}

type distinctVal struct {
	v string
	n int32
}

func (d *distinctSet) find(v string) int32 {
	if d.idx != nil {
		if i, ok := d.idx[v]; ok {
			return i
		}
		return -1
	}
	for i := range d.vs {
		if d.vs[i].n > 0 && d.vs[i].v == v {
			return int32(i)
		}
	}
	return -1
}

// add counts one more entry with value v and returns its slot.
func (d *distinctSet) add(v string) int32 {
	if i := d.find(v); i >= 0 {
		d.vs[i].n++
		return i
	}
	v = strings.Clone(v)
	var i int32
	if n := len(d.free); n > 0 {
		i = d.free[n-1]
		d.free = d.free[:n-1]
		d.vs[i] = distinctVal{v: v, n: 1}
	} else {
		i = int32(len(d.vs))
		d.vs = append(d.vs, distinctVal{v: v, n: 1})
	}
	d.live++
	if d.idx != nil {
		d.idx[v] = i
	} else if d.live > distinctLinear {
		d.idx = make(map[string]int32, 2*d.live)
		for j := range d.vs {
			if d.vs[j].n > 0 {
				d.idx[d.vs[j].v] = int32(j)
			}
		}
	}
	return i
}

// remove counts one entry of slot i less, freeing the slot at zero.
func (d *distinctSet) remove(i int32) {
	if d.vs[i].n--; d.vs[i].n > 0 {
		return
	}
	if d.idx != nil {
		delete(d.idx, d.vs[i].v)
	}
	d.vs[i] = distinctVal{}
	d.live--
	if d.live == 0 { // empty: give the memory back
		d.vs, d.free, d.idx = d.vs[:0], d.free[:0], nil
		return
	}
	d.free = append(d.free, i)
	if d.idx != nil && d.live <= distinctLinear/2 {
		d.idx = nil
	}
}

func (d *distinctSet) len() int { return d.live }

// restoreDistinct rebuilds a distinct rule's state from the values of its
// window entries (a snapshot), sharing one copy per value.
func (g *group) restoreDistinct(vals []string) {
	g.dist = &distinctSet{ids: make([]int32, len(vals))}
	for i, v := range vals {
		g.dist.ids[i] = g.dist.add(v)
	}
}

// sampleRing keeps the last MaxSamples events of a group as flat copies in
// buffers reused from sample to sample; alerts get fresh events made from
// them (materialize), so nothing the engine keeps is shared with an alert.
type sampleRing struct {
	slots [MaxSamples]sampleSlot
	start uint8 // index of the oldest sample
	n     uint8
}

type sampleSlot struct {
	t    time.Time
	buf  []byte   // every key and value, back to back
	lens []uint32 // per field: key length, value length
}

func (s *sampleSlot) set(ev *event.Event) {
	s.t = ev.Time
	buf, lens := s.buf[:0], s.lens[:0]
	for i := range ev.Fields {
		f := &ev.Fields[i]
		buf = append(buf, f.Key...)
		buf = append(buf, f.Value...)
		lens = append(lens, uint32(len(f.Key)), uint32(len(f.Value)))
	}
	s.buf, s.lens = buf, lens
}

// event returns a new event equal to the one stored: one string for all
// keys and values and one slice of fields.
func (s *sampleSlot) event() event.Event {
	all := string(s.buf)
	ev := event.Event{Time: s.t}
	if len(s.lens) > 0 {
		ev.Fields = make([]event.Field, 0, len(s.lens)/2)
	}
	off := 0
	for i := 0; i+1 < len(s.lens); i += 2 {
		k, v := int(s.lens[i]), int(s.lens[i+1])
		ev.Fields = append(ev.Fields, event.Field{Key: all[off : off+k], Value: all[off+k : off+k+v]})
		off += k + v
	}
	return ev
}

// addSample keeps a copy of ev among the group's last MaxSamples events.
// Only groups close to firing keep samples, so that memory stays
// proportional to the groups that matter; a group's buffers are reused
// until it fires or leaves the engine (Engine.release).
func (g *group) addSample(ev *event.Event) {
	r := g.samples
	if r == nil {
		r = &sampleRing{}
		g.samples = r
	}
	if r.n < MaxSamples {
		r.slots[(int(r.start)+int(r.n))%MaxSamples].set(ev)
		r.n++
		return
	}
	r.slots[r.start].set(ev) // overwrite the oldest
	r.start = uint8((int(r.start) + 1) % MaxSamples)
}

// takeSamples returns the kept samples as new events, oldest first, and
// empties the ring (keeping its buffers).
func (g *group) takeSamples() []event.Event {
	out := g.sampleEvents()
	if g.samples != nil {
		g.samples.start, g.samples.n = 0, 0
	}
	return out
}

// resetSamples forgets the kept samples, keeping the buffers.
func (g *group) resetSamples() {
	if g.samples != nil {
		g.samples.start, g.samples.n = 0, 0
	}
}

// sampleEvents returns copies of the kept samples, oldest first (nil when
// there are none).
func (g *group) sampleEvents() []event.Event {
	r := g.samples
	if r == nil || r.n == 0 {
		return nil
	}
	out := make([]event.Event, r.n)
	for i := range out {
		out[i] = r.slots[(int(r.start)+i)%MaxSamples].event()
	}
	return out
}

// maxFreeRings bounds the sample buffers an engine keeps for reuse.
const maxFreeRings = 256

// maxPooledSample bounds the bytes of one pooled sample slot: the buffers
// of a slot that copied a huge event (lines go up to max_line_bytes) are
// not kept for reuse, so that the pool stays small.
const maxPooledSample = 16 << 10

// keepSample completes ev (Expand) and keeps a copy of it among g's
// samples, reusing the buffers of a dropped group for a group's first.
func (e *Engine) keepSample(g *group, ev *event.Event) {
	e.expand(ev)
	if g.samples == nil {
		if n := len(e.rings); n > 0 {
			g.samples = e.rings[n-1]
			e.rings[n-1] = nil
			e.rings = e.rings[:n-1]
		}
	}
	g.addSample(ev)
}

// release takes back the sample buffers of a group leaving the engine or
// starting its cooldown (the alert took its samples), for reuse by the
// next group that keeps one.
func (e *Engine) release(g *group) {
	r := g.samples
	if r == nil {
		return
	}
	g.samples = nil
	if len(e.rings) < maxFreeRings {
		r.start, r.n = 0, 0
		for i := range r.slots {
			if s := &r.slots[i]; cap(s.buf)+4*cap(s.lens) > maxPooledSample {
				*s = sampleSlot{}
			}
		}
		e.rings = append(e.rings, r)
	}
}

// maxFreeGroups bounds the dropped groups a rule keeps for reuse. Groups
// are dropped about as fast as they are made when most live one window, so
// a short list serves them all.
const maxFreeGroups = 1024

// newGroup returns a group with key k, reusing a recycled one (with its
// key's memory, times and sequence-step arrays) when there is one.
func (rs *ruleState) newGroup(k []byte) *group {
	var g *group
	if n := len(rs.free); n > 0 {
		g = rs.free[n-1]
		rs.free[n-1] = nil
		rs.free = rs.free[:n-1]
	} else {
		g = &group{}
	}
	g.setKey(k)
	return g
}

// setKey sets g's key to a copy of k, in the memory of g's previous key
// when it is large enough. Only recycle lets a key be overwritten: by then
// nothing refers to it (the group never fired, so no alert holds its
// fields, and it left its rule's map).
func (g *group) setKey(k []byte) {
	if len(k) > 0 && int(g.keyCap) >= len(k) {
		b := unsafe.Slice(unsafe.StringData(g.key), g.keyCap)
		copy(b, k)
		g.key = unsafe.String(&b[0], len(k))
		return
	}
	b := append([]byte(nil), k...) // capacity rounded up to the allocation's
	g.key, g.keyCap = unsafe.String(unsafe.SliceData(b), len(b)), uint32(cap(b))
}

// newDistinct returns an empty distinct set, reusing a recycled one.
func (rs *ruleState) newDistinct() *distinctSet {
	n := len(rs.dists)
	if n == 0 {
		return &distinctSet{}
	}
	d := rs.dists[n-1]
	rs.dists[n-1] = nil
	rs.dists = rs.dists[:n-1]
	return d
}

// recycle keeps g, just removed from rs's groups and released, for reuse by
// newGroup, so that groups living one window cost no allocation and no
// garbage. A group that fired is not reused: its alerts share its key and
// fields. Nor is one an explain trace may still hold.
func (e *Engine) recycle(rs *ruleState, g *group) {
	if g.fired || e.Trace != nil || len(rs.free) >= maxFreeGroups {
		return
	}
	if d := g.dist; d != nil && len(rs.dists) < maxFreeGroups {
		clear(d.vs) // drop the values' strings
		*d = distinctSet{ids: d.ids[:0], vs: d.vs[:0], free: d.free[:0]}
		rs.dists = append(rs.dists, d)
	}
	steps := g.steps
	for i := range steps {
		steps[i] = steps[i][:0]
	}
	var fields []event.Field
	if len(g.fields) > 1 {
		fields = g.fields[:0]
	}
	*g = group{key: g.key, keyCap: g.keyCap, times: g.times[:0], steps: steps, fields: fields}
	rs.free = append(rs.free, g)
}
