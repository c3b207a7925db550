package bench

import (
	"bufio"
	"bytes"
	"reflect"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
	"github.com/secwatch/secwatch/internal/loggen"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
)

// heavyCorpus is a slice of the replay corpus's world at its density
// (1,000,000 events a day over 50,000 client IPs): 200,000 events over
// 4h48m, so that each client appears as often per minute as in the corpus.
var heavyCorpus = loggen.Config{Format: "json", Seed: 1, Events: 200_000, ClientIPs: 50_000, Duration: 288 * time.Minute}

// heavyEvents generates heavyCorpus and parses it as replay does (only the
// fields the rules read), keeping each event.
func heavyEvents(tb testing.TB, rs []*rules.Rule) []event.Event {
	var buf bytes.Buffer
	if _, err := loggen.Generate(&buf, heavyCorpus); err != nil {
		tb.Fatal(err)
	}
	p, err := format.NewParser("json", format.Options{Fields: rules.FieldsRead(rs)})
	if err != nil {
		tb.Fatal(err)
	}
	var evs []event.Event
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var ev event.Event
		if err := p.Parse(sc.Bytes(), &ev); err != nil {
			tb.Fatalf("line %d: %v", len(evs)+1, err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func loadRules(tb testing.TB, file string) []*rules.Rule {
	rs, err := rulefile.Load(file)
	if err != nil {
		tb.Fatal(err)
	}
	return rs
}

// matches counts the rules ev matches (a sequence rule when any step does).
func matches(rs []*rules.Rule, ev *event.Event) int {
	n := 0
	for _, r := range rs {
		if r.Kind == rules.KindSequence {
			for _, st := range r.Steps {
				if st.Match.Eval(ev) {
					n++
					break
				}
			}
		} else if r.Match.Eval(ev) {
			n++
		}
	}
	return n
}

// TestRuleHeavyMatches checks what the rule-heavy pack claims: every event
// of the generated corpus matches one to three of its rules.
func TestRuleHeavyMatches(t *testing.T) {
	rs := loadRules(t, "rulesheavy.yaml")
	evs := heavyEvents(t, rs)
	total := 0
	for i := range evs {
		n := matches(rs, &evs[i])
		if n < 1 || n > 3 {
			t.Fatalf("event %d (%v) matches %d rules, want 1 to 3", i+1, evs[i].Fields, n)
		}
		total += n
	}
	if avg := float64(total) / float64(len(evs)); avg < 2 {
		t.Errorf("%.2f rule matches per event, want at least 2 (a rule-heavy pack)", avg)
	}
}

// BenchmarkEngineRuleHeavy measures the engine alone (events parsed
// beforehand) on the rule-heavy pack: each op replays heavyCorpus through a
// new engine; ns/match is the time per rule match (an event matching three
// rules is three matches), the per-match cost, and cpu-ns/match the
// process's CPU time (garbage collection included) per match, which other
// tenants of a shared machine disturb less.
func BenchmarkEngineRuleHeavy(b *testing.B) {
	for _, file := range []string{"rulesheavy.yaml", "rules10.yaml"} {
		b.Run(file, func(b *testing.B) {
			rs := loadRules(b, file)
			evs := heavyEvents(b, rs)
			var matched, alerts int64
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			for b.Loop() {
				e := rules.NewEngine(rs)
				for i := range evs {
					alerts += int64(len(e.Observe(&evs[i])))
				}
				for _, s := range e.Stats() {
					matched += s.Matched
				}
			}
			cpu := cpuTime(b) - cpu0
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(max(matched, 1)), "ns/match")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(max(matched, 1)), "cpu-ns/match")
			b.ReportMetric(float64(matched)/float64(b.N*len(evs)), "matches/event")
			b.ReportMetric(float64(alerts)/float64(b.N), "alerts/op")
		})
	}
}

// cpuTime returns the process's user and system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestRecycledGroupsSameAlerts replays the rule-heavy corpus through an
// engine that reuses dropped groups and through one that cannot (a Trace
// hook turns reuse off) and wants the same alerts, samples included.
func TestRecycledGroupsSameAlerts(t *testing.T) {
	rs := loadRules(t, "rulesheavy.yaml")
	evs := heavyEvents(t, rs)
	reuse, fresh := rules.NewEngine(rs), rules.NewEngine(rs)
	fresh.Trace = func(rules.Trace) {}
	var got, want []rules.Alert
	for i := range evs {
		got = append(got, reuse.Observe(&evs[i])...)
		want = append(want, fresh.Observe(&evs[i])...)
	}
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("%d alerts with reuse, %d without", len(got), len(want))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("alert %d differs:\nwith reuse:    %+v\nwithout reuse: %+v", i+1, got[i], want[i])
		}
	}
	var dropped int64
	for _, s := range reuse.Stats() {
		dropped += s.Dropped
	}
	if dropped == 0 {
		t.Errorf("no group was dropped: nothing was reused")
	}
}

// BenchmarkEngineRuleHeavySteady is BenchmarkEngineRuleHeavy in the steady
// state of a long replay: one engine observes heavyCorpus once before the
// timer starts, then again and again, each pass shifted by the corpus's
// duration, so that groups, maps and the pool of dropped groups are at their
// working size. One op is one event; ns/match is the time per rule match and
// allocs/match the heap allocations per rule match (alerts and the copies of
// their samples, distinct values, sequence steps; none on the paths
// BenchmarkObserve measures).
//
// The corpus is held as a packedCorpus, without pointers, so that the
// collector's cost is the engine's own (in replay the heap holds one line at
// a time), and each event is copied into reused memory before it is
// observed, as the parser leaves a line it has just read: that copy is
// counted (see BenchmarkEngineRuleHeavySteady's sibling "load" row for its
// cost alone).
func BenchmarkEngineRuleHeavySteady(b *testing.B) {
	for _, file := range []string{"rulesheavy.yaml", "rules10.yaml"} {
		rs := loadRules(b, file)
		pc := packCorpus(heavyEvents(b, rs))
		runtime.GC()
		b.Run(file, func(b *testing.B) {
			e := rules.NewEngine(rs)
			var hot hotEvent
			for i := range pc.times {
				e.Observe(pc.load(i, 0, &hot))
			}
			matched0 := totalMatched(e)
			var alerts int64
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			cpu0 := cpuTime(b)
			b.ReportAllocs()
			b.ResetTimer()
			i, pass := 0, int64(1)
			for b.Loop() {
				if i == len(pc.times) {
					i, pass = 0, pass+1
				}
				alerts += int64(len(e.Observe(pc.load(i, pass, &hot))))
				i++
			}
			b.StopTimer()
			cpu := cpuTime(b) - cpu0
			runtime.ReadMemStats(&ms1)
			matched := max(totalMatched(e)-matched0, 1)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(matched), "ns/match")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(matched), "cpu-ns/match")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(matched), "allocs/match")
			b.ReportMetric(float64(matched)/float64(b.N), "matches/event")
			b.ReportMetric(float64(alerts)*1e6/float64(b.N), "alerts/Mevent")
		})
		b.Run(file+"/load", func(b *testing.B) {
			var hot hotEvent
			var n int
			i, pass := 0, int64(1)
			for b.Loop() {
				if i == len(pc.times) {
					i, pass = 0, pass+1
				}
				n += len(pc.load(i, pass, &hot).Fields)
				i++
			}
			if n == 0 {
				b.Fatal("no fields loaded")
			}
		})
	}
}

// packedCorpus holds events without pointers (but for the field names):
// every value's bytes in one array, each event's values adjacent.
type packedCorpus struct {
	keys   []string    // field names
	times  []int64     // each event's time (ns)
	first  []int32     // each event's first field in fields; one more at the end
	fields []packedVal // every event's fields, in order
	data   []byte      // every value, in field order
}

type packedVal struct {
	key      uint16 // index in keys
	off, len uint32 // in data
}

func packCorpus(evs []event.Event) *packedCorpus {
	pc := &packedCorpus{}
	keyIdx := map[string]uint16{}
	for i := range evs {
		pc.times = append(pc.times, evs[i].Time.UnixNano())
		pc.first = append(pc.first, int32(len(pc.fields)))
		for _, f := range evs[i].Fields {
			k, ok := keyIdx[f.Key]
			if !ok {
				k = uint16(len(pc.keys))
				keyIdx[f.Key] = k
				pc.keys = append(pc.keys, f.Key)
			}
			pc.fields = append(pc.fields, packedVal{key: k, off: uint32(len(pc.data)), len: uint32(len(f.Value))})
			pc.data = append(pc.data, f.Value...)
		}
	}
	pc.first = append(pc.first, int32(len(pc.fields)))
	return pc
}

// hotEvent is an event in reused memory: its fields and the bytes of their
// values.
type hotEvent struct {
	ev  event.Event
	buf []byte
}

// load copies event i into h, its time shifted by pass corpus durations,
// and returns h's event.
func (pc *packedCorpus) load(i int, pass int64, h *hotEvent) *event.Event {
	fs := pc.fields[pc.first[i]:pc.first[i+1]]
	ev := &h.ev
	ev.Fields = ev.Fields[:0]
	if len(fs) > 0 {
		start, end := fs[0].off, fs[len(fs)-1].off+fs[len(fs)-1].len
		h.buf = append(h.buf[:0], pc.data[start:end]...)
		for _, f := range fs {
			v := h.buf[f.off-start : f.off-start+f.len]
			ev.Fields = append(ev.Fields, event.Field{Key: pc.keys[f.key], Value: unsafe.String(unsafe.SliceData(v), len(v))})
		}
	}
	ev.Time = time.Unix(0, pc.times[i]+pass*int64(heavyCorpus.Duration)).UTC()
	return ev
}

func totalMatched(e *rules.Engine) int64 {
	var n int64
	for _, s := range e.Stats() {
		n += s.Matched
	}
	return n
}
