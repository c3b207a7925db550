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
// allocs/match the heap allocations per rule match (the alerts' documents and
// sample copies: the observe path itself allocates nothing once warm).
func BenchmarkEngineRuleHeavySteady(b *testing.B) {
	for _, file := range []string{"rulesheavy.yaml", "rules10.yaml"} {
		b.Run(file, func(b *testing.B) {
			rs := loadRules(b, file)
			evs := heavyEvents(b, rs)
			e := rules.NewEngine(rs)
			for i := range evs {
				e.Observe(&evs[i])
			}
			matched0 := totalMatched(e)
			var alerts int64
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			cpu0 := cpuTime(b)
			b.ReportAllocs()
			b.ResetTimer()
			j := 0
			var hot hotEvent
			for b.Loop() {
				if j == len(evs) {
					j = 0
				}
				ev := &evs[j]
				ev.Time = ev.Time.Add(heavyCorpus.Duration)
				alerts += int64(len(e.Observe(hot.load(ev))))
				j++
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
	}
}

func totalMatched(e *rules.Engine) int64 {
	var n int64
	for _, s := range e.Stats() {
		n += s.Matched
	}
	return n
}

// hotEvent holds a copy of one event in reused memory, as the parser leaves
// a line it has just read: replay hands the engine an event whose fields and
// bytes are in the CPU's cache, while heavyCorpus's 200,000 events, kept in
// memory, are not. Copying costs a few nanoseconds per event and is counted.
type hotEvent struct {
	ev  event.Event
	buf []byte
}

func (h *hotEvent) load(src *event.Event) *event.Event {
	h.buf = h.buf[:0]
	for _, f := range src.Fields {
		h.buf = append(h.buf, f.Value...)
	}
	h.ev.Fields = h.ev.Fields[:0]
	off := 0
	for _, f := range src.Fields {
		n := len(f.Value)
		h.ev.Fields = append(h.ev.Fields, event.Field{Key: f.Key, Value: unsafe.String(unsafe.SliceData(h.buf[off:]), n)})
		off += n
	}
	h.ev.Time = src.Time
	return &h.ev
}
