package alerting

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/rules"
)

// hostilePieces are what generated strings are made of: every byte
// encoding/json escapes or treats specially (controls, quotes, backslash,
// HTML characters, DEL), U+2028 and U+2029, other multi-byte characters,
// invalid and truncated UTF-8, and ordinary text.
var hostilePieces = []string{
	"a", "Z", "0", " ", "key", "[REDACTED]", "\"", "\\", "/", "<", ">", "&", "<script>", "\x7f",
	"\x00", "\x01", "\x08", "\t", "\n", "\v", "\f", "\r", "\x1b[31m", "\x1f",
	"\u2028", "\u2029", "\u2027", "\u202a", "\u202e", "é", "€", "😀", "\ufeff", "\ufffd",
	"\xff", "\xc3", "\xe2\x80", "\xf0\x9f\x98", "\xed\xa0\x80", "\xc0\xaf", "\u00a0", "\u0085",
}

func hostileString(r *rand.Rand) string {
	if r.IntN(8) == 0 {
		return ""
	}
	var b strings.Builder
	for range 1 + r.IntN(10) {
		if r.IntN(6) == 0 {
			b.WriteByte(byte(r.IntN(256)))
		} else {
			b.WriteString(hostilePieces[r.IntN(len(hostilePieces))])
		}
	}
	return b.String()
}

func hostileMap(r *rand.Rand) map[string]string {
	switch r.IntN(6) {
	case 0:
		return nil
	case 1:
		return map[string]string{}
	}
	m := map[string]string{}
	for range 1 + r.IntN(40) { // beyond appendJSONMap's stack array of keys too
		m[hostileString(r)] = hostileString(r)
	}
	return m
}

func hostileInt(r *rand.Rand) int {
	return []int{0, 1, -1, 10, r.IntN(1 << 20), -r.IntN(1 << 20), math.MaxInt, math.MinInt}[r.IntN(8)]
}

func hostileDocument(r *rand.Rand) Document {
	d := Document{
		AlertID: hostileString(r), Rule: hostileString(r), Title: hostileString(r), Severity: hostileString(r),
		Group: hostileMap(r), Count: hostileInt(r), Threshold: hostileInt(r), Window: hostileString(r),
		Time: hostileString(r), FirstSeen: hostileString(r), Labels: hostileMap(r),
		Description: hostileString(r), Runbook: hostileString(r), Source: hostileString(r),
		Truncated: r.IntN(2) == 0,
	}
	switch r.IntN(4) {
	case 0: // nil
	case 1:
		d.Samples = []map[string]string{}
	default:
		for range 1 + r.IntN(4) {
			d.Samples = append(d.Samples, hostileMap(r))
		}
	}
	return d
}

// TestDocumentJSONMatchesMarshal: appendDocumentJSON writes what
// json.Marshal writes, byte for byte, for documents of hostile strings
// (every escape, invalid UTF-8, U+2028/9, HTML characters), nil and empty
// maps and samples, every omitempty field set and unset, extreme numbers.
func TestDocumentJSONMatchesMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 8))
	docs := append(stdoutDocs(), Document{})
	for range 20_000 {
		docs = append(docs, hostileDocument(r))
	}
	buf := []byte("prefix kept")
	for i := range docs {
		want, err := json.Marshal(docs[i])
		if err != nil {
			t.Fatal(err)
		}
		got := appendDocumentJSON(buf[:11], &docs[i])
		if !bytes.Equal(got[11:], want) || string(got[:11]) != "prefix kept" {
			t.Fatalf("document %d:\nappendDocumentJSON %q\njson.Marshal       %q", i, got[11:], want)
		}
		buf = got
	}
	// Every byte value and every rune class alone, in a key and a value.
	for c := range 256 {
		for _, s := range []string{string(rune(c)), string([]byte{byte(c)}), "x" + string([]byte{byte(c)}) + "y"} {
			d := Document{Group: map[string]string{s: s}, Title: s}
			want, _ := json.Marshal(d)
			if got := appendDocumentJSON(nil, &d); !bytes.Equal(got, want) {
				t.Fatalf("%q: appendDocumentJSON %q, json.Marshal %q", s, got, want)
			}
		}
	}
}

// TestDocumentJSONFields: a field added to Document must be added to
// appendDocumentJSON (the generated documents of
// TestDocumentJSONMatchesMarshal would not set it).
func TestDocumentJSONFields(t *testing.T) {
	if n := reflect.TypeFor[Document]().NumField(); n != 16 {
		t.Fatalf("Document has %d fields, appendDocumentJSON writes 16: add the new ones to it, to hostileDocument and here", n)
	}
}

// TestWriteJSONMatchesMarshal: WriteJSON writes json.Marshal(NewDocument)
// and a newline, for alerts with hostile group and sample fields, and
// reuses no bytes between calls (each line checked after the next write).
func TestWriteJSONMatchesMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 9))
	rule := &rules.Rule{ID: "r<&>", Title: "t\u2028", Severity: "high", Window: time.Minute,
		Labels: map[string]string{"a": "\xff"}, Description: "<b>", Runbook: "https://x/?a=1&b=2"}
	var out bytes.Buffer
	var want [][]byte
	for range 2000 {
		a := rules.Alert{ID: hostileString(r), Rule: rule, Count: hostileInt(r),
			Time: time.Unix(int64(r.IntN(1<<31)), int64(r.IntN(1e9))).UTC(), Source: hostileString(r)}
		for range r.IntN(3) {
			a.Group = append(a.Group, event.Field{Key: hostileString(r), Value: hostileString(r)})
		}
		for range r.IntN(4) {
			ev := event.Event{Time: a.Time}
			for range r.IntN(12) {
				ev.Fields = append(ev.Fields, event.Field{Key: hostileString(r), Value: hostileString(r)})
			}
			a.Samples = append(a.Samples, ev)
		}
		b, err := json.Marshal(NewDocument(&a))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, append(b, '\n'))
		if err := WriteJSON(&out, &a); err != nil {
			t.Fatal(err)
		}
	}
	if got := bytes.Join(want, nil); !bytes.Equal(out.Bytes(), got) {
		lines := bytes.SplitAfter(out.Bytes(), []byte("\n"))
		for i := range want {
			if i >= len(lines) || !bytes.Equal(lines[i], want[i]) {
				t.Fatalf("alert %d: WriteJSON wrote\n%q\njson.Marshal\n%q", i, lines[min(i, len(lines)-1)], want[i])
			}
		}
		t.Fatal("WriteJSON output differs")
	}
	if !utf8.Valid(out.Bytes()) {
		t.Error("WriteJSON wrote invalid UTF-8")
	}
}
