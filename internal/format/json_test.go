package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/secwatch/secwatch/internal/event"
)

const tsField = `"timestamp":"2026-01-28T19:15:02Z"`

var ts = mustTime("2026-01-28T19:15:02Z")

func TestParseJSON(t *testing.T) {
	tests := []struct {
		name string
		line string
		want []event.Field
	}{
		{"scalars", `{` + tsField + `,"s":"x","i":42,"f":-1.5e+3,"z":0,"t":true,"f2":false}`,
			kv("timestamp", "2026-01-28T19:15:02Z", "s", "x", "i", "42", "f", "-1.5e+3", "z", "0", "t", "true", "f2", "false")},
		{"null is absent", `{` + tsField + `,"a":null,"b":"x"}`,
			kv("timestamp", "2026-01-28T19:15:02Z", "b", "x")},
		{"nested objects flatten to dotted keys",
			`{` + tsField + `,"details":{"failure_type":"invalid_key","req":{"method":"POST","n":1}},"after":"y"}`,
			kv("timestamp", "2026-01-28T19:15:02Z", "details.failure_type", "invalid_key", "details.req.method", "POST", "details.req.n", "1", "after", "y")},
		{"empty nested object adds nothing", `{` + tsField + `,"d":{},"e":{"f":{}}}`,
			kv("timestamp", "2026-01-28T19:15:02Z")},
		{"arrays keep their raw text", `{` + tsField + `,"a":[1, "x]", {"b": [2, null]}],"e":[]}`,
			kv("timestamp", "2026-01-28T19:15:02Z", "a", `[1, "x]", {"b": [2, null]}]`, "e", "[]")},
		{"escapes", `{` + tsField + `,"e":"q\"b\\s\/n\nr\rt\tb\bf\f"}`,
			kv("timestamp", "2026-01-28T19:15:02Z", "e", "q\"b\\s/n\nr\rt\tb\bf\f")},
		{"unicode escapes", `{` + tsField + `,"a":"\u0041\u00e9\u4e2d","b":"\ud83d\ude00","c":"\ud83dx","d":"\ude00","e":"\ud83d\u0041"}`,
			kv("timestamp", "2026-01-28T19:15:02Z", "a", "Aé中", "b", "😀", "c", "\uFFFDx", "d", "\uFFFD", "e", "\uFFFDA")},
		{"escaped keys", `{` + tsField + `,"k\u0065y":"v","o\"k":{"i\\n":"w"}}`,
			kv("timestamp", "2026-01-28T19:15:02Z", "key", "v", `o"k.i\n`, "w")},
		{"raw utf-8 kept", `{` + tsField + `,"s":"héllo 😀"}`,
			kv("timestamp", "2026-01-28T19:15:02Z", "s", "héllo 😀")},
		{"duplicate keys: first wins", `{` + tsField + `,"a":"1","a":"2","b":{"c":"3"},"b.c":"4"}`,
			kv("timestamp", "2026-01-28T19:15:02Z", "a", "1", "b.c", "3")},
		{"white space, trailing CR", " \t{ " + tsField + " , \"a\" : \"b\" }  \r",
			kv("timestamp", "2026-01-28T19:15:02Z", "a", "b")},
		{"empty string value kept", `{` + tsField + `,"a":""}`,
			kv("timestamp", "2026-01-28T19:15:02Z", "a", "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := parseLine(mustParser(t, "json", Options{}), tt.line, time.Time{})
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d := fieldsDiff(ev.Fields, tt.want); d != "" {
				t.Errorf("fields differ:%s", d)
			}
			if !ev.Time.Equal(ts) {
				t.Errorf("time = %v, want %v", ev.Time, ts)
			}
		})
	}
}

func TestParseJSONErrors(t *testing.T) {
	tests := []struct {
		name, line, want string
	}{
		{"array", `[1,2]`, "invalid json at byte 0: not a json object"},
		{"string", `"x"`, "invalid json at byte 0: not a json object"},
		{"number", `42`, "invalid json at byte 0: not a json object"},
		{"text", `hello`, "invalid json at byte 0: not a json object"},
		{"trailing garbage", `{"a":1} x`, "invalid json at byte 8: unexpected data after object"},
		{"two objects", `{"a":1}{"b":2}`, "invalid json at byte 7: unexpected data after object"},
		{"missing colon", `{"a" 1}`, "invalid json at byte 5: expected ':' after key"},
		{"offset counts leading space", `   {"a" 1}`, "invalid json at byte 8: expected ':' after key"},
		{"unquoted key", `{a:1}`, "invalid json at byte 1: expected string key"},
		{"trailing comma", `{"a":1,}`, "invalid json at byte 7: expected string key"},
		{"missing comma", `{"a":1 "b":2}`, "invalid json at byte 7: expected ',' or '}'"},
		{"unterminated object", `{"a":1`, "invalid json at byte 6: unexpected end of line"},
		{"unterminated string", `{"a":"x`, "invalid json at byte 7: unterminated string"},
		{"unterminated escaped string", `{"a":"x\"`, "invalid json at byte 9: unterminated string"},
		{"control character", "{\"a\":\"x\ty\"}", "invalid json at byte 7: control character in string"},
		{"invalid escape", `{"a":"\q"}`, "invalid json at byte 6: invalid escape"},
		{"short unicode escape", `{"a":"\u12"}`, "invalid json at byte 6: invalid \\u escape"},
		{"bad literal", `{"a":tru}`, "invalid json at byte 5: invalid literal"},
		{"bad null", `{"a":nul}`, "invalid json at byte 5: invalid literal"},
		{"leading zero", `{"a":01}`, "invalid json at byte 6: expected ',' or '}'"},
		{"bare minus", `{"a":-}`, "invalid json at byte 5: invalid value"},
		{"fraction without digits", `{"a":1.}`, "invalid json at byte 7: invalid number"},
		{"leading dot", `{"a":.5}`, "invalid json at byte 5: invalid value"},
		{"plus sign", `{"a":+1}`, "invalid json at byte 5: invalid value"},
		{"exponent without digits", `{"a":1e}`, "invalid json at byte 7: invalid number"},
		{"bad array", `{"a":[1 2]}`, "invalid json at byte 8: expected ',' or ']'"},
		{"bad object in array", `{"a":[{"b"}]}`, "invalid json at byte 10: expected ':' after key"},
		{"bad string in array", `{"a":["\x"]}`, "invalid json at byte 7: invalid escape"},
		{"empty", ``, "empty line"},
		{"blank", " \t\r", "empty line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseLine(mustParser(t, "json", Options{}), tt.line, ts)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse(%q) error = %v, want %q", tt.line, err, tt.want)
			}
		})
	}
}

func TestParseJSONLimits(t *testing.T) {
	nested := func(depth int) string {
		return strings.Repeat(`{"a":`, depth-1) + `{"b":"x"}` + strings.Repeat(`}`, depth-1)
	}
	manyFields := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"timestamp":"2026-01-28T19:15:02Z"`)
		for i := 1; i < n; i++ {
			fmt.Fprintf(&b, `,"f%d":%d`, i, i)
		}
		b.WriteString("}")
		return b.String()
	}
	tests := []struct {
		name    string
		line    string
		wantErr string // "" means the line parses
		fields  int
	}{
		{"depth 64 ok", nested(64), "", 1},
		{"depth 65 rejected", nested(65), "nested deeper than 64 levels", 0},
		{"array depth 64 ok", `{"a":` + strings.Repeat("[", 63) + strings.Repeat("]", 63) + `}`, "", 1},
		{"array depth 65 rejected", `{"a":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `}`, "nested deeper than 64 levels", 0},
		{"hostile depth rejected quickly", strings.Repeat(`{"a":`, 100000), "nested deeper than 64 levels", 0},
		{"4096 fields ok", manyFields(4096), "", 4096},
		{"4097 fields rejected", manyFields(4097), "more than 4096 fields", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := parseLine(mustParser(t, "json", Options{}), tt.line, ts)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				if len(ev.Fields) != tt.fields {
					t.Errorf("got %d fields, want %d", len(ev.Fields), tt.fields)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// Many fields switch duplicate detection from a scan to a map; duplicates
// must still lose, on every line the parser reads.
func TestParseJSONManyFieldsDuplicates(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{` + tsField)
	for i := range 100 {
		fmt.Fprintf(&b, `,"k%d":"first"`, i)
	}
	for i := range 100 {
		fmt.Fprintf(&b, `,"k%d":"second"`, i)
	}
	b.WriteString(`}`)
	p := mustParser(t, "json", Options{})
	for round := range 3 {
		ev, err := parseLine(p, b.String(), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ev.Fields) != 101 {
			t.Fatalf("round %d: got %d fields, want 101", round, len(ev.Fields))
		}
		for _, f := range ev.Fields[1:] {
			if f.Value != "first" {
				t.Fatalf("round %d: %s = %q, want first", round, f.Key, f.Value)
			}
		}
		// A small line after a large one must not see the large one's keys.
		ev, err = parseLine(p, `{`+tsField+`,"k1":"small"}`, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := ev.Get("k1"); v != "small" {
			t.Fatalf("round %d: k1 = %q after a large line, want small", round, v)
		}
	}
}

func TestParseJSONTime(t *testing.T) {
	fallback := mustTime("2030-01-01T00:00:00Z")
	tests := []struct {
		name      string
		timeField string
		line      string
		fallback  time.Time
		want      string // RFC 3339, or "error: …"
	}{
		{"timestamp", "", `{"timestamp":"2026-01-28T19:15:02.5+01:00"}`, time.Time{}, "2026-01-28T18:15:02.5Z"},
		{"time", "", `{"time":"2026-01-28T19:15:02Z"}`, time.Time{}, "2026-01-28T19:15:02Z"},
		{"@timestamp", "", `{"@timestamp":"2026-01-28T19:15:02Z"}`, time.Time{}, "2026-01-28T19:15:02Z"},
		{"ts epoch seconds", "", `{"ts":1769627702}`, time.Time{}, "2026-01-28T19:15:02Z"},
		{"float epoch", "", `{"ts":1769627702.118532}`, time.Time{}, "2026-01-28T19:15:02.118532Z"},
		{"epoch milliseconds", "", `{"ts":1769627702118}`, time.Time{}, "2026-01-28T19:15:02.118Z"},
		{"asctime", "", `{"time":"2026-01-28 19:15:02,117"}`, time.Time{}, "2026-01-28T19:15:02.117Z"},
		{"naive iso is utc", "", `{"timestamp":"2026-01-28T19:15:02.117000"}`, time.Time{}, "2026-01-28T19:15:02.117Z"},
		{"order: timestamp before time", "", `{"time":"2020-01-01T00:00:00Z","timestamp":"2026-01-28T19:15:02Z"}`, time.Time{}, "2026-01-28T19:15:02Z"},
		{"time_field", "when", `{"timestamp":"2020-01-01T00:00:00Z","when":"2026-01-28T19:15:02Z"}`, time.Time{}, "2026-01-28T19:15:02Z"},
		{"dotted time_field", "details.at", `{"details":{"at":"2026-01-28T19:15:02Z"}}`, time.Time{}, "2026-01-28T19:15:02Z"},
		{"own time beats fallback", "", `{"time":"2026-01-28T19:15:02Z"}`, fallback, "2026-01-28T19:15:02Z"},
		{"fallback when no time", "", `{"a":"b"}`, fallback, "2030-01-01T00:00:00Z"},
		{"no time, no fallback", "", `{"a":"b"}`, time.Time{}, "error: no timestamp"},
		{"time_field absent", "when", `{"timestamp":"2026-01-28T19:15:02Z"}`, time.Time{}, "error: no timestamp"},
		{"invalid time", "", `{"timestamp":"yesterday"}`, fallback, `error: invalid time "yesterday" in field "timestamp"`},
		{"object is not a time", "", `{"time":{"a":1}}`, fallback, "2030-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParser(t, "json", Options{TimeField: tt.timeField})
			ev, err := parseLine(p, tt.line, tt.fallback)
			got := ""
			if err != nil {
				got = "error: " + err.Error()
			} else {
				got = event.FormatTime(ev.Time)
			}
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// A line without a time of its own takes the previous timestamped line's
// time — not the time of a line that only had a fallback.
func TestParseTimeCarriesOver(t *testing.T) {
	p := mustParser(t, "json", Options{})
	steps := []struct {
		line     string
		fallback time.Time
		want     string
	}{
		{`{"a":1}`, time.Time{}, "error: no timestamp"},
		{`{"a":2,"ts":1769627702}`, time.Time{}, "2026-01-28T19:15:02Z"},
		{`{"a":3}`, time.Time{}, "2026-01-28T19:15:02Z"},
		{`{"a":4}`, mustTime("2030-01-01T00:00:00Z"), "2030-01-01T00:00:00Z"},
		{`{"a":5}`, time.Time{}, "2026-01-28T19:15:02Z"},
		{`{"a":6,"ts":1769627800}`, time.Time{}, "2026-01-28T19:16:40Z"},
		{`{"a":7}`, time.Time{}, "2026-01-28T19:16:40Z"},
	}
	for i, s := range steps {
		ev, err := parseLine(p, s.line, s.fallback)
		got := event.FormatTime(ev.Time)
		if err != nil {
			got = "error: " + err.Error()
		}
		if got != s.want {
			t.Errorf("step %d %s: got %s, want %s", i, s.line, got, s.want)
		}
	}
}

// The hot path allocates only the line's string: nested keys are interned,
// strings without escapes are substrings, the event's fields are reused.
func TestParseJSONAllocs(t *testing.T) {
	p := mustParser(t, "json", Options{})
	line := []byte(benchJSONLine)
	var ev event.Event
	allocs := testing.AllocsPerRun(1000, func() {
		ev.Reset()
		if err := p.Parse(line, &ev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("Parse allocates %.1f times per line, want at most 1", allocs)
	}
}

// FuzzParseJSON checks the hand-written scanner against encoding/json: the
// same lines are valid, and every field has the value a reference flattener
// built on encoding/json gives it. The seeds run in every go test.
func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		benchJSONLine,
		`{"a":"x\u00e9\ud83d\ude00","b":[1,{"c":null}],"d":{"e":{"f":-0.5E-3}},"g":true,"h":null}`,
		`{"a":"1","a":"2","b":{"c":1},"b.c":2}`,
		`{"a":"\ud800","b":"\udc00\ud800x"}`,
		`{"a":01}`, `{"a":1,}`, `[1]`, `{"a":"\u00"}`, `{} {}`, `{"a":[1,]}`,
		"{\"a\":\"\x01\"}", `{"a":"\/\b\f\n\r\t\\\""}`, ` { "a" : [ ] , "b" : { } } `,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if !utf8.ValidString(line) {
			return // the Reader rejects such lines; encoding/json would replace bytes
		}
		p := newJSONParser("")
		var ev event.Event
		ev.Time = ts // fallback, so that a missing time is no error
		err := p.Parse([]byte(line), &ev)
		var je *jsonError
		if err != nil && !errors.As(err, &je) {
			// empty line, or a time field that does not parse
			return
		}
		trimmed := bytes.Trim([]byte(line), " \t\r\n")
		valid := json.Valid(trimmed) && len(trimmed) > 0 && trimmed[0] == '{'
		if err != nil {
			if valid && !strings.Contains(err.Error(), "nested deeper") && !strings.Contains(err.Error(), "fields") {
				t.Fatalf("rejected valid json %q: %v", line, err)
			}
			return
		}
		if !valid {
			t.Fatalf("accepted invalid json %q: %v", line, ev.Fields)
		}
		want, rerr := refFlatten(trimmed)
		if rerr != nil {
			t.Fatalf("reference flattener: %v", rerr)
		}
		if len(ev.Fields) != len(want) {
			t.Fatalf("%q: got %d fields %v, want %d %v", line, len(ev.Fields), ev.Fields, len(want), want)
		}
		for i, w := range want {
			g := ev.Fields[i]
			if g.Key != w.key {
				t.Fatalf("%q: field %d key %q, want %q", line, i, g.Key, w.key)
			}
			if w.array {
				var a, b any
				if json.Unmarshal([]byte(g.Value), &a) != nil || json.Unmarshal([]byte(w.value), &b) != nil || !reflect.DeepEqual(a, b) {
					t.Fatalf("%q: field %s = %s, want %s", line, g.Key, g.Value, w.value)
				}
			} else if g.Value != w.value {
				t.Fatalf("%q: field %s = %q, want %q", line, g.Key, g.Value, w.value)
			}
		}
	})
}

type refField struct {
	key, value string
	array      bool
}

// refFlatten flattens a JSON object with encoding/json: the reference
// semantics of the json format.
func refFlatten(data []byte) ([]refField, error) {
	var out []refField
	seen := map[string]bool{}
	var walk func(data []byte, prefix string) error
	walk = func(data []byte, prefix string) error {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if _, err := dec.Token(); err != nil { // '{'
			return err
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			key := prefix + tok.(string)
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return err
			}
			var f refField
			switch raw[0] {
			case '{':
				if err := walk(raw, key+"."); err != nil {
					return err
				}
				continue
			case 'n':
				continue
			case '"':
				var s string
				if err := json.Unmarshal(raw, &s); err != nil {
					return err
				}
				f = refField{key: key, value: s}
			case '[':
				f = refField{key: key, value: string(raw), array: true}
			default:
				f = refField{key: key, value: string(raw)}
			}
			if !seen[key] {
				seen[key] = true
				out = append(out, f)
			}
		}
		return nil
	}
	return out, walk(data, "")
}

// benchJSONLine is the structured SecurityEvent of an authentication
// failure, as a fixed server would write it.
const benchJSONLine = `{"event_type":"authentication_failure","severity":"medium","message":"Invalid API key (hash: 1a2b3c4d)","client_ip":"203.0.113.7","details":{"failure_type":"invalid_key","client_ip":"203.0.113.7","method":"POST","path":"/mcp/tools/call","timestamp":"2026-01-28T19:15:02.117000"},"session_id":"3f2b9c1e-8d7a-4b6c-9e5f-0a1b2c3d4e5f","tool_name":null,"timestamp":"2026-01-28T19:15:02.117000"}`

// BenchmarkParseJSON and BenchmarkEncodingJSONStruct read the same line;
// compare their ns/op (the target is at least 2× faster).
func BenchmarkParseJSON(b *testing.B) {
	p := mustParser(b, "json", Options{})
	line := []byte(benchJSONLine)
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

// BenchmarkEncodingJSONStruct is the peer of docs/benchmarks.md's decoding
// comparison: encoding/json decoding the line into a struct, nothing more (no
// time parsing, no flattening).
func BenchmarkEncodingJSONStruct(b *testing.B) {
	type details struct {
		FailureType string `json:"failure_type"`
		ClientIP    string `json:"client_ip"`
		Method      string `json:"method"`
		Path        string `json:"path"`
		Timestamp   string `json:"timestamp"`
	}
	type securityEvent struct {
		EventType string  `json:"event_type"`
		Severity  string  `json:"severity"`
		Message   string  `json:"message"`
		ClientIP  string  `json:"client_ip"`
		Details   details `json:"details"`
		SessionID *string `json:"session_id"`
		ToolName  *string `json:"tool_name"`
		Timestamp string  `json:"timestamp"`
	}
	line := []byte(benchJSONLine)
	var v securityEvent
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		v = securityEvent{}
		if err := json.Unmarshal(line, &v); err != nil {
			b.Fatal(err)
		}
	}
	if v.Details.FailureType != "invalid_key" {
		b.Fatalf("decoded %+v", v)
	}
}

// TestPlainRun checks the word-at-a-time skip of string scanning against a
// byte-by-byte scan: every byte it skips needs no care, and the word it
// stops at holds a byte that does (it never stops early for nothing).
func TestPlainRun(t *testing.T) {
	alphabet := []byte{'a', 'Z', '0', ' ', '"', '\\', 0x00, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xc3, 0xa9, 0xff, '!', '#', '[', ']', '/'}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 20000 {
		b := make([]byte, rng.IntN(40))
		for k := range b {
			if rng.IntN(6) == 0 {
				b[k] = alphabet[rng.IntN(len(alphabet))]
			} else {
				b[k] = byte(0x20 + rng.IntN(0x60)) // mostly plain text
				if b[k] == '"' || b[k] == '\\' {
					b[k] = 'x'
				}
			}
		}
		s := string(b)
		i := 0
		if len(s) > 0 {
			i = rng.IntN(len(s) + 1)
		}
		r := plainRun(s, i)
		if r < i || r > len(s) {
			t.Fatalf("case %d: plainRun(%q, %d) = %d, out of range", n, s, i, r)
		}
		for k := i; k < r; k++ {
			if strStop[s[k]] {
				t.Fatalf("case %d: plainRun(%q, %d) = %d skips %q at %d", n, s, i, r, s[k], k)
			}
		}
		if r+8 <= len(s) {
			stop := false
			for k := r; k < r+8; k++ {
				stop = stop || strStop[s[k]]
			}
			if !stop {
				t.Fatalf("case %d: plainRun(%q, %d) = %d stops at a word with nothing to care for", n, s, i, r)
			}
		} else if want := i + (len(s)-i)/8*8; r != want {
			t.Fatalf("case %d: plainRun(%q, %d) = %d, want the last incomplete word at %d", n, s, i, r, want)
		}
	}
}
