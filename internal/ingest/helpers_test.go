package ingest

import (
	"testing"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
)

// kv builds a field list from key, value pairs.
func kv(pairs ...string) []event.Field {
	if len(pairs)%2 != 0 {
		panic("kv: odd number of arguments")
	}
	var fs []event.Field
	for i := 0; i < len(pairs); i += 2 {
		fs = append(fs, event.Field{Key: pairs[i], Value: pairs[i+1]})
	}
	return fs
}

// mustParser returns a new parser or fails the test.
func mustParser(t testing.TB, name string, opt format.Options) format.Parser {
	t.Helper()
	p, err := format.NewParser(name, opt)
	if err != nil {
		t.Fatalf("NewParser(%q): %v", name, err)
	}
	return p
}
