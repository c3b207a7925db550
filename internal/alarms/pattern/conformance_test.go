package pattern_test

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/secwatch/secwatch/internal/alarms/pattern"
)

// TestConformance checks the evaluator and the compiler against what the
// CloudWatch Logs documentation says, recorded as facts with the page they
// come from in testdata/conformance/aws-docs.txt (its header describes the
// format). A rule-match line compiles a rule and checks that its pattern
// answers as the page's pattern does; the event's shape (a JSON object or
// a text line) chooses the compiled format.
func TestConformance(t *testing.T) {
	f, err := os.Open("testdata/conformance/aws-docs.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	events := map[string]string{}
	page := ""
	facts := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		kind, rest, _ := strings.Cut(line, " ")
		at := func() string { return "aws-docs.txt:" + itoa(n) + " (" + page + ")" }
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case kind == "page:":
			page, _, _ = strings.Cut(rest, " http")
			continue
		case kind == "event":
			name, msg, ok := strings.Cut(rest, ": ")
			if !ok {
				t.Fatalf("%s: event without ': '", at())
			}
			events[name] = msg
			continue
		case kind == "parses":
			facts++
			if _, err := pattern.Parse(rest); err != nil {
				t.Errorf("%s: %s: %v", at(), rest, err)
			}
			continue
		case kind == "rejects":
			if _, err := pattern.Parse(rest); err == nil {
				t.Errorf("%s: %s parses; the table says secwatch refuses it", at(), rest)
			}
			continue
		}
		i := strings.LastIndex(rest, " @ ")
		if i < 0 {
			t.Fatalf("%s: no ' @ ' before the events", at())
		}
		src, names := rest[:i], strings.Fields(rest[i+3:])
		var want bool
		switch kind {
		case "match", "rule-match":
			want = true
		case "nomatch", "rule-nomatch":
		default:
			t.Fatalf("%s: unknown line kind %q", at(), kind)
		}
		for _, name := range names {
			msg, ok := events[name]
			if !ok {
				t.Fatalf("%s: unknown event %q", at(), name)
			}
			facts++
			p, what := src, "pattern"
			if strings.HasPrefix(kind, "rule-") {
				format := pattern.FormatJSON
				if !strings.HasPrefix(msg, "{") {
					format = pattern.FormatText
				}
				var err error
				if p, err = pattern.CompileFormat(loadOne(t, "    match: "+src), format); err != nil {
					t.Errorf("%s: rule match %s: %v", at(), src, err)
					continue
				}
				what = "rule match " + src + " compiled to"
			}
			parsed, err := pattern.Parse(p)
			if err != nil {
				t.Errorf("%s: %s %s: %v", at(), what, p, err)
				continue
			}
			if got := parsed.Match([]byte(msg)); got != want {
				t.Errorf("%s: %s %s on %s: got %v, the page says %v", at(), what, p, name, got, want)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d documented facts checked", facts)
	if facts < 100 {
		t.Errorf("%d facts, want the whole table (100 or more)", facts)
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			return string(b[i:])
		}
	}
}
