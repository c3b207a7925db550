package ingest

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
)

// Hostile input: what an attacker can make a server write into the logs
// secwatch reads. Each test asserts that nothing panics, memory stays
// bounded, and every bad line is counted and reported with its position
// while the lines around it are read normally.

// genReader streams n bytes of fill followed by tail without ever holding
// more than one chunk: a 1 GiB line costs the test no memory.
type genReader struct {
	n     int64
	chunk []byte
	tail  string
}

func newGenReader(n int64, fill byte, tail string) *genReader {
	c := make([]byte, 64<<10)
	for i := range c {
		c[i] = fill
	}
	return &genReader{n: n, chunk: c, tail: tail}
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.n > 0 {
		k := copy(p[:min(int64(len(p)), g.n)], g.chunk)
		g.n -= int64(k)
		return k, nil
	}
	if g.tail == "" {
		return 0, io.EOF
	}
	k := copy(p, g.tail)
	g.tail = g.tail[k:]
	return k, nil
}

// badLine is one rejected line as reported to Bad.
type badLine struct {
	pos    Position
	reason string
}

// replayAll replays one input and returns the events (cloned), the counts
// and the rejected lines.
func replayAll(t *testing.T, name string, opt format.Options, maxLine int, r io.Reader) ([]event.Event, replayStats, []badLine) {
	t.Helper()
	var evs []event.Event
	var bad []badLine
	st, err := replay([]Input{{Name: "hostile.log", R: r}}, "h", func() (format.Parser, error) { return format.NewParser(name, opt) }, maxLine,
		func(ev *event.Event) error { evs = append(evs, ev.Clone()); return nil },
		func(pos Position, reason string) { bad = append(bad, badLine{pos, reason}) })
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return evs, st, bad
}

func TestHostileGiantLine(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 1 GiB")
	}
	const giant = int64(1) << 30
	next := `{"timestamp":"2026-01-28T19:00:00Z","event_type":"after"}` + "\n"

	t.Run("reader", func(t *testing.T) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		rd := NewReader(newGenReader(giant, 'A', "\n"+next), "big.log")
		_, pos, err := rd.Next()
		runtime.ReadMemStats(&after)
		var le *LineError
		if !errors.As(err, &le) || !errors.Is(err, ErrLineTooLong) {
			t.Fatalf("first line: got error %v, want a line too long", err)
		}
		if pos.Line != 1 || pos.Offset != 0 || le.Pos != pos || le.Error() != "big.log:1: line too long: more than 1048576 bytes" {
			t.Errorf("got position %+v, error %q; want big.log:1 at offset 0", pos, le.Error())
		}
		// The reader's buffer is MaxLineBytes+2; everything else is noise.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
			t.Errorf("skipping a 1 GiB line allocated %d bytes, want < 8 MiB", alloc)
		}
		line, pos, err := rd.Next()
		if err != nil || string(line)+"\n" != next || pos.Line != 2 || pos.Offset != giant+1 {
			t.Fatalf("line after: got %q at %+v, %v; want line 2 at offset %d", line, pos, err, giant+1)
		}
		t.Logf("1 GiB line skipped with %d bytes allocated, heap in use %d bytes", after.TotalAlloc-before.TotalAlloc, after.HeapInuse)
	})

	t.Run("replay", func(t *testing.T) {
		// The same through a whole replay: counted as oversize at line 2,
		// the lines around it parsed.
		first := `{"timestamp":"2026-01-28T18:59:00Z","event_type":"before"}` + "\n"
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := io.MultiReader(strings.NewReader(first), newGenReader(giant, '{', "\n"+next))
		evs, st, bad := replayAll(t, "json", format.Options{}, 0, r)
		runtime.ReadMemStats(&after)
		if len(evs) != 2 || st.Oversize != 1 || st.Lines != 3 || st.Parsed != 2 {
			t.Fatalf("got %d events, stats %+v; want 2 events and one oversize line of 3", len(evs), st)
		}
		if len(bad) != 1 || bad[0].pos.Line != 2 || bad[0].pos.Offset != int64(len(first)) || !strings.Contains(bad[0].reason, "line too long") {
			t.Errorf("got rejected %+v, want line 2 at offset %d: line too long", bad, len(first))
		}
		if v, _ := evs[1].Get("@line"); v != "3" {
			t.Errorf("event after the giant line: @line %q, want 3", v)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
			t.Errorf("replaying a 1 GiB line allocated %d bytes, want < 8 MiB", alloc)
		}
	})
}

func TestHostileBytes(t *testing.T) {
	// Every format gets the same hostile lines between two good ones.
	type tc struct {
		format string
		good   string
	}
	goods := []tc{
		{"json", `{"timestamp":"2026-01-28T19:00:00Z","event_type":"ok"}`},
		{"logfmt", `time=2026-01-28T19:00:00Z event_type=ok`},
		{"mcp", `2026-01-28 19:00:00,000 - mcp_server.main - INFO - [-] - ok`},
		{"alb", `https 2026-01-28T19:00:00.000000Z app/x/1 203.0.113.7:5555 10.0.0.1:80 0.001 0.002 0.000 200 200 10 20 "GET https://h:443/ HTTP/1.1" "ua" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 - "Root=1" "h" "-" 0 2026-01-28T19:00:00.000000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-"`},
	}
	hostile := []struct {
		name, line string
		invalid    bool // rejected by the reader for every format
	}{
		{"invalid utf-8", "caf\xe9 \xff\xfe\xfd", true},
		{"overlong encoding", "\xc0\xaf etc", true},
		{"surrogate half", "\xed\xa0\x80", true},
		{"NUL bytes", "\x00\x00\x00", false},
		{"NUL inside", "time=2026-01-28T19:00:00Z a=\x00b", false},
		{"control characters", "\x01\x02\x1b[2J\x1b]0;pwned\x07\u202e\u2066", false},
		{"only a CR", "\r", false},
	}
	for _, g := range goods {
		t.Run(g.format, func(t *testing.T) {
			var in strings.Builder
			in.WriteString(g.good + "\n")
			for _, h := range hostile {
				in.WriteString(h.line + "\n")
			}
			in.WriteString(g.good + "\n")
			evs, st, bad := replayAll(t, g.format, format.Options{}, 0, strings.NewReader(in.String()))
			nInvalid := 0
			for _, h := range hostile {
				if h.invalid {
					nInvalid++
				}
			}
			if st.InvalidUTF8 != int64(nInvalid) {
				t.Errorf("InvalidUTF8 = %d, want %d", st.InvalidUTF8, nInvalid)
			}
			if st.Lines != int64(len(hostile)+2) {
				t.Errorf("Lines = %d, want %d", st.Lines, len(hostile)+2)
			}
			if sum := st.Parsed + st.Malformed + st.Oversize + st.InvalidUTF8 + st.Blank; sum != st.Lines {
				t.Errorf("counts %+v do not add up to the lines", st)
			}
			// Every rejected line is reported with its own line number.
			reported := map[int]bool{}
			for _, b := range bad {
				if b.pos.File != "hostile.log" || b.pos.Line < 2 || b.pos.Line > len(hostile)+1 {
					t.Errorf("rejected line reported at %+v", b.pos)
				}
				reported[b.pos.Line] = true
			}
			for i, h := range hostile {
				if h.invalid && !reported[i+2] {
					t.Errorf("%s (line %d) not reported", h.name, i+2)
				}
			}
			if int64(len(bad)) != st.Malformed+st.InvalidUTF8 {
				t.Errorf("%d lines reported, %d counted", len(bad), st.Malformed+st.InvalidUTF8)
			}
			if len(evs) < 2 || evs[0].Fields == nil {
				t.Fatalf("the good lines around the hostile ones: got %d events", len(evs))
			}
			if v, _ := evs[len(evs)-1].Get("@line"); v != fmt.Sprint(len(hostile)+2) {
				t.Errorf("last event @line %q, want %d", v, len(hostile)+2)
			}
		})
	}
}

func TestHostileJSONShapes(t *testing.T) {
	const ts = `"timestamp":"2026-01-28T19:00:00Z"`
	var fields, dups strings.Builder
	fields.WriteString("{" + ts)
	dups.WriteString("{" + ts)
	for i := range 100_000 {
		fmt.Fprintf(&fields, `,"f%d":%d`, i, i)
		dups.WriteString(`,"a":1`)
	}
	fields.WriteString("}")
	dups.WriteString("}")
	var justUnder strings.Builder
	justUnder.WriteString("{" + ts)
	for i := range 4095 {
		fmt.Fprintf(&justUnder, `,"f%d":1`, i)
	}
	justUnder.WriteString("}")
	tests := []struct {
		name, line string
		want       string // "" = accepted
	}{
		{"deeply nested objects", "{" + ts + `,"a":` + strings.Repeat(`{"a":`, 100_000) + "1" + strings.Repeat("}", 100_001), "nested deeper than 64 levels"},
		{"deeply nested arrays", "{" + ts + `,"a":` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + "}", "nested deeper than 64 levels"},
		{"unclosed nesting", "{" + ts + `,"a":` + strings.Repeat(`{"a":[`, 50_000), "invalid json"},
		{"100,000 fields", fields.String(), "more than 4096 fields"},
		{"100,000 duplicate keys", dups.String(), "more than 4096 fields"},
		{"4096 fields", justUnder.String(), ""},
		{"huge number", "{" + ts + `,"n":` + strings.Repeat("9", 100_000) + "}", ""},
		{"escapes everywhere", "{" + ts + `,"s":"` + strings.Repeat(`\u0000\ud800\n\"`, 20_000) + `"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := `{"timestamp":"2026-01-28T18:59:00Z"}` + "\n" + tt.line + "\n"
			evs, st, bad := replayAll(t, "json", format.Options{}, 4<<20, strings.NewReader(line))
			if tt.want == "" {
				if len(evs) != 2 || len(bad) != 0 {
					t.Fatalf("got %d events, rejected %+v; want the line accepted", len(evs), bad)
				}
				return
			}
			if st.Malformed != 1 || len(bad) != 1 || bad[0].pos.Line != 2 || !strings.Contains(bad[0].reason, tt.want) {
				t.Fatalf("got stats %+v, rejected %+v; want line 2 malformed: %s", st, bad, tt.want)
			}
			if len(bad[0].reason) > 200 {
				t.Errorf("reason quotes %d bytes of the line", len(bad[0].reason))
			}
		})
	}
	// The mcp format's JSON forms and Python dict reprs go through the
	// same bounds.
	t.Run("mcp dict repr nesting", func(t *testing.T) {
		line := "2026-01-28 19:00:00,000 - mcp_server.middleware - WARNING - [c] - Loop detected: " +
			strings.Repeat("{'a': ", 100_000) + "1" + strings.Repeat("}", 100_000) + "\n"
		evs, st, _ := replayAll(t, "mcp", format.Options{}, 4<<20, strings.NewReader(line))
		if st.Lines != 1 || st.Parsed+st.Malformed != 1 {
			t.Fatalf("got %d events, stats %+v; want the line counted once", len(evs), st)
		}
	})
}

func TestHostileTimestamps(t *testing.T) {
	tests := []struct {
		ts     string
		accept bool
	}{
		{`"2026-01-28T19:00:00Z"`, true},
		{`"1970-01-01T00:00:00Z"`, true},
		{`"2199-12-31T23:59:59Z"`, false}, // in range, but more than MaxFuture ahead
		{strconv.Quote(time.Now().Add(time.Hour).UTC().Format(time.RFC3339)), true},
		{strconv.Quote(time.Now().Add(MaxFuture + time.Hour).UTC().Format(time.RFC3339)), false},
		{`"1969-12-31T23:59:59Z"`, false},
		{`"0001-01-01T00:00:00Z"`, false},
		{`"2200-01-01T00:00:00Z"`, false},
		{`"9999-12-31T23:59:59Z"`, false},
		{`"292277026596-12-04T15:30:07Z"`, false},
		{`-1`, false},
		{`1e300`, false},
		{`-9223372036854775808`, false},
		{`99999999999999999999`, false},
		{`"NaN"`, false},
		{`"2026-02-30T00:00:00Z"`, false},
		{`"2026-01-28T19:00:00+99:99"`, false},
	}
	var in strings.Builder
	for _, tt := range tests {
		fmt.Fprintf(&in, `{"timestamp":%s,"event_type":"x"}`+"\n", tt.ts)
	}
	evs, st, bad := replayAll(t, "json", format.Options{}, 0, strings.NewReader(in.String()))
	rejected := map[int]string{}
	for _, b := range bad {
		rejected[b.pos.Line] = b.reason
	}
	for i, tt := range tests {
		reason, rej := rejected[i+1]
		if rej == tt.accept {
			t.Errorf("line %d timestamp %s: rejected %v (%q), want accepted %v", i+1, tt.ts, rej, reason, tt.accept)
		}
	}
	for _, ev := range evs {
		if !event.InRange(ev.Time) {
			t.Errorf("event with time %v accepted", ev.Time)
		}
	}
	if st.Malformed != int64(len(bad)) {
		t.Errorf("Malformed %d, reported %d", st.Malformed, len(bad))
	}
}

// TestHostileFutureTimestamp: one line stamped far in the future (an
// attacker who can forge a log line's time) is rejected with its position;
// taken, it would move the engine's time to 2199 and every real event after
// it would be "late", blinding the rules.
func TestHostileFutureTimestamp(t *testing.T) {
	rs, err := rulefile.Parse("r.yaml", []byte(`rules:
  - id: burst
    match: {event_type: authentication_failure}
    group_by: [client_ip]
    window: 5m
    threshold: 3
`))
	if err != nil {
		t.Fatal(err)
	}
	in := `{"timestamp":"2199-12-31T00:00:00Z","event_type":"authentication_failure","client_ip":"198.51.100.66"}` + "\n"
	for i := range 5 {
		in += fmt.Sprintf(`{"timestamp":"2026-01-28T19:00:0%dZ","event_type":"authentication_failure","client_ip":"203.0.113.7"}`+"\n", i)
	}
	e := rules.NewEngine(rs)
	var alerts []rules.Alert
	var bad []badLine
	st, err := replay([]Input{{Name: "forged.log", R: strings.NewReader(in)}}, "h", func() (format.Parser, error) { return format.NewParser("json", format.Options{}) }, 0,
		func(ev *event.Event) error { alerts = append(alerts, e.Observe(ev)...); return nil },
		func(pos Position, reason string) { bad = append(bad, badLine{pos, reason}) })
	if err != nil {
		t.Fatal(err)
	}
	if st.Malformed != 1 || len(bad) != 1 || bad[0].pos.Line != 1 || !strings.Contains(bad[0].reason, "ahead of the clock") {
		t.Errorf("got stats %+v, rejected %+v; want line 1 rejected as ahead of the clock", st, bad)
	}
	if len(alerts) != 1 || e.Stats()[0].Late != 0 {
		t.Errorf("got %d alerts, %d late; want the burst after the forged line to alert once", len(alerts), e.Stats()[0].Late)
	}
}

// TestHostileRegexFormat shows the regex format is linear in the line
// length whatever the pattern: Go's RE2 engine never backtracks. A
// backtracking engine would need about 2^100000 steps for these lines; the
// test finishing at all is the proof, and BenchmarkHostileRegex shows the
// time per byte staying flat as the line grows.
func TestHostileRegexFormat(t *testing.T) {
	for _, pat := range []string{`^(?P<a>(a+)+)$`, `^(?P<a>(a|aa)*)b$`, `(?P<a>(a*)*c)`} {
		line := strings.Repeat("a", 100_000) + "\n"
		evs, st, _ := replayAll(t, "regex", format.Options{Pattern: `(?P<time>^\S{0}2026-01-28T19:00:00Z)?` + pat}, 0, strings.NewReader("2026-01-28T19:00:00Z\n"+line))
		if st.Lines != 2 || st.Parsed+st.Malformed != 2 {
			t.Errorf("pattern %s: got %d events, stats %+v", pat, len(evs), st)
		}
	}
}

func BenchmarkHostileRegex(b *testing.B) {
	for _, n := range []int{1 << 10, 1 << 14, 1 << 18} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			p, err := format.NewParser("regex", format.Options{Pattern: `^(?P<a>(a|aa)*)b$`})
			if err != nil {
				b.Fatal(err)
			}
			line := []byte(strings.Repeat("a", n))
			var ev event.Event
			ev.Time = event.MinTime
			b.SetBytes(int64(n))
			for b.Loop() {
				ev.Reset()
				ev.Time = event.MinTime
				p.Parse(line, &ev)
			}
		})
	}
}

// TestHostileLiveSource: the same hostile stream through a live source
// (Stdin; File shares its Reader and line parser): a 1 GiB line, invalid
// UTF-8 and a malformed line between good ones. Each bad line is counted in
// SourceStats by kind and reported with its position; the good ones become
// records.
func TestHostileLiveSource(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 1 GiB")
	}
	good := `{"timestamp":"2026-01-28T19:00:00Z","event_type":"ok"}` + "\n"
	r := io.MultiReader(strings.NewReader(good), newGenReader(1<<30, 'x', "\n"),
		strings.NewReader("\xff\xfe\n{\"timestamp\":\n"+good))
	stats := new(SourceStats)
	var bad []badLine
	s := &Stdin{Name: "in", R: r, NewParser: func() (format.Parser, error) { return format.NewParser("json", format.Options{}) }, Stats: stats,
		Bad: func(pos Position, reason string) { bad = append(bad, badLine{pos, reason}) }}
	out := make(chan Record, 16)
	// Stdin copies each read (pipes deliver a line at a time), so what
	// it allocates grows with the input; what it holds must not. Sample
	// the heap while it runs. A soft memory limit below the bound makes the
	// collector keep garbage under it however busy the machine is (without
	// it, on a loaded machine the concurrent collector falls behind the
	// copies and the peak measures the load); memory the source holds
	// still shows, since the limit cannot free it.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(40 << 20))
	stop, peak := make(chan struct{}), make(chan uint64)
	go func() {
		var m runtime.MemStats
		var hi uint64
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				peak <- hi
				return
			case <-tick.C:
				runtime.ReadMemStats(&m)
				hi = max(hi, m.HeapInuse)
			}
		}
	}()
	if err := s.Run(t.Context(), out); err != nil {
		t.Fatal(err)
	}
	close(stop)
	heapPeak := <-peak
	close(out)
	var lines []string
	for rec := range out {
		if !rec.Progress {
			l, _ := rec.Event.Get("@line")
			lines = append(lines, l)
		}
	}
	if fmt.Sprint(lines) != "[1 5]" {
		t.Errorf("events at lines %v, want [1 5]", lines)
	}
	if stats.Lines.Load() != 5 || stats.Oversize.Load() != 1 || stats.InvalidUTF8.Load() != 1 || stats.Malformed.Load() != 1 || stats.Events.Load() != 2 {
		t.Errorf("stats: lines %d, oversize %d, invalid %d, malformed %d, events %d; want 5, 1, 1, 1, 2",
			stats.Lines.Load(), stats.Oversize.Load(), stats.InvalidUTF8.Load(), stats.Malformed.Load(), stats.Events.Load())
	}
	var got []string
	for _, b := range bad {
		got = append(got, fmt.Sprintf("%d@%d", b.pos.Line, b.pos.Offset))
	}
	if want := fmt.Sprintf("[2@%d 3@%d 4@%d]", len(good), len(good)+1<<30+1, len(good)+1<<30+4); fmt.Sprint(got) != want {
		t.Errorf("rejected at %v (line@offset), want %s", got, want)
	}
	if heapPeak > 64<<20 {
		t.Errorf("heap in use peaked at %d bytes while reading a 1 GiB line, want < 64 MiB", heapPeak)
	}
	t.Logf("live source, 1 GiB line: heap in use peaked at %d KiB", heapPeak>>10)
}

// panicParser panics on lines that contain "boom", like a parser bug would.
type panicParser struct{ format.Parser }

func (p panicParser) Parse(line []byte, ev *event.Event) error {
	if strings.Contains(string(line), "boom") {
		var m map[string]int
		m["x"]++ // nil map write: a runtime panic
	}
	return p.Parser.Parse(line, ev)
}

// TestParserPanicCostsOneLine: a parser that panics on one line (a bug the
// fuzz targets missed) costs that line, counted as malformed and reported
// with its position, in replay and in a live source; reading goes on.
// Without this, the daemon would crash, and after the restart read the same
// line again and crash again.
func TestParserPanicCostsOneLine(t *testing.T) {
	in := `{"timestamp":"2026-01-28T19:00:00Z","a":1}` + "\n" + `{"boom":1}` + "\n" + `{"timestamp":"2026-01-28T19:00:01Z","a":2}` + "\n"
	newParser := func() (format.Parser, error) {
		p, err := format.NewParser("json", format.Options{})
		return panicParser{p}, err
	}
	var bad []badLine
	var n int
	st, err := replay([]Input{{Name: "x.log", R: strings.NewReader(in)}}, "x", newParser, 0,
		func(*event.Event) error { n++; return nil },
		func(pos Position, reason string) { bad = append(bad, badLine{pos, reason}) })
	if err != nil || n != 2 || st.Malformed != 1 || len(bad) != 1 || bad[0].pos.Line != 2 || !strings.Contains(bad[0].reason, "parser failed") {
		t.Errorf("replay: %d events, stats %+v, rejected %+v, err %v; want line 2 rejected, 2 events", n, st, bad, err)
	}

	stats := new(SourceStats)
	bad = nil
	s := &Stdin{Name: "in", R: strings.NewReader(in), NewParser: newParser, Stats: stats,
		Bad: func(pos Position, reason string) { bad = append(bad, badLine{pos, reason}) }}
	out := make(chan Record, 8)
	if err := s.Run(t.Context(), out); err != nil {
		t.Fatal(err)
	}
	if stats.Events.Load() != 2 || stats.Malformed.Load() != 1 || len(bad) != 1 || bad[0].pos.Line != 2 {
		t.Errorf("live: events %d, malformed %d, rejected %+v; want line 2 rejected, 2 events", stats.Events.Load(), stats.Malformed.Load(), bad)
	}
}
