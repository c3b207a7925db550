package pattern_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/secwatch/secwatch/internal/alarms/pattern"
	"github.com/secwatch/secwatch/internal/event"
	"github.com/secwatch/secwatch/internal/rulefile"
	"github.com/secwatch/secwatch/internal/rules"
)

// The text-format property: for rules with alarm.format text, the rule's
// match on the event the CloudWatch source makes of a plain text line (its
// message field is the line) agrees with the compiled pattern on the line.
func TestCompiledTextPatternsAgreeWithRules(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 2026))
	words := []string{"ERROR", "WARN", "INFO", "SECURITY EVENT", "401 Unauthorized", "session=ab12", "a.b", "x*y", "Budget exhausted"}
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := 0; i < 120; i++ {
		fmt.Fprintf(&b, "  - id: t-%d\n    window: 5m\n    threshold: 1\n    alarm: {format: text}\n    match:\n", i)
		w := func() string { return "'" + pick(rng, words) + "'" }
		switch rng.IntN(6) {
		case 0, 1: // all of contains / not contains
			fmt.Fprintf(&b, "      message: {contains: %s}\n", w())
			if rng.IntN(2) == 0 {
				fmt.Fprintf(&b, "      not: {message: {contains: %s}}\n", w())
			}
			if rng.IntN(2) == 0 {
				fmt.Fprintf(&b, "      all: [{message: {contains: %s}}]\n", w())
			}
		case 2:
			fmt.Fprintf(&b, "      any: [{message: {contains: %s}}, {message: {contains: %s}}]\n", w(), w())
		case 3:
			fmt.Fprintf(&b, "      message: {%s: %s}\n", pick(rng, []string{"prefix", "suffix", "eq"}), w())
		case 4:
			fmt.Fprintf(&b, "      message: {regex: '%s'}\n", pick(rng, []string{`^ERROR`, `[0-9]{3} Unauth`, `session=[a-z0-9]+$`, `WARN|INFO`, `(x)`}))
		default:
			fmt.Fprintf(&b, "      message: {ne: %s}\n", w()) // not expressible
		}
	}
	rs, err := rulefile.Parse("text.yaml", []byte(b.String()))
	if err != nil {
		t.Fatalf("generated rules do not load: %v", err)
	}
	type compiled struct {
		r *rules.Rule
		p *pattern.Pattern
	}
	var cs []compiled
	untranslatable := 0
	for _, r := range rs {
		src, err := pattern.Compile(r)
		if err != nil {
			untranslatable++
			continue
		}
		p, err := pattern.Parse(src)
		if err != nil {
			t.Fatalf("rule %s compiled to %q, which does not parse: %v", r.ID, src, err)
		}
		cs = append(cs, compiled{r, p})
	}
	const lines = 3000
	matched, disagreements := 0, 0
	for n := 0; n < lines; n++ {
		k := 1 + rng.IntN(4)
		parts := make([]string, k)
		for i := range parts {
			parts[i] = pick(rng, append(words, "noise", "error", "401", "session=", "Unauthorized"))
		}
		line := strings.Join(parts, pick(rng, []string{" ", " - ", ": "}))
		ev := event.Event{Fields: []event.Field{{Key: "message", Value: line}}}
		for _, c := range cs {
			rm, pm := c.r.Match.Eval(&ev), c.p.Match([]byte(line))
			if rm {
				matched++
			}
			if rm != pm {
				if disagreements++; disagreements <= 10 {
					t.Errorf("rule %s, pattern %s, line %q: rule %v, pattern %v", c.r.ID, c.p, line, rm, pm)
				}
			}
		}
	}
	if len(cs) < 60 || matched == 0 {
		t.Errorf("too weak: %d translatable rules, %d matches", len(cs), matched)
	}
	t.Logf("%d text lines; %d rules: %d translatable, %d untranslatable; %d comparisons, %d matches, %d disagreements",
		lines, len(rs), len(cs), untranslatable, lines*len(cs), matched, disagreements)
}
