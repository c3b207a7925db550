package rules

import (
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/event"
)

// Hostile input at the engine and the rule loader: address sprays,
// pathological regexes, oversized or recursive rule files.

func mustParse(t testing.TB, src string) []*Rule {
	t.Helper()
	rs, err := Parse("r.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestHostileAddressSpray sends 1,000,000 events from distinct client IPs
// within one minute. The engine keeps at most MaxKeys groups per rule,
// counts every eviction, its heap stays bounded, and a real attacker inside
// the spray (one address sending more than the threshold in a burst) is
// still detected.
func TestHostileAddressSpray(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	const maxKeys = 10_000
	rs := mustParse(t, `rules:
  - id: burst
    match: {event_type: authentication_failure}
    group_by: [client_ip]
    window: 5m
    threshold: 10
`)
	e := NewEngine(rs)
	e.MaxKeys = maxKeys
	start := time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC)
	step := time.Minute / time.Duration(n)
	ev := event.Event{Fields: []event.Field{{Key: "event_type", Value: "authentication_failure"}, {Key: "client_ip"}}}
	base := netip.MustParseAddr("10.0.0.0").As4()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var alerts []Alert
	attacker := 0
	for i := range n {
		ev.Time = start.Add(time.Duration(i) * step)
		ip := base
		ip[1], ip[2], ip[3] = byte(i>>16), byte(i>>8), byte(i)
		ev.Fields[1].Value = netip.AddrFrom4(ip).String()
		// In the last tenth of the spray, every 1,000th event is the
		// attacker's: 11 failures among 100,000 others.
		if i >= n-n/10 && i%(n/1000) == 0 && attacker < 11 {
			ev.Fields[1].Value = "203.0.113.7"
			attacker++
		}
		alerts = append(alerts, e.Observe(&ev)...)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := e.Stats()[0]
	distinct := int64(n - attacker + 1)
	if st.Groups > maxKeys {
		t.Errorf("groups held %d, want at most %d", st.Groups, maxKeys)
	}
	if st.Evicted != distinct-int64(st.Groups) {
		t.Errorf("evicted %d, want every group beyond the cap: %d", st.Evicted, distinct-int64(st.Groups))
	}
	if st.Matched != int64(n) {
		t.Errorf("matched %d, want %d", st.Matched, n)
	}
	heap := int64(after.HeapInuse) - int64(before.HeapInuse)
	if heap > 64<<20 {
		t.Errorf("heap grew by %d bytes for %d groups, want < 64 MiB", heap, maxKeys)
	}
	if len(alerts) != 1 || alerts[0].Group[0].Value != "203.0.113.7" || alerts[0].Count != 11 {
		t.Errorf("got alerts %+v, want one for the attacker with count 11", alerts)
	}
	t.Logf("%d distinct addresses in one minute: %d groups held, %d evicted, heap grew by %d KiB", distinct, st.Groups, st.Evicted, heap>>10)
}

// TestHostileRegexRules shows rule regexes are linear in the value length:
// patterns that take exponential time in a backtracking engine finish at
// once on 100 KB values (BenchmarkHostileRegexRule shows the time per byte
// stays flat as the value grows).
func TestHostileRegexRules(t *testing.T) {
	rs := mustParse(t, `rules:
  - id: nested-plus
    match: {path: {regex: '^(a+)+$'}}
    window: 1m
  - id: alternation
    match: {path: {regex: '^(a|aa)*b$'}}
    window: 1m
  - id: star-star
    match: {path: {regex: '(x+x+)+y'}}
    window: 1m
`)
	e := NewEngine(rs)
	val := strings.Repeat("a", 100_000)
	ev := event.Event{Time: time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC), Fields: []event.Field{{Key: "path", Value: val}}}
	alerts := e.Observe(&ev)
	var fired []string
	for _, a := range alerts {
		fired = append(fired, a.Rule.ID)
	}
	if fmt.Sprint(fired) != "[nested-plus]" {
		t.Errorf("fired %v, want [nested-plus] (only ^(a+)+$ matches a run of a)", fired)
	}
}

func BenchmarkHostileRegexRule(b *testing.B) {
	rs := mustParse(b, "rules:\n  - id: r\n    match: {path: {regex: '^(a|aa)*b$'}}\n    window: 1m\n")
	for _, n := range []int{1 << 10, 1 << 14, 1 << 18} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			e := NewEngine(rs)
			ev := event.Event{Time: time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC), Fields: []event.Field{{Key: "path", Value: strings.Repeat("a", n)}}}
			b.SetBytes(int64(n))
			for b.Loop() {
				e.Observe(&ev)
			}
		})
	}
}

// TestHostileRuleFiles: rule files that would exhaust memory or the stack
// if expanded are refused with a positioned error.
func TestHostileRuleFiles(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"regex repeat bomb", "rules:\n  - id: a\n    window: 1m\n    match: {x: {regex: '((a{1000}){1000}){1000}'}}\n", "r.yaml:4:"},
		{"regex repeat too large", "rules:\n  - id: a\n    window: 1m\n    match: {x: {regex: 'a{1001}'}}\n", "r.yaml:4:"},
		{"nested flow sequences", "rules: " + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + "\n", "r.yaml:1:"},
		{"nested conditions", "rules:\n  - id: a\n    window: 1m\n    match: " + strings.Repeat("{not: ", 5_000) + "{x: 1}" + strings.Repeat("}", 5_000) + "\n", "r.yaml:"},
		{"alias bomb", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
			"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n" +
			"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nrules:\n  - id: a\n    window: 1m\n    match: {x: {in: *g}}\n", "r.yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := Parse("r.yaml", []byte(tt.src))
			runtime.ReadMemStats(&after)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error at %s", err, tt.want)
			}
			if len(err.Error()) > 4096 {
				t.Errorf("error of %d bytes", len(err.Error()))
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<20 {
				t.Errorf("refusing it allocated %d bytes", alloc)
			}
			t.Logf("%s", strings.SplitN(err.Error(), "\n", 2)[0])
		})
	}
}
