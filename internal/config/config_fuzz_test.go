package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/secwatch/secwatch/internal/yamldiag"
)

// FuzzConfig feeds arbitrary bytes to the configuration loader, with an
// environment holding a secret. It must never panic or hang; problems are
// positioned single lines; and no problem ever shows the value of an
// environment variable (docs/config.md: an error shows a variable's name,
// never its value).
func FuzzConfig(f *testing.F) {
	for _, pat := range []string{"../../examples/*.yaml", "testdata/*/*.yaml"} {
		names, _ := filepath.Glob(pat)
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	for _, s := range []string{
		"", "state_dir: ${SECRET}", "sources: [{name: a, type: file, paths: ['${SECRET}']}]",
		"http: {listen: '${SECRET}'}", "a: &a [*a]", "x: ${", "x: ${UNSET}", "engine: {max_keys: ${SECRET}}",
		"sources:\n  - &s {name: a, type: stdin}\n  - *s\n", "\xff\x00", strings.Repeat("- ", 300),
	} {
		f.Add([]byte(s))
	}
	const secret = "s3cr3t-VALUE-never-shown"
	env := func(k string) (string, bool) {
		if k == "SECRET" {
			return secret, true
		}
		return "", false
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("c.yaml", bytes.NewReader(data), env)
		if err == nil {
			if c == nil {
				t.Fatal("nil config without an error")
			}
			return
		}
		if c != nil {
			t.Fatal("config returned with an error")
		}
		var list yamldiag.ErrorList
		if !errors.As(err, &list) {
			return // a read error; not reachable from bytes.Reader
		}
		for _, e := range list {
			msg := e.Error()
			if strings.ContainsAny(msg, "\n\r") || !strings.HasPrefix(msg, "c.yaml") {
				t.Fatalf("problem not a positioned single line: %q", msg)
			}
			if utf8.Valid(data) && !utf8.ValidString(msg) {
				t.Fatalf("problem is not valid UTF-8: %q", msg)
			}
			if strings.Contains(msg, secret) && !bytes.Contains(data, []byte(secret)) {
				t.Fatalf("problem shows the value of an environment variable: %q", msg)
			}
		}
	})
}
