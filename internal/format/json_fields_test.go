package format

import (
	"bufio"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/secwatch/secwatch/internal/event"
)

// jsonFieldsLines are lines for the projection tests: shapes the full
// parser handles (nested objects, arrays, duplicates, escapes, null,
// literals, numbers, keys that are prefixes of wanted dotted keys) and
// malformed lines, whose errors must not change with a projection.
var jsonFieldsLines = []string{
	`{"timestamp":"2026-01-28T19:15:02Z","event_type":"authentication_failure","client_ip":"203.0.113.7","details":{"path":"/x","method":"POST","deep":{"a":1}},"tool_name":null}`,
	`{"event_type":"a","details":{"path":"/first"},"details.path":"/dotted-dup","timestamp":"2026-01-28T19:15:02.5Z"}`,
	`{"timestamp":"2026-01-28T19:15:02Z","client_ip":"1.2.3.4","client_ip":"5.6.7.8","tags":["x",{"y":[1,null]}],"ok":true,"bad":false,"n":-1.5e3}`,
	`{"timestamp":"2026-01-28T19:15:02Z","message":"esc \"q\" \u00e9 \ud83d\ude00","client_ip":"e\tscaped"}`,
	`{"time":"2026-01-28T19:15:02Z","ts":"1769627702","event_type":"x"}`,
	`{"@timestamp":"2026-01-28T19:15:02Z","detailsX":{"path":"/not-details"},"details":"scalar"}`,
	`{"timestamp":"2026-01-28T19:15:02Z","details":{}}`,
	`   {"timestamp":"2026-01-28T19:15:02Z","client_ip":"lead"}   `,
	`{"timestamp":"2026-01-28T19:15:02Z","client_ip":"x","extra":"\q"}`,
	`{"timestamp":"2026-01-28T19:15:02Z","skipped":"\u12","client_ip":"x"}`,
	`{"timestamp":"2026-01-28T19:15:02Z","skipped":tru}`,
	`{"timestamp":"2026-01-28T19:15:02Z","skipped":01}`,
	`{"timestamp":"2026-01-28T19:15:02Z","skipped":[1,2}`,
	`{"timestamp":"2026-01-28T19:15:02Z","skipped":{"a":1,}}`,
	`{"timestamp":"2026-01-28T19:15:02Z","skipped":"x` + "\t" + `y"}`,
	`{"timestamp":"2026-01-28T19:15:02Z","skipped":"unterminated`,
	`{"timestamp":"not a time","client_ip":"x"}`,
	`{"client_ip":"no time"}`,
	`{"a":1} x`,
	`[1,2]`,
	``,
	`{"timestamp":"2026-01-28T19:15:02Z","a":{"b":{"c":{"d":"deep"}}},"details":{"path":{"nested":"obj"}}}`,
}

// corpusLines adds the bundled SecurityEvent and CloudWatch JSON logs.
func corpusLines(t *testing.T) []string {
	lines := slices.Clone(jsonFieldsLines)
	for _, name := range []string{"../../testdata/logs/security-events.jsonl", "../../testdata/logs/mcp-cloudwatch.jsonl"} {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		f.Close()
	}
	return lines
}

var projections = [][]string{
	{"event_type", "client_ip", "details.path"},
	{"@source", "message", "details.path", "a.b.c.d", "tags", "ok", "n"},
	{},
	{"details", "details.path.nested"},
}

// TestJSONFieldsProjection: with Options.Fields the parser gives exactly
// the full parse's fields among the wanted ones (plus the time fields and
// event_type), in the same order, the same time and the same errors; and
// ExpandLine turns the projected event into the full one, keeping what the
// caller set after Parse.
func TestJSONFieldsProjection(t *testing.T) {
	for _, fields := range projections {
		for _, borrow := range []bool{false, true} {
			full, _ := NewParser("json", Options{})
			proj, _ := NewParser("json", Options{Fields: fields, Borrow: borrow})
			want := append(slices.Clone(fields), "event_type")
			want = append(want, event.TimeFields...)
			for _, line := range corpusLines(t) {
				var fe, pe event.Event
				ferr := full.Parse([]byte(line), &fe)
				buf := []byte(line)
				perr := proj.Parse(buf, &pe)
				if (ferr == nil) != (perr == nil) || ferr != nil && ferr.Error() != perr.Error() {
					t.Fatalf("fields %v: %s\nfull error %v, projected error %v", fields, line, ferr, perr)
				}
				if ferr != nil {
					continue
				}
				if !fe.Time.Equal(pe.Time) {
					t.Fatalf("fields %v: %s\ntime %v, projected %v", fields, line, fe.Time, pe.Time)
				}
				var filtered []event.Field
				for _, f := range fe.Fields {
					if slices.Contains(want, f.Key) {
						filtered = append(filtered, f)
					}
				}
				if !reflect.DeepEqual(filtered, pe.Fields) && !(len(filtered) == 0 && len(pe.Fields) == 0) {
					t.Fatalf("fields %v: %s\nwant %v\ngot  %v", fields, line, filtered, pe.Fields)
				}
				// The caller's own fields survive Expand, replacing the line's.
				fe.Set("@source", "src")
				fe.Set("@line", "7")
				pe.Set("@source", "src")
				pe.Set("@line", "7")
				if err := proj.(LineExpander).ExpandLine(&pe, buf); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(fe.Fields, pe.Fields) {
					t.Fatalf("fields %v: %s\nexpanded %v\nfull     %v", fields, line, pe.Fields, fe.Fields)
				}
			}
		}
	}
}

// TestJSONBorrow: with Borrow, values point into the caller's buffer (no
// copy per line); without it they are the parser's own.
func TestJSONBorrow(t *testing.T) {
	line := `{"timestamp":"2026-01-28T19:15:02Z","client_ip":"203.0.113.7"}`
	for _, borrow := range []bool{false, true} {
		p, _ := NewParser("json", Options{Borrow: borrow})
		buf := []byte(line)
		var ev event.Event
		if err := p.Parse(buf, &ev); err != nil {
			t.Fatal(err)
		}
		copy(buf[strings.Index(line, "203"):], "999")
		v, _ := ev.Get("client_ip")
		if changed := v == "999.0.113.7"; changed != borrow {
			t.Errorf("borrow %v: after the buffer changed the value is %q", borrow, v)
		}
	}
}

// TestJSONExpandWithoutFields: ExpandLine does nothing for a full parse.
func TestJSONExpandWithoutFields(t *testing.T) {
	p, _ := NewParser("json", Options{})
	line := []byte(`{"timestamp":"2026-01-28T19:15:02Z","a":"b"}`)
	var ev event.Event
	if err := p.Parse(line, &ev); err != nil {
		t.Fatal(err)
	}
	before := slices.Clone(ev.Fields)
	if err := p.(LineExpander).ExpandLine(&ev, line); err != nil || !reflect.DeepEqual(before, ev.Fields) {
		t.Errorf("ExpandLine changed a full parse: %v → %v (%v)", before, ev.Fields, err)
	}
}

// BenchmarkParseJSONFields is ParseJSON's line with the 10 bench rules'
// fields (replay's fast path): projected and borrowed, 0 allocations.
func BenchmarkParseJSONFields(b *testing.B) {
	line := []byte(`{"event_type":"authentication_failure","severity":"medium","message":"Invalid API key (hash: 1a2b3c4d)","client_ip":"203.0.113.7","details":{"failure_type":"invalid_key","client_ip":"203.0.113.7","method":"POST","path":"/mcp/tools/call","timestamp":"2026-01-28T19:15:02.117000"},"session_id":"3f2b9c1e-8d7a-4b6c-9e5f-0a1b2c3d4e5f","tool_name":null,"timestamp":"2026-01-28T19:15:02.117000"}`)
	fields := []string{"@source", "event_type", "details.failure_type", "client_ip", "message", "details.path", "details.origin", "details.error", "session_id", "tool_name"}
	p, _ := NewParser("json", Options{Fields: fields, Borrow: true})
	var ev event.Event
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		ev.Reset()
		if err := p.Parse(line, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// TestJSONExpandLine: ExpandLine, by another parser of the same options
// and after the parsing parser has moved on to other lines, gives exactly
// the event of a full parse (replay's pipeline expands on the consumer's
// side, from a copy of the line).
func TestJSONExpandLine(t *testing.T) {
	lines := corpusLines(t)
	lines = append(lines,
		`{"event_type":"authentication_failure","severity":"medium","message":"Invalid API key (hash: 1a2b3c4d)","client_ip":"203.0.113.7","details":{"failure_type":"invalid_key","client_ip":"203.0.113.7","method":"POST","path":"/mcp/tools/call","timestamp":"2026-01-28T19:15:02.117000"},"session_id":"3f2b9c1e-8d7a-4b6c-9e5f-0a1b2c3d4e5f","tool_name":null,"timestamp":"2026-01-28T19:15:02.117000"}`,
		"\t "+`{"timestamp":"2026-01-28T19:15:02Z","client_ip":"\u0041\n\"x\"","arr":[{"a":[1,{"b":"c"}]},"s\\t",null,true],"details":{"x":{"y":{"z":"\ud83d\ude00"}},"path":"/p"}}`+" \r",
		`{"timestamp":1769627702,"details":{"failure_type":"é ü 日本","client_ip":"::1"},"empty":"","zero":0,"neg":-0.5e-3}`,
		`   `,
	)
	for _, fields := range projections {
		for _, borrow := range []bool{false, true} {
			opts := Options{Fields: fields, Borrow: borrow}
			prod, _ := NewParser("json", opts)
			ref, _ := NewParser("json", Options{Borrow: borrow}) // every field
			cons, _ := NewParser("json", opts)
			for k, line := range lines {
				var re, pe event.Event
				rerr := ref.Parse([]byte(line), &re)
				buf := []byte(line)
				perr := prod.Parse(buf, &pe)
				if (rerr == nil) != (perr == nil) {
					t.Fatalf("%s: errors %v, %v", line, rerr, perr)
				}
				if rerr != nil {
					continue
				}
				re.Set("@source", "src")
				pe.Set("@source", "src")
				// The producing parser moves on before the line is expanded.
				var other event.Event
				_ = prod.Parse([]byte(lines[(k+1)%len(lines)]), &other)
				if err := cons.(LineExpander).ExpandLine(&pe, buf); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(re.Fields, pe.Fields) || !re.Time.Equal(pe.Time) {
					t.Fatalf("fields %v borrow %v: %s\nExpandLine %v\nfull parse %v", fields, borrow, line, pe.Fields, re.Fields)
				}
			}
		}
	}
}
