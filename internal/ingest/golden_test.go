package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden parses testdata/golden/<format>/input.log line by line and
// compares the result with expected.json: one entry per non-blank line,
// either its event (time and fields in order) or its error. The optional
// options.json holds {"pattern": …, "time_field": …, "time_format": …,
// "time_zone": …, "reference": RFC 3339}. Rewrite with
// go test ./internal/ingest -run TestGolden -update, then review the diff
// against docs/formats.md like code.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/golden/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < len(format.Formats) {
		t.Fatalf("found %d golden directories, want one per format %v", len(dirs), format.Formats)
	}
	for _, dir := range dirs {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			var opt struct {
				Pattern    string    `json:"pattern"`
				TimeField  string    `json:"time_field"`
				TimeFormat string    `json:"time_format"`
				TimeZone   string    `json:"time_zone"`
				Reference  time.Time `json:"reference"`
			}
			if data, err := os.ReadFile(filepath.Join(dir, "options.json")); err == nil {
				if err := json.Unmarshal(data, &opt); err != nil {
					t.Fatalf("options.json: %v", err)
				}
			}
			p, err := format.NewParser(name, format.Options{Pattern: opt.Pattern, TimeField: opt.TimeField,
				TimeFormat: opt.TimeFormat, TimeZone: opt.TimeZone, Reference: opt.Reference})
			if err != nil {
				t.Fatalf("NewParser(%q): %v", name, err)
			}
			in, err := os.Open(filepath.Join(dir, "input.log"))
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			got := renderGolden(t, NewReader(in, "input.log"), p)
			path := filepath.Join(dir, "expected.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the parser's output; run with -update and review the diff.\ngot:\n%s", path, got)
			}
		})
	}
}

func renderGolden(t *testing.T, r *Reader, p format.Parser) []byte {
	var b bytes.Buffer
	b.WriteString("[")
	first := true
	for {
		line, pos, err := r.Next()
		if err == io.EOF {
			break
		}
		var ev event.Event
		if err == nil {
			err = p.Parse(line, &ev)
		}
		if errors.Is(err, format.ErrEmptyLine) {
			continue
		}
		if !first {
			b.WriteString(",")
		}
		first = false
		b.WriteString("\n  {\"line\": ")
		b.WriteString(jsonText(pos.Line))
		if err != nil {
			var le *LineError
			if errors.As(err, &le) {
				err = le.Err
			}
			b.WriteString(", \"error\": " + jsonText(err.Error()) + "}")
			continue
		}
		b.WriteString(", \"time\": " + jsonText(event.FormatTime(ev.Time)) + ", \"fields\": {")
		for i, f := range ev.Fields {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n    " + jsonText(f.Key) + ": " + jsonText(f.Value))
		}
		b.WriteString("\n  }}")
	}
	b.WriteString("\n]\n")
	return b.Bytes()
}

// jsonText encodes v without HTML escaping, so the files read naturally.
func jsonText(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}
