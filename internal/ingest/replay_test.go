package ingest

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
)

func newJSON() (format.Parser, error) { return format.NewParser("json", format.Options{}) }

// lines renders a log of {"ts": N, "id": "X"} lines.
func lines(ids ...string) string {
	var b strings.Builder
	for _, id := range ids {
		name, sec, _ := strings.Cut(id, "@")
		fmt.Fprintf(&b, `{"ts":17696277%s,"id":"%s"}`+"\n", sec, name)
	}
	return b.String()
}

// replayIDs replays inputs and returns "id file:line" per event in order.
func replayIDs(t *testing.T, inputs []Input) ([]string, replayStats, []string) {
	t.Helper()
	var got, bad []string
	st, err := replay(inputs, "src", newJSON, 0, func(ev *event.Event) error {
		id, _ := ev.Get("id")
		file, _ := ev.Get("@file")
		line, _ := ev.Get("@line")
		if s, _ := ev.Get("@source"); s != "src" {
			t.Errorf("@source = %q, want src", s)
		}
		got = append(got, id+" "+file+":"+line)
		return nil
	}, func(pos Position, reason string) {
		bad = append(bad, pos.String()+": "+reason)
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return got, st, bad
}

func TestReplayMerge(t *testing.T) {
	tests := []struct {
		name   string
		inputs map[string]string // name → content, in input order a, b, c
		want   []string
	}{
		{"single input streams in written order, even backwards",
			map[string]string{"a": lines("a1@05", "a2@01", "a3@03")},
			[]string{"a1 a:1", "a2 a:2", "a3 a:3"}},
		{"merge by time",
			map[string]string{"a": lines("a1@01", "a2@04"), "b": lines("b1@02", "b2@03", "b3@05"), "c": lines("c1@00")},
			[]string{"c1 c:1", "a1 a:1", "b1 b:1", "b2 b:2", "a2 a:2", "b3 b:3"}},
		{"ties: lower input first, then line order",
			map[string]string{"a": lines("a1@03", "a2@03"), "b": lines("b1@03", "b2@03"), "c": lines("c1@02", "c2@03")},
			[]string{"c1 c:1", "a1 a:1", "a2 a:2", "b1 b:1", "b2 b:2", "c2 c:2"}},
		{"out-of-order input keeps its own order",
			map[string]string{"a": lines("a1@05", "a2@01"), "b": lines("b1@03")},
			[]string{"b1 b:1", "a1 a:1", "a2 a:2"}},
		{"empty inputs",
			map[string]string{"a": "", "b": lines("b1@01"), "c": "\n\n"},
			[]string{"b1 b:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inputs []Input
			for _, n := range []string{"a", "b", "c"} {
				if s, ok := tt.inputs[n]; ok {
					inputs = append(inputs, Input{Name: n, R: strings.NewReader(s)})
				}
			}
			got, st, bad := replayIDs(t, inputs)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("order:\n got  %v\n want %v", got, tt.want)
			}
			if st.Parsed != int64(len(tt.want)) || len(bad) != 0 {
				t.Errorf("stats %+v, bad %v", st, bad)
			}
		})
	}
}

func TestReplayBadLines(t *testing.T) {
	a := lines("a1@01") + "not json\n" + "\n" + `{"id":"x","ts":"never"}` + "\n" + strings.Repeat("x", 100) + "\n" + "\xff\n" + lines("a2@04")
	b := `{"id":"b0"}` + "\n" + lines("b1@02") + `{"id":"b2"}` + "\n" // b0: no time yet; b2: takes b1's
	var got, bad []string
	st, err := replay([]Input{{"a", strings.NewReader(a)}, {"b", strings.NewReader(b)}}, "src", newJSON, 64,
		func(ev *event.Event) error {
			id, _ := ev.Get("id")
			got = append(got, id+" "+event.FormatTime(ev.Time))
			return nil
		}, func(pos Position, reason string) { bad = append(bad, pos.String()+": "+reason) })
	if err != nil {
		t.Fatal(err)
	}
	wantEvents := []string{"a1 2026-01-28T19:15:01Z", "b1 2026-01-28T19:15:02Z", "b2 2026-01-28T19:15:02Z", "a2 2026-01-28T19:15:04Z"}
	if fmt.Sprint(got) != fmt.Sprint(wantEvents) {
		t.Errorf("events:\n got  %v\n want %v", got, wantEvents)
	}
	// Bad lines are reported as each input is read: both inputs are primed
	// before the first event, so b:1 comes before a:2.
	wantBad := []string{
		"b:1: no timestamp",
		"a:2: invalid json at byte 0: not a json object",
		`a:4: invalid time "never" in field "ts"`,
		"a:5: line too long: more than 64 bytes",
		"a:6: invalid utf-8 at byte 0",
	}
	if fmt.Sprint(bad) != fmt.Sprint(wantBad) {
		t.Errorf("bad lines:\n got  %q\n want %q", bad, wantBad)
	}
	want := replayStats{Lines: 10, Parsed: 4, Malformed: 3, Oversize: 1, InvalidUTF8: 1, Blank: 1}
	if st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	if st.Lines != st.Parsed+st.Malformed+st.Oversize+st.InvalidUTF8+st.Blank {
		t.Errorf("stats do not add up: %+v", st)
	}
}

func TestReplayUnparsedAndSourceFields(t *testing.T) {
	in := "2026-01-28 19:15:02,117 - SECURITY - WARNING - hello\n" +
		"garbage line\n" +
		`{"event_type":"x","@source":"spoofed","@file":"spoofed","@line":"99","timestamp":"2026-01-28T19:15:03Z"}` + "\n"
	var got [][]event.Field
	st, err := replay([]Input{{"mcp.log", strings.NewReader(in)}}, "mcp-prod",
		func() (format.Parser, error) { return format.NewParser("mcp", format.Options{}) }, 0,
		func(ev *event.Event) error { got = append(got, ev.Clone().Fields); return nil }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Parsed != 3 || st.Unparsed != 1 {
		t.Errorf("stats = %+v, want 3 parsed, 1 unparsed", st)
	}
	last := event.Event{Fields: got[2]}
	for k, want := range map[string]string{"@source": "mcp-prod", "@file": "mcp.log", "@line": "3"} {
		if v, _ := last.Get(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	want := []event.Field{{Key: "shape", Value: "unparsed"}, {Key: "event_type", Value: "unparsed"}, {Key: "message", Value: "garbage line"}}
	if !slices.Equal(got[1][:3], want) {
		t.Errorf("unparsed event: got %q, want %q", got[1][:3], want)
	}
}

func TestReplayErrors(t *testing.T) {
	stop := errors.New("stop")
	t.Run("fn error stops the replay", func(t *testing.T) {
		for _, n := range []int{1, 2} { // streaming and merging paths
			var inputs []Input
			for i := range n {
				inputs = append(inputs, Input{fmt.Sprint(i), strings.NewReader(lines("x@01", "y@02"))})
			}
			calls := 0
			_, err := replay(inputs, "s", newJSON, 0, func(*event.Event) error { calls++; return stop }, nil)
			if err != stop || calls != 1 {
				t.Errorf("%d inputs: err = %v after %d calls, want stop after 1", n, err, calls)
			}
		}
	})
	t.Run("parser construction error", func(t *testing.T) {
		_, err := replay([]Input{{"a", strings.NewReader("")}}, "s", func() (format.Parser, error) { return format.NewParser("xml", format.Options{}) }, 0,
			func(*event.Event) error { return nil }, nil)
		if err == nil || !strings.Contains(err.Error(), `unknown format "xml"`) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("read error names the input", func(t *testing.T) {
		boom := errors.New("boom")
		for _, n := range []int{1, 2} {
			var inputs []Input
			for i := range n {
				inputs = append(inputs, Input{fmt.Sprintf("in%d", i), io.MultiReader(strings.NewReader(lines("x@01")), iotest.ErrReader(boom))})
			}
			events := 0
			_, err := replay(inputs, "s", newJSON, 0, func(*event.Event) error { events++; return nil }, nil)
			if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "read in") {
				t.Errorf("%d inputs: err = %v, want a wrapped boom naming the input", n, err)
			}
		}
	})
	t.Run("no inputs", func(t *testing.T) {
		st, err := replay(nil, "s", newJSON, 0, func(*event.Event) error { return stop }, nil)
		if err != nil || st != (replayStats{}) {
			t.Errorf("got %+v, %v", st, err)
		}
	})
}
