package rulefile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/rules"
	"github.com/secwatch/secwatch/internal/yamldiag"
)

// FuzzParse feeds arbitrary bytes to the rule loader. It must never panic
// or hang; every problem must be reported as a positioned, single-line
// Error; and rules it accepts must run in the engine without panicking.
// Seeds: the shipped packs, the loader's test files and hostile shapes.
func FuzzParse(f *testing.F) {
	for _, pat := range []string{"../../rules/*.yaml", "testdata/load/*/*.yaml"} {
		names, _ := filepath.Glob(pat)
		for _, n := range names {
			b, err := os.ReadFile(n)
			if fi, serr := os.Stat(n); serr == nil && fi.IsDir() {
				continue
			}
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "rules:", "rules: []", "rules: [{}]", "rules:\n  - id: a\n    match: {x: {regex: '('}}\n",
		"rules:\n  - id: a\n    window: 5m\n    match: {ip: {cidr: [::/0, 300.0.0.0/8]}}\n",
		"rules:\n  - id: a\n    window: 5m\n    match: {n: {gt: 1e400}}\n",
		"rules:\n  - &a {id: a}\n  - *a\n", "rules: " + strings.Repeat("[", 500),
		"rules:\n  - id: s\n    window: 1s\n    sequence: [{match: {a: 1}}, {match: {b: 2}, threshold: 3}]\n",
		"rules:\n  - id: z\n    absent: 24h\n    match: {any: [{not: {all: [{x: {exists: true}}]}}]}\n",
		"\xff\xfe\x00", "rules:\n  - id: \"\\u202e\"\n",
	} {
		f.Add([]byte(s))
	}
	ev := event.Event{Time: time.Date(2026, 1, 28, 19, 0, 0, 0, time.UTC), Fields: []event.Field{
		{Key: "event_type", Value: "authentication_failure"}, {Key: "client_ip", Value: "203.0.113.7"},
		{Key: "status", Value: "401"}, {Key: "a", Value: "1"}, {Key: "b", Value: "2"}, {Key: "x", Value: "1"},
	}}
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := Parse("f.yaml", data)
		if err != nil {
			list, ok := err.(yamldiag.ErrorList)
			if !ok || len(list) == 0 {
				t.Fatalf("error is %T, want a non-empty ErrorList: %v", err, err)
			}
			for _, e := range list {
				msg := e.Error()
				if e.Line < 0 || e.Col < 0 || strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "f.yaml") {
					t.Fatalf("problem not a positioned single line: %q", msg)
				}
				if utf8.Valid(data) && !utf8.ValidString(msg) {
					t.Fatalf("problem is not valid UTF-8: %q", msg)
				}
			}
		}
		if len(rs) == 0 {
			return
		}
		e := rules.NewEngine(rs)
		e.MaxKeys = 4
		for i := range 8 {
			x := ev.Clone()
			x.Time = x.Time.Add(time.Duration(i) * time.Minute)
			e.Observe(&x)
		}
		e.Advance(ev.Time.Add(48 * time.Hour))
		if s, err := rules.DecodeSnapshot(e.AppendSnapshot(nil)); err == nil {
			e.Restore(s)
		} else {
			t.Fatalf("own snapshot: %v", err)
		}
	})
}
