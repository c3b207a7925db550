package config

import (
	"runtime"
	"strings"
	"testing"
)

// TestHostileConfig: configuration files that would exhaust memory or the
// stack if expanded (YAML alias bombs, deep nesting, huge files) are
// refused with a positioned error, in bounded memory.
func TestHostileConfig(t *testing.T) {
	bomb := "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n" +
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n" +
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n" +
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
	tests := []struct{ name, src, want string }{
		{"alias bomb in an unknown key", bomb + "sources: [{name: a, type: stdin}]\n", "c.yaml:1:1:"},
		{"alias bomb in a value", strings.Replace(bomb, "h: &h", "x: &h", 1) +
			"sources:\n  - {name: a, type: file, paths: *h}\n", "c.yaml:"},
		{"alias of a source", "sources:\n  - &s {name: a, type: stdin}\n  - *s\n", "c.yaml:3:5:"},
		{"deep nesting", "sources: " + strings.Repeat("[", 50_000) + strings.Repeat("]", 50_000) + "\n", "c.yaml:"},
		{"larger than 1 MiB", "# " + strings.Repeat("x", 1<<20) + "\n", "c.yaml: config file is larger than 1 MiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			c, err := Parse("c.yaml", strings.NewReader(tt.src), nil)
			runtime.ReadMemStats(&after)
			if c != nil || err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error at %s", err, tt.want)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<20 {
				t.Errorf("refusing it allocated %d bytes", alloc)
			}
			t.Logf("%s", strings.SplitN(err.Error(), "\n", 2)[0])
		})
	}
}
