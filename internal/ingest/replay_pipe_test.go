package ingest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/format"
)

// pipeCorpus is a log of n lines of every kind replay meets: events with
// nested details, arrays and escapes, lines without a time (they inherit
// one), malformed and oversize lines, invalid UTF-8, blank lines, "\r\n"
// endings, a far-future time, and a final line without a newline.
func pipeCorpus(n int) string {
	var b strings.Builder
	future := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
	for i := range n {
		sec := 1769627700 + i/7
		switch i % 23 {
		case 3:
			b.WriteString("not json at all\n")
		case 5:
			b.WriteString("\n")
		case 7:
			fmt.Fprintf(&b, `{"id":"big%d","pad":"%s","ts":%d}`+"\n", i, strings.Repeat("p", 300), sec)
		case 11:
			b.WriteString("{\"id\":\"bad\xff utf8\"}\n")
		case 13:
			fmt.Fprintf(&b, `{"id":"inherit%d","client_ip":"10.0.0.%d"}`+"\n", i, i%250)
		case 17:
			fmt.Fprintf(&b, `{"id":"future%d","timestamp":"%s"}`+"\n", i, future)
		case 19:
			fmt.Fprintf(&b, `  {"id":"crlf%d","ts":%d,"msg":"a\"b\\c\u00e9\ud83d\ude00"}  `+"\r\n", i, sec)
		case 21:
			b.WriteString("   \t\n")
		default:
			fmt.Fprintf(&b, `{"event_type":"authentication_failure","id":"e%d","client_ip":"203.0.113.%d","details":{"path":"/mcp/%d","deep":{"x":[1,{"y":"z"}]}},"tags":["a","b"],"tool_name":null,"ts":%d}`+"\n", i, i%200, i%9, sec)
		}
	}
	fmt.Fprintf(&b, `{"id":"last","ts":%d}`, 1769627700+n)
	return b.String()
}

// pipeRun replays one input made by open in the given mode and returns a
// log of every fn and Bad call in order (with each event's time, fields and
// line as fn saw them), the stats and the error. fn fails at the stopAt-th
// event (0: never).
func pipeRun(t *testing.T, mode int, open func() io.Reader, newParser func() (format.Parser, error), stopAt int) ([]string, replayStats, error) {
	t.Helper()
	defer func(m int) { pipeMode = m }(pipeMode)
	pipeMode = mode
	var log []string
	calls := 0
	stop := errors.New("stop")
	st, err := ReplayLines([]Input{{Name: "in", R: open()}},
		Decoding{Source: "src", NewParser: newParser, MaxLineBytes: 200, MaxFuture: MaxFuture,
			Bad: func(pos Position, reason string) {
				log = append(log, fmt.Sprintf("bad %s %d: %s", pos, pos.Offset, reason))
			}},
		func(ev *event.Event, line []byte) error {
			calls++
			log = append(log, fmt.Sprintf("ev %s %q %q", ev.Time.Format(time.RFC3339Nano), ev.Fields, line))
			if calls == stopAt {
				return stop
			}
			return nil
		})
	return log, replayStats{Lines: st.Lines.Load(), Parsed: st.Events.Load(), Unparsed: st.Unparsed.Load(),
		Malformed: st.Malformed.Load(), Oversize: st.Oversize.Load(), InvalidUTF8: st.InvalidUTF8.Load(),
		Blank: st.Blank.Load()}, err
}

// TestReplayPipelinedSameAsSequential: the pipelined single-input replay
// makes exactly the calls of the sequential one, in the same order, with
// the same stats and error, whether it runs to the end, meets a read error
// or is stopped by fn; and leaves no goroutine behind.
func TestReplayPipelinedSameAsSequential(t *testing.T) {
	base := runtime.NumGoroutine()
	corpus := pipeCorpus(3000)
	fields := []string{"event_type", "client_ip", "details.path", "id"}
	parsers := map[string]func() (format.Parser, error){
		"json": newJSON,
		"json borrowed projection": func() (format.Parser, error) {
			return format.NewParser("json", format.Options{Borrow: true, Fields: fields})
		},
		"logfmt": func() (format.Parser, error) { return format.NewParser("logfmt", format.Options{}) },
	}
	boom := errors.New("boom")
	inputs := map[string]func() io.Reader{
		"whole":    func() io.Reader { return strings.NewReader(corpus) },
		"one byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(corpus[:20000])) },
		"empty":    func() io.Reader { return strings.NewReader("") },
		"blank":    func() io.Reader { return strings.NewReader("\n\n  \n") },
		"only bad": func() io.Reader { return strings.NewReader(strings.Repeat("x\n\xff\n", 700)) },
		"read error after 100 kB": func() io.Reader {
			return io.MultiReader(strings.NewReader(corpus[:100000]), iotest.ErrReader(boom))
		},
		"read error at once": func() io.Reader { return iotest.ErrReader(boom) },
	}
	for pname, np := range parsers {
		for iname, open := range inputs {
			for _, stopAt := range []int{0, 1, 2, 255, 256, 257, 1000, 1 << 30} {
				name := fmt.Sprintf("%s/%s/stop %d", pname, iname, stopAt)
				seqLog, seqSt, seqErr := pipeRun(t, pipeNever, open, np, stopAt)
				log, st, err := pipeRun(t, pipeAlways, open, np, stopAt)
				if fmt.Sprint(err) != fmt.Sprint(seqErr) {
					t.Errorf("%s: error %v, sequential %v", name, err, seqErr)
				}
				if st != seqSt {
					t.Errorf("%s: stats %+v, sequential %+v", name, st, seqSt)
				}
				if len(log) != len(seqLog) {
					t.Errorf("%s: %d calls, sequential %d", name, len(log), len(seqLog))
				}
				for i := range min(len(log), len(seqLog)) {
					if log[i] != seqLog[i] {
						t.Errorf("%s: call %d:\n got  %s\n want %s", name, i, log[i], seqLog[i])
						break
					}
				}
			}
		}
	}
	// The corpus has what it is meant to have.
	log, st, err := pipeRun(t, pipeAlways, inputs["whole"], newJSON, 0)
	if err != nil || st.Malformed == 0 || st.Oversize == 0 || st.InvalidUTF8 == 0 || st.Blank == 0 || len(log) < 2500 {
		t.Errorf("corpus: %+v, %d calls, %v", st, len(log), err)
	}
	if !strings.Contains(strings.Join(log, "\n"), "more than 24h0m0s ahead") {
		t.Error("corpus: no far-future line rejected")
	}
	waitGoroutines(t, base)
}

// waitGoroutines fails unless the number of goroutines settles back to base.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestReplayPipelinedValuesOwnLine: values lent from the line stay those
// of their own line while the producer reads on (they point into the
// batch's copy), and values not lent are shared, not copied: Clone keeps
// an event of a parser that does not borrow.
func TestReplayPipelinedValuesOwnLine(t *testing.T) {
	defer func(m int) { pipeMode = m }(pipeMode)
	pipeMode = pipeAlways
	corpus := pipeCorpus(5000)
	var kept []event.Event
	var want []string
	_, err := ReplayLines([]Input{{Name: "in", R: strings.NewReader(corpus)}},
		Decoding{Source: "src", NewParser: newJSON, MaxLineBytes: 200},
		func(ev *event.Event, line []byte) error {
			kept = append(kept, ev.Clone())
			want = append(want, fmt.Sprintf("%q", ev.Fields))
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	for i := range kept {
		if got := fmt.Sprintf("%q", kept[i].Fields); got != want[i] {
			t.Fatalf("event %d changed after fn: %s, was %s", i, got, want[i])
		}
	}
}

// TestReplayPipelinesOnly: only inputs whose reads always return are
// pipelined (a pipe could keep the producer waiting after fn stopped).
func TestReplayPipelinesOnly(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("one CPU: never pipelined")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	f, err := os.Open("replay_pipe_test.go")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, c := range []struct {
		r    io.Reader
		want bool
	}{{strings.NewReader(""), true}, {f, true}, {r, false}, {iotest.OneByteReader(f), false}} {
		if got := pipelines(c.r); got != c.want {
			t.Errorf("pipelines(%T) = %v, want %v", c.r, got, c.want)
		}
	}
}
